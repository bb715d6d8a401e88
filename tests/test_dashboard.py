"""The interactive dashboard: its working parts (sim.dashboard), its page driven as a user drives
it (sim.app, rendered without a browser), the ``frontiersim dashboard`` command, and the served
page in a real browser (headless Chromium through Playwright)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from analysis.io import load_runs
from scenarios.loader import ScenarioError, load_scenario, named_scenarios
from sim import dashboard as D
from sim.run import run_scenario, write_outputs

ROOT = Path(__file__).resolve().parents[1]


def _progress_log():
    seen: list[D.Progress] = []

    def on_progress(p: D.Progress) -> bool:
        seen.append(p)
        return True

    return seen, on_progress


# ----- sim.dashboard --------------------------------------------------------------------------
def test_a_dashboard_run_is_the_command_line_run():
    """Same scenario, overrides and seed: the same tables, bit for bit, as frontiersim run makes;
    progress reaches every month in order and ends at the last."""
    overrides = ["algorithms.public_growth=3.1", "data.synthetic_enabled=false"]
    seen, on_progress = _progress_log()
    res = D.simulate("data-wall", overrides, seed=2, end="2025-06", on_progress=on_progress, interval_s=0.0)
    ref = run_scenario("data-wall", overrides, seed=2, end="2025-06")
    for t in ("model", "agents", "events", "deals"):
        pd.testing.assert_frame_equal(getattr(res, t), getattr(ref, t), check_exact=True)
    assert res.final_state == ref.final_state
    assert [p.done for p in seen] == list(range(1, 19))  # interval 0: every month
    assert [p.date for p in seen] == res.model["date"].tolist()
    assert seen[-1].total == 18 and seen[-1].fraction == 1.0
    assert seen[-1].frontier_ece == res.model["frontier_ece"].iloc[-1]
    assert seen[-1].line().startswith("2025-06, month 18 of 18: frontier ece ")


def test_progress_is_throttled_but_always_reports_the_first_and_last_month():
    seen, on_progress = _progress_log()
    D.simulate("baseline", seed=0, end="2026-12", on_progress=on_progress, interval_s=3600.0)
    assert [p.done for p in seen] == [1, 36]


def test_stopping_a_run_raises_cancelled_and_a_new_run_is_unaffected():
    calls = []

    def stop_at_third(p: D.Progress) -> bool:
        calls.append(p.done)
        return p.done < 3

    with pytest.raises(D.Cancelled, match=r"^stopped at 2024-03 \(month 3 of 24\)$"):
        D.simulate("baseline", seed=1, end="2025-12", on_progress=stop_at_third, interval_s=0.0)
    assert calls == [1, 2, 3]
    after = D.simulate("baseline", seed=1, end="2024-06")
    assert after.model.equals(run_scenario("baseline", seed=1, end="2024-06").model)


def test_a_dashboard_ensemble_is_the_command_line_ensemble(tmp_path):
    """N runs from a seed, made in worker processes: the directory frontiersim ensemble --runs N
    --seed S writes, run by run, which that command then extends."""
    seen, on_progress = _progress_log()
    rs, where = D.simulate_ensemble("baseline", ["startups.initial=300"], runs=3, master_seed=7, end="2024-12",
                                    on_progress=on_progress, workers=2)
    assert (rs.kind, rs.design, rs.n_runs, rs.runs_label, rs.runs) == ("ensemble", "ensemble", 3, "3 runs", ["0", "1", "2"])
    assert where.name.startswith("frontiersim-dashboard-") and (where / "summary.csv").is_file()
    r = _frontiersim("ensemble", "baseline", "--runs", "3", "--seed", "7", "--end", "2024-12",
                     "--set", "startups.initial=300", "--workers", "1", "--out", str(tmp_path / "ens"))
    assert r.returncode == 0, r.stderr
    cli = load_runs(tmp_path / "ens")
    from sim.ensemble import replicate_seeds

    assert rs.manifest["seeds"] == replicate_seeds(7, 3) and rs.manifest["master_seed"] == 7
    pd.testing.assert_frame_equal(rs.model, cli.model, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_csv(where / "summary.csv"), pd.read_csv(tmp_path / "ens" / "summary.csv"))
    # progress: after each run written, and repeated while asking whether to stop (also before the
    # first run is written, as 0 runs done), up to the whole
    done = [p.runs_done for p in seen]
    assert set(done) - {0} == {1, 2, 3} and done == sorted(done) and seen[-1].fraction == 1.0
    assert seen[-1].line().startswith("3 of 3 runs done; the last to 2024-12: frontier ece ")
    # saved, it is a directory frontiersim ensemble extends: one more run computed, three kept
    saved = D.save_ensemble(where, tmp_path / "saved")
    r = _frontiersim("ensemble", "baseline", "--runs", "4", "--seed", "7", "--end", "2024-12",
                     "--set", "startups.initial=300", "--workers", "1", "--out", str(saved))
    assert r.returncode == 0 and "1 run computed, 3 already done" in r.stdout, r.stdout + r.stderr
    # a directory that is not empty is refused, and left as it was
    with pytest.raises(ValueError, match=r"is a directory that is not empty; expected a new or empty directory"):
        D.save_ensemble(where, saved)
    assert len(list((saved / "runs").glob("part-*.parquet"))) == 4


def _temporary_dirs(monkeypatch) -> list[Path]:
    """The temporary directories the dashboard makes from now on (a list that fills as it does)."""
    import tempfile

    made, mkdtemp = [], tempfile.mkdtemp

    def recording(*args, **kw):
        path = mkdtemp(*args, **kw)
        if str(kw.get("prefix", "")).startswith("frontiersim-dashboard-"):
            made.append(Path(path))
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", recording)
    return made


def test_stopping_an_ensemble_keeps_nothing_of_a_temporary_one(tmp_path, monkeypatch):
    made = _temporary_dirs(monkeypatch)
    with pytest.raises(D.Cancelled, match=r"^stopped after 1 of 4 runs$"):
        D.simulate_ensemble("baseline", runs=4, end="2030-12", workers=2,
                            on_progress=lambda p: not (p.runs_done or 0) >= 1)
    assert len(made) == 1 and not made[0].exists()
    # into a directory of the caller's: the finished run stays, for frontiersim ensemble to resume
    with pytest.raises(D.Cancelled):
        D.simulate_ensemble("baseline", runs=4, end="2030-12", workers=1, out=tmp_path / "e",
                            on_progress=lambda p: not (p.runs_done or 0) >= 1)
    assert [p.name for p in (tmp_path / "e" / "runs").glob("part-*.parquet")] == ["part-00000.parquet"]


@pytest.mark.parametrize("overrides, end, expected", [
    (["data.public_tokens=-1"], None, r"override 'data.public_tokens=-1': data.public_tokens: expected a value > 0"),
    (["data.no_such_field=1"], None, r"data.no_such_field"),
    ([], "2024-13", r"2024-13"),
])
def test_bad_inputs_are_one_line_scenario_errors(overrides, end, expected):
    with pytest.raises(ScenarioError, match=expected) as e:
        D.simulate("baseline", overrides, seed=0, end=end)
    assert "\n" not in str(e.value)


def test_override_lines_take_key_value_lines_and_name_a_bad_one():
    text = "# a comment\n\n data.public_tokens = 1e14 \nalgorithms.public_growth=3\n"
    assert D.override_lines(text) == ["data.public_tokens=1e14", "algorithms.public_growth=3"]
    with pytest.raises(ScenarioError, match=r"^overrides, line 2: 'oops': expected KEY=VALUE"):
        D.override_lines("a=1\noops\n")
    with pytest.raises(ScenarioError, match=r"line 1: '=3'"):
        D.override_lines("=3")


def test_a_run_made_here_reads_as_its_written_outputs(tmp_path):
    """runset_of gives the table load_runs reads back from the run's directory (so the page shows
    a fresh run exactly as it shows the same run opened from disk)."""
    res = run_scenario("baseline", seed=3, end="2025-12")
    out = write_outputs(res, tmp_path / "b3")
    disk = load_runs(out)
    mem = D.runset_of(res, "b3")
    pd.testing.assert_frame_equal(mem.model, disk.model, check_exact=True)
    assert "best_open_score" in mem.model.columns and mem.model["best_open_score"].notna().all()
    assert (mem.kind, mem.n_runs, mem.scenario, mem.runs) == ("run", 1, "baseline", ["b3"])
    assert mem.parameters == disk.parameters and mem.parameter_origin == disk.parameter_origin


def test_the_html_report_of_a_run_made_here_has_every_figure():
    from analysis.report import figure_specs, report_html

    res = run_scenario("baseline", seed=0, end="2025-12")
    text = report_html(D.runset_of(res, "baseline, seed 0"))
    for spec in figure_specs():
        assert f'id="{spec.anchor}"' in text
    assert text.count("data:image/png;base64,") == len(figure_specs())  # (no deals network: not written)
    assert "<th>source</th><td>made in the dashboard, not written to disk: baseline, seed 0</td>" in text


def test_the_deals_of_a_run_made_here_are_those_of_its_written_outputs(tmp_path):
    """The page draws a fresh run's deals network from its deals table; the summary and the
    drawing are those the report makes from the run's deals.graphml, to the byte."""
    from analysis.report import deals_parts, deals_summary
    from sim.deals import build_graph

    res = run_scenario("baseline", seed=0, end="2025-12")
    out = write_outputs(res, tmp_path / "b0")
    mine = deals_summary(build_graph(res.deals), "baseline")
    assert mine == deals_parts(None, str(out), "baseline")
    kinds, circular, png = mine
    assert {k for k, _, _ in kinds} >= {"chip_sale", "cloud_rental"} and _is_png(png)


