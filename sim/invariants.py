"""Laws every month of every run must keep (docs/ODD.md 7.24), checked on a running model.

The model keeps them by construction; this module checks that it does, for the test suite and
for users who run scenarios of their own (``frontiersim run --check``):

* **money**: every dollar leaves one account and enters another (the ledger's balances sum to
  zero); the startup population's cash is its ledger balance; no lab and not the cloud holds less
  than nothing (a bill it cannot pay is owed, ODD 7.16); each active lab's and the cloud's change
  in cash is its month's income statement;
* **chips**: the initial stock plus every chip produced is installed, in a supplier's inventory
  or retired;
* **power**: no grid commits more MW than its capacity;
* **data**: no run trains on more effective tokens than its tokens, or than Muennighoff's ceiling
  ``U (1 + R*)`` of its unique ones; licensed tokens come out of the licensable pool;
* **finite outputs**: no value of the month's model row is infinite, and every lab's
  algorithmic efficiency is finite.

Tolerances are relative (1e-9) with an absolute floor of one dollar, one chip-millionth or one
watt, far above rounding and far below any real leak.
"""

from __future__ import annotations

import math

from agents.lab import INCOME_ITEMS
from sim.errors import InvariantError

#: relative tolerance of every balance check (sums of ~1e12 USD over thousands of postings)
REL = 1e-9


def _near(a: float, b: float, abs_tol: float) -> bool:
    return abs(a - b) <= max(REL * max(abs(a), abs(b)), abs_tol)


def cash_of(model) -> dict[str, float]:
    """Each lab's and the cloud's cash (what :func:`check_month` compares the next month with)."""
    out = {lab.lid: lab.cash for lab in model.labs}
    out["cloud"] = model.cloud.cash
    return out


def check_month(model, prev_cash: dict[str, float] | None = None) -> list[str]:
    """The laws the month just simulated breaks, each as one line (empty: none).

    ``prev_cash`` is :func:`cash_of` the model before the month (None: the income statements
    are not checked). Meek-limit runs have no agents and nothing to check.
    """
    if getattr(model, "meek_mode", False):
        return []
    problems: list[str] = []
    L = model.ledger
    balances = L.balances()
    scale = sum(abs(v) for v in balances.values())
    total = L.total()
    if abs(total) > REL * max(scale, 1.0):
        problems.append(f"money: the ledger's balances sum to {total:.6g} USD, not 0")
    st_cash = float(model.startups.cash.sum())
    st_ledger = L.balance("startups")
    if not _near(st_cash, st_ledger, 1.0):
        problems.append(f"money: startups hold {st_cash:.6g} USD, their ledger account {st_ledger:.6g}")
    owners = [(lab.lid, lab) for lab in model.labs] + [("cloud", model.cloud)]
    for name, o in owners:
        if o.cash < -1.0:
            problems.append(f"money: {name} holds {o.cash:.6g} USD (bills it cannot pay are owed, not overdrawn)")
    if prev_cash is not None:
        for lab in model.labs:
            if not lab.active or lab.lid not in prev_cash:
                continue
            r = lab.income
            inflow = r["revenue"] + r["api_fees"] + r["funding"]
            outflow = sum(r[k] for k in INCOME_ITEMS if k not in ("revenue", "api_fees", "funding"))
            change = lab.cash - prev_cash[lab.lid]
            if not _near(change, inflow - outflow, 1.0):
                problems.append(f"money: {lab.lid}'s cash changed by {change:.6g} USD, its income statement "
                                f"says {inflow - outflow:.6g}")
        c = model.cloud
        if "cloud" in prev_cash:
            r = c.income
            dividend = L.flows(kind="dividend", src=c.account)
            net = r["rent"] + r["funding"] - r["capex"] - r["energy"] - r["investments"] - dividend
            change = c.cash - prev_cash["cloud"]
            if not _near(change, net, 1.0):
                problems.append(f"money: the cloud's cash changed by {change:.6g} USD, its income statement says {net:.6g}")
    fleets = sum(lab.fleet.total_h100e for lab in model.labs) + model.cloud.fleet.total_h100e
    inventory = sum(s.inventory_h100e for s in model.suppliers)
    k = model.counters
    made = k.chips_initial + k.chips_produced
    where = fleets + inventory + k.chips_retired
    if not _near(made, where, 1e-6):
        problems.append(f"chips: {made:.9g} H100e made (initial + produced), {where:.9g} installed, "
                        "in inventory or retired")
    for g in model.grids:
        committed = float(g.held_mw.sum()) + g.outside_mw
        if committed > g.capacity_mw * (1 + REL) + 1e-6:
            problems.append(f"power: grid {g.rid} commits {committed:.6g} MW of its {g.capacity_mw:.6g} MW")
    r_star = model.sc.scaling.r_star
    for lab in model.labs:
        d = lab.deployed
        if d is None:
            continue
        if d.tokens_eff > d.tokens * (1 + 1e-12) or d.tokens_eff > d.unique_tokens * (1 + r_star) * (1 + REL):
            problems.append(f"data: {lab.lid}'s model has {d.tokens_eff:.6g} effective tokens from {d.tokens:.6g} "
                            f"tokens of {d.unique_tokens:.6g} unique")
        if not math.isfinite(lab.A):
            problems.append(f"finite: {lab.lid}'s algorithmic efficiency A is {lab.A}")
    data = model.data
    licensed = sum(lab.licensed_tokens - lab.p.licensed_tokens for lab in model.labs)
    if not _near(licensed, data.licensed_total, 1.0) or not _near(
            data.licensable_tokens + data.licensed_total, model.sc.data.licensable_tokens, 1.0):
        problems.append(f"data: labs licensed {licensed:.6g} tokens, the pool gave {data.licensed_total:.6g} "
                        f"and has {data.licensable_tokens:.6g} left of {model.sc.data.licensable_tokens:.6g}")
    if model.model_rows and model.model_rows[-1].get("date") is not None:
        row = model.model_rows[-1]
        bad = [c for c, v in row.items() if isinstance(v, float) and math.isinf(v)]
        if bad:
            problems.append(f"finite: the model row has infinite {', '.join(bad)}")
    return problems


def infinite_columns(table) -> tuple[list[str], str] | None:
    """The numeric columns of a run's model table (``RunResult.model``) that hold an infinite value,
    and the first month one does (its ``date``); None when no value is infinite. The 'finite' law
    of :func:`check_month`, checked on a run made without ``check``."""
    import numpy as np

    num = table.select_dtypes("number")
    inf = np.isinf(num.to_numpy(dtype=float))
    if not inf.any():
        return None
    cols = [c for c, bad in zip(num.columns, inf.any(axis=0)) if bad]
    first = int(np.flatnonzero(inf.any(axis=1))[0])
    return cols, str(table["date"].iloc[first]) if "date" in table else str(first)


class Monitor:
    """An ``on_month`` callback (:func:`sim.run.run_model`) that checks every month and raises
    :class:`InvariantError` at the first month that breaks a law."""

    def __init__(self, model=None):
        self.prev = None if model is None else cash_of(model)
        self.months = 0

    def __call__(self, model) -> None:
        problems = check_month(model, self.prev)
        self.months += 1
        if problems:
            from scenarios.schema import index_month

            raise InvariantError(index_month(model.month), problems)
        self.prev = cash_of(model)
