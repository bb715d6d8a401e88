"""IndustryModel: the monthly cycle of the AI industry.

``step()`` is the table of contents: the nine named phases of MODEL.md section 3, in order.
Labs, GPU suppliers and power grids are Mesa agents; the startup population is one set of numpy
arrays; the hardware frontier, the public algorithmic frontier, the data stock, the cloud pool
and the policy switches are plain objects owned by the model.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from agents.grid import PowerGrid
from agents.lab import CloudPool, Lab, held_mw_by_owner
from agents.startups import ALIVE, APP, MODEL, SparseDraws, StartupPopulation, grown_capacity, settle_month
from agents.supplier import GPUSupplier
from analysis import metrics as M
from scenarios.schema import Scenario, index_month, month_index
from sim.errors import PopulationError
from sim import scaling as S
from sim.environment import HOURS_PER_MONTH, AlgorithmicFrontier, DataStock, HardwareFrontier
from sim.ledger import Ledger
from sim.markets import ration
from sim.mesa_import import mesa  # Mesa, without SciPy at import (see sim/mesa_import.py)
from sim.services import clear_services_sparse


#: the most startup rows a run may hold: ~100 bytes of state each and, in a month's settlement
#: and records, work arrays of a few times that (371 MiB at the 1.1M rows of a 100k-startup run), so
#: ~10 GiB here. The baseline with the largest startups.initial allowed (2M) ends near 22M rows.
MAX_STARTUP_ROWS = 30_000_000


class SetupError(ValueError):
    """A scenario that validates field by field but cannot build a consistent initial state.
    ``key`` is the dotted path of the field at fault; the message is ``"{key}: {problem}"``."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key = key


@dataclass
class Policy:
    """Policy switches in force this month (changed by scenario events)."""

    compute_cap_flop: float | None = None
    open_weight_ban: bool = False
    open_weight_mandate: bool = False
    antitrust_share: float | None = None  # block acquisitions by a lab above this revenue share
    antitrust_hhi: float | None = None  # block acquisitions when revenue HHI is above this
    compute_subsidy_usd_per_month: float = 0.0
    venture_factor: float = 1.0


@dataclass
class Counters:
    """Cumulative physical quantities for the conservation checks."""

    chips_produced: float = 0.0
    chips_retired: float = 0.0
    chips_initial: float = 0.0
    chips_transferred_on_exit: float = 0.0
    startups_entered: int = 0
    startups_failed: int = 0
    startups_acquired: int = 0


def venture_pool_usd_per_year(sp, years_since_cal, sentiment, factor: float = 1.0):
    """Venture money for AI startups per year (scalars or arrays): the trend, times sentiment to
    its elasticity, times any venture shock ``factor``."""
    return (sp.venture_pool_2024_usd_per_year * (1 + sp.venture_growth_per_year) ** years_since_cal
            * sentiment ** sp.venture_sentiment_elasticity * factor)


def deal_row(month: str, payer: str, payee: str, kind: str, amount: float, extra: dict) -> dict:
    """One row of the deals table: an edge in the direction money flows, with ``extra`` columns."""
    return {"month": month, "src": payer, "dst": payee, "kind": kind, "amount_usd": float(amount), **extra}


#: A month's acquisitions are kept as columns (:class:`DealColumns`) from this many on; fewer
#: become rows at once. Runs with tens of thousands of startups make about a thousand a month.
DEAL_COLUMNS_MIN = 64

#: The columns of the deals table when a run made no deal.
DEAL_COLUMNS = ["month", "src", "dst", "kind", "amount_usd"]


#: The startup population drops the rows of startups no longer alive (failed, acquired: acquired
#: apps earn through the population's ``held`` sums) once they are more than this share of its
#: rows: every month makes a few dozen passes over all rows, and a compaction costs about one
#: month's passes. With 100k initial startups this compacts a few times a run.
COMPACT_SHARE = 0.05

#: Months ahead an owner plans its power for, at most (labs: their planned monthly spend for
#: ``min(home lead, REQUEST_HORIZON_MONTHS)`` months; the cloud: its fleet target that far ahead).
REQUEST_HORIZON_MONTHS = 24


class DealColumns:
    """Deals of one month and kind held as columns: the rows :func:`deal_row` would make for
    each, in order, without a dict per deal. :func:`deals_frame` builds the same table from
    either form. ``extra`` maps column names to one value per deal."""

    __slots__ = ("month", "src", "dst", "kind", "amount", "extra")

    def __init__(self, month: str, src: list[str], dst: list[str], kind: str, amount: np.ndarray,
                 extra: dict[str, np.ndarray]):
        self.month, self.src, self.dst, self.kind = month, src, dst, kind
        self.amount, self.extra = np.asarray(amount, dtype=float), extra

    def __len__(self) -> int:
        return len(self.src)

    def frame(self) -> pd.DataFrame:
        n = len(self.src)
        return pd.DataFrame({"month": [self.month] * n, "src": self.src, "dst": self.dst, "kind": [self.kind] * n,
                             "amount_usd": self.amount, **self.extra})


def deals_frame(deals: list) -> pd.DataFrame:
    """The deals table from a run's deals (rows from :func:`deal_row`, and :class:`DealColumns`),
    in order: the table ``pd.DataFrame`` would make of the same deals as rows."""
    chunks, rows = [], []
    for d in deals:
        if isinstance(d, DealColumns):
            if rows:
                chunks.append(pd.DataFrame(rows))
                rows = []
            chunks.append(d.frame())
        else:
            rows.append(d)
    if rows:
        chunks.append(pd.DataFrame(rows))
    if not chunks:
        return pd.DataFrame(columns=DEAL_COLUMNS)
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


def _seq_sum(values: list[float], start: int = 0, n: int | None = None) -> float:
    """``np.add.reduce`` of a list of floats (of ``n`` of them from ``start``), added as numpy adds a
    contiguous float array: one after another below 8 elements; else pairwise, eight running sums
    over the blocks of 8 joined as a tree, then the rest one by one (halves beyond 128 elements).
    For a few floats this is cheaper than making an array and reducing it, and the same sum."""
    if n is None:
        n = len(values)
    if n < 8:
        total = 0.0
        for i in range(start, start + n):
            total += values[i]
        return total
    if n > 128:
        half = n // 2
        half -= half % 8
        return _seq_sum(values, start, half) + _seq_sum(values, start + half, n - half)
    r = values[start:start + 8]
    end = start + n - n % 8
    for i in range(start + 8, end, 8):
        for j in range(8):
            r[j] += values[i + j]
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for i in range(end, start + n):
        total += values[i]
    return total


class _DecisionView:
    """What the decision phase reads of the grids and the order book, taken once at its start for
    every owner: an owner's MW held and queued change only through its own power requests, which
    it makes after reading them, and the backlog does not change in the phase. Each value is the
    one the per-owner reading gives, from the same additions in the same order:

    - ``held_mw[i]``: ``ComputeOwner.held_mw`` (grid and on-site MW over every grid);
    - ``pending_mw[i]``: ``PowerGrid.pending_mw`` summed over the grids;
    - ``backlog_mw[i]``, ``backlog_usd[i]``: the owner's chips on order times each supplier's
      watts (in MW) and price, summed over the suppliers;
    - ``free_mw[rid]``: ``PowerGrid.free_mw`` of each grid. Unlike the values above it changes
      in the phase, when a grid grants an owner MW at once (the need now of
      ``IndustryModel._plan_power``, which then takes it again); nothing else in the phase
      changes what a grid holds or its capacity.
    """

    __slots__ = ("held_mw", "pending_mw", "backlog_mw", "backlog_usd", "may_buy", "bars", "free_mw")

    def __init__(self, m: "IndustryModel"):
        self.held_mw = held_mw_by_owner(m.grids)
        self.free_mw = {g.rid: g.free_mw for g in m.grids}
        pending = np.zeros(m.n_owners)
        for g in m.grids:
            pending += g.pending
        self.pending_mw = pending.tolist()
        watts = np.zeros(m.n_owners)
        usd = np.zeros(m.n_owners)
        for s, on_order in zip(m.suppliers, m.backlog):  # a supplier's row: H100e on order by owner
            watts += on_order * s.watts_per_h100e
            usd += on_order * s.price_usd
        self.backlog_mw = (watts / 1e6).tolist()
        self.backlog_usd = usd.tolist()
        self.may_buy: dict[int, list[bool]] = {}  # owner index -> may it buy from each supplier (IndustryModel._may_buy)
        self.bars = tuple(frozenset(s.barred_regions) for s in m.suppliers)  # the suppliers' export bars