def test_levers_are_schema_fields_and_their_values_round_trip_through_an_override():
    """Each input the page shows is a real parameter, and the line the page makes from a value
    gives that value back exactly, in every named scenario."""
    from scenarios.provenance import iter_fields

    fields = dict(iter_fields())
    kinds = {float: "float", int: "int", bool: "bool"}
    assert [lv.key for lv in D.levers()] == [k for k, _ in D.LEVERS]
    for lv in D.levers():
        assert lv.key in fields and lv.allowed and lv.description
        ann = fields[lv.key].annotation
        assert lv.kind == kinds.get(ann, "choice")
        assert bool(lv.choices) == (lv.kind == "choice")
    for name in named_scenarios():
        sc = load_scenario(name)[0]
        lines = [f"{lv.key}={D.format_value(D.value_of(sc, lv.key))}" for lv in D.levers()]
        again = load_scenario(name, lines)[0]
        for lv in D.levers():
            assert D.value_of(again, lv.key) == D.value_of(sc, lv.key), (name, lv.key)
    assert D.format_value(0.1 + 0.2) == "0.30000000000000004"  # every digit, not a rounded one


def test_numbers_are_shown_short_and_exact():
    values = [3e14, 1.35, 25e9, 0.0, 0.1 + 0.2, 300000.0, 12.0, 1e-300, -2.5, 123456789.0]
    shown = [D.short_number(v) for v in values]
    assert shown == ["3e+14", "1.35", "2.5e+10", "0", "0.30000000000000004", "300000", "12", "1e-300", "-2.5",
                     "123456789"]
    assert [float(t) for t in shown] == values


