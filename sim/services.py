"""The AI-services market: total spend and its split among providers.

Providers (lab APIs, the open-weight host, ``model`` startups) share demand by a multinomial logit
on ``w_q * score - w_p * ln(price)``, computed as one vector operation. A provider short of
inference compute serves what it can; the demand it cannot serve goes back to the others (a few
rounds), and what nobody can serve is lost.
"""

from __future__ import annotations

import numpy as np


def logit_shares(score, price, w_q: float, w_p: float, mask=None) -> np.ndarray:
    """Multinomial-logit shares over providers (sum to 1 over ``mask``)."""
    score = np.asarray(score, dtype=float)
    price = np.asarray(price, dtype=float)
    u = w_q * score - w_p * np.log(np.maximum(price, 1e-30))
    if mask is not None:
        u = np.where(mask, u, -np.inf)
    if not np.isfinite(u).any():
        return np.zeros_like(u)
    e = np.exp(u - np.max(u[np.isfinite(u)]))
    return e / e.sum()


def clear_services(spend_usd: float, score, price_usd_per_token, capacity_tokens, w_q: float, w_p: float,
                   rounds: int = 4) -> tuple[np.ndarray, float]:
    """Share ``spend_usd`` among providers subject to their serving capacity.

    Args:
        spend_usd: money customers want to spend this month.
        score: (n,) bounded capability of each provider's model.
        price_usd_per_token: (n,) prices.
        capacity_tokens: (n,) tokens each can serve this month.

    Returns:
        (revenue per provider in USD (n,), spend that could not be served).
    """
    score = np.asarray(score, dtype=float)
    return clear_services_sparse(spend_usd, score.size, np.arange(score.size), score, price_usd_per_token, capacity_tokens,
                                 0.0, w_q, w_p, rounds)


def clear_services_sparse(spend_usd: float, n: int, rows: np.ndarray, score, price_usd_per_token, capacity_tokens,
                          other_price: float, w_q: float, w_p: float, rounds: int = 4) -> tuple[np.ndarray, float]:
    """:func:`clear_services` over ``n`` providers of which only those at ``rows`` are given.

    Args:
        rows: (k,) ascending rows of the providers given; ``score``, ``price_usd_per_token`` and
            ``capacity_tokens`` are theirs, in that order. Every other provider has score 0, no
            capacity and the price ``other_price`` (the model's startups without a model to serve).

    Returns:
        As :func:`clear_services` over all ``n`` rows, bit for bit.
    """
    score = np.asarray(score, dtype=float)
    price = np.asarray(price_usd_per_token, dtype=float)
    cap_usd = np.maximum(np.asarray(capacity_tokens, dtype=float), 0.0)
    cap_usd *= price
    others_finite = rows.size == n or bool(np.isfinite(0.0 * other_price))  # their capacity in USD
    if not (others_finite and np.isfinite(cap_usd).all() and np.isfinite(score).all() and np.isfinite(price).all()):
        full_score, full_price, full_cap = np.zeros(n), np.full(n, float(other_price)), np.full(n, 0.0 * other_price)
        full_score[rows], full_price[rows], full_cap[rows] = score, price, cap_usd
        return _clear_services_full(spend_usd, full_score, full_price, full_cap, w_q, w_p, rounds)
    # Only providers with capacity can ever be open; every other one gets exactly zero demand and
    # revenue, so the rounds run on those rows.
    has = np.flatnonzero(cap_usd > 0)
    return clear_services_rows(spend_usd, n, rows[has], score[has], price[has], cap_usd[has], w_q, w_p, rounds)


def clear_services_rows(spend_usd: float, n: int, idx: np.ndarray, score: np.ndarray, price_usd_per_token: np.ndarray,
                        cap_usd: np.ndarray, w_q: float, w_p: float, rounds: int = 4) -> tuple[np.ndarray, float]:
    """:func:`clear_services` given only the providers that have capacity.

    Args:
        n: number of providers; ``idx`` (ascending) the rows of those with capacity, and
            ``score``, ``price_usd_per_token`` and ``cap_usd`` (their capacity in USD,
            ``capacity_tokens x price``, finite and > 0) their values, in the order of ``idx``.
            Every other provider has no capacity, so it gets no demand and no revenue.

    Returns:
        As :func:`clear_services`: the revenue of all ``n`` providers (zero outside ``idx``) and
        the spend nobody could serve; the same numbers, bit for bit, for the same providers.
    """
    # The two sums whose rounding depends on the array layout (the logit denominator and the
    # revenue served) are taken over full-length arrays, zeros included, exactly as over all
    # providers.
    cs, ss, ps = cap_usd, score, price_usd_per_token  # (short names for the loop)
    rev = np.zeros(idx.size)
    open_ = np.ones(idx.size, dtype=bool)
    remaining = float(spend_usd)
    u0 = full = None
    for _ in range(rounds):
        if remaining <= 0 or not open_.any():
            break
        if u0 is None:
            u0 = w_q * ss - w_p * np.log(np.maximum(ps, 1e-30))
            full = np.zeros(n)  # zero outside ``idx``; every use overwrites all of ``idx``
            sold_out = 1e-9 * np.maximum(cs, 1.0)  # a provider closes once its spare capacity is under this
        uo = u0[open_]
        fin = np.isfinite(uo)
        shares = np.zeros(idx.size)
        if fin.any():
            shares[open_] = np.exp(uo - uo[fin].max())
            full[idx] = shares
            shares /= full.sum()
        want = np.multiply(shares, remaining, out=shares)
        got = np.minimum(want, cs - rev)
        rev += got
        full[idx] = got
        remaining -= float(full.sum())
        open_ &= cs - rev > sold_out
    revenue = np.zeros(n) if full is None else full  # ``full`` is zero outside ``idx``
    revenue[idx] = rev
    return revenue, _unserved(remaining, spend_usd)


def _unserved(remaining: float, spend_usd: float) -> float:
    """The spend left after the rounds, with the rounding left by subtracting what was served
    (spend minus a sum of many parts: up to ~1e-15 of the spend, and different between numpy
    versions, whose sums add in different orders) reported as zero: unserved spend is at least
    ``1e-12`` of the spend or nothing."""
    return remaining if remaining > 1e-12 * abs(float(spend_usd)) else 0.0


def _clear_services_full(spend_usd, score, price, cap_usd, w_q, w_p, rounds):
    """:func:`clear_services` over every provider (used when some capacity is not finite)."""
    revenue = np.zeros_like(score)
    open_ = cap_usd > 0
    remaining = float(spend_usd)
    for _ in range(rounds):
        if remaining <= 0 or not open_.any():
            break
        want = remaining * logit_shares(score, price, w_q, w_p, open_)
        got = np.minimum(want, cap_usd - revenue)
        revenue += got
        remaining -= float(got.sum())
        # a provider with unlimited capacity never sells out (inf - x > 1e-9 * inf is False)
        open_ = open_ & ((cap_usd - revenue > 1e-9 * np.maximum(cap_usd, 1.0)) | np.isposinf(cap_usd))
    return revenue, _unserved(remaining, spend_usd)
