"""The scenario library: every named scenario is documented, changes only what differs from its
parent, loads and runs; each moves its headline output in the direction its question is about
(same seed as baseline, short horizons); ``scenarios show`` reports what a run's manifest records.

Baseline is run once, to the longest horizon used here, and cut at each scenario's horizon: the
model never looks at its end month, so a cut run equals a shorter run (checked below).
"""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from scenarios.loader import data_dir, load_scenario, named_scenarios, resolved_with_origin
from sim.cli import main

SEED = 0
#: Horizon of each scenario's run: long enough for its mechanism to act, short to keep this fast.
HORIZON = {
    "baseline": "2025-06",
    "meek-limit": "2034-12",
    "data-wall": "2030-12",        # the 1e14-token stock binds from about 2026, the baseline's from about 2028
    "energy-crunch": "2030-12",
    "efficiency-shock": "2028-12",
    "open-weights": "2028-12",
    "export-controls": "2027-12",
    "bubble-burst": "2028-12",     # the crash (2026-01) and the three years after it
    "compute-cap": "2030-12",      # baseline runs pass 1e27 before this
}
BASELINE_END = max(HORIZON.values())
LIBRARY = ("baseline", "meek-limit", "data-wall", "energy-crunch", "efficiency-shock", "export-controls",
           "bubble-burst", "open-weights", "compute-cap")


@pytest.fixture(scope="module")
def base(run_cached):
    """Baseline model table from 2024-01 to BASELINE_END."""
    return run_cached("baseline", SEED, BASELINE_END).model


def cut(model, end: str):
    return model[model["date"] <= end].reset_index(drop=True)


def run(run_cached, name: str):
    return run_cached(name, SEED, HORIZON[name])


def flatten(obj, prefix: str = "") -> dict:
    """Nested tables (and lists of tables, by index) as {'dotted.key': value}."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, list) and obj and isinstance(obj[0], dict):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = obj
    return out


# ----- the files -------------------------------------------------------------------------------
def test_library_is_complete():
    assert set(LIBRARY) <= set(named_scenarios())
    assert set(HORIZON) == set(LIBRARY)


@pytest.mark.parametrize("name", LIBRARY)
def test_scenario_file_is_documented(name):
    """Each file opens with comment lines (the question and why its numbers differ), sets its
    name and a question, and a derived scenario extends baseline."""
    text = (data_dir() / f"{name}.toml").read_text()
    head = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        head.append(line)
    assert len(head) >= 3, f"{name}.toml should open with a few comment lines on its question and numbers"
    sc, origin = load_scenario(name)
    assert sc.name == name and origin["name"] == "file"
    assert sc.question.strip() and origin["question"] == "file"
    if name not in ("baseline", "meek-limit"):
        assert sc.extends == "baseline"


@pytest.mark.parametrize("name", [n for n in LIBRARY if n not in ("baseline", "meek-limit")])
def test_scenario_changes_only_what_differs(name):
    """Every value a derived file sets differs from its parent's (no restated defaults)."""
    sc, origin = load_scenario(name)
    parent, _ = load_scenario(sc.extends)
    mine = {k: v for k, v, _ in resolved_with_origin(sc, origin)}
    theirs = {k: v for k, v, _ in resolved_with_origin(parent, {})}
    own = [k for k, src in origin.items() if src == "file" and k not in ("name", "question", "extends")]
    assert own, f"{name} changes nothing"
    for k in own:
        if k == "events":
            assert sc.events, f"{name}: empty events list"
            continue
        assert k not in theirs or theirs[k] != mine[k], f"{name}: {k} = {mine[k]!r} restates the parent's value"


# ----- end to end ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", LIBRARY)
def test_named_scenario_runs(run_cached, name):
    res = run(run_cached, name)
    m = res.model
    months = (int(HORIZON[name][:4]) - 2024) * 12 + int(HORIZON[name][5:])
    assert len(m) == months and m["date"].iloc[-1] == HORIZON[name]
    assert np.isfinite(m["frontier_ece"].to_numpy(dtype=float)).all()
    if res.scenario.meek_limit.enabled:
        return
    assert abs(res.final_state["ledger_total_usd"]) < 1e-6 * max(m["capex_usd"].sum(), 1.0)
    for ev in res.scenario.events:  # every scheduled event fired, in its month
        fired = res.events[(res.events["month"] == ev.month) & res.events["event"].astype(str).str.contains("policy")]
        assert len(fired) >= 1, f"{name}: event {ev.kind} at {ev.month} left no record"