def test_labels_are_unique():
    taken = {"baseline, seed 0": 1}
    assert D.run_label("baseline", 1, [], taken) == "baseline, seed 1"
    assert D.run_label("baseline", 0, [], taken) == "baseline, seed 0 (2)"
    assert D.run_label("baseline", 0, ["a=1", "b=2"], taken) == "baseline, seed 0, 2 changes"
    assert D.unique_label("x", {"x", "x (2)"}) == "x (3)"


# ----- the page, driven without a browser -----------------------------------------------------
@pytest.fixture
def page():
    """The page as a new session sees it, rendered to widgets (in this process's own context, as
    a notebook shows it); the run a test leaves going is stopped after it."""
    import solara

    import sim.app as A

    A.reset_session()
    box, rc = solara.render(A.Page(), handle_error=False)
    try:
        yield A, rc
    finally:
        if A.run_task.pending:
            A.run_task.cancel()
        _wait(lambda: not A.run_task.pending)
        rc.close()
        A.reset_session()


def _wait(cond, timeout=120.0):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _click(rc, label: str) -> None:
    import ipyvuetify as v

    rc.find(v.Btn, children=[label]).widget.click()


def _alerts(rc) -> list[str]:
    import ipyvuetify as v

    return [" ".join(map(str, w.children)) for w in rc.find(v.Alert).widgets]


def _images(rc) -> list[bytes]:
    import ipywidgets as W

    return [w.value for w in rc.find(W.Image).widgets]


def _html(rc) -> list[str]:
    import solara.widgets

    return [w.unsafe_innerHTML or "" for w in rc.find(solara.widgets.HTML).widgets]


def _is_png(data: bytes) -> bool:
    import matplotlib.image as mpimg

    return data[:8] == b"\x89PNG\r\n\x1a\n" and mpimg.imread(io.BytesIO(data), format="png").shape[0] > 100


