"""The AI-services market clearing (sim.services): money is conserved, capacity binds, and the
clearing given only the providers with capacity is the clearing over all providers, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from sim.services import _clear_services_full, clear_services, clear_services_rows, clear_services_sparse, logit_shares

W_Q, W_P = 8.0, 1.2


def _providers(rng, n: int, share_with_capacity: float, spread: float = 1.0):
    score = rng.uniform(0.6 - 0.3 * spread, 0.6 + 0.35 * spread, n)
    price = rng.lognormal(-14, spread, n)  # USD per token
    cap = rng.lognormal(24, 1.5, n) * (rng.random(n) < share_with_capacity)  # tokens
    return score, price, cap


@pytest.mark.parametrize("n, share, spend", [(12, 1.0, 1e9), (5_000, 0.2, 3e10), (5_000, 0.2, 1e16), (40, 0.0, 1e9)])
def test_revenue_plus_unserved_is_the_spend_and_nobody_serves_beyond_capacity(n, share, spend):
    rng = np.random.default_rng(n)
    score, price, cap = _providers(rng, n, share)
    rev, lost = clear_services(spend, score, price, cap, W_Q, W_P)
    cap_usd = cap * price
    assert rev.shape == (n,) and (rev >= 0).all() and lost >= 0
    assert rev.sum() + lost == pytest.approx(spend, rel=1e-9)
    assert (rev <= cap_usd * (1 + 1e-12)).all()
    assert (rev[cap == 0] == 0).all()
    if cap_usd.sum() < spend:  # not enough capacity: every provider sells out, the rest is lost
        np.testing.assert_allclose(rev, cap_usd, rtol=1e-9)
        assert lost == pytest.approx(spend - cap_usd.sum(), rel=1e-9)


def test_with_ample_capacity_revenue_follows_the_logit_shares():
    rng = np.random.default_rng(1)
    score, price, _ = _providers(rng, 30, 1.0)
    cap = np.full(30, 1e30)
    rev, lost = clear_services(1e9, score, price, cap, W_Q, W_P)
    np.testing.assert_allclose(rev, 1e9 * logit_shares(score, price, W_Q, W_P), rtol=1e-12)
    assert lost == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("n, share, spend, spread", [(12, 1.0, 1e9, 1.0), (5_000, 0.2, 3e10, 1.0), (20_001, 0.05, 1e16, 1.0),
                                                   (40, 0.0, 1e9, 1.0), (20_001, 0.3, 1e6, 0.01), (20_001, 0.3, 5e7, 0.01)])
def test_clearing_the_rows_with_capacity_equals_clearing_every_row_bit_for_bit(n, share, spend, spread):
    # the model passes only the providers with capacity (the labs, the host and the model startups
    # alive); the result must be the clearing over all rows, zeros included, to the last bit (with
    # near-equal providers, spread 0.01, a sum over the rows alone would round differently)
    rng = np.random.default_rng(n + 7)
    score, price, cap = _providers(rng, n, share, spread)
    cap_usd = np.maximum(cap, 0.0) * price
    # the reference: the plain formulation, logit shares over every provider in each round
    rev_all, lost_all = _clear_services_full(spend, score, price, cap_usd, W_Q, W_P, 4)
    rows = np.flatnonzero(cap_usd > 0)
    rev_rows, lost_rows = clear_services_rows(spend, n, rows, score[rows], price[rows], cap_usd[rows], W_Q, W_P)
    np.testing.assert_array_equal(rev_rows, rev_all)
    assert lost_rows == lost_all
    rev, lost = clear_services(spend, score, price, cap, W_Q, W_P)  # (which takes the rows path)
    np.testing.assert_array_equal(rev, rev_all)
    assert lost == lost_all


def test_a_provider_with_unlimited_capacity_serves_whatever_the_others_cannot():
    # infinite capacity takes the general path; that provider must never count as sold out
    score, price = np.array([0.9, 0.5, 0.7]), np.array([1e-6, 1e-7, 2e-7])
    cap = np.array([np.inf, 1e12, 0.0])  # the second can sell 1e5 USD, the third nothing
    rev, lost = clear_services(5e9, score, price, cap, W_Q, W_P)
    assert rev[2] == 0.0 and lost == 0.0
    assert rev[1] == pytest.approx(1e5, rel=1e-12)
    assert rev.sum() == pytest.approx(5e9, rel=1e-12)


@pytest.mark.parametrize("other_price", [3e-7, np.inf])
def test_clearing_given_only_some_providers_equals_clearing_the_full_arrays(other_price):
    # the model gives the labs, the host and the model startups alive; every other startup row has
    # score 0, no capacity and one price. A non-finite price there takes the general path.
    rng = np.random.default_rng(3)
    n = 5_000
    score, price, cap = _providers(rng, n, 1.0, 0.01)
    rows = np.flatnonzero(rng.random(n) < 0.3)
    full_score, full_price, full_cap = np.zeros(n), np.full(n, other_price), np.zeros(n)
    full_score[rows], full_price[rows], full_cap[rows] = score[rows], price[rows], cap[rows]
    with np.errstate(invalid="ignore"):  # 0 capacity x an infinite price, in the reference
        want_rev, want_lost = clear_services(2e6, full_score, full_price, full_cap, W_Q, W_P)
    rev, lost = clear_services_sparse(2e6, n, rows, score[rows], price[rows], cap[rows], other_price, W_Q, W_P)
    np.testing.assert_array_equal(rev, want_rev)
    assert lost == want_lost or (np.isnan(lost) and np.isnan(want_lost))


@pytest.mark.parametrize("seed", range(6))
def test_spend_that_capacity_covers_leaves_nothing_unserved_not_a_rounding_residue(seed):
    """With capacity for all of it, the spend is all served: ``lost`` is exactly zero, not the
    rounding left by subtracting the parts served (which differs between numpy versions and made
    ``unserved_usd`` compare unequal across them), while a real shortfall is still reported."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 400))
    score, price, _ = _providers(rng, n, 1.0)
    spend = float(10 ** rng.uniform(6, 12))
    cap_usd = spend * rng.uniform(0.5, 2.0, n)  # every provider could serve half the spend or more
    rows = np.arange(n)
    for rev, lost in (clear_services(spend, score, price, cap_usd / price, W_Q, W_P),
                      clear_services_rows(spend, n, rows, score, price, cap_usd, W_Q, W_P)):
        assert lost == 0.0
        assert rev.sum() == pytest.approx(spend, rel=1e-12)
    short = cap_usd * (0.5 * spend / cap_usd.sum())  # half the spend can be served
    rev, lost = clear_services(spend, score, price, short / price, W_Q, W_P)
    assert lost == pytest.approx(0.5 * spend, rel=1e-9)
