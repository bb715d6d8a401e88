"""Frontier labs (Mesa agents) and the cloud pool that rents compute.

A lab buys or rents chips, holds MW in grid regions, licenses or generates data, splits its
compute between training, research, synthetic data and serving, trains models in runs that last
months, and sells API access. It is funded by a parent company's cash flow (hyperscaler labs) or
by equity rounds (independent labs), and exits when its cash runs out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from scenarios.schema import LabParams
from sim.environment import HOURS_PER_MONTH
from sim.mesa_import import mesa  # Mesa, without SciPy at import (see sim/mesa_import.py)

from .fleet import Fleet

INCOME_ITEMS = ("revenue", "api_fees", "funding", "capex", "energy", "opex", "rent", "licences", "acquisitions")


@dataclass
class TrainingRun:
    start_month: int
    months_total: int
    flop_phys: float = 0.0
    A_start: float = 1.0
    months_done: int = 0


@dataclass
class DeployedModel:
    flop_phys: float
    params: float
    tokens: float
    tokens_eff: float
    loss: float
    ece: float
    score: float
    month: int
    synthetic_share: float = 0.0
    open_weights: bool = False
    A: float = 1.0  # algorithmic efficiency the run was trained with
    unique_tokens: float = float("inf")  # unique-equivalent tokens the lab had for the run

    @property
    def data_constrained(self) -> bool:
        """True when the compute-optimal token count exceeded the lab's unique tokens (the run
        repeated data or shifted compute into parameters)."""
        return bool(self.tokens_eff < self.tokens * (1 - 1e-9) or self.tokens > self.unique_tokens * (1 - 1e-9))


def held_mw_by_owner(grids) -> list[float]:
    """MW each compute owner holds over all grids (grid and on-site), by owner index: every
    owner's :meth:`ComputeOwner.held_mw` at once, with the same additions in the same order."""
    tot = np.zeros(grids[0].held_mw.size) if grids else np.zeros(0)
    for g in grids:
        tot += g.held_mw + g.onsite_mw
    return tot.tolist()


class ComputeOwner:
    """Shared state of anything that owns chips and holds MW (labs and the cloud pool)."""

    owner_index: int
    region: str
    fleet: Fleet
    account: str

    @property
    def cash(self) -> float:
        """The owner's ledger balance (USD): ``Ledger.balance`` without its call (read ~25k times
        a run), from the ledger's balances."""
        return self.model.ledger._bal.get(self.account, 0.0)

    def init_compute(self, owner_index: int, life_months: int) -> None:
        self.owner_index = owner_index
        self.fleet = Fleet(life_months)
        self.energized_h100e = 0.0
        self.used_mw = 0.0
        self.stranded_h100e = 0.0
        self.unpaid_usd = 0.0  # bills (energy, opex, facility) it owes and has had no cash for
        self.arrears: list[tuple[str, float, str, str]] = []  # those bills: (payee, USD, kind, income item)

    def held_mw(self, grids) -> float:
        i = self.owner_index
        tot = 0.0
        for g in grids:
            tot += g.held_mw.item(i) + g.onsite_mw.item(i)
        return tot

    def energize(self, held_mw: float) -> None:
        """Power the fleet with ``held_mw``, the MW it holds over every region (:meth:`held_mw`,
        or :func:`held_mw_by_owner` for every owner at once); unpowered chips are stranded."""
        self.energized_h100e, self.used_mw = self.fleet.energize(held_mw)
        # a fully powered fleet would leave the rounding of two sums over the same chips (energize
        # adds the vintages in order of efficiency, the fleet total in order of purchase), a few
        # 1e-9 H100e either side of zero: below a billionth of the fleet, no chip is stranded
        stranded = self.fleet.total_h100e - self.energized_h100e
        self.stranded_h100e = stranded if stranded > 1e-9 * self.fleet.total_h100e else 0.0


