"""The laws of sim.invariants (docs/ODD.md 7.24): the checker flags each kind of leak, passes
runs that keep the laws, and `frontiersim run --check` stops with one line and writes nothing
when a month breaks one. Also the fixes the parameter sweeps of tests/test_parameter_space.py
found: bills the cloud cannot pay are owed, a run with no tokens makes no model."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sim import invariants as I
from sim import scaling as S
from sim.model import IndustryModel
from sim.run import resolve_scenario


def _stepped(end: str = "2024-06", overrides=None, seed: int = 0) -> IndustryModel:
    """The baseline stepped to ``end``; ``m.cash_before`` is each owner's cash before its last month."""
    sc, _ = resolve_scenario("baseline", overrides, "2024-01", end)
    m = IndustryModel(sc, seed=seed, record_agents=False)
    while m.month < m.end_month:
        m.cash_before = I.cash_of(m)
        m.step()
    return m


def test_a_run_that_keeps_the_laws_passes_every_month():
    sc, _ = resolve_scenario("baseline", None, "2024-01", "2026-12")
    m = IndustryModel(sc, seed=1, record_agents=False)
    mon = I.Monitor(m)
    while m.month < m.end_month:
        m.step()
        assert I.check_month(m, mon.prev) == []
        mon(m)
    assert mon.months == 36


@pytest.mark.parametrize("leak, needle", [
    ("money", "the ledger's balances sum"),
    ("startup_cash", "startups hold"),
    ("overdraft", "holds -"),
    ("income", "its income statement"),
    ("chips", "H100e made"),
    ("grid", "commits"),
    ("A", "algorithmic efficiency A is inf"),
    ("inf_row", "the model row has infinite frontier_ece"),
    ("licence", "labs licensed"),
])
def test_each_kind_of_leak_is_named(leak, needle):
    m = _stepped()
    prev = m.cash_before
    assert I.check_month(m, prev) == []
    lab = m.labs[0]
    if leak == "money":  # a balance changed without a matching posting
        m.ledger._bal[lab.account] += 1e6
    elif leak == "startup_cash":
        m.startups.cash[0] += 1e3
    elif leak == "overdraft":  # a payment beyond cash, posted in both accounts
        m.ledger.post(lab.account, "ext:opex", lab.cash + 5e6, "opex")
        lab.income["opex"] += lab.cash + 5e6
    elif leak == "income":  # cash paid out with no line of the income statement
        m.ledger.post(lab.account, "ext:opex", 1e6, "opex")
    elif leak == "chips":
        lab.fleet.add(1000.0, 700.0, 1e7, m.month)
    elif leak == "grid":
        g = m.grids[0]
        g.held_mw[lab.owner_index] += g.capacity_mw
    elif leak == "A":
        lab.A = float("inf")
    elif leak == "inf_row":
        m.model_rows[-1]["frontier_ece"] = float("inf")
    elif leak == "licence":
        lab.licensed_tokens += 1e12
    problems = I.check_month(m, prev)
    assert problems and needle in problems[0], problems
    with pytest.raises(I.InvariantError, match=needle):
        mon = I.Monitor()
        mon.prev = prev
        mon(m)


def test_the_cloud_owes_an_energy_bill_it_cannot_pay():
    """The cloud pays electricity up to its cash, as labs do (ODD 7.16): the rest is owed, never
    an overdraft. Two identical models; in one the cloud has $1M left when the bills fall due."""
    rich, poor = _stepped(), _stepped()
    c = poor.cloud
    poor.ledger.post(c.account, "ext:parents", c.cash - 1e6, "dividend")
    for m in (rich, poor):
        m.cloud.income["energy"] = 0.0
        m._pay_lab_costs()
    billed = rich.cloud.income["energy"]
    assert billed > 1e6
    assert c.cash == 0.0
    owed = sum(a[1] for a in c.arrears if a[2] == "energy")
    assert c.income["energy"] == pytest.approx(1e6, rel=1e-9)
    assert c.income["energy"] + owed == pytest.approx(billed, rel=1e-9)
    assert c.unpaid_usd == pytest.approx(owed, rel=1e-12)


