"""Ensembles, sweeps and sensitivity: reproducible across backends, resumable, memory-flat, and
the sensitivity engine right on a function with known indices."""

from __future__ import annotations

import gc
import json
import math
import multiprocessing
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.ensemble import (EnsembleError, collect_outcomes, ensemble_plan, execute, read_tables, replicate_seeds,
                          summarize)
from sim.experiment import MILESTONE_YEARS, december_rows, evaluate
from sim.sensitivity import ParamRange, format_indices, lhs_design, parse_param, read_ranges, run_sensitivity

END = "2025-12"  # two milestone years (2024, 2025) at ~0.5 s a run
N = 4
SEED = 7


# ----------------------------------------------------------------------------------------
# evaluate-like test functions (module level: picklable by reference)
# ----------------------------------------------------------------------------------------
def ishigami(scenario, overrides=None, seed=0, end=None, outcomes=None):
    """Ishigami-Homma (a=7, b=0.1): S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437)."""
    x1, x2, x3 = (float(overrides[k]) for k in ("x1", "x2", "x3"))
    return {"y": math.sin(x1) + 7 * math.sin(x2) ** 2 + 0.1 * x3 ** 4 * math.sin(x1)}


def linear(scenario, overrides=None, seed=0, end=None, outcomes=None):
    return {"y": 3.0 * float(overrides["a"]) + 0.0 * float(overrides["b"])}


def blows_up(scenario, overrides=None, seed=0, end=None, outcomes=None):
    """``y`` = 3 a, infinite where a > 1.5 (as a model outcome past the largest float); ``z`` = 2 a."""
    a = float(overrides["a"])
    return {"y": math.inf if a > 1.5 else 3.0 * a, "z": 2.0 * a}


# the project's packages and its heavy dependencies (pyarrow only for Parquet: its other modules
# load lazily inside pyarrow)
HEAVY_PACKAGES = ("sim", "agents", "analysis", "scenarios", "mesa", "numpy", "pandas", "scipy", "networkx")


def imports_of_a_run(scenario, overrides=None, seed=0, end=None, outcomes=None):
    """A worker's run (evaluate, then the Parquet part of its table); returns the modules of the
    project and its heavy dependencies that it had to import."""
    from sim.ensemble import _parquet_bytes

    before = set(sys.modules)
    res = evaluate(scenario, overrides, seed, end)
    _parquet_bytes(res["model"], {})
    new = sorted(m for m in set(sys.modules) - before if m == "pyarrow.parquet" or m.split(".")[0] in HEAVY_PACKAGES)
    return {"imported": " ".join(new), "rows": len(res["model"])}