def test_cut_baseline_equals_short_run(base, run_cached):
    short = run_cached("baseline", SEED, HORIZON["baseline"]).model
    long_cut = cut(base, HORIZON["baseline"])
    for col in ("frontier_ece", "installed_h100e", "capex_usd", "startups_alive", "sentiment"):
        assert np.array_equal(short[col].to_numpy(), long_cut[col].to_numpy()), col


# ----- headline directions vs baseline (same seed) -----------------------------------------------
def test_data_wall_lowers_frontier_capability(base, run_cached):
    """A 1e14-token stock without synthetic data binds the frontier's runs years before the
    baseline's 3e14 tokens do, and costs capability: runs choose tokens for their effective
    compute, which grows with algorithms as well as chips (seeds 0-3: the wall binds in 2025-12 or
    2026-01 against 2027-12 or 2028-01, and costs 0.34-0.41 decades of ece by 2030-12)."""
    w = run(run_cached, "data-wall").model
    b = cut(base, HORIZON["data-wall"])
    first = lambda m: int(np.argmax(m["frontier_data_constrained"].to_numpy()))  # noqa: E731
    assert w["frontier_data_constrained"].any() and b["frontier_data_constrained"].any()
    assert first(w) <= first(b) - 12
    assert w["frontier_ece"].iloc[-1] < b["frontier_ece"].iloc[-1] - 0.2
    # month by month, never higher beyond market feedback (0.01 decades; see test_core_model)
    assert (w["frontier_ece"] <= b["frontier_ece"] + 0.01).all()


def test_energy_crunch_raises_prices_and_cuts_the_compute_that_gets_power(base, run_cached):
    """Slower grids raise electricity prices and leave less AI load connected and fewer chips
    installed. (Stranded chips need not rise: owners order chips against the power they can get
    (ODD 7.10), so they buy fewer, and in the baseline too some chips wait for power from 2025;
    seed 0, 2024-2030: 3.2% of installed H100e stranded on average in both.)"""
    e = run(run_cached, "energy-crunch").model
    b = cut(base, HORIZON["energy-crunch"])
    pc = [c for c in e.columns if c.startswith("price_usd_per_mwh_")]
    assert e[pc].to_numpy().mean() > b[pc].to_numpy().mean()
    assert e["mw_used_total"].mean() < b["mw_used_total"].mean()
    assert e["installed_h100e"].iloc[-1] < b["installed_h100e"].iloc[-1]


@pytest.mark.parametrize("name", ["efficiency-shock", "open-weights"])
def test_diffusion_scenarios_shrink_the_frontier_median_gap(base, run_cached, name):
    """Mean frontier-to-median gap (decades of effective compute) from the event to the end."""
    r = run(run_cached, name)
    since = min(ev.month for ev in r.scenario.events)
    s = r.model[r.model["date"] >= since]
    b = cut(base, HORIZON[name])
    b = b[b["date"] >= since]
    assert s["frontier_median_gap_ece"].mean() < b["frontier_median_gap_ece"].mean()


def test_export_controls_cut_china_compute(base, run_cached):
    x = run(run_cached, "export-controls").model
    b = cut(base, HORIZON["export-controls"])
    assert x["lab_h100e_china"].iloc[-1] < b["lab_h100e_china"].iloc[-1]
    before = x["date"] < "2025-01"  # identical until the controls start
    assert np.allclose(x.loc[before, "lab_h100e_china"], b.loc[before, "lab_h100e_china"])


