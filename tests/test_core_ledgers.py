"""Conservation laws checked every month of a baseline run: money, chips, MW and tokens."""

from __future__ import annotations

import numpy as np
import pytest

from agents.lab import INCOME_ITEMS
from sim.model import IndustryModel


@pytest.fixture(scope="module")
def stepped():
    """A baseline model stepped month by month to 2029-12, with a snapshot after every month."""
    from scenarios.loader import load_scenario

    sc, _ = load_scenario("baseline", {"end": "2029-12"})
    m = IndustryModel(sc, seed=3)
    snaps = []
    prev_cash = {lab.lid: lab.cash for lab in m.labs} | {"cloud": m.cloud.cash}
    while m.month < m.end_month:
        m.step()
        snaps.append(_snapshot(m, prev_cash))
        prev_cash = {lab.lid: lab.cash for lab in m.labs} | {"cloud": m.cloud.cash}
    return m, snaps


def _snapshot(m, prev_cash):
    labs = {}
    for lab in m.labs:
        inc = dict(lab.income)
        labs[lab.lid] = dict(cash=lab.cash, prev=prev_cash[lab.lid], **inc)
    fleets = sum(l.fleet.total_h100e for l in m.labs) + m.cloud.fleet.total_h100e
    inventory = sum(s.inventory_h100e for s in m.suppliers)
    grids = [(g.rid, float(g.held_mw.sum()) + g.outside_mw, g.capacity_mw) for g in m.grids]
    queues = []
    for g in m.grids:
        by_owner = np.zeros_like(g.pending)
        for q in g.queue:
            by_owner[q.owner] += q.mw
        queues.append((g.rid, g.pending.copy(), by_owner, g.queued_mw, sum(q.mw for q in g.queue if not q.onsite),
                       min((q.mw for q in g.queue), default=1.0), g.withdrawn_this_month.copy()))
    tokens = [(l.lid, l.deployed.tokens, l.deployed.tokens_eff, l.unique_tokens()) for l in m.labs if l.deployed]
    cloud = dict(cash=m.cloud.cash, prev=prev_cash["cloud"], dividend=m.ledger.flows(kind="dividend", src="cloud"),
                 **m.cloud.income)
    return dict(
        cloud=cloud, ledger_total=m.ledger.total(), ledger_scale=sum(abs(v) for v in m.ledger.balances().values()),
        startups_ledger=m.ledger.balance("startups"), startups_cash=float(m.startups.cash.sum()),
        labs=labs, fleets=fleets, inventory=inventory, produced=m.counters.chips_produced,
        initial=m.counters.chips_initial, retired=m.counters.chips_retired, grids=grids, queues=queues, tokens=tokens,
        licensed=sum(l.licensed_tokens for l in m.labs) - sum(l.p.licensed_tokens for l in m.labs),
        pool_taken=m.data.licensed_total, pool_left=m.data.licensable_tokens, pool0=m.sc.data.licensable_tokens,
        cash_min=min(min(l.cash for l in m.labs), m.cloud.cash),
        row=m.model_rows[-1], customers_paid=m.ledger.flows(src="ext:customers"),
        customers_paid_startups=m.ledger.flows(src="ext:customers", dst="startups"),
        startup_rows_revenue=sum(dict(zip(*r))["revenue_usd"] for r in m.agent_rows[-2:]),
        startup_agent_types=[dict(zip(*r))["agent_type"] for r in m.agent_rows[-2:]],
    )


def test_money_is_double_entry(stepped):
    """Every dollar leaves one account and enters another: all balances sum to zero."""
    _, snaps = stepped
    for s in snaps:
        assert abs(s["ledger_total"]) <= 1e-9 * s["ledger_scale"]


def test_startup_cash_matches_their_ledger_account(stepped):
    """The startup arrays hold exactly the money the ledger says the population has."""
    _, snaps = stepped
    for s in snaps:
        assert s["startups_cash"] == pytest.approx(s["startups_ledger"], rel=1e-9, abs=1.0)


def test_recorded_revenue_is_what_customers_paid_for_services(stepped):
    """``revenue_usd`` is every month the money end customers paid for AI services in the ledger
    (labs' API sales and acquired apps, open-weight hosting, startups' sales), months when
    startups fail or are acquired included: the sales of those startups in their last month
    count. The agents table's startup rows add up to the startups' part, and the services spend
    not served is the rest of the spend."""
    _, snaps = stepped
    for s in snaps:
        row = s["row"]
        assert s["startup_agent_types"] == ["startups", "startups"]
        assert row["revenue_usd"] == pytest.approx(s["customers_paid"], rel=1e-12), row["date"]
        assert s["startup_rows_revenue"] == pytest.approx(s["customers_paid_startups"], rel=1e-12), row["date"]
        assert row["revenue_usd"] + row["unserved_usd"] == pytest.approx(row["services_spend_usd"], rel=1e-12)
    # the run has months with failures and with acquisitions
    assert sum(s["row"]["startups_failed"] > 0 for s in snaps) > 30
    assert sum(s["row"]["startups_acquired"] > 0 for s in snaps) > 30


def test_lab_cash_change_is_income_statement(stepped):
    """cash(t) - cash(t-1) = revenue + API fees + funding - capex - energy - opex - rent - licences - acquisitions."""
    _, snaps = stepped
    for s in snaps:
        for lid, r in s["labs"].items():
            inflow = r["revenue"] + r["api_fees"] + r["funding"]
            outflow = sum(r[k] for k in INCOME_ITEMS if k not in ("revenue", "api_fees", "funding"))
            assert r["cash"] - r["prev"] == pytest.approx(inflow - outflow, rel=1e-9, abs=1.0), lid