def test_page_runs_a_scenario_with_its_inputs_and_shows_it(page):
    A, rc = page
    assert any("Nothing to show yet" in a for a in _alerts(rc))
    A.scenario.set("efficiency-shock")
    A.seed.set(4)
    A.end.set("2025-03")
    A.lever_values.set({"algorithms.public_growth": 3.3, "data.synthetic_enabled": True})  # the second is the scenario's own
    A.extra.set("power.carbon_price_usd_per_t=50")
    _click(rc, "Run")
    _wait(lambda: A.run_message.value is not None and not A.run_task.pending)
    assert A.run_message.value[0] == "success", A.run_message.value
    label = "efficiency-shock, seed 4, 2 changes"
    assert list(A.runs.value) == [label] and A.shown.value == label
    res = A.results.value[label]
    ref = run_scenario("efficiency-shock", ["algorithms.public_growth=3.3", "power.carbon_price_usd_per_t=50"],
                       seed=4, end="2025-03")
    pd.testing.assert_frame_equal(res.model, ref.model, check_exact=True)
    _wait(lambda: len(_images(rc)) == 1)
    assert _is_png(_images(rc)[0])
    assert any(label in a and "15 months simulated" in a for a in _alerts(rc))
    from analysis.report import events_html

    events = [h for h in _html(rc) if "<th>rows per run</th>" in h]  # the events table, from the run's own
    assert events == [events_html(A.runs.value[label], {label: res.events})] and "<code>open_weight_release</code>" in events[0]
    A.figure.set("deals")  # the deals network, as the report draws it
    _wait(lambda: any("Deals by kind" in h for h in _html(rc)))
    assert len(_images(rc)) == 0 and any("data:image/png;base64," in h for h in _html(rc))


def test_page_number_inputs_take_numbers_and_flag_other_text(page):
    import ipyvuetify as v

    A, rc = page
    field = rc.find(v.TextField, label="Public text stock (2024) (tokens; > 0)")
    assert field.widget.v_model == "3e+14"  # the scenario's value, shortest exact form
    field.widget.v_model = "1e14"
    field.widget.fire_event("focusout", None)  # (the field takes its text when it loses focus)
    assert A.lever_values.value == {"data.public_tokens": 1e14}
    assert A.overrides_now() == ["data.public_tokens=100000000000000.0"]
    field.widget.v_model = "lots"
    field.widget.fire_event("focusout", None)
    flagged = rc.find(v.TextField, label="Public text stock (2024) (tokens; > 0)").widget
    assert flagged.error is True and flagged.messages == ["'lots' is not a number"]
    assert A.lever_values.value == {"data.public_tokens": 1e14}


def test_page_runs_an_ensemble_and_shows_its_bands(page, tmp_path):
    A, rc = page
    A.n_runs.set(3)
    A.seed.set(5)
    A.end.set("2024-12")
    _click(rc, "Run")
    _wait(lambda: A.run_message.value is not None and not A.run_task.pending)
    assert A.run_message.value[0] == "success", A.run_message.value
    label = "baseline, 3 runs from seed 5"
    rs = A.runs.value[label]
    assert (rs.kind, rs.n_runs, str(rs.path)) == ("ensemble", 3, label) and label not in A.results.value
    _wait(lambda: len(_images(rc)) == 1)
    assert _is_png(_images(rc)[0])
    assert any("median across 3 runs" in a.lower() or "3 x 12 months simulated" in a for a in _alerts(rc))
    # saved: the ensemble's directory, read back as the page shows it
    A.save_outputs(label, str(tmp_path / "saved"))
    assert A.save_message.value == ("success", f"outputs written to {tmp_path / 'saved'}")
    pd.testing.assert_frame_equal(load_runs(tmp_path / "saved").model, rs.model, check_exact=True)
    where = A.ensemble_dirs.value[label]
    _click(rc, "Remove")  # removing it from the page removes its temporary directory
    assert label not in A.runs.value and not where.exists()


def test_page_stops_a_run_and_keeps_nothing(page):
    A, rc = page
    A.end.set("2040-12")
    _click(rc, "Run")
    _wait(lambda: A.live.value is not None)
    _click(rc, "Stop")
    _wait(lambda: not A.run_task.pending and A.run_message.value is not None)
    kind, text = A.run_message.value
    assert kind == "info" and text.startswith("Run stopped at ") and text.endswith("nothing was kept.")
    assert A.runs.value == {}


