"""The Meek-models limit (MODEL.md section 7): the simulated loss gap follows the closed form of
Gundlach, Lynch & Thompson for any growth rates, not only the paper's."""

from __future__ import annotations

import numpy as np
import pytest

from sim import scaling as S
from sim.run import run_scenario

CASES = [
    # (budget growth g_i, hardware g_h, algorithms g_alg, K, gamma)
    (3.57, 1.4, 2.8, 1070.0, 0.155),  # the paper's values
    (2.0, 1.2, 1.5, 1070.0, 0.155),
    (6.0, 1.35, 3.2, 2709.0, 0.178),  # Besiroglu frontier constants
    (1.5, 1.0, 1.0, 500.0, 0.3),  # no shared progress at all
]


@pytest.mark.parametrize("g_i,g_h,g_alg,K,gamma", CASES)
def test_simulated_gap_matches_closed_form(g_i, g_h, g_alg, K, gamma):
    r = run_scenario("meek-limit", {
        "meek_limit.budget_growth": g_i, "meek_limit.hardware_growth": g_h, "meek_limit.algorithmic_growth": g_alg,
        "scaling.collapsed_K": K, "scaling.collapsed_gamma": gamma,
    }, end="2053-12")
    m = r.model
    t = m["t_years"].to_numpy()
    C0 = m["meek_train_flop"].iloc[0]
    closed = S.meek_gap_closed_form(t, K, gamma, C0, g_h, g_alg, g_i)
    np.testing.assert_allclose(m["meek_gap_loss"].to_numpy(), closed, rtol=1e-8, atol=1e-14)
    # C0: $1,000 at $2 per H100e-hour at 40% MFU ~ 7.1e20 FLOP [meek_budget]
    assert C0 == pytest.approx(7.12e20, rel=0.01)
    if g_h * g_alg > 1:
        t_star = S.meek_peak_time(gamma, g_h, g_alg, g_i)
        assert abs(t[np.argmax(m["meek_gap_loss"].to_numpy())] - t_star) <= 1 / 12 + 1e-9


def test_paper_numbers():
    """Peak after ~3.34 years, gap 0.149 nats at the peak, 0.065 at 10 years, 0.009 at 20 years [meek_*]."""
    r = run_scenario("meek-limit")
    m = r.model.set_index("t_years")
    assert S.meek_peak_time(0.155, 1.4, 2.8, 3.57) == pytest.approx(3.34, abs=0.01)
    assert m["meek_gap_loss"].max() == pytest.approx(0.149, abs=0.002)
    assert m.loc[10.0, "meek_gap_loss"] == pytest.approx(0.065, abs=0.002)
    assert m.loc[20.0, "meek_gap_loss"] == pytest.approx(0.009, abs=0.001)
