"""Validation against history (issue 8): the history file, the comparison, the command line, the
Meek-limit check and the calibration procedure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import validate as V

HEADER = ",".join(V.HISTORY_COLUMNS)


def _row(metric="largest_run_flop", year=2020, value="3e23", kind="ratio", lo="0.5", hi="2", role="fit",
         conf="high", title="Some paper", url="https://example.org", note="n") -> str:
    return f"{metric},{year},{value},FLOP,{kind},{lo},{hi},{role},{conf},{title},{url},2020,{note}"


def _write(tmp_path: Path, *rows: str, name: str = "h.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([HEADER, *rows]) + "\n")
    return p


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


# ----- the packaged data ------------------------------------------------------------------------
def test_packaged_history_is_valid_and_sourced():
    h = V.load_history()
    assert len(h) >= 15
    assert set(h["metric"]) <= set(V.METRICS)
    assert (h["source_url"].str.startswith("http")).all()
    assert {"fit", "holdout"} <= set(h["role"])
    # the largest-run series the issue names: GPT-3 in 2020, runs above 1e26 by 2025
    lr = h[h["metric"] == "largest_run_flop"].set_index("year")["value"]
    assert lr[2020] == pytest.approx(3.14e23)
    assert lr[2025] > 1e26


@pytest.mark.parametrize("row,field", [
    (_row(metric="frontier_vibes"), "field metric"),
    (_row(year="20x0"), "field year"),
    (_row(value="lots"), "field value"),
    (_row(kind="percent"), "field tolerance_kind"),
    (_row(lo="3", hi="2"), "fields lower, upper"),
    (_row(lo="0"), "field lower"),
    (_row(role="tuned"), "field role"),
    (_row(conf="certain"), "field confidence"),
    (_row(url=""), "field source_url"),
])
def test_bad_history_rows_give_one_line_naming_file_line_and_field(tmp_path, row, field):
    p = _write(tmp_path, _row(year=2021), row)
    with pytest.raises(V.ValidationError) as e:
        V.load_history(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg and "line 3" in msg and field in msg and "expected" in msg


def test_missing_column_and_duplicate_row(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("metric,year,value\nlargest_run_flop,2020,1\n")
    with pytest.raises(V.ValidationError, match="missing unit"):
        V.load_history(p)
    with pytest.raises(V.ValidationError, match="repeated"):
        V.load_history(_write(tmp_path, _row(), _row()))


# ----- pieces -----------------------------------------------------------------------------------
def test_open_closed_lag_closed_form():
    # the frontier gains 0.1 decades a month; the open model trails by 0.35 decades (3.5 months of
    # progress): the frontier was first at or above it 3 months earlier (monthly resolution)
    t = np.arange(24)
    frontier = 25 + 0.1 * t
    lag = V.open_closed_lag_months(frontier, frontier - 0.35)
    assert np.all(lag[3:] == 3)
    assert np.all(lag[:3] == t[:3])  # censored at the start: a lower bound
    assert np.all(V.open_closed_lag_months(frontier, frontier) == 0)


def test_compare_ratio_and_absolute_tolerances():
    hist = pd.DataFrame([
        {"metric": "installed_h100e", "year": 2024, "value": 100.0, "unit": "H100e", "tolerance_kind": "ratio",
         "lower": 0.5, "upper": 2.0, "role": "fit", "confidence": "low", "source_title": "s"},
        {"metric": "ai_power_gw", "year": 2024, "value": 10.0, "unit": "GW", "tolerance_kind": "ratio",
         "lower": 0.9, "upper": 1.1, "role": "holdout", "confidence": "low", "source_title": "s"},
        {"metric": "incumbent_share", "year": 2024, "value": 0.6, "unit": "fraction", "tolerance_kind": "absolute",
         "lower": -0.1, "upper": 0.1, "role": "fit", "confidence": "low", "source_title": "s"},
    ])
    runs = pd.DataFrame({"installed_h100e_2024": [150.0, 190.0, 170.0], "ai_power_gw_2024": [12.0, 13.0, 14.0],
                         "incumbent_share_2024": [0.65, 0.66, 0.64]})
    t = V.compare(hist, runs).set_index("metric")
    assert t.loc["installed_h100e", "sim_median"] == 170.0
    assert t.loc["installed_h100e", "deviation"] == pytest.approx(1.7) and t.loc["installed_h100e", "within"]
    assert not t.loc["ai_power_gw", "within"]  # x1.3 against x0.9..x1.1
    assert t.loc["incumbent_share", "deviation"] == pytest.approx(0.05) and t.loc["incumbent_share", "within"]
    # loss: log(1.7)/log(2) squared and (0.05/0.1) squared, averaged over the fit rows
    expected = ((np.log(1.7) / np.log(2)) ** 2 + 0.25) / 2
    assert V.fit_loss(t.reset_index(), ("fit",)) == pytest.approx(expected)


def test_yearly_metrics_follow_the_model_table():
    from sim.run import run_scenario

    r = run_scenario("backcast", end="2021-12")
    y = V.yearly_metrics(r.model, r.agents, r.scenario)
    dec = r.model.set_index("date")
    assert list(y.index) == [2020, 2021]
    assert y.loc[2021, "installed_h100e"] == dec.loc["2021-12", "installed_h100e"]
    assert y.loc[2020, "largest_run_flop"] == r.model["largest_run_flop"].iloc[:12].max()
    assert 0 < y.loc[2021, "incumbent_share"] <= 1
    # venture money includes at least the equity rounds of the frontier labs
    labs = r.agents[(r.agents.agent_type == "lab") & r.agents.date.str.startswith("2021")]
    equity = [k for k, p in r.scenario.labs.items() if p.funding == "equity"]
    assert y.loc[2021, "ai_venture_usd"] >= labs[labs.agent_id.isin(equity)]["income_funding"].sum() > 0


def test_backcast_starts_with_2020_chips():
    """The initial fleet of a 2020 start is of the 2020 chip generation: dearer and hungrier per
    H100e than the 2024 H100 by the FLOP/$ and FLOP/W trends."""
    from sim.model import IndustryModel
    from sim.run import resolve_scenario

    sc, _ = resolve_scenario("backcast")
    m = IndustryModel(sc, seed=0)
    hw = sc.hardware
    lab = m.lab_by_id["hyper_a"]
    expect_w = hw.h100_watts_all_in * hw.flops_per_watt_growth ** 4  # four years (two generations) before 2024-01
    assert np.allclose(lab.fleet.watts, expect_w)
    assert lab.fleet.mw_needed() == pytest.approx(lab.p.fleet_h100e * expect_w / 1e6)
    price = hw.h100_price_usd * hw.flops_per_dollar_growth ** 4 * (1 + hw.server_overhead_fraction)
    assert lab.fleet.cost_usd.sum() == pytest.approx(lab.p.fleet_h100e * price)


# ----- the Meek limit -------------------------------------------------------------------------------
def test_meek_validation_against_closed_form():
    r = V.meek_validation(V.load_meek_checks())
    t = r.table.set_index("quantity")
    assert t["within"].all()
    assert t.loc["peak_time_years", "closed_form"] == pytest.approx(3.34, abs=0.01)
    assert t.loc["gap_10y_nats", "simulated"] == pytest.approx(0.065, abs=0.001)
    assert t.loc["gap_20y_nats", "simulated"] == pytest.approx(0.009, abs=0.001)


# ----- the command ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_validate_command_exit_status_and_outputs(tmp_path):
    # generous tolerances: every row passes, exit 0
    wide = _write(tmp_path, _row(year=2020, lo="1e-3", hi="1e3"),
                  _row(metric="installed_h100e", year=2021, value="1e6", lo="1e-3", hi="1e3"), name="wide.csv")
    out = tmp_path / "v"
    r = _cli("validate", "--runs", "2", "--workers", "1", "--end", "2021-12", "--history", str(wide), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "largest_run_flop" in r.stdout and "peak_time_years" in r.stdout
    table = pd.read_csv(out / "validation.csv")
    assert len(table) == 2 and table["within"].all() and (table["runs"] == 2).all()
    for f in ("backcast.png", "meek.png", "meek.csv"):
        assert (out / f).stat().st_size > 0
    # a tight tolerance on one row: exit 1, and the message names it; the ensemble is reused
    tight = _write(tmp_path, _row(year=2020, lo="1e-3", hi="1e3"),
                   _row(metric="installed_h100e", year=2021, value="1e3", lo="0.99", hi="1.01"), name="tight.csv")
    r = _cli("validate", "--runs", "2", "--workers", "1", "--end", "2021-12", "--history", str(tight), "--out", str(out), "--no-meek", cwd=tmp_path)
    assert r.returncode == 1
    assert "0 runs computed, 2 already done" in r.stdout
    assert "1 of 2 rows outside tolerance: installed_h100e 2021" in r.stderr


def test_validate_bad_history_file_writes_nothing(tmp_path):
    bad = _write(tmp_path, _row(kind="percent"))
    out = tmp_path / "v"
    r = _cli("validate", "--history", str(bad), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "tolerance_kind" in lines[0] and str(bad) in lines[0]
    assert not out.exists()


# ----- calibration ----------------------------------------------------------------------------------
@pytest.mark.parametrize("option, value", [("--seeds", "0"), ("--seeds", "-1"), ("--maxfev", "0"),
                                           ("--maxfev", "-3"), ("--workers", "0"), ("--starts", "0")])
def test_calibrate_refuses_a_count_below_one_before_any_work(tmp_path, capsys, monkeypatch, option, value):
    import analysis.calibrate as C

    monkeypatch.setattr(C, "calibrate", lambda *a, **k: pytest.fail("calibrated with a count below 1"))
    assert C.main([option, value, "--out", str(tmp_path / "c.json")]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err == f"calibrate: error: {option} {value}: expected at least 1\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option", ["--sample", "--confirm-seeds", "--sample-seed"])
def test_calibrate_refuses_a_negative_count_before_any_work(tmp_path, capsys, monkeypatch, option):
    import analysis.calibrate as C

    monkeypatch.setattr(C, "calibrate", lambda *a, **k: pytest.fail("calibrated with a negative count"))
    assert C.main([option, "-1", "--out", str(tmp_path / "c.json")]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err == f"calibrate: error: {option} -1: expected at least 0\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, problem", [
    (["--seeds", "x"], "argument --seeds: invalid int value: 'x'"),
    (["--maxfev", "1.5"], "argument --maxfev: invalid int value: '1.5'"),
    (["--workers"], "argument --workers: expected one argument"),
    (["--sedes", "2"], "unrecognized arguments: --sedes 2"),
])
def test_calibrate_bad_option_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, problem):
    """As on the frontiersim command line: one line naming the option, no usage dump."""
    import analysis.calibrate as C

    monkeypatch.setattr(C, "calibrate", lambda *a, **k: pytest.fail("calibrated with a bad option"))
    with pytest.raises(SystemExit) as e:
        C.main([*argv, "--out", str(tmp_path / "c.json")])
    cap = capsys.readouterr()
    assert e.value.code == 2 and cap.out == ""
    assert cap.err == f"calibrate: error: {problem} (see 'python -m analysis.calibrate --help')\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out, problem", [
    ("missing/c.json", "directory missing does not exist; expected an existing directory"),
    ("afile/c.json", "afile is not a directory; expected a directory to write into"),
    ("adir", "is a directory; expected a JSON file path"),
    ("", "is empty; expected a JSON file path"),
])
def test_calibrate_checks_out_before_any_work(tmp_path, capsys, monkeypatch, out, problem):
    """--out is checked before the calibration's minutes of work (it used to fail after them, with a
    traceback), as 'frontiersim report --out' is: one line, exit status 2, nothing written."""
    import analysis.calibrate as C

    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("f")
    (tmp_path / "adir").mkdir()
    monkeypatch.setattr(C, "calibrate", lambda *a, **k: pytest.fail("calibrated with an --out it cannot write"))
    assert C.main(["--out", out]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err == f"calibrate: error: --out {out or repr(out)}: {problem}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile"] and not any((tmp_path / "adir").iterdir())


def test_calibrate_out_that_fails_to_write_is_one_line(tmp_path, capsys, monkeypatch):
    import analysis.calibrate as C

    rec = {"parameters": {"a.b": {"start": 0.5, "fitted": 0.6, "low": 0.0, "high": 1.0}}, "fit_rows": ["x 2020"],
           "seeds": [1], "evaluations": [{}], "wall_time_s": 0.1, "within_start": 0, "within_fitted": 1, "rows": 1,
           "loss_start": {"fit": 1.0, "holdout": 1.0}, "loss_fitted": {"fit": 0.5, "holdout": 1.0}}
    monkeypatch.setattr(C, "calibrate", lambda *a, **k: rec)

    def full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)  # (the last step of sim.paths.write_atomic)
    out = tmp_path / "c.json"
    assert C.main(["--seeds", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"calibrate: error: --out {out}: cannot write (No space left on device); nothing was written\n"
    assert list(tmp_path.iterdir()) == []


def test_calibrate_as_a_module_reports_a_bad_value_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "analysis.calibrate", "--seeds", "x"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=600)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == ["calibrate: error: argument --seeds: invalid int value: 'x' "
                                     "(see 'python -m analysis.calibrate --help')"]


@pytest.mark.slow
def test_calibration_is_reproducible_and_never_worse_than_the_start(tmp_path):
    from analysis.calibrate import calibrate

    free = {"finance.parent_capex_growth_before_cal": (0.05, 1.5, 0.25, "test")}
    a = calibrate(seeds=1, maxfev=4, workers=1, free=free)
    assert a["loss_fitted"]["fit"] <= a["loss_start"]["fit"]
    assert len(a["evaluations"]) <= 5
    assert set(a["fit_rows"]).isdisjoint(a["holdout_rows"])
    b = calibrate(seeds=1, maxfev=4, workers=1, free=free)
    assert json.dumps(a["parameters"]) == json.dumps(b["parameters"])


# a cheap stand-in for the calibration's objective: the three free parameters' ranges, a narrow
# global minimum far from the prior (a sentiment weight near 0), a broad worse basin around the
# prior, and a deterministic roughness of +-0.05 (as small parameter changes move the runs)
_LO, _HI, _PRIOR = np.array([0.25, 0.0, 0.0]), np.array([1.5, 1.0, 1.0]), np.array([0.5, 0.5, 0.5])
_TRUE = np.array([0.6, 0.7, 0.02])


def _rough_objective(v, tag=None) -> float:
    u, ut = (np.asarray(v) - _LO) / (_HI - _LO), (_TRUE - _LO) / (_HI - _LO)
    basins = min(20 * np.sum((u - ut) ** 2), 0.8 + 5 * np.sum((u - [0.3, 0.6, 0.5]) ** 2))
    return float(basins + 0.05 + 0.05 * np.sin(np.dot(v, [9137.1, 7411.3, 5923.7])))


def test_multistart_finds_the_minimum_that_nelder_mead_from_the_prior_misses():
    from scipy.optimize import minimize

    import analysis.calibrate as C

    x0 = C._to_x(_PRIOR, _LO, _HI)  # the old procedure: Nelder-Mead from the prior, the same budget
    nm = minimize(lambda x: _rough_objective(C._to_values(x, _LO, _HI)), x0, method="Nelder-Mead",
                  options={"maxfev": 160, "xatol": 1e-3, "fatol": 1e-4, "initial_simplex": C._simplex(x0)})
    assert nm.fun > 0.7  # stuck in the basin around the prior

    calls = []
    r = C.multistart(lambda v, tag: calls.append(tag) or _rough_objective(v), _LO, _HI, _PRIOR, maxfev=160)
    assert len(calls) <= 160 and len(r["plan"]) == 33 and len(r["searches"]) == 4
    best = min(r["searches"], key=lambda s: s["best_loss"])
    assert best["best_loss"] < 0.1 and np.all(np.abs((np.array(best["best"]) - _TRUE) / (_HI - _LO)) < 0.05)
    assert best["best"] in r["finalists"]
    assert [t[0] for t in calls[:33]] == ["sample"] * 33 and {t[0] for t in calls[33:]} == {"local"}


def test_calibration_plan_is_deterministic():
    import analysis.calibrate as C

    a, b = C.plan(_LO, _HI, _PRIOR, 32), C.plan(_LO, _HI, _PRIOR, 32)
    assert np.array_equal(a, b) and a.shape == (33, 3) and np.array_equal(a[0], _PRIOR)
    assert np.all((a >= _LO) & (a <= _HI)) and not np.array_equal(a, C.plan(_LO, _HI, _PRIOR, 32, seed=1))
    for k in range(3):  # the Sobol points fill each range (one in each eighth of it)
        assert len(set(np.floor((a[1:, k] - _LO[k]) / (_HI[k] - _LO[k]) * 8))) == 8
    losses = [_rough_objective(v) for v in a]
    starts = C.pick_starts(a, losses, 4, _LO, _HI)
    assert starts == C.pick_starts(a, losses, 4, _LO, _HI) and starts[0] == int(np.argmin(losses))
    u = (a[starts] - _LO) / (_HI - _LO)
    assert min(np.linalg.norm(u[i] - u[j]) for i in range(4) for j in range(i)) >= 0.25
    r1 = C.multistart(_rough_objective, _LO, _HI, _PRIOR, maxfev=60)
    r2 = C.multistart(_rough_objective, _LO, _HI, _PRIOR, maxfev=60,
                      map_fn=lambda fn, xs: list(reversed([fn(x) for x in reversed(list(xs))])))
    assert json.dumps(r1) == json.dumps(r2)  # the order of evaluation does not matter


@pytest.mark.parametrize("maxfev, split", [(4, (1, 1, 2)), (80, (32, 4, 11)), (160, (32, 4, 31)), (1, (0, 0, 0))])
def test_calibration_budget_split(maxfev, split):
    import analysis.calibrate as C

    assert C.budget(maxfev, 32, 4, 3 if maxfev > 4 else 1) == split


@pytest.mark.slow
def test_calibrated_backcast_meets_its_fitting_targets():
    """With the calibrated defaults, every fitting row of the history lies within its tolerance
    (five seeds, as in the calibration). A model change that breaks this needs a refit
    (python -m analysis.calibrate) and an update of docs/ODD.md section 10."""
    from sim.ensemble import replicate_seeds

    h = V.load_history()
    runs = pd.DataFrame([V.backcast_outcomes("backcast", {}, s) for s in replicate_seeds(0, 5)])
    t = V.compare(h, runs)
    fit = t[t["role"] == "fit"]
    assert len(fit) == 7
    assert fit["within"].all(), fit.loc[~fit["within"], ["metric", "year", "deviation"]].to_string()
    assert V.fit_loss(t, ("fit",)) < 0.5


# ----- years the backcast did not simulate ------------------------------------------------------------
def test_whole_years_leave_out_years_cut_short():
    assert V.whole_years("2020-01", "2022-12") == [2020, 2021, 2022]
    assert V.whole_years("2020-01", "2022-06") == [2020, 2021]
    assert V.whole_years("2020-03", "2021-12") == [2021]
    assert V.whole_years("2020-01", "2020-11") == []


def _hist(*rows):
    base = {"unit": "H100e", "tolerance_kind": "ratio", "lower": 0.5, "upper": 2.0, "confidence": "low", "source_title": "s"}
    return pd.DataFrame([{**base, "metric": m, "year": y, "value": v, "role": role} for m, y, v, role in rows])


def test_rows_of_years_not_simulated_are_marked_and_left_out_of_the_losses():
    hist = _hist(("installed_h100e", 2021, 100.0, "fit"), ("installed_h100e", 2022, 100.0, "fit"),
                 ("installed_h100e", 2023, 100.0, "holdout"))
    # 2022 was cut short (a value exists, from part of the year); 2023 was not reached
    runs = pd.DataFrame({"installed_h100e_2021": [150.0, 170.0], "installed_h100e_2022": [90.0, 95.0]})
    t = V.compare(hist, runs, V.whole_years("2020-01", "2022-06")).set_index("year")
    assert t["simulated"].tolist() == [True, False, False]
    assert t.loc[2021, "within"] and not t.loc[2022, "within"] and not t.loc[2023, "within"]
    assert t.loc[2021, "sim_median"] == 160.0 and np.isnan(t.loc[2022, "sim_median"])
    assert V.fit_loss(t.reset_index(), ("fit",)) == pytest.approx((np.log(1.6) / np.log(2)) ** 2)
    assert np.isnan(V.fit_loss(t.reset_index(), ("holdout",)))  # no held-out row simulated
    shown = V.format_table(t.reset_index()).splitlines()
    assert shown[1].rstrip().endswith("yes") and shown[2].rstrip().endswith("not simulated")
    # without years (complete runs, as in the calibration) every row counts: a missing value scores 100
    full = V.compare(hist, runs)
    assert full["simulated"].all()
    assert V.fit_loss(full, ("fit",)) == pytest.approx(((np.log(1.6) / np.log(2)) ** 2 + (np.log(0.925) / np.log(0.5)) ** 2) / 2)
    assert V.fit_loss(full, ("holdout",)) == 100.0


def test_history_year_outside_what_the_backcast_simulates_is_one_line(tmp_path):
    p = _write(tmp_path, _row(year=2021), _row(metric="installed_h100e", year=2031))
    assert len(V.load_history(p)) == 2  # the year alone is fine without a horizon
    with pytest.raises(V.ValidationError) as e:
        V.load_history(p, (2020, 2025, "the years backcast simulates"))
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg and "line 3" in msg and "field year" in msg
    assert "expected a year from 2020 to 2025" in msg and "'2031'" in msg


@pytest.mark.slow
def test_validate_with_an_earlier_end_reports_later_rows_as_not_simulated(tmp_path):
    hist = _write(tmp_path, _row(year=2020, lo="1e-3", hi="1e3"),
                  _row(metric="installed_h100e", year=2024, value="1e6", lo="0.99", hi="1.01"), name="h.csv")
    out = tmp_path / "v"
    r = _cli("validate", "--runs", "1", "--workers", "1", "--no-meek", "--end", "2020-12", "--history", str(hist),
             "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "every simulated row within tolerance; 1 history row not simulated" in r.stderr
    assert "outside tolerance" not in r.stderr and "nan" not in r.stdout
    assert "loss on fitting targets 0.000, on held-out rows n/a (none simulated)" in r.stdout
    table = pd.read_csv(out / "validation.csv")
    assert table["simulated"].tolist() == [True, False]


def test_validate_history_row_the_backcast_cannot_simulate_fails_before_any_run(tmp_path):
    hist = _write(tmp_path, _row(year=2020), _row(metric="installed_h100e", year=2031))
    out = tmp_path / "v"
    r = _cli("validate", "--runs", "1", "--workers", "1", "--no-meek", "--history", str(hist), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(hist) in lines[0] and "line 3" in lines[0] and "field year" in lines[0], r.stderr
    assert "2020 to 2025" in lines[0]
    assert not out.exists()
    # an --end that reaches 2031 makes it a year the backcast simulates: the history is accepted and
    # the next file read (the Meek checks, missing here) is the one refused, still before any run
    missing = tmp_path / "no-meek-checks.csv"
    r = _cli("validate", "--runs", "1", "--workers", "1", "--history", str(hist), "--end", "2031-12",
             "--meek-checks", str(missing), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2 and f"{missing}: file not found" in r.stderr and "field year" not in r.stderr
    assert not out.exists()


def test_validate_end_before_every_history_row_is_one_line(tmp_path):
    hist = _write(tmp_path, _row(year=2022))
    r = _cli("validate", "--runs", "1", "--workers", "1", "--no-meek", "--history", str(hist), "--end", "2021-12",
             "--out", str(tmp_path / "v"), cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "expected an end at or after 2022-12" in r.stderr
    assert not (tmp_path / "v").exists()
