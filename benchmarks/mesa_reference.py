"""The startup money rules of :func:`agents.startups.settle_month`, one Mesa agent per startup.

This is the readable baseline the vectorized phase is benchmarked against: a ``mesa.Model``
holding one :class:`StartupAgent` per startup, activated in random order with
``AgentSet.shuffle_do``. The rules are those of ``settle_month_reference`` moved onto the agent.
A month needs four passes because each one reads a population total of the pass before it:

1. ``post_traction``: an open app startup's traction weight (needs the number of open apps);
2. ``earn_and_spend``: revenue, API fees, burn, and the follow-on round it asks for (needs the
   sum of traction weights);
3. ``raise_or_exit``: the round it gets, failure, and its acquisition bid (needs the sum of asks);
4. ``close``: acquisitions a lab can afford go through, exits are recorded (needs each lab's
   total bids).

The month's random draws (``u_acq``, ``u_pick``, ``u_round``) are inputs, as in
``settle_month``, so the two produce the same month from the same state. Only Mesa API common
to Mesa 3.3 and 3.5 is used: ``Model(rng=...)``, ``Agent(model)``, iteration over
``model.agents`` and ``AgentSet.shuffle_do``.
"""

from __future__ import annotations

from bisect import bisect_right

import mesa
import numpy as np

from agents.startups import ACQUIRED, ALIVE, APP, FAILED

#: per-startup state the month reads and writes (the keys of ``settle_month``'s ``s``)
STATE = ("cash", "burn", "revenue", "revenue_prev", "kind", "status", "provider", "acquirer", "exit_month")
#: state that ``settle_month`` returns as integer arrays
INT_STATE = ("kind", "status", "provider", "acquirer", "exit_month")


class StartupAgent(mesa.Agent):
    """One startup: its money and status; ``row`` is its index into the month's draws."""

    def __init__(self, model: StartupMarket, row: int):
        super().__init__(model)
        self.row = row
        self.weight = self.fee = self.burn_paid = self.ask = self.follow = self.price = 0.0
        self.was_alive = self.failed = self.acquired = False
        self.pick = 0

    def _lab(self, j: int) -> int:
        return min(max(j, 0), self.model.n_labs - 1)

    def post_traction(self) -> None:
        """Traction weight of an open app: last month's revenue plus a base, times its provider's quality."""
        m = self.model
        if self.kind == APP and self.status != FAILED:
            self.weight = (self.revenue_prev + m.base) * m.provider_weight[self._lab(self.provider)]
            m.weight_sum += self.weight
        else:
            self.weight = 0.0

    def earn_and_spend(self) -> None:
        """Earn revenue, pay API fees and burn, and ask for a round if runway is short."""
        m = self.model
        app_rev = m.app_spend * self.weight / m.weight_sum if m.weight_sum > 0 else 0.0
        self.was_alive = self.status == ALIVE
        self.revenue = self.fee = self.burn_paid = self.ask = self.follow = 0.0
        if self.kind == APP and self.status == ACQUIRED:  # an acquired app now earns for its owner
            m.acq_revenue_by_lab[self._lab(self.acquirer)] += app_rev
            app_rev = 0.0
        if not self.was_alive:
            return
        if self.kind == APP:
            self.revenue = app_rev
            self.fee = app_rev * m.fee_share
            m.fees_by_lab[self._lab(self.provider)] += self.fee
            m.app_revenue += app_rev
        else:
            self.revenue = m.model_revenue[self.row]
            m.model_revenue_total += self.revenue
        self.cash += self.revenue - self.fee
        due = self.burn + m.reinvest * max(self.revenue - self.fee, 0.0)
        self.burn_paid = min(due, max(self.cash, 0.0))
        self.cash -= self.burn_paid
        traction = 1.0 + self.revenue / max(self.burn, 1.0)
        wants = self.cash < 6.0 * self.burn
        if wants and m.u_round is not None:
            wants = m.u_round[self.row] < min(m.round_success * m.sentiment * traction, 1.0)
        if wants:
            self.ask = m.follow_on_months * self.burn * m.sentiment * traction
            m.ask_sum += self.ask

    def raise_or_exit(self) -> None:
        """Receive the round (scaled to the money available), fail if broke, or bid to be acquired."""
        self.failed = self.acquired = False
        if not self.was_alive:
            return
        m = self.model
        self.follow = self.ask * m.follow_scale
        self.cash += self.follow
        self.failed = self.cash < self.burn * 1e-3
        self.price = max(m.acq_multiple * 12.0 * self.revenue, 0.0) + max(self.cash, 0.0)
        self.pick = min(bisect_right(m.lab_cdf, m.u_pick[self.row]), m.n_labs - 1)
        self.acquired = (not self.failed) and m.u_acq[self.row] < m.acq_rate * m.sentiment and m.eligible_sum > 0
        if self.acquired:
            m.bids_by_lab[self.pick] += self.price

    def close(self) -> None:
        """A lab buys only if this month's bids stay within half its cash; record exits."""
        m = self.model
        if self.acquired and m.bids_by_lab[self.pick] > 0.5 * m.eligible[self.pick]:
            self.acquired = False
        if self.acquired:
            m.acq_price_by_lab[self.pick] += self.price - max(self.cash, 0.0)
            m.acq_cash_by_lab[self.pick] += max(self.cash, 0.0)
            self.cash = 0.0
            self.acquirer = self.pick
            self.status = ACQUIRED
            self.exit_month = m.month
        elif self.failed:
            self.status = FAILED
            self.exit_month = m.month
        if self.was_alive:
            self.revenue_prev = self.revenue