def test_export_controls_cancel_orders_not_yet_delivered(run_cached):
    """From the month the controls start, the barred vendors deliver nothing to labs in China,
    not even chips ordered before (the backlog of barred buyers is cancelled)."""
    r = run(run_cached, "export-controls")
    china = r.agents.loc[(r.agents["agent_type"] == "lab") & (r.agents["region"] == "china"), "agent_id"].unique()
    assert len(china) >= 1
    d = r.deals
    sales = d[(d["kind"] == "chip_sale") & d["src"].isin([f"lab:{l}" for l in china])
              & d["dst"].isin(["supplier:incumbent", "supplier:challenger"])]
    assert (sales["month"] < "2025-01").any()  # they did buy from them before
    assert not (sales["month"] >= "2025-01").any()


def test_bubble_burst_lowers_startups_and_capex(base, run_cached):
    """Startups alive at the end and capex summed over the run (to three years after the crash)
    are lower than in baseline. (Capex is ~20% lower in 2026-2028, then overshoots baseline for a
    year or two as sentiment recovers; summed capex stays lower.)"""
    s = run(run_cached, "bubble-burst").model
    b = cut(base, HORIZON["bubble-burst"])
    assert s["startups_alive"].iloc[-1] < b["startups_alive"].iloc[-1]
    assert s["capex_usd"].sum() < b["capex_usd"].sum()


def test_compute_cap_caps_every_run_after_its_date(base, run_cached):
    r = run(run_cached, "compute-cap")
    ev = next(e for e in r.scenario.events if e.kind == "compute_cap")
    finished = r.events[(r.events["event"] == "training_run_finished") & (r.events["month"] >= ev.month)]
    assert len(finished) > 0
    assert (finished["flop"].astype(float) <= ev.value * (1 + 1e-9)).all()
    # the cap binds: without it, runs in the same window go above it
    b_events = run_cached("baseline", SEED, BASELINE_END).events
    b_runs = b_events[(b_events["event"] == "training_run_finished") & (b_events["month"] >= ev.month)
                      & (b_events["month"] <= HORIZON["compute-cap"])]
    assert (b_runs["flop"].astype(float) > ev.value).any()


# ----- scenarios show / check / list ---------------------------------------------------------------
OVERRIDES = ["--set", "grids.us_east.buildout_mw_per_year=500", "--set", "data.public_tokens=2e14",
             "--set", "events.0.value=3e26", "--end", "2026-03"]


def _show_text(capsys, *args) -> str:
    assert main(["scenarios", "show", *args]) == 0
    return capsys.readouterr().out


def test_show_marks_overrides(capsys):
    out = _show_text(capsys, "energy-crunch", "--set", "grids.us_east.buildout_mw_per_year=250")
    lines = {ln.split(" = ", 1)[0].strip(): ln for ln in out.splitlines() if not ln.startswith("#")}
    src = {k: ln.rsplit("# ", 1)[1].split()[0] for k, ln in lines.items()}
    assert src["grids.us_east.buildout_mw_per_year"] == "override"
    assert lines["grids.us_east.buildout_mw_per_year"].split(" = ", 1)[1].startswith("250.0 ")
    assert src["grids.us_east.queue_lead_months"] == "file"          # set by energy-crunch.toml
    assert src["grids.us_east.capacity_mw"] == "parent:baseline"     # inherited
    assert src["grids.us_east.carbon_t_per_mwh"] == "default"        # schema default
    assert src["name"] == "file" and src["data.public_tokens"] == "default"


def test_show_equals_run_manifest(capsys, tmp_path):
    """What 'scenarios show' prints (as TOML text and as --json) is what the run records."""
    out_dir = tmp_path / "run"
    assert main(["run", "compute-cap", *OVERRIDES, "--out", str(out_dir)]) == 0
    capsys.readouterr()
    manifest = json.loads((out_dir / "manifest.json").read_text())
    shown = json.loads(_show_text(capsys, "compute-cap", *OVERRIDES, "--json"))
    assert shown["parameters"] == manifest["parameters"]
    assert shown["parameter_origin"] == manifest["parameter_origin"]
    assert manifest["parameter_origin"]["grids.us_east.buildout_mw_per_year"] == "override"
    assert manifest["parameter_origin"]["events.0.value"] == "override"
    assert manifest["parameter_origin"]["end"] == "override"
    assert manifest["parameters"]["events"][0]["value"] == 3e26
    # the text form parses as TOML to the same values, with the same origins in its comments
    text = _show_text(capsys, "compute-cap", *OVERRIDES)
    parsed = flatten(tomllib.loads(text))
    want = {k: v for k, v in flatten(manifest["parameters"]).items() if v is not None}
    assert parsed == want
    origins = {ln.split(" = ", 1)[0].strip(): ln.rsplit("# ", 1)[1].split()[0]
               for ln in text.splitlines() if not ln.startswith("#")}
    assert origins == {k: v for k, v in manifest["parameter_origin"].items() if k in want}


