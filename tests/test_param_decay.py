"""The parameter side of Muennighoff et al.'s data-constrained law (``scaling.r_star_params``).

Off by default (MODEL.md 4.2 keeps excess parameters at full value). When on, parameters beyond
``U_N`` (those compute-optimal for the unique tokens) are worth
``N' = U_N + U_N R_N* (1 - exp(-R_N/R_N*))`` and the allocation minimises the loss with ``N'``.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import scaling as S

R_D, R_N = 15.387, 5.309  # the paper's fitted R*_D and R*_N [muennighoff_R_D_star]
LAWS = ["besiroglu", "hoffmann"]


def _floor(L, U, r_n=R_N, r_d=R_D):
    """The loss both saturations set: ``E + A/(U_N(1+R_N*))^alpha + B/(U(1+R_D*))^beta``."""
    return L.E + L.A / (S.unique_params(L, U) * (1 + r_n)) ** L.alpha + L.B / (U * (1 + r_d)) ** L.beta


def test_the_knob_is_off_by_default():
    from scenarios.loader import load_scenario

    assert load_scenario("baseline")[0].scaling.r_star_params == 0.0
    on = load_scenario("baseline", overrides=["scaling.r_star_params=5.309"])[0]
    assert on.scaling.r_star_params == 5.309


@pytest.mark.parametrize("law", LAWS)
def test_unique_params_are_the_compute_optimal_parameters_for_the_unique_tokens(law):
    L = S.ScalingLaw.preset(law)
    U = np.logspace(10, 16, 7)
    U_N = S.unique_params(L, U)
    N, D = L.optimal_allocation(6.0 * U_N * U)
    np.testing.assert_allclose(D, U, rtol=1e-12)
    np.testing.assert_allclose(N, U_N, rtol=1e-12)
    # the parameters' worth: full up to U_N, then Muennighoff's decay, saturating at U_N(1 + R_N*)
    n = np.array([0.5, 1.0, 2.0, 1e9]) * U_N[3]
    np.testing.assert_array_equal(S.effective_params(n[:2], U_N[3], R_N), n[:2])
    np.testing.assert_allclose(S.effective_params(n[2], U_N[3], R_N), U_N[3] * (1 + R_N * (1 - np.exp(-1 / R_N))), rtol=1e-12)
    np.testing.assert_allclose(S.effective_params(n[3], U_N[3], R_N), U_N[3] * (1 + R_N), rtol=1e-12)


@pytest.mark.parametrize("law", LAWS)
def test_off_is_the_full_value_allocation(law):
    """``r_star_params = 0`` is the allocation of MODEL.md 4.2: the same arrays as before the knob
    (the default call), and the brute-force minimum of ``L(C/(6D), D_eff)`` within the grid's
    resolution."""
    L = S.ScalingLaw.preset(law)
    C = np.logspace(26, 36, 11)
    U = np.full(C.size, 3e14)
    for a, b in zip(S.allocate(L, C, U, R_D), S.allocate(L, C, U, R_D, 0.0)):
        np.testing.assert_array_equal(a, b)
    loss = S.allocate(L, C, U, R_D, 0.0)[3]
    Dg = np.logspace(5, 35, 300_001)
    for i in range(C.size):
        brute = L.loss(C[i] / (6.0 * Dg), S.effective_data(Dg, U[i], R_D)).min()
        assert abs(loss[i] - brute) <= 1e-4 * (brute - L.E)  # within both searches' resolution


@pytest.mark.parametrize("law", LAWS)
def test_on_changes_nothing_before_the_wall(law):
    """Below the wall the compute-optimal N* is at most U_N, so no parameter is in excess: the
    arrays are identical to the off case (and the loss is the compute frontier's)."""
    L = S.ScalingLaw.preset(law)
    U = 3e14
    C_wall = 6.0 * S.unique_params(L, U) * U
    C = C_wall * np.logspace(-6, 0, 25)
    off = S.allocate(L, C, np.full(C.size, U), R_D)
    on = S.allocate(L, C, np.full(C.size, U), R_D, R_N)
    for a, b in zip(off, on):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(on[3], L.loss_optimal(C), rtol=1e-12)
    # just past it the decay binds (a little): the loss is higher than the off case's
    past = S.allocate(L, [10 * C_wall], [U], R_D, R_N)[3][0]
    assert past > S.allocate(L, [10 * C_wall], [U], R_D)[3][0]


@pytest.mark.parametrize("law", LAWS)
def test_on_finds_the_brute_force_optimum_including_above_the_compute_optimal_tokens(law):
    """Excess parameters lose value faster than repeated tokens (R_N* < R_D*), so past the wall
    the best run can train on more tokens than D*(C): the search spans both sides of D* and
    finds a brute-force search's minimum within its resolution (0.025 decades of tokens)."""
    L = S.ScalingLaw.preset(law)
    U = 3e14
    C_wall = 6.0 * S.unique_params(L, U) * U
    C = C_wall * np.logspace(0.5, 12, 24)
    N, D, De, loss = S.allocate(L, C, np.full(C.size, U), R_D, R_N)
    np.testing.assert_allclose(6.0 * N * D, C, rtol=1e-12)
    U_N = S.unique_params(L, U)
    Dg = np.logspace(5, 40, 350_001)
    for i in range(C.size):
        brute = L.loss(S.effective_params(C[i] / (6.0 * Dg), U_N, R_N), S.effective_data(Dg, U, R_D)).min()
        assert abs(loss[i] - brute) <= 1e-4 * (brute - L.E)  # within both searches' resolution
    assert (D > L.optimal_allocation(C)[1] * 1.05).any()  # the case the wide grid is for


@pytest.mark.parametrize("law", LAWS)
def test_on_loss_falls_with_compute_toward_the_floor_and_never_below_it(law):
    L = S.ScalingLaw.preset(law)
    for U in (1e12, 3e14, 1e16):
        C = np.logspace(24, 48, 97)
        loss = S.allocate(L, C, np.full(C.size, U), R_D, R_N)[3]
        floor = _floor(L, U)
        assert (np.diff(loss) <= 1e-15).all()  # non-increasing in compute
        assert (loss >= floor - 1e-12).all()  # never beats the floor
        assert loss[-1] - floor < 1e-6 * (loss[0] - floor)  # and tends to it
        # the off case's floor is lower (only the data side saturates): the decay costs loss
        assert S.allocate(L, [C[-1]], [U], R_D)[3][0] < floor - 1e-4


@pytest.mark.parametrize("law", LAWS)
def test_on_more_unique_data_never_raises_the_loss(law):
    L = S.ScalingLaw.preset(law)
    C = np.repeat(np.logspace(24, 40, 17), 13)
    U = np.tile(np.logspace(10, 16, 13), 17)
    loss = S.allocate(L, C, U, R_D, R_N)[3].reshape(17, 13)  # rows: compute; columns: tokens
    assert (np.diff(loss, axis=1) <= 1e-15).all()
    assert (np.diff(loss, axis=0) <= 1e-15).all()


def test_on_through_effective_compute_keeps_physical_parameters():
    """``allocate_effective`` applies the decay to the allocation's effective parameters and
    returns physical ones: C = 6 N D in physical FLOP, and the loss is the allocation's at C*A."""
    L = S.ScalingLaw.preset("besiroglu")
    C = np.full(5, 1e28)
    A = np.logspace(0, 8, 5)
    U = np.full(5, 3e14)
    N, D, De, loss = S.allocate_effective(L, C, A, U, R_D, R_N)
    np.testing.assert_allclose(6.0 * N * D, C, rtol=1e-12)
    np.testing.assert_array_equal(loss, S.allocate(L, C * A, U, R_D, R_N)[3])
    assert (np.diff(loss) <= 1e-15).all()


def test_in_a_run_nothing_changes_until_the_frontier_meets_the_wall(run_cached):
    """Seed-0 baseline to 2029-12: with the decay on, every model-level output is the same as off
    in each month before the frontier's run is first data-constrained (no run was past U_N), and
    the frontier's ece is lower after it (its excess parameters are worth less)."""
    off = run_cached("baseline", 0, "2029-12", ()).model
    on = run_cached("baseline", 0, "2029-12", (("scaling.r_star_params", 5.309),)).model
    walled = off["frontier_data_constrained"].astype(bool).to_numpy()
    first = int(np.argmax(walled))
    assert 0 < first < len(off) - 6
    before = off.index[:first]
    for col in off.columns:
        assert off.loc[before, col].equals(on.loc[before, col]), col
    assert (on["frontier_ece"].iloc[first:] <= off["frontier_ece"].iloc[first:] + 1e-12).all()
    assert on["frontier_ece"].iloc[-1] < off["frontier_ece"].iloc[-1] - 0.05