class StartupMarket(mesa.Model):
    """The startup population as Mesa agents; ``step()`` settles one month, like ``settle_month``."""

    def __init__(self, s: dict[str, np.ndarray], n_labs: int, rng: int | np.random.Generator | None = 0):
        super().__init__(rng=rng)
        self.n_labs = n_labs
        for row in range(len(s["cash"])):
            StartupAgent(self, row)
        self.load(s)

    def load(self, s: dict[str, np.ndarray]) -> None:
        """Set every agent's state from arrays (plain Python numbers, as a hand-written model keeps)."""
        cols = {k: np.asarray(s[k]).tolist() for k in STATE}
        for a in self.agents:
            for k in STATE:
                setattr(a, k, cols[k][a.row])

    def set_month(self, app_spend, provider_weight, model_revenue, fee_share, venture_usd, follow_on_months, sentiment,
                  acq_rate, acq_multiple, lab_cash, lab_blocked, u_acq, u_pick, month, u_round=None, round_success=1.0,
                  reinvest=0.0) -> None:
        """The month's inputs: the keyword arguments of ``settle_month`` other than the state."""
        self.app_spend, self.fee_share, self.venture_usd = float(app_spend), float(fee_share), float(venture_usd)
        self.follow_on_months, self.sentiment = float(follow_on_months), float(sentiment)
        self.acq_rate, self.acq_multiple, self.month = float(acq_rate), float(acq_multiple), int(month)
        self.round_success, self.reinvest = float(round_success), float(reinvest)
        self.provider_weight = np.asarray(provider_weight, dtype=float).tolist()
        self.lab_cash = np.asarray(lab_cash, dtype=float).tolist()
        self.lab_blocked = np.asarray(lab_blocked, dtype=bool).tolist()
        self.model_revenue = np.asarray(model_revenue, dtype=float).tolist()
        self.u_acq = np.asarray(u_acq, dtype=float).tolist()
        self.u_pick = np.asarray(u_pick, dtype=float).tolist()
        self.u_round = None if u_round is None else np.asarray(u_round, dtype=float).tolist()

    def step(self) -> None:
        """One month: the four passes, each over all startups in a fresh random order."""
        L = self.n_labs
        self.fees_by_lab, self.acq_revenue_by_lab = [0.0] * L, [0.0] * L
        self.acq_price_by_lab, self.acq_cash_by_lab, self.bids_by_lab = [0.0] * L, [0.0] * L, [0.0] * L
        self.app_revenue = self.model_revenue_total = 0.0
        n_open_apps = sum(1 for a in self.agents if a.kind == APP and a.status != FAILED)
        self.base = self.app_spend / max(n_open_apps, 1) * 0.1
        self.weight_sum = 0.0
        self.agents.shuffle_do("post_traction")
        self.ask_sum = 0.0
        self.agents.shuffle_do("earn_and_spend")
        self.follow_scale = min(1.0, self.venture_usd / self.ask_sum) if self.ask_sum > 0 else 0.0
        self.eligible = [0.0 if blocked else max(c, 0.0) for c, blocked in zip(self.lab_cash, self.lab_blocked)]
        self.eligible_sum = sum(self.eligible)
        self.lab_cdf, run = [], 0.0
        for e in self.eligible:
            run += e
            self.lab_cdf.append(run / max(self.eligible_sum, 1e-300))
        self.agents.shuffle_do("raise_or_exit")
        self.agents.shuffle_do("close")

    # ----- results, in row order (for checks, not timed) --------------------------------------
    def _by_row(self) -> list[StartupAgent]:
        return sorted(self.agents, key=lambda a: a.row)

    def state(self) -> dict[str, np.ndarray]:
        """Per-startup state as arrays in row order, like ``settle_month``'s updated ``s``."""
        agents = self._by_row()
        return {k: np.array([getattr(a, k) for a in agents], dtype=np.int64 if k in INT_STATE else float) for k in STATE}

    def flows(self) -> dict[str, np.ndarray | float]:
        """The month's flows, with the keys and meaning of ``settle_month``'s return value."""
        agents = self._by_row()
        return {
            "fees_by_lab": np.array(self.fees_by_lab), "acq_revenue_by_lab": np.array(self.acq_revenue_by_lab),
            "acq_price_by_lab": np.array(self.acq_price_by_lab), "acq_cash_by_lab": np.array(self.acq_cash_by_lab),
            "app_revenue": self.app_revenue, "model_revenue": self.model_revenue_total,
            "burn_paid": np.array([a.burn_paid for a in agents]), "follow_on": np.array([a.follow for a in agents]),
            "failed": np.array([a.failed for a in agents]), "acquired": np.array([a.acquired for a in agents]),
        }

    def release(self) -> None:
        """Drop Mesa's class-level reference to this model (kept by Mesa < 3.4), so it can be freed."""
        from sim.run import release_model

        release_model(self)