# ----------------------------------------------------------------------------------------
# fixtures
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted in-process ensemble: N runs of baseline to END with master seed SEED."""
    out = tmp_path_factory.mktemp("ref")
    stats = execute(ensemble_plan("baseline", N, master_seed=SEED, end=END), out, workers=1, progress=False)
    assert stats.computed == N
    return out


def _tables(out):
    return read_tables(out).sort_values(["run", "date"], ignore_index=True)


def _assert_same(out, ref):
    pd.testing.assert_frame_equal(_tables(out), _tables(ref))
    pd.testing.assert_frame_equal(collect_outcomes(out), collect_outcomes(ref))


def _stats(out):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted((Path(out) / "runs").glob("part-*.parquet"))}


def _cli(capsys, *argv):
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# ----------------------------------------------------------------------------------------
# the entry point
# ----------------------------------------------------------------------------------------
def test_evaluate_returns_milestone_scalars_inside_the_horizon(run_cached):
    res = evaluate("baseline", seed=3, end=END)
    ref = run_cached("baseline", 3, END)
    pd.testing.assert_frame_equal(res["model"], ref.model)
    dec = december_rows(ref.model)
    assert res["hhi_revenue_2025"] == dec.at[2025, "hhi_revenue"]
    assert res["frontier_median_gap_ece_2024"] == dec.at[2024, "frontier_median_gap_ece"]
    assert "hhi_revenue_2027" not in res  # 2027-12 is outside the horizon
    assert pickle.loads(pickle.dumps(evaluate)) is evaluate  # EMA Workbench / SALib / pools can ship it

    only = evaluate("baseline", seed=3, end=END, outcomes=["startups_alive_2025", "hhi_revenue"])
    assert set(only) == {"startups_alive_2025", "hhi_revenue"}
    assert only["startups_alive_2025"] == int(dec.at[2025, "startups_alive"])
    np.testing.assert_array_equal(only["hhi_revenue"], ref.model["hhi_revenue"].to_numpy())
    with pytest.raises(ValueError, match="outside the run"):
        evaluate("baseline", end="2024-06", outcomes=["hhi_revenue_2030"])


def test_flag_overrides_reach_the_run_as_flags(tmp_path):
    # a sampler's numpy bool, a Python bool and the CLI's --set key=false are all the flag the
    # schema takes (they were once turned into 0/1 on the way, which the schema refuses)
    from sim.run import run_scenario

    direct = run_scenario("baseline", {"data.synthetic_enabled": False}, seed=1, end="2024-03").model
    for flag in (False, np.bool_(False)):
        res = evaluate("baseline", {"data.synthetic_enabled": flag}, seed=1, end="2024-03")
        pd.testing.assert_frame_equal(res["model"], direct)
    out = tmp_path / "ens"
    assert main(["ensemble", "baseline", "--runs", "1", "--workers", "1", "--end", "2024-03",
                 "--set", "data.synthetic_enabled=false", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["overrides"] == {"data.synthetic_enabled": False}


def test_scalar_outcomes_alone_record_only_the_decembers_they_read_and_keep_their_values(run_cached):
    from sim.experiment import months_read

    assert months_read(None) is None
    assert months_read(["hhi_revenue_2030", "startups_alive_2025", "hhi_revenue_2030"]) == ["2025-12", "2030-12"]
    assert months_read(["scalars"]) == [f"{y}-12" for y in MILESTONE_YEARS]
    assert months_read(["scalars", "events", "deals"]) == months_read(["scalars"])
    for reads_all in (["scalars", "model"], ["hhi_revenue_2030", "hhi_revenue"], ["nonsense"]):
        assert months_read(reads_all) is None
    # the same numbers as read from the full table, and the same errors
    full = evaluate("baseline", seed=3, end=END)
    scal = evaluate("baseline", seed=3, end=END, outcomes=["scalars"])
    assert scal == {k: v for k, v in full.items() if k != "model"} and len(scal) > 20
    one = evaluate("baseline", seed=3, end=END, outcomes=["startups_alive_2024", "hhi_compute_2025"])
    assert one == {k: full[k] for k in one} and len(one) == 2
    with pytest.raises(ValueError, match=r"'hhi_revenue_2027': 2027-12 is outside the run \(2024-01\.\.2025-12\)"):
        evaluate("baseline", seed=3, end=END, outcomes=["hhi_revenue_2027"])
    with pytest.raises(ValueError, match="unknown outcome 'no_such_column_2025'"):
        evaluate("baseline", seed=3, end=END, outcomes=["no_such_column_2025"])


# ----------------------------------------------------------------------------------------
# reproducibility across backends
# ----------------------------------------------------------------------------------------
def test_runs_carry_derived_seeds(reference):
    seeds = replicate_seeds(SEED, N)
    assert len(set(seeds)) == N
    assert replicate_seeds(SEED, N + 3)[:N] == seeds  # stable when an ensemble is extended
    t = read_tables(reference)
    assert list(t.columns[:2]) == ["run", "seed"]
    assert t.groupby("run")["seed"].first().tolist() == seeds
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["seeds"] == seeds and manifest["master_seed"] == SEED and manifest["n_runs"] == N
    assert manifest["parameters"]["end"] == END and manifest["versions"]["numpy"] == np.__version__
    # the seed matters: the replicates differ
    assert t.groupby("run")["startups_alive"].last().nunique() > 1


def test_process_pool_gives_identical_outputs(reference, tmp_path):
    # tasks_per_worker=1 replaces the pool after every 2 runs: recycling does not change results
    stats = execute(ensemble_plan("baseline", N, master_seed=SEED, end=END), tmp_path, workers=2,
                    tasks_per_worker=1, progress=False)
    assert stats.computed == N
    _assert_same(tmp_path, reference)


class _PoolThatCannotStart:
    """A stand-in for ProcessPoolExecutor in a sandbox without processes: ``fail_at`` is the call
    that raises OSError (0: making the pool; k: the k-th submit, which starts a worker). Runs
    submitted before that finish in-process, or, with ``broken``, die with the pool."""

    def __init__(self, fail_at: int, broken: bool):
        self.fail_at, self.broken, self.calls = fail_at, broken, 0

    def __call__(self, *args, **kwargs):
        if self.fail_at == 0:
            raise PermissionError(13, "Permission denied", "/dev/shm")
        return self

    def submit(self, fn, task):
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        self.calls += 1
        if self.calls == self.fail_at:
            raise OSError(24, "Too many open files")
        f = Future()
        if self.broken:
            f.set_exception(BrokenProcessPool("a worker died while the pool was starting"))
        else:
            f.set_result(fn(task))
        return f

    def shutdown(self, wait=True, cancel_futures=False):
        pass


@pytest.mark.parametrize("fail_at,broken", [(0, False), (2, False), (2, True)],
                         ids=["pool", "second-worker", "second-worker-first-died"])
def test_pool_that_cannot_start_makes_the_runs_in_this_process(reference, tmp_path, monkeypatch, fail_at, broken):
    # a sandbox without fork, sockets or semaphores: one line says so, and every run is made here
    # with the same outputs (none lost, none twice)
    import io

    import sim.ensemble as E

    monkeypatch.setattr(E, "ProcessPoolExecutor", _PoolThatCannotStart(fail_at, broken))
    err = io.StringIO()
    stats = execute(ensemble_plan("baseline", N, master_seed=SEED, end=END), tmp_path, workers=2, progress=False,
                    stream=err)
    assert stats.computed == N
    _assert_same(tmp_path, reference)
    what = "PermissionError: [Errno 13] Permission denied: '/dev/shm'" if fail_at == 0 else \
        "OSError: [Errno 24] Too many open files"
    assert err.getvalue() == f"frontiersim: cannot start worker processes ({what}); making the runs in this process\n"


POOL_IMPORTS_SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
from sim.ensemble import collect_outcomes, ensemble_plan, execute
from tests.test_ensemble import imports_of_a_run
plan = ensemble_plan("baseline", 2, end="2024-03", fn=imports_of_a_run)
execute(plan, {out!r}, workers=2, tasks_per_worker=1, progress=False)
got = collect_outcomes({out!r})
print(json.dumps({{"rows": got["rows"].tolist(), "imported": got["imported"].fillna("").tolist()}}))
"""


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(), reason="workers are spawned afresh")
def test_pool_workers_start_with_everything_a_run_imports(tmp_path):
    # the forkserver preloads the model, its records and Parquet: a fresh worker's first run
    # imports none of them again. In a process of its own: Python has one forkserver per
    # process, and its preload list is the one set when it starts (a report's drawing pool,
    # started earlier in the same process, would leave the model to each worker)
    root = str(Path(__file__).resolve().parents[1])
    code = POOL_IMPORTS_SCRIPT.format(root=root, out=str(tmp_path / "ens"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["rows"] == [3, 3]
    assert got["imported"] == ["", ""]


EARLY_SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
import sim.pool_server as ps
calls = []
real = ps.start_early
def recording():
    calls.append(sorted(m for m in ("numpy", "pandas", "sim.ensemble", "sim.model") if m in sys.modules))
    return real()
ps.start_early = recording
from sim.cli import main
rc = main({args!r})
print(json.dumps({{"rc": rc, "calls": calls}}))
"""


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(), reason="workers are spawned afresh")
def test_the_cli_starts_the_pool_server_before_its_own_heavy_imports(tmp_path):
    # the server's imports then overlap the command's own; a single worker or a Dask cluster has
    # no server to start. Each command still completes its runs.
    root = str(Path(__file__).resolve().parents[1])
    common = ["baseline", "--end", "2024-02", "--scalars-only"]
    cases = [(["ensemble", *common, "--runs", "2", "--workers", "2"], 1),
             (["ensemble", *common, "--runs", "2", "--workers", "1"], 0),
             (["sweep", *common, "--param", "startups.initial=100:200:2", "--workers", "2"], 1)]
    for i, (args, n_calls) in enumerate(cases):
        out = tmp_path / f"e{i}"
        code = EARLY_SCRIPT.format(root=root, args=[*args, "--out", str(out)])
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        assert r["rc"] == 0
        assert r["calls"] == [[]] * n_calls, r  # called once, before numpy, pandas or the model
        assert len(list((out / "runs").glob("part-*.parquet"))) == 2


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_outputs(reference, tmp_path):
    pytest.importorskip("dask.distributed")
    stats = execute(ensemble_plan("baseline", N, master_seed=SEED, end=END), tmp_path, workers=2,
                    scheduler="local", progress=False)
    assert stats.computed == N
    _assert_same(tmp_path, reference)


def test_missing_dask_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails as if not installed
    rc, out, err = _cli(capsys, "ensemble", "baseline", "--runs", "1", "--end", "2024-02", "--scheduler", "local",
                        "--out", str(tmp_path / "e"))
    assert rc == 2
    assert err.strip().splitlines()[-1] == ("frontiersim: error: --scheduler needs dask.distributed, which is not "
                                            "installed; expected pip install 'frontiersim[dask]'")


def _one_error_line(capsys, *argv) -> str:
    """Run the command line; expect exit 2, nothing on stdout and exactly one error line on stderr
    (no banner, progress or traceback before it)."""
    try:
        rc = main(list(argv))
    except SystemExit as e:  # an argument error, from argparse
        rc = e.code
    cap = capsys.readouterr()
    stdout, err = cap.out, cap.err
    lines = err.strip().splitlines()
    assert rc == 2 and stdout == "", err
    assert len(lines) == 1 and lines[0].startswith("frontiersim: error: "), err
    return lines[0]


@pytest.mark.parametrize("command", [
    ["ensemble", "baseline", "--runs", "2"],
    ["sweep", "baseline", "--param", "startups.initial=100:200:2"],
    ["sensitivity", "baseline", "--ranges", "RANGES"],
    ["validate", "--runs", "2", "--no-meek"],
])
@pytest.mark.parametrize("extra, needle", [
    (["--out", "afile"], "exists and is not a directory"),
    (["--out", "afile/sub"], "afile is not a directory"),
    (["--out", "/proc/frontiersim-test"], "cannot write in /proc"),
    (["--out", ""], "--out '': is empty"),
    (["--workers", "0"], "--workers 0: expected at least 1"),
    (["--scheduler", "bogus"], "--scheduler bogus: not an address"),
    (["--seed", "-1"], "--seed: -1: expected a whole number >= 0"),
])
def test_bad_options_are_one_line_before_any_work(tmp_path, capsys, monkeypatch, command, extra, needle):
    """Bad --out, --workers, --scheduler or --seed: one line and no banner, nothing written."""
    import sim.ensemble as E

    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("f")
    (tmp_path / "r.csv").write_text("startups.initial,100,200\n")
    monkeypatch.setattr(E, "execute", lambda *a, **k: pytest.fail("started the runs"))
    argv = [x if x != "RANGES" else "r.csv" for x in command] + ["--end", "2024-12", "--out", "o", *extra]
    msg = _one_error_line(capsys, *argv)
    assert needle in msg, msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "r.csv"]


def test_execute_into_a_file_is_one_line_naming_what_it_expected(tmp_path):
    f = tmp_path / "afile"
    f.write_text("f")
    with pytest.raises(EnsembleError) as e:
        execute(ensemble_plan("baseline", 1, end="2024-01"), f, progress=False)
    assert str(e.value) == f"--out {f}: exists and is not a directory; expected a directory"
    assert f.read_text() == "f" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_execute_into_an_empty_path_is_refused_not_taken_for_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EnsembleError, match=r"^--out '': is empty; expected a directory path$"):
        execute(ensemble_plan("baseline", 1, end="2024-01"), "", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_scheduler_leaves_no_new_files_and_keeps_finished_runs(reference, tmp_path, capsys, monkeypatch):
    import sim.ensemble as E

    class Unreachable:
        def __init__(self, address, workers):
            raise EnsembleError(f"--scheduler {address}: cannot connect (timed out); expected ...")

    monkeypatch.setattr(E, "_Dask", Unreachable)
    argv = ["ensemble", "baseline", "--runs", str(N), "--seed", str(SEED), "--end", END, "--workers", "1",
            "--scheduler", "tcp://127.0.0.1:1"]
    assert "cannot connect" in _one_error_line(capsys, *argv, "--out", str(tmp_path / "new" / "e"))
    assert not (tmp_path / "new").exists()  # the directory it created (and its parent) are gone
    (tmp_path / "empty").mkdir()
    _one_error_line(capsys, *argv, "--out", str(tmp_path / "empty"))
    assert list((tmp_path / "empty").iterdir()) == []  # no .lock, manifest.json or runs/ left in it
    part = tmp_path / "old"
    shutil.copytree(reference, part)
    (part / "runs" / "part-00003.parquet").unlink()  # one run left to do
    before = sorted(p.name for p in (part / "runs").iterdir())
    _one_error_line(capsys, *argv, "--out", str(part))
    assert sorted(p.name for p in (part / "runs").iterdir()) == before and (part / "manifest.json").exists()


@pytest.mark.parametrize("outcomes, needle", [
    ("agents", "'agents' is not a scalar outcome; expected COLUMN_YEAR"),
    ("hhi_revenue", "'hhi_revenue' is not a scalar outcome; expected COLUMN_YEAR"),
    ("frontier_lab_2024", "'frontier_lab' is a text column, not a number"),
    ("nosuch_2024", "unknown outcome 'nosuch_2024'"),
])
@pytest.mark.parametrize("command", ["ensemble", "sensitivity"])
def test_outcomes_that_are_not_scalars_are_refused_up_front(tmp_path, capsys, monkeypatch, outcomes, needle, command):
    import sim.ensemble as E

    monkeypatch.setattr(E, "execute", lambda *a, **k: pytest.fail("started the runs"))
    (tmp_path / "r.csv").write_text("startups.initial,100,200\n")
    args = ["--runs", "2"] if command == "ensemble" else ["--ranges", str(tmp_path / "r.csv")]
    msg = _one_error_line(capsys, command, "baseline", *args, "--end", "2024-12", "--outcomes", outcomes,
                          "--out", str(tmp_path / "o"))
    assert msg.startswith("frontiersim: error: --outcomes: ") and needle in msg, msg
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("extra, needle", [
    (["--levels", "0"], "--levels 0: expected an even number >= 2"),
    (["--levels", "1"], "--levels 1: expected an even number >= 2"),
    (["--levels", "-2"], "--levels -2: expected an even number >= 2"),
    (["--levels", "3"], "--levels 3: expected an even number >= 2"),
    (["--method", "sobol", "--levels", "4"], "--levels 4: applies to --method morris"),
    (["--method", "sobol", "--samples", "3"], "--samples 3: Sobol sampling needs a power of 2"),
])
def test_bad_sampling_options_are_one_line_before_any_run(tmp_path, capsys, extra, needle):
    (tmp_path / "r.csv").write_text("startups.initial,100,200\n")
    argv = ["sensitivity", "baseline", "--ranges", str(tmp_path / "r.csv"), "--method", "morris", "--samples", "2",
            "--end", "2024-12", "--outcomes", "startups_alive_2024", "--out", str(tmp_path / "o"), *extra]
    with _no_warning():
        msg = _one_error_line(capsys, *argv)
    assert needle in msg, msg
    assert not (tmp_path / "o").exists()


class _no_warning:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("error")  # a leaked warning (SALib's on odd levels) fails the test

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


# ----------------------------------------------------------------------------------------
# resuming
# ----------------------------------------------------------------------------------------
def test_stopped_ensemble_resumes_with_only_the_missing_runs(reference, tmp_path):
    plan = ensemble_plan("baseline", N, master_seed=SEED, end=END)
    first = execute(plan, tmp_path, workers=1, stop_after=2, progress=False)
    assert first.stopped_early and first.computed == 2
    before = _stats(tmp_path)
    assert list(before) == ["part-00000.parquet", "part-00001.parquet"]
    second = execute(plan, tmp_path, workers=1, progress=False)
    assert (second.computed, second.skipped) == (2, 2)
    after = _stats(tmp_path)
    assert {k: after[k] for k in before} == before  # finished parts were not rewritten
    _assert_same(tmp_path, reference)


@pytest.mark.slow
def test_killed_ensemble_process_resumes(reference, tmp_path, capsys):
    out = tmp_path / "ens"
    argv = ["ensemble", "baseline", "--runs", str(N), "--seed", str(SEED), "--end", END, "--workers", "1",
            "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main(sys.argv[1:]))",
                             *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_stats(out) if (out / "runs").is_dir() else {}) < 2:
            assert proc.poll() is None, "the ensemble finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    before = _stats(out)
    assert 2 <= len(before) < N
    rc, stdout, err = _cli(capsys, *argv)
    assert rc == 0
    assert f"{N - len(before)} runs computed, {len(before)} already done" in stdout
    after = _stats(out)
    assert {k: after[k] for k in before} == before
    _assert_same(out, reference)


def test_stray_temporary_and_broken_parts_are_recomputed(reference, tmp_path):
    out = tmp_path / "ens"
    shutil.copytree(reference, out)
    runs = out / "runs"
    (runs / "part-00001.parquet").unlink()
    # what a process killed while writing leaves (named as sim.paths.write_atomic does, and as
    # versions before it did)
    strays = [runs / ".part-00001.parquet.0a1b2c3d.tmp", runs / ".part-00001.parquet.tmp-99999"]
    for stray in strays:
        stray.write_bytes(b"PAR1 half a file")
    pd.read_parquet(runs)  # dataset readers skip hidden files: the stray part is invisible to analysis
    (runs / "part-00002.parquet").write_bytes(b"not parquet")  # not written by the executor
    kept = _stats(out)["part-00000.parquet"]
    stats = execute(ensemble_plan("baseline", N, master_seed=SEED, end=END), out, workers=1, progress=False)
    assert (stats.computed, stats.skipped) == (2, 2)
    assert not any(stray.exists() for stray in strays)
    assert _stats(out)["part-00000.parquet"] == kept
    _assert_same(out, reference)


def test_summary_is_median_and_band_of_the_runs(reference):
    outcomes = collect_outcomes(reference)
    tables = read_tables(reference)
    # the scalar outcomes stored with each part are the December values of its own table
    for run, t in tables.groupby("run"):
        dec = december_rows(t)
        row = outcomes[outcomes["run"] == run].iloc[0]
        assert row["hhi_revenue_2025"] == dec.at[2025, "hhi_revenue"]
    s = summarize(outcomes).set_index(["outcome", "year"])
    v = tables[tables["date"] == "2025-12"]["startups_alive"].to_numpy(dtype=float)
    got = s.loc[("startups_alive", 2025)]
    assert got["n"] == N
    assert got["median"] == np.median(v)
    assert (got["p5"], got["p95"]) == tuple(np.percentile(v, [5, 95]))


def test_cli_ensemble_outputs_and_mismatched_resume(tmp_path, capsys):
    out = str(tmp_path / "e")
    base = ["ensemble", "baseline", "--runs", "2", "--end", "2024-12", "--workers", "1", "--out", out]
    rc, stdout, err = _cli(capsys, *base)
    assert rc == 0
    for f in ("manifest.json", "summary.csv", "outcomes.csv", "runs/part-00000.parquet", "runs/part-00001.parquet"):
        assert (tmp_path / "e" / f).exists(), f
    summary = pd.read_csv(tmp_path / "e" / "summary.csv")
    assert set(summary["year"]) == {2024} and "hhi_revenue" in set(summary["outcome"])
    assert "hhi_revenue" in stdout and "2 runs computed, 0 already done" in stdout
    assert "ensemble baseline: 2/2 runs" in err  # progress, as plain lines when stderr is not a terminal

    rc, stdout, _ = _cli(capsys, *base)
    assert rc == 0 and "0 runs computed, 2 already done" in stdout
    cases = [
        (["--seed", "1"], "the master seed is 0 there, 1 here"),
        (["--set", "startups.initial=500"], "parameter startups.initial is 1000 there, 500 here"),
        (["--end", "2024-11"], 'parameter end is "2024-12" there, "2024-11" here'),
    ]
    for extra, why in cases:
        rc, stdout, err = _cli(capsys, *base, *extra)
        lines = err.strip().splitlines()
        assert rc == 2 and stdout == ""
        assert lines[-1].startswith(f"frontiersim: error: --out {out}: holds an ensemble of 'baseline'"), lines
        assert why in lines[-1] and lines[-1].endswith("or another --out")
    rc, _, err = _cli(capsys, *[a if a != "2" else "1" for a in base])
    assert rc == 2 and err.strip().splitlines()[-1].endswith("holds 2 runs; expected --runs 2 or more to resume it (or another --out)")
    # runs made under other model rules (an older frontiersim) are not resumed with these
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    del manifest["identity"]["model_rules"]
    (Path(out) / "manifest.json").write_text(json.dumps(manifest))
    rc, _, err = _cli(capsys, *base)
    assert rc == 2 and "the version of the model's rules (runs of different versions differ) is missing there" in err


# ----------------------------------------------------------------------------------------
# sweeps
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("param, expected", [
    ("startups.initial", "expected key=low:high[:steps]"),
    ("startups.initial=100", "expected key=low:high[:steps]"),
    ("startups.initial=100:", "'' is not a number"),
    ("startups.initial=a:b", "'a' is not a number"),
    ("startups.initial=500:100", "low 500 is not below high 100; expected low < high"),
    ("startups.initial=100:500:1", "steps '1': expected an integer >= 2"),
    ("=1:2", "expected key=low:high[:steps]"),
    ("startups.nosuch=1:2", "unknown field 'startups.nosuch'"),
    ("name=1:2", "expected a numeric parameter"),
    ("startups.initial=-5:10", "startups.initial: expected a value >= 0"),
])
def test_bad_param_is_a_one_line_error(param, expected, tmp_path, capsys):
    rc, stdout, err = _cli(capsys, "sweep", "baseline", "--param", param, "--end", "2024-02", "--out", str(tmp_path / "s"))
    assert rc == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("frontiersim: error: ")
    assert expected in err, err


def test_sweep_grid_sets_each_point(tmp_path, capsys):
    out = tmp_path / "s"
    rc, stdout, _ = _cli(capsys, "sweep", "baseline", "--param", "startups.initial=100:1000:2",
                         "--param", "finance.sentiment_noise=0:0.1:2", "--end", "2024-12", "--workers", "1",
                         "--out", str(out))
    assert rc == 0
    o = pd.read_csv(out / "outcomes.csv")
    assert list(zip(o["startups.initial"], o["finance.sentiment_noise"])) == [(100, 0.0), (100, 0.1), (1000, 0.0), (1000, 0.1)]
    assert o["seed"].nunique() == 1  # common random numbers across points
    # a comparative static: ten times the initial startups leaves more alive at the end of 2024
    by = o.set_index(["finance.sentiment_noise", "startups.initial"])["startups_alive_2024"]
    for noise in (0.0, 0.1):
        assert by[(noise, 1000)] > 5 * by[(noise, 100)]
    part = pd.read_parquet(out / "runs" / "part-00002.parquet")
    assert (part["startups.initial"] == 1000).all() and list(part.columns[:4]) == ["run", "seed", "startups.initial",
                                                                                 "finance.sentiment_noise"]


def test_latin_hypercube_uses_each_stratum_once():
    ranges = [ParamRange("a", 0.0, 10.0), ParamRange("b", -1.0, 1.0), ParamRange("c", 0, 100, integer=True)]
    pts = lhs_design(ranges, 20, seed=4)
    for r in ranges[:2]:
        strata = sorted(int((p[r.key] - r.low) / (r.high - r.low) * 20) for p in pts)
        assert strata == list(range(20))
    assert all(isinstance(p["c"], int) for p in pts)
    assert pts == lhs_design(ranges, 20, seed=4) and pts != lhs_design(ranges, 20, seed=5)


# ----------------------------------------------------------------------------------------
# sensitivity
# ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sobol_indices_of_ishigami(tmp_path):
    ranges = [ParamRange(k, -math.pi, math.pi) for k in ("x1", "x2", "x3")]
    res = run_sensitivity("ishigami", ranges, tmp_path, method="sobol", samples=1024, outcomes=["y"], fn=ishigami,
                          seed=0, progress=False)
    t = res.table.set_index("parameter")
    for k, s1, st in zip(("x1", "x2", "x3"), (0.3139, 0.4424, 0.0), (0.5576, 0.4424, 0.2437)):
        assert abs(t.at[k, "S1"] - s1) <= t.at[k, "S1_conf"], (k, t.loc[k].to_dict())
        assert abs(t.at[k, "ST"] - st) <= t.at[k, "ST_conf"], (k, t.loc[k].to_dict())
        assert t.at[k, "S1_conf"] < 0.1 and t.at[k, "ST_conf"] < 0.1  # informative intervals
    # the runs went through the executor: one part per sample, and a rerun computes nothing
    assert len(list((tmp_path / "runs").glob("part-*.parquet"))) == 1024 * 5
    again = run_sensitivity("ishigami", ranges, tmp_path, method="sobol", samples=1024, outcomes=["y"], fn=ishigami,
                            seed=0, progress=False, plot=False)
    assert again.stats.computed == 0
    pd.testing.assert_frame_equal(again.table, res.table)
    assert (tmp_path / "sensitivity.png").stat().st_size > 0
    assert list(pd.read_csv(tmp_path / "sensitivity.csv").columns[:6]) == ["outcome", "parameter", "S1", "S1_conf", "ST", "ST_conf"]


def test_morris_elementary_effects_of_a_linear_function(tmp_path):
    # y = 3 a over a in [0, 2]: every elementary effect is 3 x (2 - 0) per unit of the normalized range
    ranges = [ParamRange("a", 0.0, 2.0), ParamRange("b", -5.0, 5.0)]
    res = run_sensitivity("linear", ranges, tmp_path, method="morris", samples=10, outcomes=["y"], fn=linear,
                          progress=False, plot=False)
    t = res.table.set_index("parameter")
    assert t.at["a", "mu_star"] == pytest.approx(6.0) and t.at["a", "mu"] == pytest.approx(6.0)
    assert t.at["a", "sigma"] == pytest.approx(0.0, abs=1e-9)
    assert t.at["b", "mu_star"] == pytest.approx(0.0, abs=1e-12)
    assert res.stats.computed == 10 * 3


def test_an_outcome_infinite_in_some_runs_has_no_indices_and_says_so(tmp_path):
    """Indices of an outcome that is NaN or infinite in some runs mean nothing: they are NaN, the
    table counts those runs and the printed table says so; the other outcomes are unaffected."""
    ranges = [ParamRange("a", 0.0, 2.0), ParamRange("b", -5.0, 5.0)]
    for method, samples, cols in (("morris", 10, ("mu", "mu_star", "mu_star_conf", "sigma")),
                                  ("sobol", 16, ("S1", "S1_conf", "ST", "ST_conf"))):
        out = tmp_path / method
        res = run_sensitivity("blows-up", ranges, out, method=method, samples=samples, outcomes=["y", "z"],
                              fn=blows_up, progress=False)
        a = pd.read_csv(out / "samples.csv")["a"]
        n_inf = int((a > 1.5).sum())
        assert 0 < n_inf < len(a)
        t = res.table.set_index(["outcome", "parameter"])
        assert t.loc["y", cols].isna().all().all() and (t.loc["y", "n_not_finite"] == n_inf).all()
        assert t.loc["z", cols].notna().all().all() and (t.loc["z", "n_not_finite"] == 0).all()
        text = format_indices(res.table, method)
        assert f"note: y is NaN or infinite in {n_inf} of the runs; it has no indices (NaN)" in text
        assert "note: z" not in text and "--" not in text
        assert pd.read_csv(out / "sensitivity.csv")["n_not_finite"].tolist() == [n_inf, n_inf, 0, 0]
        assert (out / "sensitivity.png").stat().st_size > 0


def test_an_ensemble_says_which_rows_of_its_summary_leave_runs_out(tmp_path, capsys):
    """ODD 7.6's three algorithmic limits together make the meek gap infinite from 2029-06: the
    summary's 2030 row of it has no run, and a note says so (the 2027 row has both)."""
    limits = ["--set", "algorithms.research_share_ref=0.05", "--set", "algorithms.research_elasticity=2",
              "--set", "algorithms.acquisition_bump=1.1"]
    assert main(["ensemble", "baseline", "--runs", "2", "--workers", "1", "--end", "2030-12", "--out",
                 str(tmp_path / "e"), *limits]) == 0
    out = capsys.readouterr().out
    s = pd.read_csv(tmp_path / "e" / "summary.csv").set_index(["outcome", "year"])
    assert s.at[("meek_gap_ece", 2030), "n"] == 0 and s.at[("meek_gap_ece", 2027), "n"] == 2
    short = s.index[s["n"] < 2].tolist()
    assert ("meek_gap_ece", 2030) in short
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "meek_gap_ece 2030" in notes[0] and "fewer than the ensemble's 2 runs" in notes[0], notes
    assert np.isinf(pd.read_csv(tmp_path / "e" / "outcomes.csv")["meek_gap_ece_2030"]).all()


def test_ranges_files(tmp_path, capsys):
    toml = tmp_path / "r.toml"
    toml.write_text('[parameters]\n"startups.initial" = [200, 1500]\nalgorithms.public_growth = { low = 2.0, high = 4.0 }\n')
    csv = tmp_path / "r.csv"
    csv.write_text("parameter,low,high\nstartups.initial,200,1500\nalgorithms.public_growth,2,4\n")
    want = [("startups.initial", 200.0, 1500.0), ("algorithms.public_growth", 2.0, 4.0)]
    for f in (toml, csv):
        assert [(r.key, r.low, r.high) for r in read_ranges(f)] == want
    bad = tmp_path / "bad.csv"
    bad.write_text("parameter,low,high\nstartups.initial,9,1\n")
    with pytest.raises(EnsembleError, match=r"line 2: low 9 is not below high 1"):
        read_ranges(bad)
    rc, _, err = _cli(capsys, "sensitivity", "baseline", "--ranges", str(tmp_path / "none.toml"), "--out", str(tmp_path / "x"))
    assert rc == 2 and err.strip() == (f"frontiersim: error: --ranges {tmp_path / 'none.toml'}: no such file; "
                                       "expected a TOML or CSV file of parameter, low, high")
    rc, _, err = _cli(capsys, "sensitivity", "baseline", "--ranges", str(toml), "--end", "2030-12", "--out", str(tmp_path / "x"))
    assert rc == 2 and "'hhi_revenue_2035': 2035-12 is outside the horizon 2024-01..2030-12" in err
    assert len(err.strip().splitlines()) == 1
    assert parse_param("a.b=1:2:3") == ParamRange("a.b", 1.0, 2.0, 3)


@pytest.mark.parametrize("text, expected", [
    ("nosuch.key,1,2\n", "--ranges RANGES: line 1: unknown field 'nosuch'"),
    ("startups.initial,-5,2\n", "--ranges RANGES: line 1: startups.initial: expected a value >= 0 (got -5)"),
    ("startups.initial,1,2,3\n", "--ranges RANGES: line 1: expected 3 columns parameter,low,high, got 4"),
    ("name,lo,hi\nstartups.initial,1,2\n", "--ranges RANGES: line 1: header 'name,lo,hi'; expected the header "
                                            "parameter,low,high"),
    ("# my ranges\nparameter,low,high\nstartups.nosuch,1,2\n", "--ranges RANGES: line 3: unknown field 'startups.nosuch'"),
])
def test_ranges_file_errors_name_the_file_and_line(tmp_path, capsys, text, expected):
    f = tmp_path / "r.csv"
    f.write_text(text)
    msg = _one_error_line(capsys, "sensitivity", "baseline", "--ranges", str(f), "--end", "2024-12",
                          "--outcomes", "startups_alive_2024", "--out", str(tmp_path / "o"))
    assert expected.replace("RANGES", str(f)) in msg, msg
    assert "baseline.toml" not in msg and "--set" not in msg
    assert not (tmp_path / "o").exists()


def test_ranges_comments_header_and_directory(tmp_path, capsys):
    f = tmp_path / "r.csv"
    f.write_text("# my ranges\nparameter,low,high\nstartups.initial,100,200\n")
    assert [(r.key, r.low, r.high) for r in read_ranges(f)] == [("startups.initial", 100.0, 200.0)]
    msg = _one_error_line(capsys, "sensitivity", "baseline", "--ranges", str(tmp_path), "--out", str(tmp_path / "o"))
    assert f"--ranges {tmp_path}: is a directory; expected a TOML or CSV file" in msg


def test_a_parameter_cannot_be_both_varied_and_set(tmp_path, capsys):
    msg = _one_error_line(capsys, "sweep", "baseline", "--param", "startups.initial=200:2000:2", "--set",
                          "startups.initial=5", "--end", "2024-03", "--out", str(tmp_path / "o"))
    assert "--param startups.initial=200:2000:2: startups.initial is also set with --set" in msg
    f = tmp_path / "r.csv"
    f.write_text("startups.initial,100,200\n")
    msg = _one_error_line(capsys, "sensitivity", "baseline", "--ranges", str(f), "--set", "startups.initial=5",
                          "--end", "2024-12", "--outcomes", "startups_alive_2024", "--out", str(tmp_path / "o"))
    assert f"--ranges {f}: line 1: startups.initial is also set with --set" in msg
    assert not (tmp_path / "o").exists()


def test_a_bad_range_is_named_by_the_override_error_s_key_whatever_its_wording(monkeypatch):
    """The loader's OverrideError carries the overridden key and the problem apart from its message,
    so that check_ranges names the range instead of a --set the user never typed."""
    import scenarios.loader as L
    from sim.sensitivity import check_ranges

    with pytest.raises(L.OverrideError) as e:
        L.load_scenario("baseline", {"startups.initial": -5})
    assert (e.value.key, e.value.problem) == ("startups.initial", "startups.initial: expected a value >= 0 (got -5)")
    assert str(e.value).endswith(": --set startups.initial=-5: startups.initial: expected a value >= 0 (got -5)")

    def reworded(self, where, option, key, problem):
        Exception.__init__(self, f"{problem} (set by {option} over {where})")
        self.key, self.problem = key, problem

    monkeypatch.setattr(L.OverrideError, "__init__", reworded)
    with pytest.raises(EnsembleError) as e:
        check_ranges("baseline", [ParamRange("startups.initial", -5.0, 2.0, where="--ranges r.csv: line 1")])
    assert str(e.value) == "--ranges r.csv: line 1: startups.initial: expected a value >= 0 (got -5)"


# ----------------------------------------------------------------------------------------
# memory
# ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_memory_does_not_grow_with_runs(tmp_path):
    from mesa.agent import Agent

    def plan(n):  # an ensemble extended from 10 to 40 runs computes runs 10..39
        return ensemble_plan("baseline", n, master_seed=1, end="2024-03")

    execute(plan(2), tmp_path, progress=False)  # warm caches and imports
    gc.collect()
    ids = getattr(Agent, "_ids", {})  # Mesa < 3.4's class-level registry of models (none in >= 3.4)
    models_before = len(ids)
    tracemalloc.start()
    try:
        execute(plan(10), tmp_path, progress=False)
        gc.collect()
        after_10 = tracemalloc.get_traced_memory()[0]
        stats = execute(plan(40), tmp_path, progress=False)
        gc.collect()
        after_40 = tracemalloc.get_traced_memory()[0]
        execute(plan(70), tmp_path, progress=False)
        gc.collect()
        after_70 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert stats.computed == 30
    assert len(ids) == models_before  # no finished model is kept alive by Mesa's registry
    # a run's tables are ~100 kB; 30 more runs keep well under one run's worth. A leak grows in
    # both stretches of 30 runs; a dict that holds an entry per live object (the scenario
    # sections' owners, weakref finalizers) may double its table once, in either stretch,
    # depending on how many objects earlier tests in the process keep alive (seen: +144 KiB twice)
    growth = (after_40 - after_10, after_70 - after_40)
    assert min(growth) < 256 * 1024, (after_10, after_40, after_70)


def test_summary_numbers_share_one_format_per_row_and_sweep_points_per_column():
    import re

    from sim.ensemble import format_summary
    from sim.ensemble_cli import _format_points

    s = pd.DataFrame([
        {"outcome": "hhi_revenue", "year": 2035, "median": 943.03, "p5": 612.5, "p95": 1076.0, "n": 10},
        {"outcome": "startups_alive", "year": 2035, "median": 12.0, "p5": 3.0, "p95": 40.0, "n": 10},
        {"outcome": "frontier_train_flop", "year": 2035, "median": 5.5e27, "p5": 9.1e5, "p95": 8e28, "n": 10},
        {"outcome": "meek_gap_loss", "year": 2035, "median": 0.5, "p5": 0.004, "p95": float("nan"), "n": 9},
    ])
    rows = {line.split()[0]: line.split()[2:5] for line in format_summary(s).splitlines()[1:]}
    assert rows["hhi_revenue"] == ["943", "612", "1,076"]  # was 943.03, 612.50, 1,076
    assert rows["startups_alive"] == ["12", "3", "40"]
    assert all(re.fullmatch(r"\d\.?\d*e\+\d\d", c) for c in rows["frontier_train_flop"]), rows
    assert rows["meek_gap_loss"] == ["0.50", "0.00", "nan"]  # was 0.50, 0.004, nan
    points = pd.DataFrame({"point": [0, 1], "replicates": [1, 1], "finance.x": [0.5, 1.0],
                           "hhi_revenue_2030": [999.5, 1234.25]})
    table = _format_points(points, ["finance.x"]).splitlines()
    assert [line.split()[1:] for line in table[2:]] == [["0.50", "1,000"], ["1.00", "1,234"]]  # was 0.50 and 1


# ----------------------------------------------------------------------------------------
# stopping from the caller (the dashboard), and a set-up the model refuses
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_stop_abandons_the_runs_in_flight_and_keeps_those_written(tmp_path, workers):
    """execute's ``stop``: asked between runs and, with a pool, while runs are in flight; the
    runs written stay (and resume), a run in flight is abandoned at once, not awaited."""
    plan = ensemble_plan("baseline", 6, master_seed=5, end="2040-12")
    parts = []
    t_stop = []

    def on_part(result, done):
        parts.append((result.run, done))

    def stop():
        if parts and not t_stop:
            t_stop.append(time.perf_counter())
        return bool(parts)

    stats = execute(plan, tmp_path, workers=workers, progress=False, on_part=on_part, stop=stop)
    waited = time.perf_counter() - t_stop[0]
    assert stats.stopped_early and stats.computed == len(parts) >= 1
    assert [d for _, d in parts] == list(range(1, len(parts) + 1))
    written = sorted(p.name for p in (tmp_path / "runs").glob("part-*.parquet"))
    assert written == [f"part-{r:05d}.parquet" for r, _ in sorted(parts)]
    assert "completed" not in json.loads((tmp_path / "manifest.json").read_text())
    # a full 2024-2040 run takes about a second: stopping did not wait for the one in flight
    assert waited < 0.5 * stats.wall_time_s / max(len(parts), 1) + 0.3, waited
    again = execute(plan, tmp_path, workers=1, progress=False)
    assert (again.skipped, again.computed) == (len(parts), 6 - len(parts))


def test_a_set_up_the_model_refuses_is_one_line_naming_the_run(tmp_path, capsys):
    out = tmp_path / "e"
    rc, _, err = _cli(capsys, "ensemble", "baseline", "--runs", "2", "--workers", "1", "--end", "2024-03",
                      "--set", "grids.us_east.capacity_mw=1", "--out", str(out))
    assert rc == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"frontiersim: error: run 0 (seed {replicate_seeds(0, 2)[0]}): the model cannot start from "
                           "these parameters: grids.us_east.capacity_mw: 1 MW is below the ")
    assert not out.exists()  # nothing was written, so nothing is left
