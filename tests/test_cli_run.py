"""`frontiersim run`: outputs a user relies on, and one-line errors that leave nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys

import networkx as nx
import pandas as pd
import pytest

from sim.cli import main


def test_run_writes_all_tables_and_manifest(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["run", "baseline", "--seed", "4", "--end", "2025-06", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "frontier FLOP" in printed and "2024" in printed and str(out) in printed
    m = pd.read_parquet(out / "model.parquet")
    assert list(m["date"][:2]) == ["2024-01", "2024-02"] and m["date"].iloc[-1] == "2025-06"
    assert len(m) == 18
    a = pd.read_parquet(out / "agents.parquet")
    assert set(a["agent_type"]) == {"lab", "supplier", "grid", "cloud", "startups"}
    ev = pd.read_parquet(out / "events.parquet")
    assert "training_run_finished" in set(ev["event"])
    g = nx.read_graphml(out / "deals.graphml")
    assert g.number_of_edges() > 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["seed"] == 4 and man["scenario"] == "baseline" and man["end"] == "2025-06"
    assert man["versions"]["mesa"] != "not installed" and man["wall_time_s"] > 0
    assert man["parameters"]["hardware"]["h100_price_usd"] == 27500
    assert man["parameter_origin"]["end"] == "override"
    assert not list(tmp_path.glob(".b.tmp-*"))  # no temporary directory left behind


def test_set_override_reaches_the_model(tmp_path):
    out = tmp_path / "o"
    assert main(["run", "baseline", "--end", "2024-03", "--out", str(out),
                 "--set", "hardware.h100_price_usd=30000"]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["parameters"]["hardware"]["h100_price_usd"] == 30000
    assert pd.read_parquet(out / "model.parquet")["chip_price_usd"].iloc[0] == pytest.approx(30000)


@pytest.mark.parametrize("argv,needle", [
    (["run", "no-such-scenario"], "no such scenario"),
    (["run", "baseline", "--seed", "abc"], "invalid int value"),
    (["run", "baseline", "--end", "2040-13"], "YYYY-MM"),
    (["run", "baseline", "--set", "hardware.no_such_field=3"], "unknown field"),
    (["run", "baseline", "--set", "hardware.h100_price_usd=-5"], "hardware.h100_price_usd"),
    (["run", "baseline", "--end", "2023-01"], "--end 2023-01: end: expected a month from start 2024-01 to 2100-12, "
                                               "got '2023-01'"),
    (["ensemble", "baseline", "--runs", "2", "--workers", "1", "--end", "2023-01"],
     "baseline.toml: --end 2023-01: end: expected a month from start 2024-01 to 2100-12, got '2023-01'"),
    (["sweep", "baseline", "--param", "hardware.h100_price_usd=2e4:3e4:2", "--workers", "1", "--end", "2023-01"],
     "baseline.toml: --end 2023-01: end: expected a month from start 2024-01 to 2100-12, got '2023-01'"),
    (["validate", "--runs", "2", "--workers", "1", "--end", "2019-12"],
     "backcast.toml: --end 2019-12: end: expected a month from start 2020-01 to 2100-12, got '2019-12'"),
])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, argv, needle):
    out = tmp_path / "x"
    p = subprocess.run([sys.executable, "-m", "sim.cli", *argv, "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 2
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert needle in lines[0]
    assert not out.exists()
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [["run", "baseline"], ["scenarios", "check", "baseline"],
                                  ["ensemble", "baseline", "--runs", "2", "--workers", "1"],
                                  ["validate", "--runs", "2", "--workers", "1", "--no-meek"]])
def test_an_end_after_the_last_month_is_one_line_before_any_work(tmp_path, capsys, monkeypatch, argv):
    """Every --end is bounded (docs/ODD.md 2.1): a mistyped year is refused, not simulated."""
    from sim.model import IndustryModel

    monkeypatch.setattr(IndustryModel, "__init__", lambda *a, **k: pytest.fail("built a model for an end after 2100-12"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main([*argv, "--end", "9999-12"])
    cap = capsys.readouterr()
    assert e.value.code == 2 and cap.out == ""
    assert cap.err == (f"frontiersim: error: {argv[0]}: argument --end: expected a month no later than 2100-12, "
                       f"got '9999-12' (see 'frontiersim {argv[0]} --help')\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["run", "baseline"], ["scenarios", "check", "baseline"]])
@pytest.mark.parametrize("start", ["0001-01", "2019-12", "2101-01"])
def test_a_start_outside_the_first_and_last_months_is_one_line_before_any_work(tmp_path, capsys, monkeypatch, argv,
                                                                                start):
    """Every --start is bounded (docs/ODD.md 2.1): a mistyped year is refused, not simulated."""
    from sim.model import IndustryModel

    monkeypatch.setattr(IndustryModel, "__init__", lambda *a, **k: pytest.fail("built a model for a start outside 2020-01..2100-12"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main([*argv, "--start", start])
    cap = capsys.readouterr()
    assert e.value.code == 2 and cap.out == ""
    assert cap.err == (f"frontiersim: error: {argv[0]}: argument --start: expected a month from 2020-01 to 2100-12, "
                       f"got '{start}' (see 'frontiersim {argv[0]} --help')\n")
    assert list(tmp_path.iterdir()) == []


def test_the_first_month_is_a_valid_start_and_its_bound_is_documented(capsys):
    from scenarios.months import FIRST_MONTH
    from scenarios.provenance import ODD_PATH

    assert main(["scenarios", "check", "backcast", "--start", FIRST_MONTH, "--end", "2020-03"]) == 0
    assert f"backcast, {FIRST_MONTH}..2020-03" in capsys.readouterr().out
    assert f"**Earliest start month: {FIRST_MONTH}**" in ODD_PATH.read_text()
    for command in ("run", "scenarios"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert f"first month, YYYY-MM, {FIRST_MONTH} at the earliest" in " ".join(capsys.readouterr().out.split()), command


def test_the_last_month_is_a_valid_end_and_its_bound_is_documented(capsys):
    from scenarios.months import LAST_MONTH
    from scenarios.provenance import ODD_PATH

    assert main(["scenarios", "check", "baseline", "--end", LAST_MONTH]) == 0
    assert f"baseline, 2024-01..{LAST_MONTH}" in capsys.readouterr().out
    assert f"**Latest end month: {LAST_MONTH}**" in ODD_PATH.read_text()
    for command in ("run", "scenarios", "ensemble", "sweep", "sensitivity", "validate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert f"YYYY-MM, {LAST_MONTH} at the latest" in " ".join(capsys.readouterr().out.split()), command


def test_unreadable_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("this is [not toml")
    out = tmp_path / "x"
    p = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(bad), "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "bad.toml" in p.stderr and "TOML" in p.stderr
    assert not out.exists()


def test_failed_run_leaves_previous_output_intact(tmp_path, monkeypatch):
    """An exception while writing never replaces or corrupts an existing output directory."""
    from sim import run as R

    out = tmp_path / "keep"
    assert main(["run", "baseline", "--end", "2024-02", "--out", str(out)]) == 0
    before = (out / "model.parquet").read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("sim.deals.write_graphml", boom)
    res = R.run_scenario("baseline", end="2024-03")
    with pytest.raises(RuntimeError):
        R.write_outputs(res, out)
    assert (out / "model.parquet").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep"]


@pytest.mark.parametrize("loaded", [False, True], ids=["name", "Scenario"])
def test_run_scenario_names_start_and_end_as_passed(loaded):
    """The Python API's start=, end= and overrides are named as passed, not as a '--set' nobody
    wrote (nor as 'override' for a Scenario object)."""
    from scenarios.loader import ScenarioError, load_scenario, scenario_path
    from sim import run as R

    sc = load_scenario("baseline")[0] if loaded else "baseline"
    where = "scenario object 'baseline'" if loaded else str(scenario_path("baseline"))
    with pytest.raises(ScenarioError) as e:
        R.run_scenario(sc, end="2023-12")
    assert str(e.value) == f"{where}: end='2023-12': end: expected a month from start 2024-01 to 2100-12, got '2023-12'"
    with pytest.raises(ScenarioError) as e:
        R.run_scenario(sc, start="2041-01")
    assert str(e.value) == (f"{where}: end: expected a month from start 2041-01 to 2100-12, got '2040-12'; "
                            "start set by start='2041-01'")
    with pytest.raises(ScenarioError) as e:  # (an override string is named as written)
        R.run_scenario(sc, ["hardware.h100_price_usd=-5"], end="2024-02")
    assert str(e.value) == (f"{where}: override 'hardware.h100_price_usd=-5': hardware.h100_price_usd: "
                            "expected a value > 0.0 (got -5)")


def _one_error_line(capsys) -> str:
    cap = capsys.readouterr()
    lines = [l for l in cap.err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("frontiersim: error: "), cap.err
    assert "Traceback" not in cap.err
    return lines[0]


def test_out_never_replaces_a_directory_that_is_not_a_run(tmp_path, capsys, monkeypatch):
    """A user's directory (or an ensemble's) given as --out is refused before simulating and
    left as it was; the Python API refuses it too."""
    import sim.run as R

    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("x")
    ens = tmp_path / "ens"
    (ens / "runs").mkdir(parents=True)
    (ens / "manifest.json").write_text("{}")
    (ens / "runs" / "part-00000.parquet").write_bytes(b"part")

    def no_run(*a, **k):
        raise AssertionError("simulated before refusing --out")

    with monkeypatch.context() as mp:
        mp.setattr(R, "run_model", no_run)
        for d in (keep, ens):
            assert main(["run", "baseline", "--end", "2024-02", "--out", str(d)]) == 2
            msg = _one_error_line(capsys)
            assert f"--out {d}: is a directory that is not an earlier run's outputs" in msg and "expected" in msg
    assert (keep / "notes.txt").read_text() == "x"
    assert (ens / "runs" / "part-00000.parquet").read_bytes() == b"part"
    res = R.run_scenario("baseline", end="2024-02")
    with pytest.raises(ValueError, match="not an earlier run's outputs"):
        R.write_outputs(res, keep)
    assert sorted(p.name for p in keep.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ens", "keep"]  # no temporary left


def test_out_replaces_an_earlier_run_or_fills_an_empty_directory(tmp_path):
    out = tmp_path / "r"
    assert main(["run", "baseline", "--end", "2024-02", "--out", str(out)]) == 0
    assert main(["run", "baseline", "--seed", "3", "--end", "2024-03", "--out", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 3
    assert len(pd.read_parquet(out / "model.parquet")) == 3
    # the report 'frontiersim report DIR' wrote into it goes with the outputs it described
    (out / "report.html").write_text("<html>report of seed 3</html>")
    assert main(["run", "baseline", "--seed", "4", "--end", "2024-02", "--out", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 4
    assert not (out / "report.html").exists()
    (out / "report.html").write_text("<html></html>")
    (out / "notes.txt").write_text("mine")
    assert main(["run", "baseline", "--end", "2024-02", "--out", str(out)]) == 2  # anything else: refused
    assert (out / "notes.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["run", "baseline", "--end", "2024-02", "--out", str(empty)]) == 0
    assert (empty / "manifest.json").exists()


@pytest.mark.parametrize("out,needle", [
    ("afile/sub", "afile is not a directory"),
    ("afile", "exists and is not a directory"),
    ("/proc/frontiersim-test", "cannot write in /proc"),
    (".", "is the current directory"),
    ("", "is empty"),
])
def test_out_that_cannot_be_written_is_one_line_before_simulating(tmp_path, capsys, monkeypatch, out, needle):
    import sim.run as R

    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("f")
    (tmp_path / "here.txt").write_text("h")
    monkeypatch.setattr(R, "run_model", lambda *a, **k: pytest.fail("simulated before refusing --out"))
    assert main(["run", "baseline", "--end", "2024-02", "--out", out]) == 2
    assert needle in _one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "here.txt"]


@pytest.mark.parametrize("command", ["run", "scenarios", "report", "compare", "validate", "ensemble", "sweep",
                                     "sensitivity"])
def test_help_shows_percent_signs_as_typed(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "%%" not in capsys.readouterr().out


def test_sensitivity_help_names_its_own_default_outcomes(capsys):
    from sim.experiment import DEFAULT_SENSITIVITY_OUTCOMES

    with pytest.raises(SystemExit):
        main(["sensitivity", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # (argparse wraps lines)
    assert f"default: {','.join(DEFAULT_SENSITIVITY_OUTCOMES)}" in text and "all documented ones" not in text


def test_counts_are_pluralized(tmp_path, capsys):
    from sim.cli import plural

    assert [plural(n, "month") for n in (0, 1, 2)] == ["0 months", "1 month", "2 months"]
    assert plural(1, "free parameter") == "1 free parameter" and plural(3, "free parameter") == "3 free parameters"
    assert main(["run", "baseline", "--end", "2024-01", "--out", str(tmp_path / "one")]) == 0
    printed = capsys.readouterr().out
    assert "\n1 month simulated in " in printed and "1 months" not in printed
    assert main(["run", "baseline", "--end", "2024-02", "--out", str(tmp_path / "two")]) == 0
    assert "\n2 months simulated in " in capsys.readouterr().out


def test_ensemble_of_one_run_says_run_not_runs(tmp_path, capsys):
    out = tmp_path / "e"
    assert main(["ensemble", "baseline", "--runs", "1", "--workers", "1", "--end", "2024-03", "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert "ensemble of 1 run of baseline" in cap.err and "\n1 run computed, 0 already done" in cap.out
    import re

    assert not re.search(r"(?<![\d/])1 runs", cap.err + cap.out)  # (the progress line's '1/1 runs' is a fraction)


def test_progress_lines_come_every_interval_and_only_then(capsys):
    from types import SimpleNamespace

    from scenarios.schema import month_index
    from sim.cli import PROGRESS_EVERY_S, RunProgress

    now = [100.0]
    p = RunProgress("2024-01", "2033-12", clock=lambda: now[0])
    for i, dt in enumerate([1.0, 1.0, PROGRESS_EVERY_S, 0.5, PROGRESS_EVERY_S]):
        now[0] += dt
        p(SimpleNamespace(month=month_index("2024-01") + 10 * i))
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["frontiersim: run: 2025-09 simulated, 21 of 120 months (18%) in 7 s",
                     "frontiersim: run: 2027-05 simulated, 41 of 120 months (34%) in 12 s"]


def test_run_shows_progress_only_when_it_takes_long(tmp_path, capsys, monkeypatch):
    import sim.cli

    monkeypatch.setattr(sim.cli, "PROGRESS_EVERY_S", float("inf"))  # as if every month were quick
    assert main(["run", "baseline", "--end", "2024-06", "--out", str(tmp_path / "quick")]) == 0
    assert capsys.readouterr().err.splitlines() == ["frontiersim: running baseline 2024-01..2024-06 (seed 0)..."]
    monkeypatch.setattr(sim.cli, "PROGRESS_EVERY_S", 0.0)  # as if every month took long
    assert main(["run", "baseline", "--end", "2024-06", "--out", str(tmp_path / "slow")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[1:] == [l for l in err[1:] if l.startswith("frontiersim: run: 2024-")] and len(err) == 7
    assert err[-1].startswith("frontiersim: run: 2024-06 simulated, 6 of 6 months (100%) in ")


def test_out_refusal_names_what_makes_it_not_a_run(tmp_path):
    from sim.run import output_dir_problem

    d = tmp_path / "d"
    d.mkdir()
    (d / "report.html").write_text("x")
    (d / "manifest.json").write_text("{}")
    msg = output_dir_problem(d)
    assert "it lacks agents.parquet, deals.graphml, events.parquet, model.parquet" in msg
    (d / "notes.txt").write_text("x")
    assert "it holds notes.txt, which no run writes" in output_dir_problem(d)


def test_a_failed_replace_leaves_the_earlier_outputs_in_place(tmp_path, monkeypatch):
    import os

    import sim.run as R

    out = tmp_path / "r"
    res = R.run_scenario("baseline", end="2024-02")
    R.write_outputs(res, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = os.replace

    def failing(src, dst):
        if str(src).startswith(str(tmp_path / ".r.tmp-")):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(R.os, "replace", failing)
    with pytest.raises(OSError):
        R.write_outputs(res, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_the_command_is_main_with_its_status_and_a_frozen_heap(monkeypatch):
    """The ``frontiersim`` script calls ``sim.cli.console``: main's exit status, then the heap
    frozen so that the interpreter's last collection skips it (a quicker exit)."""
    import gc
    import tomllib
    from pathlib import Path

    import sim.cli as C

    scripts = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"frontiersim": "sim.cli:console"}
    monkeypatch.setattr(C, "main", lambda: 3)
    assert gc.get_freeze_count() == 0
    try:
        assert C.console() == 3
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    # and as a module: a one-line error and its status
    r = subprocess.run([sys.executable, "-m", "sim.cli", "run", "no-such-scenario"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no-such-scenario" in r.stderr


def test_a_run_that_leaves_the_numeric_domain_warns_without_check(tmp_path, capsys):
    """ODD 7.6: the three algorithmic limits together overflow the meek reference by 2029-06. Without
    --check the outputs are written and one warning line names the columns and the first month;
    a run that stays finite says nothing of the kind."""
    limits = ["--set", "algorithms.research_share_ref=0.05", "--set", "algorithms.research_elasticity=2",
              "--set", "algorithms.acquisition_bump=1.1"]
    out = tmp_path / "o"
    assert main(["run", "baseline", "--end", "2029-07", "--out", str(out), *limits]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    warning = [line for line in err if "warning" in line]
    assert len(warning) == 1 and warning[0].startswith(
        "frontiersim: warning: model.parquet has infinite meek_ece, meek_gap_ece, first in 2029-06:"), err
    m = pd.read_parquet(out / "model.parquet")
    assert m["meek_ece"].iloc[-1] == float("inf") and m.set_index("date").at["2029-05", "meek_ece"] < float("inf")
    assert main(["run", "baseline", "--end", "2029-05", "--out", str(tmp_path / "f"), *limits]) == 0
    assert "warning" not in capsys.readouterr().err
    # with --check the run stops in that month, says why in one line and writes nothing
    assert main(["run", "baseline", "--end", "2029-07", "--out", str(tmp_path / "c"), "--check", *limits]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("frontiersim: error: run --check: baseline seed 0 breaks a law of docs/ODD.md 7.24 in "
                          "2029-06: finite: the model row has infinite meek_ece, meek_gap_ece; these parameters take "
                          "the model past its numeric domain"), err
    assert "bug" not in err and not (tmp_path / "c").exists()
