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
    price = np.asarray(price_usd_per_token, dtype=float)
    cap_usd = np.maximum(np.asarray(capacity_tokens, dtype=float), 0.0) * price
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
        open_ = open_ & (cap_usd - revenue > 1e-9 * np.maximum(cap_usd, 1.0))
    return revenue, max(remaining, 0.0)