def test_a_sweep_case_that_overdrew_the_cloud_keeps_every_law():
    # found by the parameter sweep: the cloud's electricity once took its cash to -1.9e9 USD in
    # 2029-01 (it was paid in full whatever the cash); now it is owed, and paid from later income
    over = {"finance.sentiment_noise": 0.3135156948645893, "power.onsite_price_multiplier": 8.71895254651437,
            "finance.equity_round_months": 6, "scaling.r_star": 121.67506878727384,
            "startups.api_fee_share": 0.4240745302698914}
    sc, _ = resolve_scenario("baseline", over, "2024-01", "2029-06")
    m = IndustryModel(sc, seed=34, record_agents=False)
    mon = I.Monitor(m)
    owed_energy = 0
    while m.month < m.end_month:
        m.step()
        mon(m)
        owed_energy += any(a[2] == "energy" for a in m.cloud.arrears)
    assert owed_energy > 0  # the case still reaches the situation


def test_allocation_without_tokens_trains_nothing_and_warns_nothing():
    law = S.ScalingLaw(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
    C = np.array([1e24, 1e26, 1e28])
    U = np.array([0.0, 1e13, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        N, D, De, L = S.allocate(law, C, U, 15.4)
        N2, D2, De2, L2 = S.allocate(law, C, U, 15.4, r_star_params=5.0)
    for n, d, de, loss in ((N, D, De, L), (N2, D2, De2, L2)):
        assert np.isinf(loss[[0, 2]]).all() and (loss[[0, 2]] > 0).all()
        assert (n[[0, 2]] == 0).all() and (d[[0, 2]] == 0).all() and (de[[0, 2]] == 0).all()
        assert np.isfinite(loss[1]) and d[1] > 0
    # the row with tokens is what it is alone
    assert L[1] == S.allocate(law, C[1:2], U[1:2], 15.4)[3][0]


def test_with_every_text_withheld_labs_keep_their_models_and_outputs_stay_finite():
    """All public text opted out from the start, no licences, no synthetic data: the labs keep
    the models they start with (trained before the start on the text then open), no run makes
    a model, and every month keeps the laws. With licences on sale, labs that license train on."""
    none = {"data.opt_out_share": 1.0, "data.synthetic_enabled": False, "data.licensable_tokens": 0.0}
    sc, _ = resolve_scenario("baseline", none, "2024-01", "2026-12")
    m = IndustryModel(sc, seed=0, record_agents=False)
    start = {l.lid: l.deployed for l in m.labs}
    open_sc, _ = resolve_scenario("baseline", none | {"data.opt_out_share": 0.0}, "2024-01", "2026-12")
    ref = IndustryModel(open_sc, seed=0, record_agents=False)  # the text open: the same starting models
    assert [l.deployed.loss for l in ref.labs] == [start[l.lid].loss for l in m.labs]
    mon = I.Monitor(m)
    while m.month < m.end_month:
        m.step()
        mon(m)
    assert all(l.deployed is start[l.lid] for l in m.labs)
    assert not any(e["event"] == "training_run_finished" for e in m.events)
    sc, _ = resolve_scenario("baseline", {"data.opt_out_share": 1.0, "data.synthetic_enabled": False}, "2024-01", "2026-12")
    m2 = IndustryModel(sc, seed=0, record_agents=False)
    while m2.month < m2.end_month:
        m2.step()
    trained = [e for e in m2.events if e["event"] == "training_run_finished"]
    assert trained and all(next(l for l in m2.labs if l.lid == e["lab"]).licensed_tokens > 0 for e in trained)
    # less text never raises capability
    base = _stepped("2026-12")
    assert max(l.deployed.ece for l in m2.labs) <= max(l.deployed.ece for l in base.labs)


def test_run_check_passes_a_good_run_and_stops_a_bad_one_with_one_line(tmp_path, capsys, monkeypatch):
    from sim.cli import main

    out = tmp_path / "ok"
    assert main(["run", "baseline", "--end", "2024-12", "--check", "--out", str(out)]) == 0
    assert (out / "model.parquet").exists()
    capsys.readouterr()

    def broken(model, prev=None):
        return ["money: the ledger's balances sum to 5 USD, not 0"] if model.month >= model.start_month + 2 else []

    monkeypatch.setattr(I, "check_month", broken)
    bad = tmp_path / "bad"
    assert main(["run", "baseline", "--end", "2024-12", "--check", "--out", str(bad)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("frontiersim: ") and "2024-03: money: the ledger's balances sum to 5 USD" in err[-1]
    assert "nothing was written" in err[-1] and not bad.exists()


@pytest.mark.parametrize("kind, value, ok", [
    ("compute_cap", 0.0, False), ("compute_cap", 1.0, True), ("sentiment_crash", 0.0, False),
    ("sentiment_crash", 10.0, True), ("sentiment_crash", 10.5, False), ("efficiency_breakthrough", 0.0, False),
    ("efficiency_breakthrough", 1000.0, True), ("efficiency_breakthrough", 1e100, False), ("opt_out", 1.0, True),
    ("opt_out", 1.5, False), ("venture_shock", 0.0, True), ("venture_shock", 1e6, False), ("antitrust", -1.0, False),
    ("carbon_price", -5.0, False), ("supply_shock", 0.0, True), ("moratorium", -7.0, True),
])
def test_event_values_outside_their_kind_s_range_are_refused(kind, value, ok, tmp_path, capsys):
    from sim.cli import main

    f = tmp_path / "s.toml"
    f.write_text(f'extends = "baseline"\nend = "2025-02"\n[[events]]\nmonth = "2025-01"\nkind = "{kind}"\n'
                 f'value = {value!r}\n', encoding="utf-8")
    out = tmp_path / "out"
    code = main(["run", str(f), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    if ok:
        assert code == 0 and out.exists()
    else:
        assert code == 2 and not out.exists() and len(err) == 1
        assert err[0].startswith(f"frontiersim: error: {f}: events.0.value: expected ") and f"{kind} event" in err[0]


def test_a_compute_cap_below_the_frontier_does_not_withdraw_the_models_trained_before_it():
    """A cap of 1e25 FLOP (below every lab's model) from 2026-01: no lab serves a worse model
    than it did, so the frontier never falls; runs stay within the cap; and once algorithmic
    progress makes a capped run better than a lab's old model, capped models are deployed."""
    from scenarios.schema import Event

    sc, _ = resolve_scenario("baseline", None, "2024-01", "2031-12")
    sc.events = [Event(month="2026-01", kind="compute_cap", value=1e25)]
    m = IndustryModel(sc, seed=0, record_agents=False)
    loss = {}
    while m.month < m.end_month:
        m.step()
        for lab in m.labs:
            if lab.lid in loss and m.month >= m.start_month + 24:
                assert lab.deployed.loss <= loss[lab.lid], (lab.lid, m.month)
            loss[lab.lid] = lab.deployed.loss
    rows = m.model_rows
    ece = [r["frontier_ece"] for r in rows[23:]]  # from 2025-12
    assert all(b >= a for a, b in zip(ece, ece[1:]))
    capped = [e for e in m.events if e["event"] == "training_run_finished" and e["month"] >= "2026-01"]
    assert capped and all(e["flop"] <= 1e25 for e in capped)
    assert rows[-1]["frontier_train_flop"] == 1e25 and rows[-1]["frontier_ece"] > rows[23]["frontier_ece"]


def test_entry_beyond_memory_stops_the_run_with_one_line_naming_what_feeds_it(tmp_path, capsys):
    """Seed rounds of a tenth of a cent make ~1.5e11 startups want to enter in the first month:
    the run stops before drawing them (numpy asked for 250 TiB before), with one line, exit 2
    and nothing written; in a sweep the line names the run, its seed and its parameters."""
    from sim.cli import main
    from sim.model import MAX_STARTUP_ROWS

    out = tmp_path / "run"
    assert main(["run", "baseline", "--set", "startups.seed_round_usd=0.001", "--end", "2024-03", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("frontiersim: error: run: baseline seed 0: 2024-01: about 150,000,000,000 startups would enter")
    assert f"past the {MAX_STARTUP_ROWS:,} rows" in err[-1] and "nothing was written" in err[-1] and not out.exists()
    sweep = tmp_path / "sweep"
    assert main(["sweep", "baseline", "--param", "startups.seed_round_usd=0.001:5e6:2", "--replicates", "1",
                 "--end", "2024-03", "--out", str(sweep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("frontiersim: error: run 0 (seed ") and "startups.seed_round_usd=0.001): 2024-01: about" in err[-1]


def test_a_run_goes_on_when_every_lab_has_left(tmp_path):
    """Every lab exits in 2024-04 (an all-equity scenario could lose them all): the months after
    keep every law, the frontier columns are NaN with no frontier lab, no app startup enters (only
    model startups do), customers still buy (from the open-weight host and the model startups),
    and the model table writes."""
    import pandas as pd

    sc, _ = resolve_scenario("baseline", None, "2024-01", "2027-12")
    m = IndustryModel(sc, seed=0, record_agents=False)
    for _ in range(3):
        m.step()
    for lab in m.labs:
        m._exit_lab(lab)
    apps_ever = m.startups.next_id  # ids below this may be apps; every later one must be a model startup
    entered = m.counters.startups_entered
    mon = I.Monitor(m)
    while m.month < m.end_month:
        m.step()
        mon(m)
        r = m.model_rows[-1]
        assert r["labs_active"] == 0 and r["frontier_lab"] == "" and np.isnan(r["frontier_ece"])
        assert np.isnan(r["largest_run_flop"]) and r["revenue_usd"] > 0 and np.isfinite(r["median_ece"])
    st = m.startups
    new = st.id >= apps_ever
    assert m.counters.startups_entered > entered and new.any() and (st.kind[new] == 1).all()
    pd.DataFrame(m.model_rows).to_parquet(tmp_path / "model.parquet")


def test_model_startups_with_nothing_to_train_or_tune_have_no_model():
    """No open weights ever and no tokens (all text withheld, no licences, no synthetic data): a
    model startup can neither fine-tune nor train, so it has no model (NaN ece, no score, no
    sales), as before its first month; the capability quantiles are the labs'. Before, its ece
    was -inf, and the median over labs and startups came out NaN (-inf minus -inf)."""
    over = {"data.opt_out_share": 1.0, "data.synthetic_enabled": False, "data.licensable_tokens": 0.0}
    sc, _ = resolve_scenario("baseline", over, "2024-01", "2025-12")
    for lab in sc.labs.values():
        lab.open_weights = False
    m = IndustryModel(sc, seed=0, record_agents=False)
    mon = I.Monitor(m)
    while m.month < m.end_month:
        m.step()
        mon(m)
        r = m.model_rows[-1]
        st = m.startups
        models = st.model_rows()
        alive = models[st.status[models] == 0]
        assert alive.size and np.isnan(st.ece[alive]).all() and np.isnan(st.score[alive]).all()
        assert np.isnan(r["best_open_ece"])
        labs = sorted(l.deployed.ece for l in m.labs if l.active)
        assert r["median_ece"] == pytest.approx(float(np.median(labs)), rel=1e-12)


def test_ensemble_and_sweep_check_every_run_and_name_the_run_that_breaks_a_law(tmp_path, capsys, monkeypatch):
    """--check on the many-run commands: a clean ensemble passes and writes its runs; a broken
    law stops the command with one line naming the run, its seed (and a sweep's parameters), the
    month and the law. The laws are not part of the plan's identity: the checked ensemble's
    directory resumes without --check."""
    from sim.cli import main

    ok = tmp_path / "ok"
    assert main(["ensemble", "baseline", "--runs", "2", "--workers", "1", "--end", "2024-06", "--check",
                 "--out", str(ok)]) == 0
    assert len(list((ok / "runs").glob("part-*.parquet"))) == 2
    assert main(["ensemble", "baseline", "--runs", "3", "--workers", "1", "--end", "2024-06", "--out", str(ok)]) == 0
    capsys.readouterr()

    def broken(model, prev=None):
        return ["chips: 1 H100e made (initial + produced), 2 installed, in inventory or retired"] \
            if model.month >= model.start_month + 1 else []

    monkeypatch.setattr(I, "check_month", broken)
    bad = tmp_path / "bad"
    assert main(["ensemble", "baseline", "--runs", "2", "--workers", "1", "--end", "2024-06", "--check",
                 "--out", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("frontiersim: error: --check: run 0 (seed ") and "): 2024-02: chips: 1 H100e made" in err[-1]
    sweep = tmp_path / "sweep"
    assert main(["sweep", "baseline", "--param", "startups.seed_share=0.2:0.4:2", "--workers", "1", "--end", "2024-06",
                 "--check", "--out", str(sweep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert ", startups.seed_share=0.2): 2024-02: chips:" in err[-1]
    # without --check the same (broken) checker is never called
    assert main(["ensemble", "baseline", "--runs", "1", "--workers", "1", "--end", "2024-06",
                 "--out", str(tmp_path / "unchecked")]) == 0


def test_a_grid_too_small_for_the_fleets_names_the_holders_and_the_watts(tmp_path, capsys):
    """The set-up refusal the parameter sweeps met most: an override of the chips' watts makes the
    starting fleets need more MW than a grid has. The line names the grid, the holders and the
    watts, so that the override at fault can be found."""
    from sim.cli import main

    assert main(["run", "baseline", "--set", "hardware.h100_watts_all_in=5000", "--end", "2024-03",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "grids.us_east.capacity_mw: 2600 MW is below the 3380 MW committed at start" in err[0]
    assert "largest holders the cloud 1700, hyper_b 1250, hyper_c 400 MW" in err[0] and "at 5000 W per H100e" in err[0]