def sample_month(n: int, n_labs: int = 10, seed: int = 0) -> tuple[dict[str, np.ndarray], dict]:
    """A mid-life population of ``n`` startups and one month's inputs for ``settle_month``.

    Dollar amounts use the baseline scenario's startup parameters at resolution ``n`` (per-startup
    money scaled by ``reference_population / n``); 70% of rows are alive, 20% failed and 10%
    acquired, as in a population between compactions; one lab is blocked by antitrust and one is
    too poor to buy anything.

    Returns:
        ``(s, kwargs)``: the state dict and the keyword arguments of ``settle_month``.
    """
    from scenarios.loader import load_scenario

    sp = load_scenario("baseline")[0].startups
    scale = sp.reference_population / n
    rng = np.random.default_rng(seed)
    kind = (rng.random(n) < sp.model_share).astype(np.int8)
    status = rng.choice(np.array([ALIVE, FAILED, ACQUIRED], dtype=np.int8), n, p=[0.7, 0.2, 0.1])
    alive = status == ALIVE
    burn = sp.burn_usd_per_month * scale * np.exp(sp.burn_dispersion * rng.standard_normal(n) - sp.burn_dispersion**2 / 2)
    revenue_prev = np.where(status != FAILED, burn * rng.exponential(0.5, n), 0.0)
    s = {
        "cash": np.where(alive, sp.seed_round_usd * scale * rng.uniform(0.0, 2.0, n), 0.0), "burn": burn,
        "revenue": np.where(alive, revenue_prev, 0.0), "revenue_prev": revenue_prev, "kind": kind, "status": status,
        "provider": np.where(kind == APP, rng.integers(0, n_labs, n), -1).astype(np.int32),
        "acquirer": np.where(status == ACQUIRED, rng.integers(0, n_labs, n), -1).astype(np.int32),
        "exit_month": np.where(alive, -1, 290).astype(np.int32),
    }
    lab_cash = rng.uniform(2e9, 2e10, n_labs)
    lab_cash[-1] = 1e6  # cannot afford a startup: its bids are refused
    venture_month_usd = sp.venture_pool_2024_usd_per_year / 12.0 * sp.venture_to_startups_share
    kwargs = dict(
        app_spend=1.2 * float(revenue_prev[kind == APP].sum()), provider_weight=rng.uniform(0.3, 0.9, n_labs),
        model_revenue=np.where(kind != APP, burn * rng.exponential(0.3, n), 0.0), fee_share=sp.api_fee_share,
        venture_usd=venture_month_usd * (1 - sp.seed_share), follow_on_months=sp.follow_on_months, sentiment=1.0,
        acq_rate=sp.acquisition_rate, acq_multiple=sp.acquisition_price_multiple, lab_cash=lab_cash,
        lab_blocked=np.arange(n_labs) == 0, u_acq=rng.random(n), u_pick=rng.random(n), month=300,
        u_round=rng.random(n), round_success=sp.follow_on_success_per_month, reinvest=sp.reinvest_share,
    )
    return s, kwargs