class Lab(mesa.Agent, ComputeOwner):
    """A frontier developer; see the module docstring."""

    def __init__(self, model: mesa.Model, lid: str, p: LabParams, owner_index: int):
        super().__init__(model)
        self.lid, self.p = lid, p
        self.account = f"lab:{lid}"  # the lab's key in the ledger
        self.region = p.region
        self.init_compute(owner_index, model.life_months)
        self.A = model.algos.A_pub * p.algorithmic_multiplier
        self.licensed_tokens = p.licensed_tokens
        self.synthetic_tokens = 0.0
        self.active = True
        self.open_weights = p.open_weights
        self.run: TrainingRun | None = None
        self.deployed: DeployedModel | None = None
        self.revenue_usd_month = 0.0
        self.revenue_prev_year = 0.0
        self.valuation_usd = 0.0
        # rounds are staggered: each lab starts at a random point of its round cycle
        self.months_since_round = int(model.rng_labs.integers(0, model.sc.finance.equity_round_months))
        self.chip_budget_usd = 0.0
        self.rent_budget_usd = 0.0
        self.rented_h100e = 0.0
        self.compute_flop = 0.0
        self.inference_flop = 0.0
        self.research_flop = 0.0
        self.training_flop_month = 0.0
        self.synthetic_flop = 0.0  # FLOP spent generating synthetic tokens this month
        self.capacity_tokens = 0.0
        self.price_usd_per_token = 0.0
        self.markup = model.sc.services.lab_markup
        self.served_tokens = 0.0
        self.depreciation_usd = 0.0
        self.retired_h100e = 0.0
        self.tokens_used_last_run = 0.0
        self.income = dict.fromkeys(INCOME_ITEMS, 0.0)
        self.investors: dict[str, float] = {}
        self.spend_hist: list[float] = []  # investor account -> USD invested (cumulative)
        self._share_month, self._share = None, 0.0  # training_share() and the month it is for
        self._reserve_seen, self._reserve = None, (0.0, 0.0)  # plan_budget's reserve and backlog, and their view

    # ----- identity and money -----------------------------------------------------------
    def pay(self, dst: str, amount: float, kind: str, item: str) -> None:
        self.model.ledger.post(self.account, dst, amount, kind)
        self.income[item] += amount

    def receive(self, src: str, amount: float, kind: str, item: str) -> None:
        self.model.ledger.post(src, self.account, amount, kind)
        self.income[item] += amount
        if item == "funding" and kind != "acquired_cash":
            self.model.lab_funding_total += amount

    def new_month(self) -> None:
        self.income = dict.fromkeys(INCOME_ITEMS, 0.0)
        if not self.active:  # (what an exited lab owed was written off in its exit month)
            self.unpaid_usd = 0.0

    # ----- data ---------------------------------------------------------------------------
    def unique_tokens(self, max_share: float | None = None) -> float:
        """Unique tokens a run may train on: public (after opt-out) and licensed, plus the synthetic
        tokens kept after filtering (``scaling.synthetic_quality`` of those generated), the latter
        at most ``max_share`` of the total (by default ``data.synthetic_max_share``)."""
        sc = self.model.sc
        human = self.human_tokens()
        if not sc.data.synthetic_enabled:
            return human
        syn = sc.scaling.synthetic_quality * self.synthetic_tokens
        cap = sc.data.synthetic_max_share if max_share is None else max_share
        syn = min(syn, human * cap / (1.0 - cap)) if cap < 1 else syn
        return human + syn

    def human_tokens(self) -> float:
        return self.model.data.usable_public_tokens + self.licensed_tokens

    def planned_run_flop(self) -> float:
        """Physical FLOP the next run would get at today's compute and shares, within a training
        compute cap if one is in force."""
        per = self.model.flop_per_h100e_month
        flop = max(self.fleet.total_h100e + self.rented_h100e, 1.0) * per * self.training_share() * self.p.train_months
        cap = self.model.policy.compute_cap_flop
        return flop if cap is None else min(flop, cap)

    def training_share(self) -> float:
        """Share of compute for the training run this month: the lab's share at the calibration
        month, grown (or, before it, shrunk) at ``training.share_growth_per_year``, and once
        growing past it held at ``training.share_max`` (capped by 1 - research share)."""
        # it depends on the month only, and is asked for three times a lab-month: kept for the month
        month = self.model.month
        if self._share_month != month:
            tr = self.model.sc.training
            share = self.p.training_share * (1.0 + tr.share_growth_per_year) ** self.model.years_since_cal
            self._share = min(share, max(self.p.training_share, min(tr.share_max, 1.0 - self.p.research_share)))
            self._share_month = month
        return self._share

    def planned_run_tokens(self) -> float:
        """Compute-optimal tokens of the next run: ``D*`` of its effective compute, the planned
        physical FLOP times the lab's efficiency ``A_i`` (MODEL.md 4.1-4.2)."""
        _, D = self.model.law.optimal_allocation(self.planned_run_flop() * self.A)
        return float(D)

    def synthetic_tokens_wanted(self) -> float:
        """Generated (raw) synthetic tokens the lab still lacks for its next run: the run can use
        kept synthetic tokens up to the lesser of its planned tokens beyond the human ones
        (``planned_run_tokens() - human_tokens()``) and the cap ``data.synthetic_max_share`` of its
        unique tokens; each generated token yields ``synthetic_quality`` kept ones. The cap, not the
        collapse threshold, bounds it: :meth:`deploy` weighs training at the threshold only as an
        option, and with this many tokens it has the same options as with an unlimited stock."""
        sc = self.model.sc
        q = sc.scaling.synthetic_quality
        if not sc.data.synthetic_enabled or q <= 0 or self.model.law.collapsed_K is not None:
            return 0.0
        human = self.human_tokens()
        usable = self.planned_run_tokens() - human
        if usable <= 0:
            return 0.0
        cap = sc.data.synthetic_max_share
        if cap < 1:
            usable = min(usable, human * cap / (1.0 - cap))
        return max(usable / q - self.synthetic_tokens, 0.0)

    def license_data(self, budget_usd: float) -> None:
        """Buy exclusive licences when the next run would repeat the lab's human tokens more than
        ``data.licence_free_epochs`` times: the tokens that bring it down to that many epochs,
        within the budget. Fewer repetitions cost almost nothing (Muennighoff et al. 2023)."""
        if self.model.law.collapsed_K is not None or budget_usd <= 0:
            return
        gap = self.planned_run_tokens() / self.model.sc.data.licence_free_epochs - self.human_tokens()
        price = self.model.sc.data.licence_price_usd_per_mtoken / 1e6
        if gap <= 0 or self.model.data.licensable_tokens <= 0:
            return
        want = min(gap, budget_usd / price if price > 0 else gap)
        got = self.model.data.license(want)
        if got > 0:
            self.licensed_tokens += got
            cost = got * price
            self.pay("ext:data_owners", cost, "data_licence", "licences")
            self.model.deal(self.account, "ext:data_owners", "data_licence", cost, tokens=got)

    # ----- budgets ------------------------------------------------------------------------
    def opex_usd(self) -> float:
        """Staff and other costs: a ratio to the hardware cost of the fleet (its monthly
        straight-line depreciation), so that they scale with dollars, not chip counts."""
        fin = self.model.sc.finance
        return fin.lab_opex_ratio * self.fleet.monthly_cost_usd() + fin.lab_opex_base_usd_per_month

    def plan_budget(self) -> None:
        """Split spare cash into this month's chip and rental budgets."""
        m = self.model
        fin = m.sc.finance
        # what it keeps back reads its fleet, the MW it used last month, its grid's price and the
        # decision phase's view (IndustryModel._DecisionView), none of which changes in the phase:
        # within one phase (the same view) it is taken once for the lab's two plans
        seen = m._seen
        if seen is not None and self._reserve_seen is seen:
            reserve, backlog = self._reserve
        else:
            reserve = fin.cash_reserve_months * (self.opex_usd() + self.energy_cost_estimate())
            # the facility bills of power its chips owned and on order still need
            reserve += m.facility_reserve_usd(self)
            backlog = m.backlog_value(self)
            self._reserve_seen, self._reserve = seen, (reserve, backlog)
        spare = max(self.cash - reserve - backlog, 0.0)
        if self.p.funding == "parent":
            spend = spare  # parents fund capex as it is needed
        else:
            spend = spare * min(1.0, self.p.capex_aggressiveness / 12.0)
        self.rent_budget_usd = spend * self.p.rent_share
        self.chip_budget_usd = spend - self.rent_budget_usd

    def planned_chip_spend_usd_per_month(self) -> float:
        """The chip spending per month a lab plans its power for (``IndustryModel._request_power``).

        An equity lab's chip budget is already a monthly rate (a twelfth of its spare cash times its
        capex aggressiveness). A parent-funded lab spends all its spare cash at once, so its budget
        is a stock, up to a year of parent allowance; the rate at which it will have money for chips
        in the months ahead is the allowance its parent pays (``parent_capex / 12 * parent_share``,
        net of the rental share), or its budget if that is smaller.
        """
        if self.p.funding != "parent":
            return self.chip_budget_usd
        allowance = self.model.parent_capex_usd_per_year() / 12.0 * self.p.parent_share * (1.0 - self.p.rent_share)
        return min(self.chip_budget_usd, allowance)

    def energy_cost_estimate(self) -> float:
        g = self.model.grid_by_id[self.region]
        return self.used_mw * HOURS_PER_MONTH * g.price_usd_per_mwh

    def reprice(self, capacity_bound: bool) -> None:
        """Raise the markup 10% a month while serving capacity binds; relax it toward the base otherwise."""
        base = self.model.sc.services.lab_markup
        if capacity_bound:
            self.markup = min(self.markup * 1.1, 50.0 * base)
        else:
            self.markup = max(base, self.markup * 0.97)

    # ----- training -----------------------------------------------------------------------
    def start_training(self) -> None:
        if self.run is None and self.active:
            self.run = TrainingRun(self.model.month, self.p.train_months, A_start=self.A)

    def split_compute(self, flop: float) -> None:
        """Divide this month's FLOP between training, research, synthetic data and serving."""
        sc = self.model.sc
        train = flop * self.training_share() if self.run is not None else 0.0
        cap = self.model.policy.compute_cap_flop
        if self.run is not None and cap is not None:
            train = max(0.0, min(train, cap - self.run.flop_phys))
        research = flop * self.p.research_share
        # synthetic data: the tokens the next run still lacks (none once the stock covers what it
        # can use), generated at 2 N_active FLOP each with at most synthetic_compute_share of the FLOP
        synth = 0.0
        if sc.data.synthetic_enabled and self.deployed is not None:
            want = self.synthetic_tokens_wanted()
            if want > 0:
                per_token = 2.0 * self.active_params()
                synth = flop * sc.data.synthetic_compute_share
                if want * per_token <= synth:  # the gap closes this month
                    synth = want * per_token
                    self.synthetic_tokens += want
                else:
                    self.synthetic_tokens += synth / per_token
        self.synthetic_flop = synth
        self.training_flop_month = train
        self.research_flop = research
        self.inference_flop = max(flop - train - research - synth, 0.0)

    def progress_training(self) -> DeployedModel | None:
        if self.run is None:
            return None
        self.run.flop_phys += self.training_flop_month
        self.run.months_done += 1
        if self.run.months_done < self.run.months_total:
            return None
        run, self.run = self.run, None
        return self.deploy(run)

    def deploy(self, run: TrainingRun) -> DeployedModel | None:
        """Choose N and D for the run's effective compute (physical FLOP times the lab's
        efficiency when the run started) under the lab's data, and deploy the model. A run with
        no tokens to train on (all public text opted out, no licences: its loss is infinite)
        makes no model, and under a compute cap a model worse than the one the lab serves is
        not deployed: in both cases the lab keeps the one it has, and None is returned."""
        m = self.model
        sc = m.sc.scaling
        cap = m.policy.compute_cap_flop
        # a run that had passed a cap when it came into force is cut back to the cap
        flop = max(min(run.flop_phys, cap) if cap is not None else run.flop_phys, 1.0)
        # the tokens it may use: synthetic ones up to the allowed share; if that share lies above
        # the collapse threshold, the lab also weighs keeping below it and trains on whichever
        # gives the lower loss (more synthetic data allowed never makes its model worse)
        U = self.unique_tokens()
        options = [U]
        if sc.collapse_threshold < m.sc.data.synthetic_max_share and sc.collapse_penalty > 0:
            safe = self.unique_tokens(sc.collapse_threshold)
            if safe < U:
                options.append(safe)
        best = None
        for u in options:
            trained = self._train(flop, run.A_start, u)
            if best is None or trained[3] < best[3]:
                best = trained + (u,)
        N, D, De, L, syn_share, U = best
        if not math.isfinite(L):
            return None
        if cap is not None and self.deployed is not None and L > self.deployed.loss:
            # under a compute cap a lab keeps the better model it serves: a cap below the models
            # already trained limits new runs, it does not withdraw those models
            return None
        from sim import scaling as S

        ece = m.law.ece_scalar(L)
        score = float(S.score(L, sc.score_chance, sc.score_k, sc.score_x0))
        self.tokens_used_last_run = D
        release = (self.open_weights or m.policy.open_weight_mandate) and not m.policy.open_weight_ban
        self.deployed = DeployedModel(flop, N, D, De, L, ece, score, m.month, syn_share, release, run.A_start, U)
        return self.deployed

    def _train(self, flop: float, A: float, U: float) -> tuple[float, float, float, float, float]:
        """``(N, D, D_eff, loss, synthetic share)`` of a run of ``flop`` physical FLOP at efficiency
        ``A`` on ``U`` unique-equivalent tokens: the allocation of 7.5, then model collapse."""
        from sim import scaling as S

        m = self.model
        sc = m.sc.scaling
        N, D, De, L = S.allocate_effective(m.law, np.array([flop]), A, np.array([U]), sc.r_star, sc.r_star_params)
        N, D, De, L = float(N[0]), float(D[0]), float(De[0]), float(L[0])
        # human tokens are used first; synthetic tokens fill the rest up to the allowed share
        human = self.human_tokens()
        used_unique = min(D, U)
        syn_share = 0.0 if used_unique <= human else (used_unique - human) / used_unique
        L = m.law.E + (L - m.law.E) * float(S.collapse_factor(syn_share, sc.collapse_threshold, sc.collapse_penalty))
        return N, D, De, L, syn_share

    def active_params(self) -> float:
        if self.deployed is None or not math.isfinite(self.deployed.params):  # (a float: np.isfinite's answer)
            return 1e11
        frac = self.model.sc.services.active_param_fraction_moe if self.p.moe else 1.0
        return self.deployed.params * frac

    # ----- research and diffusion ---------------------------------------------------------
    def do_research(self, compute_flop: float) -> None:
        """Build a lead over the public frontier: research above the reference share makes A_i
        grow faster than A_pub (``A_i`` = ``A_pub`` x lead)."""
        ap = self.model.sc.algorithms
        share = self.research_flop / max(compute_flop, 1.0)
        mult = (share / ap.research_share_ref) ** ap.research_elasticity if share > 0 else 0.0
        # relative to the public trend: a lab at the reference share keeps its lead constant
        self.A *= ap.public_growth ** ((mult - 1.0) / 12.0)

    def diffuse(self) -> None:
        """The lead over A_pub decays with the diffusion half-life; A_i never falls below A_pub."""
        ap = self.model.sc.algorithms
        A_pub = self.model.algos.A_pub
        if self.A <= A_pub:
            self.A = A_pub
            return
        keep = 0.5 ** (1.0 / ap.diffusion_half_life_months)
        self.A = A_pub * (self.A / A_pub) ** keep


class CloudPool(ComputeOwner):
    """The hyperscalers' rentable fleet: funded by a share of parent capex and by rents; rents
    compute to startups, to labs with cloud partnerships and to outside (non-modelled) users."""

    account = "cloud"

    def __init__(self, model, owner_index: int, regions: list[str]):
        self.model = model
        self.regions = regions
        self.region = regions[0]
        self.init_compute(owner_index, model.life_months)
        self.chip_budget_usd = 0.0
        self.rental_price_usd_per_h100e_hr = 0.0
        self.rented_h100e = 0.0
        self.rental_demand_h100e = 0.0
        self.income = dict.fromkeys(("rent", "funding", "capex", "energy", "investments"), 0.0)

    def new_month(self) -> None:
        self.income = dict.fromkeys(self.income, 0.0)
