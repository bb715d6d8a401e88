"""Scaling laws: loss from parameters and data, compute-optimal allocation under a data limit,
and the two capability measures (``ece`` and ``score``).

All functions are numpy-vectorized. Compute ``C`` is training FLOP, ``N`` parameters, ``D`` tokens.

Sources: Hoffmann et al. 2022 (arXiv 2203.15556), Besiroglu et al. 2024 (arXiv 2404.10102),
Muennighoff et al. 2023 (arXiv 2305.16264), Gundlach, Lynch & Thompson 2025 (arXiv 2507.07931).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: Chinchilla constant sets (E in nats). Keys are the values allowed for ``scaling.law``.
CHINCHILLA_PRESETS: dict[str, dict[str, float]] = {
    # Besiroglu et al. 2024 refit [chinchilla_besiroglu_*]
    "besiroglu": dict(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658),
    # Hoffmann et al. 2022, approach 3 as printed [chinchilla_hoffmann_*]
    "hoffmann": dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28),
}


@dataclass(frozen=True)
class ScalingLaw:
    """Chinchilla loss ``L(N, D) = E + A/N^alpha + B/D^beta`` with ``C = 6 N D``.

    If ``collapsed_K`` is set, the law is the one-variable compute frontier
    ``L*(C) = E + K C^-gamma`` (used by the Meek-models limit, where data never binds).
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    collapsed_K: float | None = None
    collapsed_gamma: float | None = None

    @classmethod
    def preset(cls, name: str) -> "ScalingLaw":
        if name not in CHINCHILLA_PRESETS:
            raise ValueError(f"unknown scaling law {name!r}; expected one of {sorted(CHINCHILLA_PRESETS)}")
        return cls(**CHINCHILLA_PRESETS[name])

    @classmethod
    def collapsed(cls, E: float, K: float, gamma: float) -> "ScalingLaw":
        """A pure compute frontier ``L*(C) = E + K C^-gamma`` (Meek-models form)."""
        return cls(E=E, A=np.nan, B=np.nan, alpha=np.nan, beta=np.nan, collapsed_K=K, collapsed_gamma=gamma)

    # ----- compute frontier -------------------------------------------------------------
    @cached_property  # the law's constants never change: computed once
    def gamma(self) -> float:
        """Exponent of the compute frontier, ``alpha*beta/(alpha+beta)``."""
        if self.collapsed_gamma is not None:
            return self.collapsed_gamma
        return self.alpha * self.beta / (self.alpha + self.beta)

    @cached_property
    def _G(self) -> float:
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))

    @cached_property
    def K(self) -> float:
        """Coefficient of the compute frontier ``L*(C) = E + K C^-gamma`` (exact for Chinchilla)."""
        if self.collapsed_K is not None:
            return self.collapsed_K
        G = self._G
        return (self.A * G ** (-self.alpha) + self.B * G**self.beta) * 6.0**self.gamma

    def optimal_allocation(self, C):
        """Compute-optimal ``(N*, D*)`` for training FLOP ``C`` without a data limit."""
        C = np.asarray(C, dtype=float)
        s = self.alpha + self.beta
        N = self._G * (C / 6.0) ** (self.beta / s)
        D = (C / 6.0) / N
        return N, D

    def loss(self, N, D_eff):
        """Chinchilla loss in nats for ``N`` parameters trained on ``D_eff`` effective tokens."""
        N = np.asarray(N, dtype=float)
        D_eff = np.asarray(D_eff, dtype=float)
        return self.E + self.A / N**self.alpha + self.B / D_eff**self.beta

    def loss_optimal(self, C):
        """Loss on the compute frontier ``L*(C)`` (data unconstrained)."""
        C = np.asarray(C, dtype=float)
        return self.E + self.K * C ** (-self.gamma)

    def ece(self, L):
        """Effective-compute equivalent: log10 of the compute-optimal FLOP that reaches loss ``L``.

        Losses at or below ``E`` (unreachable) map to +inf; callers clip where needed.
        """
        L = np.asarray(L, dtype=float)
        red = np.where(L > self.E, L - self.E, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = -np.log10(red / self.K) / self.gamma
        return np.where(np.isnan(red), np.inf, out)

    def ece_scalar(self, L: float) -> float:
        """:meth:`ece` of one loss, as a float: the same value, without the array wrapping (a
        lab asks it of every model it deploys)."""
        if L > self.E:
            r = (L - self.E) / self.K
            if r > 0:  # (a quotient that underflows to 0 maps to +inf, as in ece)
                return float(-np.log10(r) / self.gamma)
        return float(self.ece(L))

    def loss_from_ece(self, ece):
        return self.loss_optimal(10.0 ** np.asarray(ece, dtype=float))


def effective_data(D, U, r_star: float = 15.4):
    """Effective tokens when ``D`` tokens are drawn from ``U`` unique ones (Muennighoff et al. 2023).

    ``D_eff = D`` while ``D <= U``; beyond, with ``R = D/U - 1`` repetitions,
    ``D_eff = U + U R* (1 - exp(-R/R*))``; it saturates at ``U (1 + R*)``.
    """
    D = np.asarray(D, dtype=float)
    U = np.asarray(U, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        R = np.maximum(D / U - 1.0, 0.0)
        rep = U + U * r_star * (1.0 - np.exp(-R / r_star))
    return np.where(D <= U, D, rep)


def unique_params(law: ScalingLaw, U):
    """Muennighoff's ``U_N``: the parameters compute-optimal for ``U`` unique tokens, i.e. the
    ``N*`` of :meth:`ScalingLaw.optimal_allocation` whose ``D*`` equals ``U``.

    From ``N* = G (C/6)^(beta/s)`` and ``D* = (C/6)^(alpha/s) / G`` (``s = alpha + beta``):
    ``U_N = G^(s/alpha) U^(beta/alpha)``. Like the allocation's ``N`` it is in effective
    parameters (those of :func:`allocate`'s compute, ``C_eff`` under :func:`allocate_effective`):
    the wall ``D*(C_eff) > U`` is met exactly where ``N*(C_eff) > U_N``.
    """
    U = np.asarray(U, dtype=float)
    s = law.alpha + law.beta
    return law._G ** (s / law.alpha) * U ** (law.beta / law.alpha)


def effective_params(N, U_N, r_star_params: float):
    """The worth ``N'`` of ``N`` parameters when the unique data support ``U_N`` of them
    (Muennighoff et al. 2023, the parameter side of their law; their ``N'``).

    ``N' = N`` while ``N <= U_N``; beyond, with ``R_N = N/U_N - 1`` excess,
    ``N' = U_N + U_N R_N* (1 - exp(-R_N/R_N*))``; it saturates at ``U_N (1 + R_N*)``.
    """
    return effective_data(N, U_N, r_star_params)


# Candidate token counts are searched on a log grid spanning this many decades around D*.
_GRID = np.linspace(-4.0, 0.0, 161)
_GRID_SCALE = 10.0 ** _GRID[None, :]  # the candidates as multiples of D*, shape (1, 161)
#: times the grid may move down four decades when the best candidate is its lowest
_MAX_SHIFTS = 8
# With the parameter-side decay on, the best token count can lie above D* (excess parameters lose
# value faster than repeated tokens): the candidates span four decades either side of D*.
_WIDE_GRID_SCALE = 10.0 ** np.linspace(-4.0, 4.0, 321)[None, :]


def allocate(law: ScalingLaw, C, U, r_star: float = 15.4, r_star_params: float = 0.0):
    """Loss-minimizing ``(N, D, D_eff, loss)`` for training compute ``C`` and ``U`` unique tokens.

    ``C`` is the compute the allocation is chosen for: a run's effective compute when called by
    :func:`allocate_effective` (then ``N`` is in effective parameters).

    If the compute-optimal ``D*`` fits in ``U`` it is used as is. Otherwise the lab searches
    the tokens it trains on, ``D`` in ``[D*/1e4, D*]`` (repeating data per Muennighoff), and
    puts the remaining compute into parameters ``N = C / (6 D)``: the data wall.

    Args:
        law: the scaling law (Chinchilla form; not the collapsed one).
        C: training FLOP, array (n,).
        U: unique-equivalent tokens available to each run, array (n,).
        r_star: Muennighoff's R*_D (repetitions).
        r_star_params: Muennighoff's R*_N (repetitions); 0 (the default, MODEL.md 4.2) leaves
            parameters at full value. When positive, the loss uses the parameters' worth ``N'``
            (:func:`effective_params`) against ``U_N`` = :func:`unique_params` of ``U``,
            and past the wall the search spans tokens above ``D*`` too (see
            :func:`_allocate_decayed`). Below the wall nothing changes: there ``N* <= U_N``.

    Returns:
        Tuple of arrays ``(N, D, D_eff, loss)``, each shape (n,). ``N`` is the parameters
        trained (not their effective value). A row with no tokens (``U <= 0``) trains nothing:
        ``N = D = D_eff = 0`` and an infinite loss.
    """
    C = np.atleast_1d(np.asarray(C, dtype=float))
    U = np.atleast_1d(np.asarray(U, dtype=float))
    if U.shape != C.shape:  # (a lab's run passes one of each: no view to make)
        U = np.broadcast_to(U, C.shape)
    if law.collapsed_K is not None:
        L = law.loss_optimal(C)
        N, D = np.full_like(C, np.nan), np.full_like(C, np.nan)
        return N, D, D, L
    N0, D0 = law.optimal_allocation(C)
    N, D, De, L = N0, D0, D0.copy(), law.loss(N0, D0)
    wall = (~(D0 <= U)).ravel().nonzero()[0]  # np.flatnonzero, without its Python wrapper
    if wall.size == 0:  # the data wall binds nowhere: the compute-optimal allocation
        return N, D, De, L
    none = U[wall] <= 0
    if none.any():  # no tokens at all (every text withheld): no model can be trained
        empty = wall[none]
        N[empty], D[empty], De[empty], L[empty] = 0.0, 0.0, 0.0, np.inf
        wall = wall[~none]
        if wall.size == 0:
            return N, D, De, L
    if r_star_params > 0:
        _allocate_decayed(law, C, U, r_star, r_star_params, wall, (N, D, De, L))
        return N, D, De, L
    # rows at the wall: candidate D on a log grid below D* (more tokens than D* never help when
    # data is scarce). A row whose best candidate is the grid's lowest searches the four decades
    # below it, and so on (at most _MAX_SHIFTS times): with very large compute per token the
    # optimum can lie more than four decades below D*.
    top = D0[wall]
    for _ in range(_MAX_SHIFTS):
        Dg = top[:, None] * _GRID_SCALE
        Ng = C[wall, None] / (6.0 * Dg)
        Deff = effective_data(Dg, U[wall, None], r_star)
        Lg = law.loss(Ng, Deff)
        k = np.argmin(Lg, axis=1)
        rows = np.arange(wall.size)
        N[wall], D[wall], De[wall], L[wall] = Ng[rows, k], Dg[rows, k], Deff[rows, k], Lg[rows, k]
        low = k == 0
        if not low.any():
            break
        wall, top = wall[low], Dg[low, 0]
    return N, D, De, L


def _allocate_decayed(law: ScalingLaw, C, U, r_star: float, r_star_params: float, wall, out) -> None:
    """The token search of :func:`allocate` on the rows ``wall`` (past the data wall) with both
    sides of Muennighoff's law: writes ``(N, D, D_eff, loss)`` of those rows into ``out``.

    Candidates ``D`` lie on a log grid of 321 points spanning four decades either side of
    ``D*(C)``, ``N = C/(6D)``, and the loss is ``L(N'(N, U_N), D_eff(D, U))``. A row whose best
    candidate is an end of its grid searches four decades on beyond that end (at most
    ``_MAX_SHIFTS`` times).
    """
    N, D, De, L = out
    U_N = unique_params(law, U[wall])[:, None]
    Uw = U[wall, None]
    centre = law.optimal_allocation(C[wall])[1]
    rows_all = wall
    sel = np.arange(wall.size)  # rows of this pass, as positions in ``wall``
    last = _WIDE_GRID_SCALE.shape[1] - 1
    for _ in range(_MAX_SHIFTS):
        Dg = centre[:, None] * _WIDE_GRID_SCALE
        Ng = C[rows_all, None] / (6.0 * Dg)
        Deff = effective_data(Dg, Uw[sel], r_star)
        Lg = law.loss(effective_params(Ng, U_N[sel], r_star_params), Deff)
        k = np.argmin(Lg, axis=1)
        r = np.arange(sel.size)
        N[rows_all], D[rows_all], De[rows_all], L[rows_all] = Ng[r, k], Dg[r, k], Deff[r, k], Lg[r, k]
        edge = (k == 0) | (k == last)
        if not edge.any():
            break
        sel, rows_all, centre = sel[edge], rows_all[edge], Dg[edge, k[edge]]


def allocate_effective(law: ScalingLaw, C, multiplier, U, r_star: float = 15.4, r_star_params: float = 0.0):
    """Allocation of MODEL.md 4.1-4.2: ``N, D`` chosen for effective compute ``C * multiplier``
    against ``U`` unique-equivalent tokens.

    Algorithmic efficiency makes the run's physical FLOP worth ``C_eff = C * multiplier``. The lab
    picks the compute-optimal ``N*, D*`` for ``C_eff``; if ``D*`` exceeds its tokens it trains on
    the tokens it has (repeating them, per :func:`allocate`) and puts the rest of ``C_eff`` into
    parameters: the data wall is met once ``D*(C_eff) > U``, whatever the physical FLOP. Tokens
    are physical, so the efficiency gain is carried by the parameters: the chosen ``N_eff =
    C_eff / (6 D)`` is ``multiplier`` times the physical parameter count ``N = C / (6 D)``, which
    is what a model costs to serve.

    Args:
        law: the scaling law (Chinchilla form or collapsed).
        C: physical training FLOP, array (n,).
        multiplier: the lab's algorithmic efficiency ``A_i / A_ref``, array (n,) or scalar.
        U: unique-equivalent tokens available to each run, array (n,).
        r_star: Muennighoff's R*_D (repetitions).
        r_star_params: Muennighoff's R*_N (0: no parameter-side decay). ``U_N`` and the decay
            act on the allocation's parameters ``N_eff = C_eff / (6 D)``, which are in effective
            (efficiency-weighted) units, like the loss's ``N`` (see :func:`allocate`).

    Returns:
        Tuple of arrays ``(N, D, D_eff, loss)``: physical parameters, tokens trained on, effective
        tokens after repetition, and loss in nats.
    """
    C = np.atleast_1d(np.asarray(C, dtype=float))
    mult = np.asarray(multiplier, dtype=float)
    if mult.ndim and mult.shape != C.shape:  # a scalar multiplier broadcasts in the products below
        mult = np.broadcast_to(mult, C.shape)
    N_eff, D, De, L = allocate(law, C * mult, U, r_star, r_star_params)
    return N_eff / mult, D, De, L


def apply_efficiency(law: ScalingLaw, loss, multiplier):
    """Loss after an algorithmic-efficiency multiplier on compute, for a data-unconstrained loss.

    ``L = E + (L_phys - E) * multiplier^-gamma``, which equals ``L*(C * multiplier)`` when
    ``loss`` is the compute-frontier loss ``L*(C)``. Used by the reference ("meek") trainer, whose
    data never bind. For a run that may meet the data wall use :func:`allocate_effective`: this
    form would shrink the data term too, as if the tokens grew with the multiplier.
    """
    loss = np.asarray(loss, dtype=float)
    return law.E + (loss - law.E) * np.asarray(multiplier, dtype=float) ** (-law.gamma)


def score(loss, b: float = 0.25, k: float = 25.0, x0: float = 1.89):
    """Bounded benchmark-like capability in [b, 1]: ``b + (1-b) / (1 + exp(k (L - x0)))``."""
    loss = np.asarray(loss, dtype=float)
    # exp's argument limited to [-700, 700] (np.clip's values, without its Python wrapper)
    return b + (1.0 - b) / (1.0 + np.exp(np.minimum(np.maximum(k * (loss - x0), -700.0), 700.0)))


def collapse_factor(synthetic_share, threshold: float = 0.5, penalty: float = 1.0):
    """Multiplier (>= 1) on the reducible loss for training data whose synthetic share exceeds
    ``threshold``: linear from 1 at the threshold to ``1 + penalty`` at a fully synthetic corpus
    (model collapse, Shumailov et al. 2024; the functional form is an assumption)."""
    s = np.asarray(synthetic_share, dtype=float)
    excess = np.minimum(np.maximum((s - threshold) / max(1.0 - threshold, 1e-12), 0.0), 1.0)  # clipped to [0, 1]
    return 1.0 + penalty * excess


def meek_gap_closed_form(t_years, A: float, alpha: float, C0: float, g_h: float, g_alg: float, g_i: float):
    """Closed-form loss gap between a fixed budget and one growing ``g_i``/yr (Gundlach et al. 2025).

    ``dL(t) = A C0^-alpha [(g_h g_alg)^(-alpha t) - (g_h g_alg g_i)^(-alpha t)]``.
    """
    t = np.asarray(t_years, dtype=float)
    return A * C0 ** (-alpha) * ((g_h * g_alg) ** (-alpha * t) - (g_h * g_alg * g_i) ** (-alpha * t))


def meek_peak_time(alpha: float, g_h: float, g_alg: float, g_i: float) -> float:
    """Time (years) of the peak of the closed-form gap: ``ln(ln(g_h g_a g_i)/ln(g_h g_a)) / (alpha ln g_i)``."""
    return float(np.log(np.log(g_h * g_alg * g_i) / np.log(g_h * g_alg)) / (alpha * np.log(g_i)))