class IndustryModel(mesa.Model):
    """The AI-industry model. Build it from a :class:`Scenario` and a seed."""

    def __init__(self, scenario: Scenario, seed: int = 0, record_agents: bool = True,
                 model_months: Collection[int] | None = None):
        """``record_agents=False`` skips the monthly agent-level rows (``agent_rows`` stays
        empty). ``model_months``: the months (as :func:`~scenarios.schema.month_index` numbers)
        whose model-level row is recorded; None for every month. Events and deals are recorded
        either way, and the simulation itself is the same: a row only reads the model.

        The scenario is checked again as a whole first (:func:`scenarios.loader.check_scenario`,
        ~2 ms): a change made to it in place since it was validated (a lab added to its table, a
        region appended to a supplier's list) that breaks it raises a one-line
        :class:`~scenarios.loader.ScenarioError` before any work; the model runs on the
        validated copy (``self.sc``), with the same values.
        """
        from scenarios.loader import check_scenario

        scenario = check_scenario(scenario)
        # one master seed; each stochastic component draws from its own child stream, so that a
        # change in one (say, the number of startups) does not shift the draws of the others
        ss = np.random.SeedSequence(seed)
        s_model, s_sent, s_start, s_labs = ss.spawn(4)
        super().__init__(rng=np.random.default_rng(s_model))
        self.rng_sentiment = np.random.default_rng(s_sent)
        self.rng_startups = np.random.default_rng(s_start)
        self.rng_labs = np.random.default_rng(s_labs)
        self.sc = sc = scenario
        self.seed = seed
        self.record_agents = record_agents
        self.model_months = None if model_months is None else frozenset(int(i) for i in model_months)
        self.start_month = month_index(sc.start)
        self.end_month = month_index(sc.end)
        self.cal_month = month_index(sc.calibration_month)
        self.month = self.start_month - 1  # advanced at the start of each step
        self.life_months = int(round(sc.hardware.depreciation_years * 12))
        self.ledger = Ledger()
        self.counters = Counters()
        self.policy = Policy()
        self.events: list[dict] = []
        self.model_rows: list[dict] = []
        self.agent_rows: list[tuple[tuple, tuple]] = []  # (columns, values): sim.record.agents_frame(agent_rows)
        self.deals: list[dict | DealColumns] = []  # the deals table: sim.model.deals_frame(deals)
        self._invested: dict[tuple[str, str], float] = {}
        self._spent_back: dict[tuple[str, str], float] = {}
        self.circular_usd = 0.0
        self.lab_funding_total = 0.0
        if sc.scaling.law == "collapsed":
            self.law = S.ScalingLaw.collapsed(sc.scaling.collapsed_E, sc.scaling.collapsed_K, sc.scaling.collapsed_gamma)
        else:
            self.law = S.ScalingLaw.preset(sc.scaling.law)
        self.algos = AlgorithmicFrontier(sc.algorithms, self.cal_month, self.start_month)
        self.data = DataStock(sc.data, self.cal_month, self.start_month)
        inc = [p for p in sc.suppliers.values() if p.kind == "incumbent"]
        self.hardware = HardwareFrontier(sc.hardware, self.cal_month, inc[0].markup if inc else 1.5)
        self.flop_per_h100e_month = self.hardware.flop_per_h100e_month(sc.scaling.mfu)
        self.meek_mode = sc.meek_limit.enabled
        self.sentiment = sc.finance.sentiment_start
        self._events_by_month: dict[int, list] = {}
        for ev in sc.events:
            self._events_by_month.setdefault(month_index(ev.month), []).append(ev)
        self._expiring: dict[int, list] = {}
        self._owner_regions_cache: dict[tuple, list[str]] = {}  # see _owner_regions
        self._may_buy_cache: dict[tuple, list[bool]] = {}  # see _may_buy
        self._seen: _DecisionView | None = None  # set during the decision phase (see _DecisionView)
        self._parent_capex: tuple[tuple, float] = ((), 0.0)  # ((month, sentiment), USD/year)
        if self.meek_mode:
            self._init_meek()
        else:
            self._init_market()

    # =====================================================================================
    # set-up
    # =====================================================================================
    def _init_market(self) -> None:
        sc = self.sc
        self.grids = [PowerGrid(self, rid, p, len(sc.labs) + 1) for rid, p in sc.grids.items()]
        self.grid_by_id = {g.rid: g for g in self.grids}
        self.suppliers = [GPUSupplier(self, sid, p, i) for i, (sid, p) in enumerate(sc.suppliers.items())]
        self.supplier_by_id = {s.sid: s for s in self.suppliers}
        self.labs = [Lab(self, lid, p, i) for i, (lid, p) in enumerate(sc.labs.items())]
        self.lab_by_id = {lab.lid: lab for lab in self.labs}
        self.cloud = CloudPool(self, len(self.labs), [g.rid for g in self.grids if g.p.cloud_mw > 0] or [self.grids[0].rid])
        self.n_owners = len(self.labs) + 1
        self.backlog = np.zeros((len(self.suppliers), self.n_owners))  # H100e on order, unfilled
        self.partners = np.zeros((len(self.suppliers), self.n_owners), dtype=bool)
        # H100e of deliveries each owner could not pay for, cancelled (cumulative; a diagnostic)
        self.cancelled_unpaid_h100e = np.zeros(self.n_owners)
        for lab in self.labs:
            if lab.p.supplier_partner:
                self.partners[self.supplier_by_id[lab.p.supplier_partner].index, lab.owner_index] = True
        # initial fleets: bought evenly over the two years before the start, at their vintages' terms
        for owner, h100e in [(lab, lab.p.fleet_h100e) for lab in self.labs] + [(self.cloud, sc.finance.cloud_fleet_h100e_2024)]:
            self._seed_fleet(owner, h100e)
            self.counters.chips_initial += h100e
        for lab in self.labs:
            self.ledger.post("ext:initial_capital", lab.account, lab.p.cash_usd, "initial_cash")
            g = self.grid_by_id[lab.region]
            g.held_mw[lab.owner_index] += lab.p.mw if lab.p.mw > 0 else lab.fleet.mw_needed()
        cloud_mw_total = sum(g.p.cloud_mw for g in self.grids)
        need = self.cloud.fleet.mw_needed()
        for g in self.grids:
            if cloud_mw_total > 0:
                g.held_mw[self.cloud.owner_index] += g.p.cloud_mw
        if cloud_mw_total == 0:
            self.grids[0].held_mw[self.cloud.owner_index] += need
        for g in self.grids:
            if g.committed_mw > g.capacity_mw + 1e-6:
                # what holds it: outside load, and the labs' and the cloud's MW (given, or what their
                # fleets need at hardware.h100_watts_all_in)
                holders = [(f"{o.lid if o is not self.cloud else 'the cloud'}", float(g.held_mw[o.owner_index]))
                           for o in self.labs + [self.cloud] if g.held_mw[o.owner_index] > 0]
                held = ", ".join(f"{name} {mw:.0f}" for name, mw in sorted(holders, key=lambda x: -x[1])[:3])
                raise SetupError(f"grids.{g.rid}.capacity_mw", f"{g.capacity_mw:.0f} MW is below the {g.committed_mw:.0f} MW "
                                 f"committed at start (outside load {g.outside_mw:.0f} MW; largest holders {held} MW, "
                                 f"their fleets at {sc.hardware.h100_watts_all_in:g} W per H100e unless labs.*.mw or "
                                 f"grids.*.cloud_mw set it); expected at least that")
        # deployed models at the start. They were trained before it, on the public text open to
        # all then: the opt-out share withholds text from the runs of the start month on (with all
        # of it withheld at the start, the labs still have the models they start with)
        opt_out, self.data.opt_out_share = self.data.opt_out_share, 0.0
        for lab in self.labs:
            from agents.lab import TrainingRun

            lab.deploy(TrainingRun(self.start_month - lab.p.train_months, lab.p.train_months, lab.p.last_run_flop, lab.A, lab.p.train_months))
        self.data.opt_out_share = opt_out
        for lab in self.labs:
            # each lab is a random number of months into its next run, credited with that many
            # months of training at its start-month compute; otherwise every lab would train in
            # lock-step and all would deploy in the same months
            k = int(self.rng_labs.integers(0, lab.p.train_months))
            if k > 0:
                lab.run = TrainingRun(self.start_month - k, lab.p.train_months, lab.planned_run_flop() * k / lab.p.train_months, lab.A, k)
        self.startups = StartupPopulation(len(self.labs))
        # the model startups' serving compute by row (_startup_production), kept from month to month
        self._serve_buf, self._serve_rows = np.zeros(0), np.zeros(0, dtype=np.intp)
        sp = sc.startups
        self.money_scale = sp.reference_population / max(sp.initial, 1)
        self._spawn_startups(sp.initial, initial=True)
        self.startups_entered_month = self.startups_failed_month = self.startups_acquired_month = 0
        self.venture_month_usd = 0.0
        self.revenue_total_prev = None
        self.frontier_ece_prev = None
        self.best_score = max(l.deployed.score for l in self.labs)
        self.services_spend_month = 0.0
        self.avg_price_ref = None
        # services spend is quoted at the calibration month's best score; 0 = the best at start
        self.score_ref = sc.services.reference_score or self.best_score
        self.open_best_ece = max((l.deployed.ece for l in self.labs if l.deployed.open_weights), default=-np.inf)
        self.unserved_usd = 0.0
        self._rent_hist = [sc.finance.outside_rental_h100e_2024 + sum(l.p.fleet_h100e * l.p.rent_share for l in self.labs)]

    def _seed_fleet(self, owner, h100e: float) -> None:
        if h100e <= 0:
            return
        hw = self.sc.hardware
        # the start-of-run stock is of the chip generation current at the start month, at the
        # incumbent's list price: at the calibration month that is the H100 [h100_price], [h100_tdp];
        # a run that starts earlier (the 2020 backcast) inherits older, dearer and hungrier chips
        gen = self.hardware.unit_cost_per_h100e(self.start_month) / self.hardware.cost0
        price = hw.h100_price_usd * gen
        watts = self.hardware.watts_per_h100e(self.start_month)
        for k in range(24):
            m = self.start_month - 24 + k
            unit = h100e / 24
            cost = unit * price * (1 + hw.server_overhead_fraction)
            owner.fleet.add(unit, watts, cost, m)
            age = 24 - k
            owner.fleet.book_usd[-1] = cost * max(0.0, 1 - age / self.life_months)

    def _init_meek(self) -> None:
        ml = self.sc.meek_limit
        self.meek_budgets = np.array([ml.start_budget_usd, ml.start_budget_usd])  # frontier, fixed
        self.meek_flop_per_usd = None
        self.meek_A = 1.0
        self.meek_hw = 1.0
        self.labs, self.suppliers, self.grids = [], [], []

    # =====================================================================================
    # the monthly cycle
    # =====================================================================================
    def step(self) -> None:
        """One month: the phases of MODEL.md section 3, in this order."""
        if self.meek_mode:
            self.meek_step()
            return
        self.exogenous_update()
        self.supply_posts()
        self.decisions()
        self.market_clearing()
        self.production()
        self.services_market()
        self.finance_and_demography()
        self.diffusion()
        self.record()

    @property
    def years_since_cal(self) -> float:
        return (self.month - self.cal_month) / 12.0

    @property
    def active_labs(self) -> list[Lab]:
        return [l for l in self.labs if l.active]

    # ----- 1. exogenous update ---------------------------------------------------------------
    def exogenous_update(self) -> None:
        self.month += 1
        self.ledger.new_month()
        for lab in self.labs:
            lab.new_month()
        self.cloud.new_month()
        if self.month > self.start_month:
            A_before = self.algos.A_pub
            self.algos.advance()
            self.data.advance()
            for lab in self.labs:  # private levels ride on the public trend
                lab.A *= self.algos.A_pub / A_before
        self.apply_events()

    def apply_events(self) -> None:
        for ev in self._expiring.pop(self.month, []):
            self._apply_event(ev, on=False, expiry=True)
        for ev in self._events_by_month.get(self.month, []):
            self._apply_event(ev, on=ev.active)
            if ev.months > 0 and ev.active:
                self._expiring.setdefault(self.month + ev.months, []).append(ev)

    def _apply_event(self, ev, on: bool, expiry: bool = False) -> None:
        k = ev.kind
        pol = self.policy
        if k == "export_control":
            sups = [self.supplier_by_id[ev.supplier]] if ev.supplier else self.suppliers
            for s in sups:
                (s.barred_regions.add if on else s.barred_regions.discard)(ev.region)
            if on:
                self._cancel_barred_backlog(sups)
        elif k == "compute_cap":
            pol.compute_cap_flop = ev.value if on else None
        elif k == "moratorium":
            for g in self.grids:
                if not ev.region or g.rid == ev.region:
                    g.forced_moratorium = True if on else None
        elif k == "carbon_price":
            for g in self.grids:
                if not ev.region or g.rid == ev.region:
                    g.carbon_price = ev.value if on else self.sc.power.carbon_price_usd_per_t
        elif k == "antitrust":
            # value <= 1 is a revenue-share threshold; above 1 an HHI threshold
            if ev.value <= 1:
                pol.antitrust_share = ev.value if on else None
            else:
                pol.antitrust_hhi = ev.value if on else None
        elif k == "open_weight_ban":
            pol.open_weight_ban = on
        elif k == "open_weight_mandate":
            pol.open_weight_mandate = on
        elif k == "opt_out":
            if on:
                self.data.opt_out_share = float(ev.value)
        elif k == "compute_subsidy":
            pol.compute_subsidy_usd_per_month = ev.value / 12.0 if on else 0.0
        elif k == "supply_shock":
            for s in ([self.supplier_by_id[ev.supplier]] if ev.supplier else self.suppliers):
                s.shock_factor = ev.value if on else 1.0
                s.shock_until = self.month + ev.months - 1 if (on and ev.months) else (10**9 if on else -1)
        elif k == "efficiency_breakthrough":
            if on and not expiry:
                self.algos.jump(ev.value)
        elif k == "sentiment_crash":
            if on and not expiry:
                self.sentiment *= ev.value
        elif k == "venture_shock":
            pol.venture_factor = ev.value if on else 1.0
        self.log_event("policy_off" if not on else "policy", kind=k, supplier=ev.supplier, region=ev.region, value=ev.value, note=ev.note)

    # ----- 2. supply posts -----------------------------------------------------------------------
    def supply_posts(self) -> None:
        for s in self.suppliers:
            s.post_product()
        planned = np.array([s.planned_production() for s in self.suppliers])
        ceiling = self.sc.hardware.packaging_ceiling_h100e_per_month * (1 + self.sc.hardware.packaging_growth_per_year) ** self.years_since_cal
        self.packaging_ceiling = ceiling
        scale = min(1.0, ceiling / planned.sum()) if planned.sum() > 0 else 1.0
        for s, q in zip(self.suppliers, planned):
            s.produce(q * scale)
            self.counters.chips_produced += q * scale
            s.produced_last_year.append(q * scale)
            del s.produced_last_year[:-12]
        for g in self.grids:
            g.build_out()
            g.serve_queue()
            g.update_status()
        self.rental_price = self._rental_price()

    def cloud_chip(self) -> GPUSupplier:
        """The supplier whose chip prices the cloud's rentals: the cheapest it may buy from."""
        ok = [s for s in self.suppliers if s.may_sell_to("cloud", self.cloud.region)] or self.suppliers
        return min(ok, key=lambda s: s.price_usd)

    def _rental_price(self) -> float:
        """USD per H100e-hour: newest chip cost with servers over its life at target utilization,
        plus energy and facility, times the cloud margin (priced from chip cost)."""
        fin, hw = self.sc.finance, self.sc.hardware
        inc = self.cloud_chip()
        capex = inc.price_usd * (1 + hw.server_overhead_fraction) + hw.facility_capex_usd_per_mw * inc.watts_per_h100e / 1e6
        hours = self.life_months * HOURS_PER_MONTH * fin.cloud_utilization_target
        price_e = np.mean([g.price_usd_per_mwh for g in self.grids])
        energy = inc.watts_per_h100e / 1e6 * price_e
        return (capex / hours + energy) * (1 + fin.cloud_margin)

    # ----- 3. decisions ---------------------------------------------------------------------------
    def backlog_value(self, owner) -> float:
        """USD of the chips the owner has on order and not yet received, at this month's prices."""
        if self._seen is not None:  # in the decision phase: as taken at its start
            return self._seen.backlog_usd[owner.owner_index]
        backlog = self.backlog[:, owner.owner_index].tolist()
        return float(sum(b * s.price_usd for b, s in zip(backlog, self.suppliers)))

    def decisions(self) -> None:
        fin = self.sc.finance
        self.orders = np.zeros_like(self.backlog)
        self.power_requests: list[tuple] = []
        # suppliers' prices, capacities and watts do not change during the decision phase
        sups = self.suppliers
        price = np.array([s.price_usd for s in sups])
        self._sup_arrays = (price, np.array([s.capacity_h100e for s in sups]), np.array([s.watts_per_h100e for s in sups]))
        self._sup_lists = tuple(a.tolist() for a in self._sup_arrays)  # the same, as Python floats
        self._sup_producing = [s.capacity_h100e > 0 for s in sups]  # may a supplier sell at all
        self._partner_lists = self.partners.T.tolist()  # owner index -> its partner suppliers (bool)
        # the grids from the cheapest this month (the first of equals), as the labs' power plans
        # order the regions of their bloc (_request_power)
        self._rids_by_price = sorted((g.rid for g in self.grids), key=lambda r: self.grid_by_id[r].price_usd_per_mwh)
        # terms of every owner's chip order that are the same for all of them this month: the
        # price-performance term and the all-in price per H100e; and the availability weights,
        # which depend on the owner only through the suppliers it may buy from (filled as met)
        self._order_terms = ((price.min() / price) ** 4, price * (1 + self.sc.hardware.server_overhead_fraction))
        self._order_weights: dict[tuple[bool, ...], list[float]] = {}
        # the same all-in prices as Python floats, and with the facility that powers each chip
        # (_order_chips works on lists: a few suppliers, for which a numpy call costs more than
        # the arithmetic; the same element-by-element operations)
        all_in = self._order_terms[1]
        self._order_all_in = (all_in.tolist(),
                              (all_in + self.sc.hardware.facility_capex_usd_per_mw * self._sup_arrays[2] / 1e6).tolist())
        # MW each owner has queued that will be ready within six months. An owner's queue entries
        # change only through its own requests, which it makes after ordering chips, so the
        # totals taken here are the ones each owner sees when it orders (same additions, same order).
        # The same for the on-site lead (the near gap of _plan_power), in the same pass.
        self._queued_soon, self._queued_near = self._queued_ready(self.month + 6, self.month + self.sc.power.onsite_lead_months)
        self._seen = _DecisionView(self)
        for lab in self.active_labs:
            lab.plan_budget()
            lab.license_data(0.1 * lab.chip_budget_usd)
            lab.plan_budget()  # again, net of what the licences cost
            self._order_chips(lab, lab.chip_budget_usd)
            self._request_power(lab)
            lab.start_training()
        # the cloud plans its fleet for rental demand and spends its parent allocation
        c = self.cloud
        c.chip_budget_usd = self._cloud_chip_budget()
        self._order_chips(c, c.chip_budget_usd)
        self._request_power(c)
        self._seen = None
        # startups decide compute rental
        self._startup_decisions()

    def _cloud_chip_budget(self) -> float:
        """The cloud plans its fleet for rental demand a year ahead, grown at the rate of
        :meth:`_cloud_demand_growth` (the forecast its power plan uses), at its target
        utilization; parents fund what its cash does not cover. With
        ``finance.budgets_include_facility`` it counts facility bills as a lab does
        (:meth:`Lab.plan_budget`): it keeps back :meth:`facility_reserve_usd` and prices the chips
        beyond its spare held MW with their facility (:meth:`_new_chips_facility_usd`), and its
        parents' top-up covers both."""
        fin = self.sc.finance
        c = self.cloud
        level, growth = self._cloud_demand_growth()  # the forecast its power plan uses too
        target = level * growth / fin.cloud_utilization_target
        on_order = float(self.backlog[:, c.owner_index].sum())
        gap = max(target - c.fleet.total_h100e - on_order, 0.0)
        # the parents' committed capex: at least a month of it is built, demand or not
        gap = max(gap, self._cloud_committed_h100e_per_month())
        inc = self.cloud_chip()
        need = gap * inc.price_usd * (1 + self.sc.hardware.server_overhead_fraction)
        need += self._new_chips_facility_usd(c, gap * inc.watts_per_h100e / 1e6)
        # kept back, as a lab keeps them (Lab.plan_budget): facility bills of its unpowered chips
        # and the chips it has on order, paid on delivery
        reserve = self.facility_reserve_usd(c) + self.backlog_value(c)
        allowance = self.parent_capex_usd_per_year() / 12.0 * fin.cloud_share_of_parent_capex
        top_up = min(max(need + reserve - c.cash, 0.0), allowance)
        if top_up > 0:
            self.ledger.post("ext:parents", c.account, top_up, "parent_funding")
            c.income["funding"] += top_up
        return min(need, max(c.cash - reserve, 0.0))

    def _cloud_committed_h100e_per_month(self) -> float:
        """H100e a month the cloud's share of the parents' capex buys when
        ``finance.cloud_builds_parent_capex`` (else 0): the monthly allowance
        ``parent_capex/12 · cloud_share_of_parent_capex`` over the all-in cost of one H100e of
        :meth:`cloud_chip`, chips, servers and facility (the capital cost the rental price recovers,
        :meth:`_rental_price`)."""
        fin, hw = self.sc.finance, self.sc.hardware
        if not fin.cloud_builds_parent_capex:
            return 0.0
        inc = self.cloud_chip()
        all_in = inc.price_usd * (1 + hw.server_overhead_fraction) + hw.facility_capex_usd_per_mw * inc.watts_per_h100e / 1e6
        return self.parent_capex_usd_per_year() / 12.0 * fin.cloud_share_of_parent_capex / all_in

    def _power_headroom_h100e(self, owner, watts: float) -> float:
        """Chips the owner could power within a year: MW held or queued plus free MW nearby."""
        regions = self._owner_regions(owner)
        i = owner.owner_index
        held = self._seen.held_mw[i]
        queued = self._queued_soon[i]
        free_mw = self._seen.free_mw
        free = sum(free_mw[g.rid] for g in self.grids if g.rid in regions and not g.moratorium)
        need = owner.fleet.mw_needed() + self._seen.backlog_mw[i]
        return max(held + queued + 0.5 * free - need, 0.0) * 1e6 / watts

    def _owner_regions(self, owner) -> list[str]:
        if owner is self.cloud:
            return owner.regions
        # static for a run (home region, suppliers' domestic markets, grids): computed once per lab
        cache = self._owner_regions_cache
        key = (owner.owner_index, owner.region)
        if key in cache:
            return cache[key]
        home = owner.region
        domestic_only = any(s.p.kind == "domestic" and home in s.p.sells_to for s in self.suppliers)
        if domestic_only:
            out = [home]
        else:
            out = [g.rid for g in self.grids if not any(s.p.kind == "domestic" and g.rid in s.p.sells_to for s in self.suppliers)]
        cache[key] = out
        return out

    @staticmethod
    def _may_sell(s: GPUSupplier, owner) -> bool:
        """Whether supplier ``s`` may sell to the owner (a lab or the cloud)."""
        return s.may_sell_to(getattr(owner, "lid", "cloud"), owner.region)

    def _may_buy(self, owner) -> list[bool]:
        """Whether each supplier may sell to the owner (export rules, exclusivity; these do not change
        during the decision phase, which asks twice per owner). The answers depend only on the
        suppliers' export bars (which events change), their markets and exclusivity (fixed for a
        run) and the owner's id and region: kept for the run, by bars, id and region."""
        seen = self._seen
        may = seen.may_buy.get(owner.owner_index)
        if may is None:
            lid = getattr(owner, "lid", "cloud")
            key = (seen.bars, lid, owner.region)
            may = self._may_buy_cache.get(key)
            if may is None:
                may = self._may_buy_cache[key] = [self._may_sell(s, owner) for s in self.suppliers]
            seen.may_buy[owner.owner_index] = may
        return may

    def _cancel_barred_backlog(self, sups: list[GPUSupplier]) -> None:
        """An export control cancels the orders its suppliers have not yet delivered to the buyers
        it bars. (Chips are paid for on delivery, so no money changes hands.)"""
        for s in sups:
            for o in self.labs + [self.cloud]:
                q = float(self.backlog[s.index, o.owner_index])
                if q > 0 and not self._may_sell(s, o):
                    self.backlog[s.index, o.owner_index] = 0.0
                    s.backlog_h100e -= q

    def _order_chips(self, owner, budget: float) -> None:
        """Spread a chip budget over the suppliers the owner may buy from, by price-performance
        and capacity, partner supplier first; orders are limited by power headroom."""
        if budget <= 0 or owner.stranded_h100e > 0.1 * max(owner.fleet.total_h100e, 1.0):
            return  # no new chips while a tenth of the fleet waits for power
        ok = [may and c for may, c in zip(self._may_buy(owner), self._sup_producing)]
        if not any(ok):
            return
        _, cap, sup_watts = self._sup_arrays
        key = tuple(ok)
        w = self._order_weights.get(key)
        if w is None:
            perf = self._order_terms[0]
            ok_mask = np.array(ok)
            # buyers favour price-performance; availability matters, but less than proportionally
            w = self._order_weights[key] = np.where(ok_mask, np.sqrt(cap / cap[ok_mask].sum()) * perf, 0.0).tolist()
        # from here on Python floats, one per supplier: the element-by-element operations numpy
        # would do, and its sums (_seq_sum); the dot products stay numpy's (np.dot adds fused
        # multiply-adds)
        partner = [p and o for p, o in zip(self._partner_lists[owner.owner_index], ok)]
        if any(partner):
            w = [x * 20.0 if p else x for x, p in zip(w, partner)]
        total = _seq_sum(w)
        w = [x / total for x in w]
        all_in, all_in_facility = self._order_all_in
        h100e = [budget * x / a for x, a in zip(w, all_in)]
        watts = float(np.dot(w, sup_watts))
        if self.sc.finance.budgets_include_facility:
            # chips beyond the owner's spare held MW also cost the facility that powers them
            # (for one supplier: the cost _new_chips_facility_usd adds)
            spare = self._spare_held_mw(owner)
            mw = float(np.dot(h100e, sup_watts)) / 1e6
            if mw > spare:
                x = spare / mw  # the share of the budget its spare MW powers, at chip and server cost
                rest = (1 - x) * budget
                h100e = [x * h + rest * wj / af for h, wj, af in zip(h100e, w, all_in_facility)]
        limit = self._power_headroom_h100e(owner, watts)
        total = _seq_sum(h100e)
        if total > limit:
            f = limit / total
            h100e = [h * f for h in h100e]
        self.orders[:, owner.owner_index] += h100e

    def _view(self) -> _DecisionView:
        """The decision phase's view of grids and order book (:class:`_DecisionView`); outside it,
        one taken now."""
        return self._seen if self._seen is not None else _DecisionView(self)

    def _spare_held_mw(self, owner) -> float:
        """MW the owner (a lab or the cloud) holds (grid and on site, as at the start of the decision
        phase) beyond what its fleet and chips on order need."""
        i, seen = owner.owner_index, self._view()
        return max(seen.held_mw[i] - owner.fleet.mw_needed() - seen.backlog_mw[i], 0.0)

    def _new_chips_facility_usd(self, owner, mw: float) -> float:
        """Facility capex of new chips needing ``mw`` beyond the owner's spare held MW
        (:meth:`_spare_held_mw`), when ``finance.budgets_include_facility`` (else 0)."""
        if not self.sc.finance.budgets_include_facility:
            return 0.0
        return max(mw - self._spare_held_mw(owner), 0.0) * self.sc.hardware.facility_capex_usd_per_mw

    def facility_reserve_usd(self, owner) -> float:
        """Facility capex (``hardware.facility_capex_usd_per_mw``) of the MW the owner's (a lab's or
        the cloud's) fleet and chips on order need beyond the MW it holds: bills that fall due as
        that power connects, which its budget keeps back (:meth:`Lab.plan_budget`,
        :meth:`_cloud_chip_budget`) when ``finance.budgets_include_facility``."""
        if not self.sc.finance.budgets_include_facility:
            return 0.0
        i, seen = owner.owner_index, self._view()
        unpowered = max(owner.fleet.mw_needed() + seen.backlog_mw[i] - seen.held_mw[i], 0.0)
        return unpowered * self.sc.hardware.facility_capex_usd_per_mw

    def _request_power(self, owner) -> None:
        """Re-plan the owner's power requests this month. A lab plans on
        :meth:`_lab_power_need_mw` at home (free MW now also in the other open regions of its bloc,
        home first, then cheapest); the cloud on :meth:`_cloud_power_need_mw` over its regions
        (:meth:`_request_cloud_power`). Both by the one rule of :meth:`_plan_power`."""
        if owner is self.cloud:
            self._request_cloud_power()
            return
        home = self.grid_by_id[owner.region]
        regions = self._owner_regions(owner)
        # free MW now: first at home, then in the cheapest open region of its bloc
        # (the bloc's regions are in grid order, as the grids sorted by price take equals: its
        # regions, cheapest first, are the grids by price that are in it)
        now_regions = [owner.region] + [r for r in self._rids_by_price if r != owner.region and r in regions]
        # on site only for a lab that can pay for it (a parent-funded lab, or more than $5B of cash)
        rich = owner.p.funding == "parent" or owner.cash > 5e9
        self._plan_power(owner, self._lab_power_need_mw(owner), now_regions, [(home.rid, 1.0)], rich)

    def _lab_planned_mw_per_month(self, lab) -> float:
        """MW a month of the chips the lab's planned monthly spend buys
        (:meth:`Lab.planned_chip_spend_usd_per_month`; a parent-funded lab's budget is a stock) at
        the price of the cheapest supplier it may buy from (the first of equals) with servers, and
        with the facility that powers it when ``finance.budgets_include_facility``."""
        inc = None
        for may, s in zip(self._may_buy(lab), self.suppliers):
            if may and (inc is None or s.price_usd < inc.price_usd):
                inc = s
        inc = inc or self.suppliers[0]
        hw = self.sc.hardware
        spend = lab.planned_chip_spend_usd_per_month()
        unit = inc.price_usd * (1 + hw.server_overhead_fraction)
        if self.sc.finance.budgets_include_facility:  # each chip's power is bought with it
            unit += hw.facility_capex_usd_per_mw * inc.watts_per_h100e / 1e6
        return spend / unit * inc.watts_per_h100e / 1e6

    def _lab_power_need_mw(self, lab):
        """The lab's power plan this month, as a function of ``months``: the MW it plans to hold
        that many months ahead, its fleet and chips on order (this month's orders included), plus
        ``months`` of :meth:`_lab_planned_mw_per_month`. (Both terms are taken once: they do not
        change while the lab plans.)"""
        base = lab.fleet.mw_needed() + self._on_order_mw(lab.owner_index)
        rate = self._lab_planned_mw_per_month(lab)
        return lambda months: base + rate * months

    def _on_order_mw(self, i: int) -> float:
        """MW the chips owner ``i`` has on order (backlog and this month's orders) will need, at
        each supplier's watts. (Python floats, one per supplier: numpy's element-by-element
        operations and its sum.)"""
        watts = self._sup_lists[2]
        return _seq_sum([(b + o) * w for b, o, w in zip(self.backlog[:, i].tolist(), self.orders[:, i].tolist(), watts)]) / 1e6

    def _queued_ready(self, soon: int, near: int, only: int | None = None) -> tuple[list[float], list[float]]:
        """MW each owner has queued (grid and on site) that will be ready by month ``soon``, and by
        month ``near``: each summed over the grids' queues in order, in one pass over them.
        ``only``: sum owner ``only``'s entries alone (the others' totals stay 0.0)."""
        queued_soon = [0.0] * self.n_owners
        queued_near = [0.0] * self.n_owners
        for g in self.grids:
            for q in g.queue:  # (a hundred entries or more a region: locals, each read once)
                owner = q.owner
                if only is not None and owner != only:
                    continue
                ready, mw = q.ready_month, q.mw
                if ready <= soon:
                    queued_soon[owner] += mw
                if ready <= near:
                    queued_near[owner] += mw
        return queued_soon, queued_near

    def _plan_power(self, owner, need_mw, now_regions: list[str], split: list[tuple[str, float]], onsite_ok: bool) -> None:
        """One owner's power requests, re-planned every month from what it holds and has queued, as
        three gaps served by the fastest source that can close each, in this order
        (``need_mw(months)``: the MW it plans to hold that many months ahead):

        0. Queued grid MW beyond its plan (its largest need over the horizons ``min(lead, 24)`` of
           the regions in ``split``) times ``1 + queue_withdrawal_margin`` is withdrawn, newest first.
        1. *Now*: ``need_mw(0)`` less MW held and queued MW ready within six months (as in its chip
           headroom), taken from free grid MW in ``now_regions``, in that order, only as far as a
           grid grants at once (:meth:`PowerGrid.grantable_mw`): nothing is queued for it.
        2. *Near*: its need ``onsite_lead_months`` ahead less MW held, taken now, and queued (grid or
           on site) ready by then; split over the regions of ``split`` by their shares. Where a new
           grid request would wait longer than ``onsite_wait_threshold_months`` and ``onsite_ok``,
           it is built on site, at most ``onsite_mw_per_month_cap`` a region and month (the rest
           waits for next month's plan); where the wait is short it goes to the grid with the far gap.
        3. *Far*: its need ``min(queue lead, 24)`` months ahead less MW held, taken now and queued
           (all), split likewise and queued at the grid less what the region just built on site
           (nothing under a moratorium). The near and far grid requests are queued whole, to be
           connected after the lead time (:meth:`PowerGrid.request` with ``at_once=False``): free
           MW is taken only for the need now, by labs and the cloud alike.
        """
        pw = self.sc.power
        i = owner.owner_index
        held, pending = self._seen.held_mw[i], self._seen.pending_mw[i]
        far_need = {min(self.grid_by_id[r].p.queue_lead_months, REQUEST_HORIZON_MONTHS) for r, _ in split}
        far_need = {h: need_mw(h) for h in sorted(far_need)}
        # 0. withdraw queued grid MW beyond its plan, newest first
        plan = max(far_need.values())
        excess = held + pending - plan * (1.0 + pw.queue_withdrawal_margin)
        if excess > 1e-6 and pending > 1e-6:
            out = self._withdraw_queued(i, excess)
            if out > 0:
                pending -= out
                self._seen.pending_mw[i] = pending
                soon, near = self._queued_ready(self.month + 6, self.month + pw.onsite_lead_months, only=i)
                self._queued_soon[i], self._queued_near[i] = soon[i], near[i]
        # 1. now: free grid MW for what it needs now
        free_mw = self._seen.free_mw  # (each grid's free MW; a grant changes the grid's)
        now_gap = need_mw(0) - held - self._queued_soon[i]
        taken = 0.0
        if now_gap > 1e-6:
            for r in now_regions:
                g = self.grid_by_id[r]
                take = min(now_gap - taken, g.grantable_mw(free_mw[r]))
                if take > 1e-6:
                    taken += g.request(i, take)
                    free_mw[r] = g.free_mw
                if now_gap - taken <= 1e-6:
                    break
        # 2. and 3.: near and far gaps, split over the regions
        near_months = pw.onsite_lead_months
        arriving = self._queued_near[i]  # == self._queued_ready(self.month + 6, self.month + near_months)[1][i]
        near_gap = max(need_mw(near_months) - held - taken - arriving, 0.0)
        for r, sh in split:
            g = self.grid_by_id[r]
            h = min(g.p.queue_lead_months, REQUEST_HORIZON_MONTHS)
            far = max(far_need[h] - held - taken - pending, 0.0) * sh
            near = near_gap * sh
            if g.expected_wait_months(free_mw[r]) > pw.onsite_wait_threshold_months:
                onsite = min(near, pw.onsite_mw_per_month_cap) if onsite_ok else 0.0
                if onsite > 1e-6:
                    g.request(i, onsite, onsite=True)
                else:
                    onsite = 0.0
                grid = far - onsite
            else:
                grid = max(far, near)
            if grid > 1e-6:
                g.request(i, grid, at_once=False)

    def _withdraw_queued(self, i: int, mw: float) -> float:
        """Owner ``i`` withdraws up to ``mw`` of its queued grid requests, newest first over all
        grids (:meth:`PowerGrid.withdraw`; on-site builds stay); returns the MW withdrawn."""
        joined = sorted({q.joined_month for g in self.grids for q in g.queue if q.owner == i and not q.onsite}, reverse=True)
        done = 0.0
        for month in joined:
            for g in self.grids:
                done += g.withdraw(i, mw - done, month)
                if mw - done <= 1e-6:
                    return done
        return done

    def _cloud_demand_growth(self) -> tuple[float, float]:
        """The rental demand (H100e) and its yearly growth that the cloud plans its chips
        (:meth:`_cloud_chip_budget`) and power (:meth:`_cloud_power_need_mw`) on.

        The level is the last month's demand. The growth is the rate observed over the months of
        demand it has seen (at most the last 13), pulled toward the prior
        ``finance.cloud_demand_growth_prior`` in proportion to how much of a year it covers: in logs,
        ``w · log(observed) + (1 − w) · log(prior)`` with ``w = (months observed − 1)/12``, so
        one or two months of history barely move the estimate and a full year replaces the prior.
        The start-of-run entry of the history (set from parameters, not observed) is left out:
        in the baseline it is 0.65M H100e against 1.15M demanded in the first month, a jump that
        read as a year's growth would be 870x. Kept within ``[1, 4]`` a year."""
        hist = self._rent_hist
        n = min(self.month - self.start_month, len(hist))  # months of demand observed
        obs = hist[len(hist) - n:]
        level = obs[-1] if n else hist[-1]
        log_g = np.log(self.sc.finance.cloud_demand_growth_prior)
        if n >= 2 and obs[0] > 0 and obs[-1] > 0:
            w = (n - 1) / 12.0
            log_g = w * np.log(obs[-1] / obs[0]) * 12.0 / (n - 1) + (1.0 - w) * log_g
        return level, float(min(max(np.exp(log_g), 1.0), 4.0))

    def _cloud_power_need_mw(self, months: float) -> float:
        """MW the cloud plans to hold ``months`` ahead: its fleet and chips on order, plus the
        chips that would lift them to its fleet target then, rental demand grown at
        :meth:`_cloud_demand_growth` over ``cloud_utilization_target``, at the watts of
        :meth:`cloud_chip`. (Chips retiring before then are not netted out: their MW would
        serve their replacements.)"""
        return self._cloud_power_plan()(months)

    def _cloud_power_plan(self):
        """:meth:`_cloud_power_need_mw` as a function of ``months``, its inputs (fleet and chips on
        order, the demand forecast, the committed chips a month, the chip's watts) taken once: they
        do not change while the cloud plans (as :meth:`_lab_power_need_mw` for a lab)."""
        i = self.cloud.owner_index
        c = self.cloud
        book = self.backlog[:, i] + self.orders[:, i]
        on_order_mw = self._on_order_mw(i)
        level, growth = self._cloud_demand_growth()
        util = self.sc.finance.cloud_utilization_target
        have = c.fleet.total_h100e
        on_order = float(book.sum())
        committed = self._cloud_committed_h100e_per_month()
        base = c.fleet.mw_needed() + on_order_mw
        watts = self.cloud_chip().watts_per_h100e

        def need_mw(months: float) -> float:
            target = level * growth ** (months / 12.0) / util
            new = max(target - have - on_order, 0.0)
            # the chips the parents' committed capex buys over those months (_cloud_chip_budget)
            new = max(new, committed * months)
            return base + new * watts / 1e6

        return need_mw

    def _request_cloud_power(self) -> None:
        """The cloud's power requests, re-planned every month from what it holds and has queued,
        as three gaps served by the fastest source that can close each, in this order:

        1. *Now*: its need now (:meth:`_cloud_power_need_mw` at 0 months: fleet, chips on order
           and any chips short of today's target) less MW held and queued MW ready within six
           months (as in its chip headroom). Taken
           from free grid MW in its regions, cheapest first, only as far as a grid grants at
           once (:meth:`PowerGrid.grantable_mw`): nothing is queued for it.
        2. *Near*: its need at the on-site lead (``onsite_lead_months`` ahead) less MW held,
           taken now, and queued (grid or on-site) ready by then; split over its regions in
           proportion to ``cloud_mw``. Where a new grid request would wait longer than
           ``onsite_wait_threshold_months``, it is built on site, at most
           ``onsite_mw_per_month_cap`` a region and month (the rest waits for next month's plan);
           elsewhere it goes to the grid with the far gap.
        3. *Far*: its need ``min(queue lead, 24)`` months ahead less MW held and queued (all),
           split likewise and queued at the grid less what the region just built on site
           (nothing under a moratorium). Near and far grid requests are queued whole and connected
           after the queue lead (:meth:`_plan_power`, the labs' rule), even where a grid has free MW.

        The cloud thus queues at the grid only what its plan lacks, and while the queue is too
        slow it keeps taking free MW for its need now and building on site month after month."""
        c = self.cloud
        shares = np.array([max(self.grid_by_id[r].p.cloud_mw, 1e-9) for r in c.regions])
        shares = shares / shares.sum()
        now_regions = sorted(c.regions, key=lambda r: self.grid_by_id[r].price_usd_per_mwh)
        self._plan_power(c, self._cloud_power_plan(), now_regions, list(zip(c.regions, shares)), True)

    # ----- 4. market clearing ---------------------------------------------------------------------
    def market_clearing(self) -> None:
        hw = self.sc.hardware
        book = self.backlog + self.orders
        avail = np.array([s.inventory_h100e for s in self.suppliers])
        fills = ration(book, avail, hw.rationing_rule, self.partners)
        owners = self.labs + [self.cloud]
        for s in self.suppliers:
            s.grow_capacity(float(book[s.index].sum()))
            s.delivered_this_month = float(fills[s.index].sum())
            s.inventory_h100e -= s.delivered_this_month
            s.sales_usd_this_month = 0.0
        for s in self.suppliers:
            fills_s = fills[s.index].tolist()  # Python floats: the loop below is scalar arithmetic
            for o in owners:
                q = fills_s[o.owner_index]
                if q <= 0:
                    continue
                cost_chips = q * s.price_usd
                cost_servers = cost_chips * hw.server_overhead_fraction
                cash = o.cash
                if cash < cost_chips + cost_servers:  # cannot pay: take what it can afford
                    f = max(cash, 0.0) / (cost_chips + cost_servers)
                    book[s.index, o.owner_index] -= q * (1 - f)  # the rest is cancelled
                    self.cancelled_unpaid_h100e[o.owner_index] += q * (1 - f)
                    s.inventory_h100e += q * (1 - f)
                    s.delivered_this_month -= q * (1 - f)
                    fills[s.index, o.owner_index] = q = q * f
                    cost_chips, cost_servers = cost_chips * f, cost_servers * f
                    if q <= 0:
                        continue
                self._pay(o, s.account, cost_chips, "chip_sale", "capex")
                self._pay(o, "ext:server_vendors", cost_servers, "servers", "capex")
                s.sales_usd_this_month += cost_chips
                o.fleet.add(q, s.watts_per_h100e, cost_chips + cost_servers, self.month)
                self.deal(o.account, s.account, "chip_sale", cost_chips, h100e=q)
        self.backlog = np.maximum(book - fills, 0.0)
        for s in self.suppliers:
            s.backlog_h100e = float(self.backlog[s.index].sum())
        # cancelled orders of labs that left
        for lab in self.labs:
            if not lab.active:
                self.backlog[:, lab.owner_index] = 0.0
        # facility capex for MW connected this month
        for g in self.grids:
            connected = g.connected_this_month.tolist()
            for o in owners:
                mw = connected[o.owner_index]
                if mw > 0:
                    self._pay_up_to_cash(o, "ext:construction", mw * hw.facility_capex_usd_per_mw, "facility", "capex")
        self._clear_rentals()

    def _pay(self, owner, dst: str, amount: float, kind: str, item: str) -> None:
        if amount <= 0:
            return
        self.ledger.post(owner.account, dst, amount, kind)
        income = owner.income
        income[item] = income.get(item, 0.0) + amount

    def _pay_up_to_cash(self, owner, dst: str, bill: float, kind: str, item: str) -> None:
        """Pay a bill as far as the owner's cash goes; the rest stays owed (``owner.arrears``,
        totalled in ``owner.unpaid_usd``) until :meth:`_settle_arrears` pays it."""
        paid = min(bill, max(owner.cash, 0.0))
        self._pay(owner, dst, paid, kind, item)
        if bill > paid:
            owner.unpaid_usd += bill - paid
            owner.arrears.append((dst, bill - paid, kind, item))

    def _settle_arrears(self, owner) -> None:
        """Pay the bills the owner owes, in the order they fell due, as far as its cash goes, from the
        cash that came in during the month (phase 7: fees, parent funding, rounds; the cloud before
        its dividend). An owner that still owes keeps no cash, so it plans the next month's spending
        (phase 3) with nothing to spend until income pays off its bills."""
        if not owner.arrears:
            return
        left = []
        for dst, amount, kind, item in owner.arrears:
            paid = min(amount, max(owner.cash, 0.0))
            self._pay(owner, dst, paid, kind, item)
            if amount > paid:
                left.append((dst, amount - paid, kind, item))
        owner.arrears = left
        owner.unpaid_usd = float(sum(a[1] for a in left))

    def _clear_rentals(self) -> None:
        """Share the cloud's energized capacity among renters (pro rata when short)."""
        c = self.cloud
        c.energize(c.held_mw(self.grids))
        hours = HOURS_PER_MONTH
        price_mo = self.rental_price * hours  # USD per H100e-month
        fin = self.sc.finance
        outside = fin.outside_rental_h100e_2024 * (1 + fin.outside_rental_growth_per_year) ** self.years_since_cal
        lab_want = np.array([l.rent_budget_usd / price_mo if l.active else 0.0 for l in self.labs])
        st_rent = self.startup_rent_usd.sum()
        st_want = st_rent / price_mo
        want = np.concatenate([lab_want, [st_want, outside]])
        want_sum = want.sum()
        c.rental_demand_h100e = float(want_sum)
        self._rent_hist.append(c.rental_demand_h100e)
        self._rent_hist = self._rent_hist[-13:]
        have = c.energized_h100e
        f = min(1.0, have / want_sum) if want_sum > 0 else 0.0
        got = want * f
        for lab, h in zip(self.labs, got[: len(self.labs)]):
            lab.rented_h100e = h
            if h > 0:
                self._pay(lab, c.account, h * price_mo, "rental", "rent")
                c.income["rent"] += h * price_mo
                self.deal(lab.account, c.account, "cloud_rental", h * price_mo, h100e=h)
        self.startup_rent_fraction = f
        # (x 1.0 changes no value, so when nobody is rationed this is the sum above)
        st_paid = float(st_rent if f == 1.0 else (self.startup_rent_usd * f).sum())
        if self.startup_subsidy_each:  # the subsidised part of the startups' rent
            self.ledger.post("ext:government", "startups", self.startup_subsidy_each * self._models_alive.size * f,
                             "compute_subsidy")
        if st_paid > 0:
            self.ledger.post("startups", c.account, st_paid, "rental")
            c.income["rent"] += st_paid
        outside_paid = got[-1] * price_mo
        self.ledger.post("ext:outside_renters", c.account, outside_paid, "rental")
        c.income["rent"] += outside_paid
        c.rented_h100e = float(got.sum())

    # ----- 5. production -------------------------------------------------------------------------
    def production(self) -> None:
        per = self.flop_per_h100e_month
        self.finished_runs = []
        held = held_mw_by_owner(self.grids)  # nothing in production changes what grids hold
        for lab in self.labs:
            lab.energize(held[lab.owner_index])
            if not lab.active:  # an exited lab uses no compute
                lab.compute_flop = lab.training_flop_month = lab.research_flop = lab.inference_flop = lab.synthetic_flop = 0.0
                continue
            lab.compute_flop = (lab.energized_h100e + lab.rented_h100e) * per
            lab.split_compute(lab.compute_flop)
            lab.do_research(lab.compute_flop)
            dep = lab.progress_training()
            if dep is not None:
                self.finished_runs.append(lab)
                self.log_event("training_run_finished", lab=lab.lid, flop=dep.flop_phys, loss=dep.loss, ece=dep.ece,
                               score=dep.score, params=dep.params, tokens=dep.tokens, open_weights=dep.open_weights)
                if dep.open_weights:
                    # the released weights reveal the algorithms the run was trained with
                    self.algos.lift_to(dep.A)
                    self.log_event("open_weight_release", lab=lab.lid, ece=dep.ece, A=dep.A)
        self.open_best_ece = max((l.deployed.ece for l in self.labs if l.deployed and l.deployed.open_weights), default=-np.inf)
        self._startup_production()

    # ----- 6. AI-services market -------------------------------------------------------------------
    def services_market(self) -> None:
        sv, sc = self.sc.services, self.sc
        per_flop = self.rental_price / (sc.hardware.h100_flops * sc.scaling.mfu * 3600)  # USD per FLOP
        mult = sc.scaling.reasoning_compute_multiplier
        labs = self.active_labs
        # providers: active labs, the open-weight host, model startups
        lab_score = self._served_score(np.array([l.deployed.ece for l in labs]), np.array([l.deployed.loss for l in labs]))
        active = [l.active_params() for l in labs]
        lab_price = np.array([l.markup * 2 * n * mult * per_flop for l, n in zip(labs, active)])
        lab_cap = np.array([l.inference_flop / (2 * n * mult) for l, n in zip(labs, active)])
        for l, p in zip(labs, lab_price):
            l.price_usd_per_token = p
        open_labs = [l for l in self.labs if l.deployed and l.deployed.open_weights]
        if open_labs:
            best = max(open_labs, key=lambda l: l.deployed.ece)
            host_params = best.active_params()
            host_score = float(self._served_score(best.deployed.ece, best.deployed.loss))
            host_price = sv.open_host_markup * 2 * host_params * mult * per_flop
            host_cap = self.cloud_spare_tokens(host_params * mult)
        else:
            host_score, host_price, host_cap = 0.0, 1.0, 0.0
        st = self.startups
        # providers in row order: labs, the host, then one row per startup, of which only the model
        # startups alive with a score have a score and capacity (the others: zero and zero, at
        # the price below); the arrays hold the labs, the host and those startups only
        nl = len(labs)
        n = nl + 1 + st.n
        startup_price = sv.open_host_markup * 2 * 1e10 * per_flop
        ms = self._models_alive  # (as in production) those of them with a score
        ms = ms[np.isfinite(st.score[ms])]
        score = np.concatenate((lab_score, [host_score], st.score[ms]))
        price = np.concatenate((lab_price, [host_price], np.full(ms.size, startup_price)))
        cap = np.concatenate((lab_cap, [host_cap], self.startup_serve_flop[ms] / (2 * 1e10)))
        # total spend grows with the best score (over every row: the others score zero) and falls
        # with the average price
        best = float(np.max(score) if ms.size == st.n else max(np.max(score), 0.0))
        self.best_score = best
        w_avg_price = float(np.exp(np.mean(np.log(lab_price)))) if lab_price.size else 1.0
        if self.avg_price_ref is None:
            self.avg_price_ref = w_avg_price
        spend_year = (sv.spend_2024_usd_per_year * (1 + sv.base_growth_per_year) ** self.years_since_cal
                      * (best / self.score_ref) ** sv.capability_elasticity
                      * (w_avg_price / self.avg_price_ref) ** (1.0 - sv.price_elasticity))
        spend = spend_year / 12.0
        self.services_spend_month = spend
        app_share = sc.startups.app_revenue_share if st.n and (st.kind == APP).any() else 0.0
        direct = spend * (1 - app_share)
        rows = np.concatenate((np.arange(nl + 1), nl + 1 + ms))
        rev, lost = clear_services_sparse(direct, n, rows, score, price * sv.tokens_per_usd_scale, cap,
                                          startup_price * sv.tokens_per_usd_scale, sv.w_quality, sv.w_price)
        self.unserved_usd = lost
        for l, r, c in zip(labs, rev[:nl], lab_cap):
            l.revenue_usd_month = r
            l.served_tokens = r / max(l.price_usd_per_token, 1e-30)
            l.reprice(l.served_tokens >= 0.999 * c)
            l.receive("ext:customers", r, "api_revenue", "revenue")
        for l in self.labs:
            if not l.active:
                l.revenue_usd_month = 0.0
        self.open_host_revenue = float(rev[nl])
        if self.open_host_revenue > 0:
            self.ledger.post("ext:customers", self.cloud.account, self.open_host_revenue, "open_hosting")
            self.cloud.income["rent"] += self.open_host_revenue
        self.app_spend_month = spend * app_share
        self._pay_lab_costs()
        self._startup_settle(rev[nl + 1:])

    def _served_score(self, ece, loss) -> np.ndarray:
        """Score of the models as served (with reasoning compute at inference), element-wise."""
        sc = self.sc.scaling
        bonus = sc.reasoning_ece_per_decade * np.log10(sc.reasoning_compute_multiplier)
        L = self.law.loss_from_ece(np.asarray(ece, dtype=float) + bonus) if bonus > 0 else np.asarray(loss, dtype=float)
        return S.score(L, sc.score_chance, sc.score_k, sc.score_x0)

    def cloud_spare_tokens(self, params: float) -> float:
        spare = max(self.cloud.energized_h100e - self.cloud.rented_h100e, 0.0) * self.flop_per_h100e_month * 0.5
        return spare / (2 * params)

    def _pay_lab_costs(self) -> None:
        """Energy (to the grid where the MW is held), opex, and depreciation (non-cash)."""
        pw = self.sc.power
        owners = self.labs + [self.cloud]
        # MW held per grid and owner as Python floats (nothing below changes them)
        grid_mw = [(g, g.held_mw.tolist(), g.onsite_mw.tolist()) for g in self.grids]
        by_index = held_mw_by_owner(self.grids)
        held_by_owner = [by_index[o.owner_index] for o in owners]
        for o, total_held in zip(owners, held_by_owner):
            i = o.owner_index
            for g, held_g, onsite_g in grid_mw:
                held = held_g[i] + onsite_g[i]
                if held <= 0 or total_held <= 0:
                    continue
                used = o.used_mw * held / total_held
                g_price = g.price_usd_per_mwh
                if onsite_g[i] > 0:
                    on = onsite_g[i] / held
                    g_price = g_price * (1 - on) + on * g.p.base_price_usd_per_mwh * pw.onsite_price_multiplier
                bill = used * HOURS_PER_MONTH * g_price
                self._pay_up_to_cash(o, g.account, bill, "energy", "energy")
            dep, retired = o.fleet.depreciate(self.month)
            o.depreciation_usd = dep
            o.retired_h100e = retired
            self.counters.chips_retired += retired
            if o is not self.cloud and o.active:
                self._pay_up_to_cash(o, "ext:opex", o.opex_usd(), "opex", "opex")
        frac_used = [o.used_mw / max(held, 1e-12) for o, held in zip(owners, held_by_owner)]
        for g, held_g, onsite_g in grid_mw:
            # load drawn in the region, and the part of it drawn from the grid (not on-site)
            g.used_mw = float(sum(f * (held_g[o.owner_index] + onsite_g[o.owner_index]) for o, f in zip(owners, frac_used)))
            g.used_grid_mw = float(sum(f * held_g[o.owner_index] for o, f in zip(owners, frac_used)))

    # ----- 7. finance and demography ------------------------------------------------------------
    def finance_and_demography(self) -> None:
        fin = self.sc.finance
        self._update_sentiment()
        parent_year = self.parent_capex_usd_per_year()
        # parents fund their labs and the cloud pool
        for lab in self.active_labs:
            if lab.p.funding == "parent" and lab.p.parent_share > 0:
                amt = parent_year / 12.0 * lab.p.parent_share
                # a parent tops up a lab that can spend it; it stops once a year's allowance sits idle
                amt = min(amt, max(12 * amt - lab.cash, 0.0))
                if amt > 0:
                    lab.receive("ext:parents", amt, "parent_funding", "funding")
        c = self.cloud
        self._settle_arrears(c)  # bills before dividends
        excess = c.cash - 3 * (c.income["rent"] + c.income["capex"])
        if excess > 0:  # cloud profits beyond a buffer go back to the parents
            self.ledger.post(c.account, "ext:parents", excess, "dividend")
        # capability is valued relative to the frontier of the labs still active
        front = max((l.deployed.ece for l in self.labs if l.deployed and l.active), default=-np.inf)
        for lab in self.active_labs:
            lab.valuation_usd = self._valuation(lab, front)
            if lab.p.funding == "equity":
                lab.months_since_round += 1
                lab.spend_hist.append(lab.income["capex"] + lab.income["opex"] + lab.income["energy"] + lab.income["rent"] + lab.income["licences"])
                del lab.spend_hist[:-12]
                free = lab.cash - lab.unpaid_usd  # (what it owes is paid from its cash at the month's end)
                # np.mean of the list: its sum as numpy adds it, over the count
                need = fin.runway_target_months * (_seq_sum(lab.spend_hist) / len(lab.spend_hist)) - free
                due = lab.months_since_round >= fin.equity_round_months
                if (due and need > 0) or free < lab.opex_usd() * 3:
                    self._equity_round(lab, max(need, 0.0))
        self._startup_finance()
        # labs pay what they still owe for the month; equity labs whose cash ran out exit (their
        # chips and MW go to the cloud pool)
        for lab in self.active_labs:
            self._settle_arrears(lab)
            if lab.cash <= 0 and lab.p.funding == "equity":
                self._exit_lab(lab)

    def parent_capex_usd_per_year(self) -> float:
        """Parents' AI capex this month (USD/year); it depends on the month and on sentiment only,
        and is asked for up to a dozen times a month, so it is kept until either changes."""
        key = (self.month, self.sentiment)
        if self._parent_capex[0] != key:
            self._parent_capex = (key, self._parent_capex_usd_per_year())
        return self._parent_capex[1]

    def _parent_capex_usd_per_year(self) -> float:
        fin = self.sc.finance
        y = self.years_since_cal
        tau = fin.parent_capex_growth_decay_years
        g0, g1 = np.log1p(fin.parent_capex_growth_start), np.log1p(fin.parent_capex_growth_long)

        def integrated(t: float) -> float:  # log growth moves from g0 to g1 exponentially; its integral from 0 to t
            return g1 * t + (g0 - g1) * tau * (1 - np.exp(-t / tau))

        # parent_capex_2024 is a calendar-year total: the level is matched in mid-year (y = 0.5)
        if y < 0:  # before the calibration month (backcasts): the historical growth rate
            log_level = np.log1p(fin.parent_capex_growth_before_cal) * y - integrated(0.5)
        else:
            log_level = integrated(y) - integrated(0.5)
        return fin.parent_capex_2024_usd_per_year * np.exp(log_level) * self.sentiment ** fin.parent_sentiment_elasticity

    def _valuation(self, lab: Lab, front: float) -> float:
        """Revenue multiple plus capability relative to the frontier ``front`` (the best ece of the
        active labs), times sentiment."""
        fin = self.sc.finance
        rev_year = lab.revenue_usd_month * 12
        # each decade of ece behind the frontier costs e^-2
        behind = front - lab.deployed.ece if lab.deployed else 10.0
        cap = fin.capability_valuation_usd_per_score * max(lab.deployed.score - self.sc.scaling.score_chance, 0.0) * np.exp(-2.0 * behind) if lab.deployed else 0.0
        return (fin.revenue_multiple * rev_year + cap) * self.sentiment

    def _equity_round(self, lab: Lab, need: float) -> None:
        """Raise what the lab needs for its runway target, at most a share of its valuation."""
        fin = self.sc.finance
        opex = lab.opex_usd()
        size = min(fin.equity_round_valuation_share * lab.valuation_usd, max(need, opex * 6))
        if size <= 0 or size - lab.unpaid_usd < 3 * opex:
            # investors do not fund a round that would not carry the lab, once it has paid what it
            # owes, above the 3 months of opex that trigger a rescue round: a lab worth that little
            # runs down its cash and exits
            return
        lab.months_since_round = 0
        strategic = size * fin.strategic_investor_share
        investors = []
        if lab.p.cloud_partner:
            investors.append(self.cloud.account)
        investors += [s.account for s in self.suppliers if s.p.invests_in_labs]
        paid_strategic = 0.0
        for inv in investors:
            amt = strategic / len(investors)
            if inv == self.cloud.account:
                amt = min(amt, max(self.cloud.cash, 0.0))
            else:
                amt = min(amt, max(self.ledger.balance(inv), 0.0))
            if amt <= 0:
                continue
            lab.receive(inv, amt, "equity_investment", "funding")
            lab.investors[inv] = lab.investors.get(inv, 0.0) + amt
            if inv == self.cloud.account:
                self.cloud.income["investments"] += amt
            self.deal(inv, lab.account, "equity_investment", amt)
            paid_strategic += amt
        rest = size - paid_strategic
        lab.receive("ext:investors", rest, "equity_investment", "funding")
        lab.investors["ext:investors"] = lab.investors.get("ext:investors", 0.0) + rest
        self.deal("ext:investors", lab.account, "equity_investment", rest)
        self.log_event("funding_round", lab=lab.lid, amount=size, strategic=paid_strategic, valuation=lab.valuation_usd)

    def _exit_lab(self, lab: Lab) -> None:
        lab.active = False
        h = lab.fleet.total_h100e
        self.cloud.fleet.absorb(lab.fleet.take_all())
        self.counters.chips_transferred_on_exit += h
        for g in self.grids:
            mw = g.held_mw[lab.owner_index]
            g.release(lab.owner_index)
            g.held_mw[self.cloud.owner_index] += mw  # the data centre changes hands with the chips
        self.backlog[:, lab.owner_index] = 0.0
        lab.run = None
        lab.arrears = []  # its creditors are never paid: unpaid_usd shows the sum this month
        self.startups.held.close_owner(lab.owner_index)  # the apps it acquired close with it
        self.log_event("lab_exit", lab=lab.lid, h100e=h, unpaid_usd=lab.unpaid_usd)

    def _update_sentiment(self) -> None:
        fin = self.sc.finance
        rev = sum(l.revenue_usd_month for l in self.labs)
        front = max((l.deployed.ece for l in self.labs if l.deployed), default=0.0)
        if self.revenue_total_prev is None:
            self.revenue_hist = [rev]
            self.revenue_total_prev = rev
            self.ece_hist = [front]
        self.revenue_hist.append(rev)
        self.ece_hist.append(front)
        self.revenue_hist = self.revenue_hist[-13:]
        self.ece_hist = self.ece_hist[-13:]
        g_rev = np.log(max(self.revenue_hist[-1], 1.0) / max(self.revenue_hist[0], 1.0)) * 12 / max(len(self.revenue_hist) - 1, 1)
        g_ece = (self.ece_hist[-1] - self.ece_hist[0]) * 12 / max(len(self.ece_hist) - 1, 1)
        # log sentiment: mean reversion to 0, pushed by revenue growth and capability progress above trend
        x = np.log(self.sentiment)
        drift = -fin.sentiment_mean_reversion_per_year * x + fin.sentiment_revenue_weight * (g_rev - fin.sentiment_revenue_growth_ref) + fin.sentiment_capability_weight * (g_ece - fin.sentiment_capability_ref)
        x += drift / 12.0 + fin.sentiment_noise * np.sqrt(1 / 12) * self.rng_sentiment.standard_normal()
        # (np.clip of a scalar, without its wrapper: NaN stays NaN, as there)
        self.sentiment = float(np.exp(min(max(x, -3.0), 3.0)))

    # ----- 8. diffusion ---------------------------------------------------------------------------
    def diffusion(self) -> None:
        for lab in self.labs:
            lab.diffuse()

    # =====================================================================================
    # startups (vectorized)
    # =====================================================================================
    def _spawn_startups(self, n: int, initial: bool = False) -> None:
        sp = self.sc.startups
        st = self.startups
        if n <= 0:
            return
        rng = self.rng_startups
        kinds = (rng.random(n) < sp.model_share).astype(np.int8)
        lab_scores = np.array([l.deployed.score if l.active and l.deployed else 0.0 for l in self.labs])
        w = np.exp(self.sc.services.w_quality * lab_scores) * np.array([l.active for l in self.labs])
        if not w.sum() > 0:  # every lab has left: there is no API to build an app on
            kinds[:] = MODEL
            w[:] = 1.0  # (the providers drawn below are then dropped, as for any model startup)
        cdf = np.cumsum(w) / w.sum()
        prov = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(self.labs) - 1).astype(np.int32)
        prov = np.where(kinds == APP, prov, -1)
        burn = sp.burn_usd_per_month * self.money_scale * np.exp(sp.burn_dispersion * rng.standard_normal(n) - sp.burn_dispersion**2 / 2)
        if initial:
            cash = sp.seed_round_usd * self.money_scale * rng.uniform(0.3, 2.0, n)
            self.ledger.post("ext:initial_capital", "startups", float(cash.sum()), "initial_cash")
        else:
            cash = np.full(n, sp.seed_round_usd * self.money_scale)
            self.ledger.post("ext:venture", "startups", float(cash.sum()), "seed_round")
        # how far below the best open model a team's fine-tune lands, relative to the mean lag
        skill = rng.uniform(0.5, 1.5, n)
        ids = st.add(kinds, prov, cash, burn, self.month if not initial else self.start_month - 1, skill)
        if not initial:
            self.counters.startups_entered += n
            self.startups_entered_month += n

    def venture_pool_usd_per_year(self) -> float:
        return venture_pool_usd_per_year(self.sc.startups, self.years_since_cal, self.sentiment, self.policy.venture_factor)

    def _startup_decisions(self) -> None:
        st = self.startups
        sp = self.sc.startups
        # the model startups alive, from the population's rows of model startups (a few percent
        # of its rows at 100k startups: no pass over all rows)
        models = st.model_rows()
        alive = st.a["status"].take(models) == ALIVE
        ms = models[alive]
        # the population keeps these rows until the services market settles the month (failures,
        # acquisitions), so production and the services market reuse them
        self._models_alive = ms
        spare = np.maximum(st.cash[ms] - 3 * st.burn[ms], 0.0)
        rent = sp.model_startup_compute_share * spare
        # a public compute subsidy rents cloud compute for them, shared equally, in the same
        # clearing as their own rent (_clear_rentals: the government pays for what is delivered)
        sub = self.policy.compute_subsidy_usd_per_month
        self.startup_subsidy_each = sub / ms.size if sub > 0 and ms.size else 0.0
        if self.startup_subsidy_each:
            rent += self.startup_subsidy_each
        # only the model startups alive rent compute: the month's rent of every row, in place
        # (the app rows' stays the zero add() gave them, the model startups no longer alive rented
        # last month at most)
        rent_usd = st.rent_usd
        rent_usd[models[~alive]] = 0.0
        rent_usd[ms] = rent
        self.startup_rent_usd = rent_usd  # (a view: read by _clear_rentals this month)
        self._models_rent = rent  # (their rows of it, for production)

    def _startup_production(self) -> None:
        st = self.startups
        sc = self.sc
        f = self.startup_rent_fraction
        hours_flop = sc.hardware.h100_flops * sc.scaling.mfu * 3600
        flop_per_usd = hours_flop / self.rental_price
        # the model startups alive: the only rows that rent (_startup_decisions gave the others a
        # rent of zero), train and serve (the others keep their training compute and capability)
        idx = self._models_alive
        rent_paid = self._models_rent * f  # the compute delivered, subsidy included (rent_usd[idx] * f)
        # they pay for it from their cash, except the subsidised part (_startup_decisions)
        st.a["cash"][idx] -= rent_paid - self.startup_subsidy_each * f if self.startup_subsidy_each else rent_paid
        flop = rent_paid * flop_per_usd
        # half trains, half serves
        # (their training compute gathered once, for the update and the capability below)
        train_flop = st.a["train_flop"][idx]
        train_flop += 0.5 * flop
        st.a["train_flop"][idx] = train_flop
        # (by row, zero but for those rows; one array kept from month to month, in which only last
        # month's rows need zeroing: a fresh one would have its pages faulted in every month)
        buf = self._serve_buf
        if buf.size < st.n:
            buf = self._serve_buf = np.zeros(grown_capacity(buf.size, st.n))
        else:
            buf[self._serve_rows] = 0.0
        buf[idx] = 0.5 * flop
        self._serve_rows = idx
        self.startup_serve_flop = buf[: st.n]
        # their capability (element-wise, so computed on their rows only)
        # own models train on the public text only (no licences, no synthetic data), at public
        # algorithms. The data wall can only lower their ece below the compute frontier's, so it
        # is computed (allocate_effective) only on the rows whose unconstrained ece beats the
        # fine-tune: elsewhere the fine-tune wins either way (nearly every row, ODD 7.17)
        train = np.maximum(train_flop, 1.0)
        own_ece = self.law.ece(self.law.loss_optimal(train * self.algos.A_pub))
        tuned = (self.open_best_ece - sc.startups.model_startup_capability_lag * st.a["skill"][idx]) if np.isfinite(self.open_best_ece) else -np.inf
        may_win = np.flatnonzero(own_ece > tuned)
        if may_win.size:
            _, _, _, own_loss = S.allocate_effective(self.law, train[may_win], self.algos.A_pub,
                                                     self.data.usable_public_tokens, sc.scaling.r_star,
                                                     sc.scaling.r_star_params)
            own_ece[may_win] = self.law.ece(own_loss)
        ece = np.maximum(own_ece, tuned)
        if not np.isfinite(self.open_best_ece):  # no open model to tune: a row that cannot train
            ece[ece == -np.inf] = np.nan  # either (no tokens) has no model, as before its first month
        # the score is an element-wise function of the ece alone: only the rows whose ece changed
        # need it (new rows, and all rows in a month with a new best open model; about 5% of the
        # rows in most months: the fine-tune of the same open model wins again). Changed means
        # other bits, or NaN (new rows hold NaN; a NaN's score is recomputed rather than kept).
        old = st.a["ece"].take(idx)
        changed = ece.view(np.int64) != old.view(np.int64)
        changed |= np.isnan(ece)
        chg = np.flatnonzero(changed)
        rows, ece = idx[chg], ece[chg]
        st.a["ece"][rows] = ece
        loss = self.law.loss_from_ece(ece)
        st.a["score"][rows] = S.score(loss, sc.scaling.score_chance, sc.scaling.score_k, sc.scaling.score_x0)

    def _startup_settle(self, model_revenue: np.ndarray) -> None:
        st = self.startups
        sp = self.sc.startups
        labs = self.labs
        prov_w = np.array([l.deployed.score if (l.deployed and l.active) else 0.0 for l in labs])
        lab_cash = np.array([l.cash if l.active else 0.0 for l in labs])
        blocked = self._antitrust_blocked()
        self._venture_for_follow_on = self.venture_pool_usd_per_year() / 12.0 * sp.venture_to_startups_share
        # views: settle_month updates the population's state arrays in place
        s = {k: st.a[k][: st.n] for k in ("cash", "burn", "revenue", "revenue_prev", "kind", "status", "provider", "acquirer", "exit_month")}
        self._seed_budget = sp.seed_share * self._venture_for_follow_on
        out = settle_month(s, self.app_spend_month, prov_w, model_revenue, sp.api_fee_share, self._venture_for_follow_on - self._seed_budget,
                           sp.follow_on_months, self.sentiment, sp.acquisition_rate, sp.acquisition_price_multiple,
                           lab_cash, blocked, None, None, self.month, None, sp.follow_on_success_per_month, sp.reinvest_share,
                           np.array([l.revenue_usd_month for l in labs]), draws=SparseDraws(self.rng_startups), held=st.held,
                           model_rows=st.model_rows(), provider_labs=st.provider_labs(), dead_rows=st.dead_rows())
        # a failed startup's last cash goes to its creditors
        gone = out["failed_rows"]
        residual = np.zeros(st.n)
        residual[gone] = np.maximum(s["cash"][gone], 0.0)
        s["cash"][gone] -= residual[gone]
        L = self.ledger
        L.post("ext:customers", "startups", out["app_revenue"] + out["model_revenue"], "app_revenue")
        for lab, fee, acq_rev in zip(labs, out["fees_by_lab"], out["acq_revenue_by_lab"]):
            if fee > 0:
                L.post("startups", lab.account, fee, "api_fee")
                lab.income["api_fees"] += fee
            if acq_rev > 0:
                lab.receive("ext:customers", acq_rev, "app_revenue", "revenue")
                lab.revenue_usd_month += acq_rev
        L.post("startups", "ext:opex", float(out["burn_paid"].sum()), "startup_opex")
        L.post("startups", "ext:creditors", float(residual.sum()), "liquidation")
        fo = float(out["follow_on"].sum())
        L.post("ext:venture", "startups", fo, "follow_on_round")
        self.venture_month_usd = fo
        acq_idx = out["acquired_rows"]
        for lab, price, cash in zip(labs, out["acq_price_by_lab"], out["acq_cash_by_lab"]):
            if price + cash <= 0:
                continue
            lab.pay("ext:investors", price, "acquisition", "acquisitions")
            L.post("startups", lab.account, cash, "acquired_cash")
            lab.income["funding"] += cash
        # one loop over this month's deals (a handful per thousand startups), not over startups
        buyers = st.a["acquirer"][acq_idx].tolist()
        # the rows self.deal() would append (an acquisition is never part of a circular deal), in
        # one pass; with 100k startups there are about a thousand a month, kept as columns
        month, accounts = index_month(self.month), [lab.account for lab in labs]
        sids = st.a["id"][acq_idx]
        if len(buyers) >= DEAL_COLUMNS_MIN:
            self.deals.append(DealColumns(month, [accounts[j] for j in buyers], [f"startup:{sid}" for sid in sids.tolist()],
                                          "acquisition", out["price"][acq_idx], {"startup": sids}))
        else:
            self.deals.extend(deal_row(month, accounts[j], f"startup:{sid}", "acquisition", price, {"startup": sid})
                              for j, sid, price in zip(buyers, sids.tolist(), out["price"][acq_idx].tolist()))
        for j in sorted(set(buyers)):  # a team joins: one bump per acquiring lab and month
            labs[j].A *= self.sc.algorithms.acquisition_bump
        # the startups that left this month sold this month: the records count their revenue
        exits = np.concatenate((gone, acq_idx))
        exits.sort()
        st.note_exits(exits)
        self.startups_failed_month = gone.size
        self.startups_acquired_month = acq_idx.size
        self.counters.startups_failed += self.startups_failed_month
        self.counters.startups_acquired += self.startups_acquired_month
        if self.startups_acquired_month:
            self.log_event("acquisitions", count=self.startups_acquired_month, price=float(out["acq_price_by_lab"].sum()))

    def _antitrust_blocked(self) -> np.ndarray:
        pol = self.policy
        rev = np.array([l.revenue_usd_month for l in self.labs])
        blocked = np.array([not l.active for l in self.labs])
        if pol.antitrust_share is not None and rev.sum() > 0:
            blocked |= rev / rev.sum() > pol.antitrust_share
        if pol.antitrust_hhi is not None and rev.sum() > 0 and M.hhi(rev) > pol.antitrust_hhi:
            blocked |= True
        return blocked

    def _startup_finance(self) -> None:
        """Entry is money-limited: this month's seed budget over the seed round size."""
        sp = self.sc.startups
        st = self.startups
        self.startups_entered_month = 0
        seed_round = sp.seed_round_usd * self.money_scale
        lam = self._seed_budget / seed_round if seed_round > 0 else 0.0
        if st.n + lam > MAX_STARTUP_ROWS:  # (before the draw: numpy cannot draw a Poisson of ~1e19)
            raise PopulationError(
                f"{index_month(self.month)}: about {lam:,.0f} startups would enter (a seed budget of {self._seed_budget:.3g} "
                f"USD over rounds of {seed_round:.3g} USD) beside the {st.n:,} rows held, past the {MAX_STARTUP_ROWS:,} "
                f"rows memory allows: the venture pool (startups.venture_*, sentiment, venture_shock events) is out of "
                f"proportion to startups.seed_round_usd and startups.initial")
        n_new = int(self.rng_startups.poisson(lam)) if lam > 0 else 0
        self._spawn_startups(n_new)
        # (the rows removable_rows counts from the statuses: those settle_month has noted as exits)
        if st.n > 4096 and st.dead_rows().size > COMPACT_SHARE * st.n:
            st.compact()

    # =====================================================================================
    # records
    # =====================================================================================
    def log_event(self, event: str, **kw) -> None:
        row = {"month": index_month(self.month), "event": event}
        row.update({k: (float(v) if isinstance(v, (np.floating,)) else v) for k, v in kw.items()})
        self.events.append(row)

    def deal(self, payer: str, payee: str, kind: str, amount: float, **kw) -> None:
        """Record a deal as an edge in the direction money flows, and track circular deals:
        money a supplier or the cloud invests in a lab that comes back to it as purchases."""
        self.deals.append(deal_row(index_month(self.month), payer, payee, kind, amount, kw))
        if kind == "equity_investment" and payer.startswith(("supplier:", "cloud")):
            key = (payer, payee)
            self._invested[key] = self._invested.get(key, 0.0) + amount
        elif kind in ("chip_sale", "cloud_rental") and (payee, payer) in self._invested:
            key = (payee, payer)
            before = min(self._invested[key], self._spent_back.get(key, 0.0))
            self._spent_back[key] = self._spent_back.get(key, 0.0) + amount
            self.circular_usd += min(self._invested[key], self._spent_back[key]) - before

    def circular_share(self) -> float:
        """Circular-deal money as a share of all lab funding (parent and equity) so far."""
        return self.circular_usd / self.lab_funding_total if self.lab_funding_total > 0 else 0.0

    def record(self) -> None:
        from sim.record import agent_rows, model_row, startup_rows

        row_wanted = self.model_months is None or self.month in self.model_months
        if not (row_wanted or self.record_agents):
            return
        rows = startup_rows(self.startups)
        if row_wanted:
            self.model_rows.append(model_row(self, rows))
        if self.record_agents:
            self.agent_rows.extend(agent_rows(self, rows))

    # =====================================================================================
    # the Meek-models limit (MODEL.md section 7)
    # =====================================================================================
    def meek_step(self) -> None:
        """Two trainers buy compute at a price falling with hardware progress and train with
        shared algorithmic progress; one budget grows ``g_i``/yr, the other stays fixed."""
        self.month += 1
        ml = self.sc.meek_limit
        t = (self.month - self.start_month) / 12.0
        if self.month > self.start_month:
            self.meek_hw *= ml.hardware_growth ** (1 / 12)
            self.meek_A *= ml.algorithmic_growth ** (1 / 12)
            self.meek_budgets[0] *= ml.budget_growth ** (1 / 12)
        flop_per_usd = self.sc.hardware.h100_flops * self.sc.scaling.mfu * 3600 / ml.rental_price_usd_per_h100e_hr * self.meek_hw
        C = self.meek_budgets * flop_per_usd
        N, D, De, L = S.allocate(self.law, C, np.full(2, np.inf), self.sc.scaling.r_star, self.sc.scaling.r_star_params)
        L = S.apply_efficiency(self.law, L, self.meek_A)
        ece = self.law.ece(L)
        if self.model_months is not None and self.month not in self.model_months:
            return
        self.model_rows.append({
            "date": index_month(self.month), "t_years": t, "frontier_budget_usd": float(self.meek_budgets[0]),
            "meek_budget_usd": float(self.meek_budgets[1]), "frontier_train_flop": float(C[0]), "meek_train_flop": float(C[1]),
            "frontier_loss": float(L[0]), "meek_loss": float(L[1]), "meek_gap_loss": float(L[1] - L[0]),
            "frontier_ece": float(ece[0]), "meek_ece": float(ece[1]), "meek_gap_ece": float(ece[0] - ece[1]),
            "A_pub": self.meek_A, "flop_per_usd": flop_per_usd,
        })

    def run(self) -> None:
        """Step from the start month to the end month."""
        while self.month < self.end_month:
            self.step()