def test_page_reports_a_bad_input_in_one_line_and_runs_nothing(page):
    A, rc = page
    A.extra.set("data.public_tokens")
    _click(rc, "Run")
    assert A.run_message.value == ("error", "overrides, line 1: 'data.public_tokens': expected KEY=VALUE, e.g. data.public_tokens=1e14")
    assert not A.run_task.pending
    A.extra.set("")
    A.seed.set(-1)
    _click(rc, "Run")
    assert A.run_message.value == ("error", "seed: -1: expected a whole number >= 0")
    A.seed.set(0)
    A.n_runs.set(0)
    _click(rc, "Run")
    assert A.run_message.value == ("error", "runs: 0: expected a whole number >= 1")
    assert not A.run_task.pending
    A.n_runs.set(1)
    A.extra.set("data.public_tokens=0")
    _click(rc, "Run")
    _wait(lambda: A.run_message.value is not None and not A.run_task.pending)
    kind, text = A.run_message.value
    assert kind == "error" and "data.public_tokens: expected a value > 0" in text and "\n" not in text
    assert A.runs.value == {}
    _wait(lambda: any("data.public_tokens" in a for a in _alerts(rc)))


def test_page_opens_directories_compares_and_saves(page, tmp_path):
    A, rc = page
    ens = tmp_path / "ens"
    for s in (0, 1):
        write_outputs(run_scenario("baseline", seed=s, end="2025-12"), ens / f"seed{s}")
    A.open_directory(str(tmp_path / "missing"))
    kind, text = A.open_message.value
    assert kind == "error" and "no such directory" in text and "\n" not in text
    A.open_directory(str(ens))
    assert A.open_message.value[0] == "success"
    assert list(A.runs.value) == ["baseline, ensemble of 2 runs [ens]"]
    A.figure.set("deals")  # an ensemble of run directories: the first run's deals network
    _wait(lambda: any("Shown for one run of the ensemble: <code>seed0</code>" in h for h in _html(rc)))
    A.figure.set("capability")
    A.end.set("2025-12")
    _click(rc, "Run")
    _wait(lambda: A.run_message.value is not None and not A.run_task.pending)
    assert list(A.runs.value)[1] == "baseline, seed 0"
    # the comparison: the ensemble's median against the run, on the chosen metric
    import solara

    box, crc = solara.render(A.CompareTab(), handle_error=False)
    _wait(lambda: len(_images(crc)) == 1)
    assert _is_png(_images(crc)[0])
    crc.close()
    # saving the run made here: a directory load_runs reads back; a foreign directory is refused
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("keep me")
    A.save_outputs("baseline, seed 0", str(foreign))
    assert A.save_message.value[0] == "error" and sorted(os.listdir(foreign)) == ["todo.txt"]
    A.save_outputs("baseline, seed 0", str(tmp_path / "saved"))
    assert A.save_message.value[0] == "success"
    back = load_runs(tmp_path / "saved")
    pd.testing.assert_frame_equal(back.model.drop(columns="run"),
                                  A.runs.value["baseline, seed 0"].model.drop(columns="run"), check_exact=True)


# ----- the command ----------------------------------------------------------------------------
def _frontiersim(*args, **kw):
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_refuses_a_directory_that_is_not_a_run(tmp_path):
    r = _frontiersim("dashboard", str(tmp_path / "nope"))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"frontiersim: error: {tmp_path / 'nope'}: no such directory; expected a run "
                                             "directory (model.parquet) or an ensemble directory (runs/part-*.parquet, "
                                             "or subdirectories containing model.parquet)"]


def test_dashboard_refuses_a_port_in_use_and_a_bad_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _frontiersim("dashboard", "--port", str(port))
    assert r.returncode == 2
    assert r.stderr.strip() == (f"frontiersim: error: dashboard: --host 127.0.0.1 --port {port}: port {port} is in use; "
                                f"expected a free port (e.g. --port {port + 1})")
    r = _frontiersim("dashboard", "--port", "70000")
    assert r.returncode == 2 and "expected a port from 1 to 65535" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ----- the served page in a browser -----------------------------------------------------------
def _chromium() -> str | None:
    return next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and os.path.exists(p)), None)