def test_show_changed_lists_only_non_defaults(capsys):
    out = _show_text(capsys, "data-wall", "--changed")
    body = [ln for ln in out.splitlines() if not ln.startswith("#")]
    assert body and all(not ln.endswith("# default") and "# default " not in ln for ln in body)
    assert any(ln.startswith("data.public_tokens ") and "= 1e14" in ln and "# file" in ln for ln in body)


def test_list_and_check_all(capsys):
    assert main(["scenarios", "list"]) == 0
    out = capsys.readouterr().out
    for name in LIBRARY:
        sc, _ = load_scenario(name)
        assert any(ln.startswith(name + " ") and sc.question in ln for ln in out.splitlines())
    assert main(["scenarios", "check"]) == 0
    out = capsys.readouterr().out
    assert all(f"{name}: ok" in out for name in LIBRARY)


def test_user_file_extends_named_scenario(tmp_path, capsys):
    """A user file extending a named scenario: named after its file, origins per layer, and a
    sibling file can be extended by bare name."""
    (tmp_path / "mine.toml").write_text('extends = "energy-crunch"\n[grids.europe]\nmoratorium_threshold = 0.9\n')
    (tmp_path / "child.toml").write_text('extends = "mine"\nend = "2030-12"\n')
    sc, origin = load_scenario(str(tmp_path / "child.toml"))
    assert sc.name == "child" and sc.end == "2030-12"
    assert origin["end"] == "file"
    assert origin["grids.europe.moratorium_threshold"] == "parent:mine"
    assert origin["grids.europe.queue_lead_months"] == "parent:energy-crunch"
    assert origin["grids.europe.capacity_mw"] == "parent:baseline"
    assert sc.grids["europe"].moratorium_threshold == 0.9 and sc.grids["europe"].queue_lead_months == 96
    assert main(["scenarios", "check", str(tmp_path / "child.toml")]) == 0
    assert "child.toml: ok" in capsys.readouterr().out