def test_cloud_cash_change_is_income_statement(stepped):
    """cash(t) - cash(t-1) = rent + funding - capex - energy - investments in labs - dividend."""
    _, snaps = stepped
    assert sum(s["cloud"]["investments"] for s in snaps) > 0  # the cloud takes part in rounds
    for s in snaps:
        c = s["cloud"]
        change = c["rent"] + c["funding"] - c["capex"] - c["energy"] - c["investments"] - c["dividend"]
        assert c["cash"] - c["prev"] == pytest.approx(change, rel=1e-9, abs=1.0), s


def test_no_account_goes_negative(stepped):
    _, snaps = stepped
    assert min(s["cash_min"] for s in snaps) >= -1.0


def test_chips_are_conserved(stepped):
    """Chips produced (plus the initial stock) = installed + in supplier inventory + retired."""
    _, snaps = stepped
    for s in snaps:
        lhs = s["initial"] + s["produced"]
        rhs = s["fleets"] + s["inventory"] + s["retired"]
        assert lhs == pytest.approx(rhs, rel=1e-9)
    assert snaps[-1]["produced"] > 0


def test_mw_allocated_never_exceeds_grid_capacity(stepped):
    _, snaps = stepped
    for s in snaps:
        for rid, committed, cap in s["grids"]:
            assert committed <= cap * (1 + 1e-9) + 1e-6, rid


def test_queued_mw_are_the_sum_of_the_queue_with_withdrawals(stepped):
    """Every month, after requests and withdrawals, each grid's MW queued per owner and its grid
    queue total are exactly the sums of its queue entries, and no entry is empty; owners do
    withdraw queued MW in this run."""
    _, snaps = stepped
    withdrawn = 0.0
    for s in snaps:
        for rid, pending, by_owner, queued, grid_sum, smallest, out in s["queues"]:
            assert pending == pytest.approx(by_owner, rel=1e-9, abs=1e-6), rid
            assert queued == pytest.approx(grid_sum, rel=1e-9, abs=1e-6), rid
            assert smallest > 0 and (out >= 0).all(), rid
            withdrawn += out.sum()
    assert withdrawn > 0


def test_tokens_used_never_exceed_tokens_available(stepped):
    """A run never draws more unique tokens than the lab has, and repetition never yields more
    effective tokens than Muennighoff's ceiling U (1 + R*)."""
    m, snaps = stepped
    r_star = m.sc.scaling.r_star
    for s in snaps:
        for lid, D, D_eff, U in s["tokens"]:
            assert D_eff <= D * (1 + 1e-12)
            assert D_eff <= U * (1 + r_star) * (1 + 1e-9), lid


def test_licensed_tokens_come_out_of_the_pool(stepped):
    _, snaps = stepped
    for s in snaps:
        assert s["licensed"] == pytest.approx(s["pool_taken"], rel=1e-9, abs=1.0)
        assert s["pool_left"] + s["pool_taken"] == pytest.approx(s["pool0"], rel=1e-12)


def test_mw_held_for_all_owners_at_once_equals_each_owners_own_sum(stepped):
    """``held_mw_by_owner`` (used where nothing changes the grids in between) gives every owner
    exactly what ``ComputeOwner.held_mw`` gives, bit for bit, and the MW the grids hold in total."""
    from agents.lab import held_mw_by_owner

    m, _ = stepped
    owners = m.labs + [m.cloud]
    held = held_mw_by_owner(m.grids)
    assert len(held) == len(owners)
    assert [held[o.owner_index] for o in owners] == [o.held_mw(m.grids) for o in owners]
    assert sum(held) == pytest.approx(sum(float(g.held_mw.sum() + g.onsite_mw.sum()) for g in m.grids), rel=1e-12)
    assert any(h > 0 for h in held)


def test_flows_sum_each_flow_then_the_flows_in_order():
    """``Ledger.flows`` keeps the postings and sums them when read: each ``(src, dst, kind)`` flow
    summed in posting order from 0.0, then the flows in the order they first occurred, the sums a
    dict updated at every posting gives, bit for bit."""
    from collections import defaultdict

    from sim.ledger import Ledger

    rng = np.random.default_rng(5)
    accounts = ["lab:a", "lab:b", "cloud", "supplier:x", "ext:customers", "ext:parents", "startups"]
    kinds = ["chip_sale", "rental", "api_revenue", "energy"]
    for _ in range(50):
        led, ref = Ledger(), defaultdict(float)
        for _ in range(int(rng.integers(0, 300))):
            s, d = rng.choice(accounts, 2, replace=False)
            k = str(rng.choice(kinds))
            v = float(rng.choice([0.0, rng.lognormal(15, 4), rng.uniform(0, 1e-3)]))
            led.post(str(s), str(d), v, k)
            if v != 0:
                ref[(str(s), str(d), k)] += v
        assert dict(led.month_flows) == dict(ref) and list(led.month_flows) == list(ref)
        for kind, src, dst in [(None, None, None), ("rental", None, None), (None, "ext:", None), (None, None, "lab:"),
                               ("api_revenue", "ext:customers", "lab:"), ("energy", "cloud", None)]:
            want = 0.0
            for (s, d, k), v in ref.items():
                if (kind is None or k == kind) and (src is None or s.startswith(src)) and (dst is None or d.startswith(dst)):
                    want += v
            assert led.flows(kind=kind, src=src, dst=dst) == want
        led.new_month()
        assert led.flows() == 0.0 and not led.month_flows