@pytest.mark.slow
def test_served_dashboard_in_a_browser(tmp_path):
    """`frontiersim dashboard DIR` serves the page from installed files only (no request fails, none
    leaves the machine); a user sees the opened run, runs a scenario, compares the two, and Ctrl-C
    stops the server cleanly."""
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: 'make test' installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (make test installs it where it runs as root)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    run_dir = write_outputs(run_scenario("baseline", seed=0, end="2025-12"), tmp_path / "b0")
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "sim.cli", "dashboard", str(run_dir), "--port", str(port)],
                              cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: _listening(port) or server.poll() is not None, timeout=60)
        assert server.poll() is None, (tmp_path / "server.log").read_text()
        bad, requests = [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.on("request", lambda r: requests.append(r.url))
            pg.on("requestfailed", lambda r: bad.append(f"failed {r.url}"))
            pg.on("response", lambda r: bad.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            pg.goto(f"http://127.0.0.1:{port}", timeout=60_000)
            pg.get_by_text("baseline: one run, 2024-01 to 2025-12 (24 months)").wait_for(timeout=60_000)
            pg.locator("img").first.wait_for(timeout=60_000)
            pg.get_by_label("Seed").fill("1")
            pg.get_by_label("Seed").press("Enter")
            pg.get_by_label("Last month").fill("2025-12")
            pg.get_by_label("Last month").press("Enter")
            pg.get_by_role("button", name="Run", exact=True).click()
            pg.get_by_text("baseline, seed 1: 24 months simulated").wait_for(timeout=120_000)
            pg.get_by_text("baseline: one run, 2024-01 to 2025-12 (24 months)").wait_for(timeout=30_000)
            pg.get_by_role("tab", name="Compare").click()
            pg.get_by_text("Unit: log10 FLOP-equivalent").wait_for(timeout=60_000)
            pg.wait_for_timeout(1000)
            shot = pg.screenshot(full_page=True)
            imgs = pg.evaluate("Array.from(document.images).filter(i => i.naturalWidth > 400).length")
            browser.close()
        assert bad == [], bad
        assert requests and all(u.startswith(f"http://127.0.0.1:{port}/") or u.startswith(("data:", "blob:"))
                                for u in requests), [u for u in requests if "127.0.0.1" not in u]
        assert imgs >= 1
        assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C in its terminal sends
        code = server.wait(timeout=30)
        log.close()
    out = (tmp_path / "server.log").read_text()
    assert code == 0, out
    assert f"frontiersim: dashboard at http://127.0.0.1:{port} (Ctrl-C stops it)" in out
    assert "frontiersim: dashboard stopped" in out


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_page_compares_two_ensembles_with_intervals(page):
    """Two ensembles made in the page from the same seed pair run by run; the Compare tab gives
    the difference on the chosen metric with its interval."""
    import solara

    A, rc = page
    A.n_runs.set(3)
    A.seed.set(5)
    A.end.set("2024-06")
    for extra in ("", "services.spend_2024_usd_per_year=3.25e10"):
        A.extra.set(extra)
        _click(rc, "Run")
        _wait(lambda: A.run_message.value is not None and not A.run_task.pending)
        assert A.run_message.value[0] == "success", A.run_message.value
    assert list(A.runs.value) == ["baseline, 3 runs from seed 5", "baseline, 3 runs from seed 5, 1 change"]
    A.metric.set("revenue_usd_per_year")
    box, crc = solara.render(A.CompareTab(), handle_error=False)
    _wait(lambda: any("paired over the 3 seeds both ran" in h for h in _html(crc)))
    noise = next(h for h in _html(crc) if "paired over the 3 seeds" in h)
    assert "AI revenue (annualized)" in noise and "difference of means [95%]" in noise
    crc.close()


def test_an_ensemble_run_that_fails_is_one_line_and_leaves_nothing(monkeypatch):
    from sim.cli import UserError
    from sim.ensemble import replicate_seeds

    made = _temporary_dirs(monkeypatch)
    with pytest.raises(UserError) as e:
        D.simulate_ensemble("baseline", ["startups.seed_round_usd=0.001"], runs=2, end="2024-03", workers=1)
    text = str(e.value)
    assert text.startswith(f"run 0 (seed {replicate_seeds(0, 2)[0]}): 2024-01: about 150,000,000,000 startups would "
                           "enter") and "\n" not in text
    # (with two workers both runs fail at once: either may be the one named)
    with pytest.raises(UserError, match=r"^run [01] \(seed \d+\): the model cannot start from these parameters: "
                                        r"grids.us_east.capacity_mw: 1 MW is below"):
        D.simulate_ensemble("baseline", ["grids.us_east.capacity_mw=1"], runs=2, end="2024-03", workers=2)
    assert len(made) == 2 and not any(p.exists() for p in made)