def test_scenarios_list_json_is_the_list_as_json(capsys):
    import json

    from scenarios.loader import named_scenarios
    from sim.cli import main

    assert main(["scenarios", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)  # the whole output is JSON (it was the text listing)
    assert [x["name"] for x in listed] == list(named_scenarios())
    by_name = {x["name"]: x for x in listed}
    assert by_name["backcast"]["extends"] == "baseline" and by_name["baseline"]["extends"] is None
    assert by_name["baseline"]["question"]


@pytest.mark.parametrize("argv,needle", [
    (["scenarios", "check", "--json"], "check: --json applies to"),
    (["scenarios", "check", "baseline", "--json"], "check: --json applies to"),
    (["scenarios", "show", "baseline", "--changed", "--json"], "--changed applies to the TOML listing"),
    (["scenarios", "list", "--changed"], "list: --changed applies to"),
    (["scenarios", "check", "baseline", "--changed"], "check: --changed applies to"),
])
def test_scenarios_options_that_do_not_apply_are_one_line_errors(capsys, argv, needle):
    from sim.cli import main

    assert main(argv) == 2  # they were ignored silently
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1 and needle in cap.err and "expected" in cap.err, cap.err


def test_compute_subsidy_rents_cloud_capacity_and_the_metrics_count_it(tmp_path):
    """A public compute subsidy for model startups rents cloud compute in the same clearing as
    everyone's rent: the cloud never delivers more than it has energized (the subsidy is paid for
    what is delivered), and gini_compute counts each model startup's compute, subsidy included
    (those that left in the month too)."""
    from analysis import metrics as M
    from sim.model import IndustryModel
    from sim.run import resolve_scenario

    (tmp_path / "sub.toml").write_text('extends = "baseline"\n[[events]]\nmonth = "2025-01"\n'
                                       'kind = "compute_subsidy"\nvalue = 150e9\n')
    sc, _ = resolve_scenario(str(tmp_path / "sub.toml"), None, None, "2025-12")
    m = IndustryModel(sc, seed=0, record_agents=False)
    production = m._startup_production
    got = {}  # startup id -> H100e of compute it got in production this month

    def spy():
        production()
        idx = m._models_alive
        h100e = 2 * m.startup_serve_flop[idx] / m.flop_per_h100e_month  # half serves, half trains
        got.clear()
        got.update(zip(m.startups.id[idx].tolist(), h100e.tolist()))

    m._startup_production = spy
    short = False
    while m.month < m.end_month:
        m.step()
        c, st = m.cloud, m.startups
        assert c.rented_h100e <= c.energized_h100e * (1 + 1e-12)
        if m.policy.compute_subsidy_usd_per_month == 0:
            continue
        short |= m.startup_rent_fraction < 1
        credited = sum(got.values())
        # everything the model startups got came out of the cloud's energized capacity
        assert credited + sum(l.rented_h100e for l in m.labs) <= c.rented_h100e * (1 + 1e-9)
        paid = m.ledger.flows(kind="compute_subsidy", src="ext:government")
        assert paid == pytest.approx(m.policy.compute_subsidy_usd_per_month * m.startup_rent_fraction, rel=1e-9)
        # the model startups alive, and those that left this month (they rented before leaving)
        rows = np.flatnonzero(((st.status == 0) | (st.exit_month == m.month)) & (st.kind == 1))
        labs = np.array([l.fleet.total_h100e + l.rented_h100e if l.active else 0.0 for l in m.labs])
        want = M.gini(np.concatenate([labs, [got.get(i, 0.0) for i in st.id[rows].tolist()]]))
        assert m.model_rows[-1]["gini_compute"] == pytest.approx(want, rel=1e-9)
    assert short  # $150B a year is more than the cloud has spare: the clearing rations it (in the
    # baseline since the cloud keeps facility and order bills back and queues its future power, $50B
    # a year no longer is: it rents all of it)
    assert m.ledger.total() == pytest.approx(0.0, abs=1e-6 * sum(abs(v) for v in m.ledger.balances().values()))
    assert float(m.startups.cash.sum()) == pytest.approx(m.ledger.balance("startups"), rel=1e-9, abs=1.0)


def test_origins_of_a_scenario_object_say_it_set_them():
    """A Scenario object does not remember its files: its values that differ from the schema
    default are 'scenario object' in the manifest (not 'default'), overrides 'override'."""
    from sim.run import manifest, resolve_scenario, run_scenario

    sc, _ = load_scenario("compute-cap")
    sc.data.public_tokens = 2e14
    sc.labs["hyper_c"].region = "us_central"
    res = run_scenario(sc, {"startups.initial": 3, "events": []}, end="2024-01")
    origin = manifest(res)["parameter_origin"]
    assert origin["data.public_tokens"] == "scenario object"       # assigned
    assert origin["labs.hyper_c.region"] == "scenario object"      # assigned
    assert origin["labs.hyper_a.fleet_h100e"] == "scenario object"  # from the file the object was loaded from
    assert origin["name"] == "scenario object"
    assert origin["startups.initial"] == "override" and origin["end"] == "override"
    assert origin["events"] == "override"  # (a whole list overridden: no origins of its former items)
    assert origin["scaling.mfu"] == "default" and origin["start"] == "default"  # the schema default's value
    _, o = resolve_scenario(sc)
    rows = {k: src for k, _, src in resolved_with_origin(sc, o)}
    assert rows["events.0.value"] == "scenario object" and set(rows.values()) == {"default", "scenario object"}
