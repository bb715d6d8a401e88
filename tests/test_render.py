"""Drawing jobs in a pool of processes (analysis.render): the order and values of the results, the
shared data, errors, and the fall-backs to the caller's own process."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from analysis import render
from analysis.render import Jobs, run_jobs
from sim.cli import UserError


def _where(shared, tag):
    """A job: its tag, the sum of the shared data, and the process it ran in."""
    return tag, float(np.sum(shared)), os.getpid()


def _fail(shared, message):
    raise UserError(message)


def _die_in_a_worker(shared, tag):
    """A job that kills the worker running it (as the kernel's OOM killer would); in the caller's
    own process it returns like :func:`_where`."""
    if multiprocessing.parent_process() is not None:
        os._exit(3)
    return _where(shared, tag)


SHARED = np.arange(10.0)


def test_results_come_in_the_order_of_the_jobs_whatever_their_weights():
    jobs = [(_where, (t,), w) for t, w in (("a", 1.0), ("b", 5.0), ("c", 1.0), ("d", 3.0), ("e", 0.5))]
    out = run_jobs(jobs, SHARED, workers=2)
    assert [o[0] for o in out] == ["a", "b", "c", "d", "e"]
    assert all(o[1] == 45.0 for o in out)  # every worker got the shared data
    assert all(o[2] != os.getpid() for o in out)  # drawn in the pool, not here
    # one worker, or a single job: in this process, same values
    here = run_jobs(jobs, SHARED, workers=1)
    assert [o[:2] for o in here] == [o[:2] for o in out]
    assert {o[2] for o in here} == {os.getpid()}
    assert run_jobs(jobs[:1], SHARED, workers=4)[0][2] == os.getpid()


def test_the_caller_works_while_the_jobs_run_and_gets_the_results_after():
    with Jobs([(_where, (i,), 1.0) for i in range(3)], SHARED, workers=2) as pending:
        mine = sum(range(1000))
        out = pending.results()
    assert mine == 499500
    assert [o[0] for o in out] == [0, 1, 2]


def test_a_jobs_error_reaches_the_caller_with_its_class_and_message():
    jobs = [(_where, ("ok",), 1.0), (_fail, ("plot.png: bad column; expected a number",), 1.0)]
    for workers in (1, 2):
        with pytest.raises(UserError, match="plot.png: bad column; expected a number"):
            run_jobs(jobs, SHARED, workers=workers)


def test_when_a_worker_dies_the_jobs_run_again_in_this_process():
    out = run_jobs([(_where, ("a",), 1.0), (_die_in_a_worker, ("b",), 2.0)], SHARED, workers=2)
    assert [o[:2] for o in out] == [("a", 45.0), ("b", 45.0)]
    assert {o[2] for o in out} == {os.getpid()}


def test_where_processes_cannot_start_the_jobs_run_here(monkeypatch):
    class NoProcesses:
        def __init__(self, *a, **k):
            pass

        def submit(self, *a, **k):
            raise PermissionError("socket: operation not permitted")

        def shutdown(self, *a, **k):
            pass

    monkeypatch.setattr(render, "ProcessPoolExecutor", NoProcesses)
    out = run_jobs([(_where, (t,), 1.0) for t in "ab"], SHARED, workers=2)
    assert out == [("a", 45.0, os.getpid()), ("b", 45.0, os.getpid())]


def test_large_shared_data_is_not_copied_to_workers(monkeypatch):
    monkeypatch.setattr(render, "MAX_SHARED_BYTES", SHARED.nbytes - 1)
    out = run_jobs([(_where, (t,), 1.0) for t in "abc"], SHARED, workers=2)
    assert {o[2] for o in out} == {os.getpid()}
    # a dict of frames counts all of them
    import pandas as pd

    frames = {"a": pd.DataFrame({"x": SHARED}), "b": pd.DataFrame({"x": SHARED})}
    assert render._nbytes(frames) == 2 * render._nbytes(frames["a"]) > 2 * SHARED.nbytes


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_the_command_line_refuses_a_worker_count_below_one(capsys, tmp_path, workers):
    """report and compare say it as every command with --workers does (ensemble, validate...)."""
    from sim.cli import main

    for command in (["report", str(tmp_path)], ["compare", str(tmp_path), str(tmp_path)],
                    ["ensemble", "baseline", "--runs", "2", "--out", str(tmp_path / "e")]):
        assert main(command + ["--workers", workers]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"frontiersim: error: --workers {workers}: expected at least 1"]
    assert list(tmp_path.iterdir()) == []


SAME_CODE_SCRIPT = """
import json, os, sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {mine!r})  # this process's copy of the module, first on its path
os.chdir({other!r})  # the server starts in a directory that holds another copy
from concurrent.futures import ProcessPoolExecutor
from sim.pool_server import forkserver_context
import probe_copy
with ProcessPoolExecutor(1, mp_context=forkserver_context(["probe_copy"])) as ex:
    print(json.dumps(ex.submit(probe_copy.where).result()))
"""

PROBE = """
import os
COPY = {copy!r}
IMPORTED_IN = os.getpid()
def where():
    return [COPY, IMPORTED_IN != os.getpid()]
"""


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(), reason="workers are spawned afresh")
def test_workers_run_the_code_of_the_process_that_made_the_pool(tmp_path):
    # Python 3.11's forkserver ignored the caller's sys.path (CPython issue 117378): started from
    # another directory, it preloaded the copy of a module found there or in the editable install,
    # so a git worktree's report drew some figures with its own code and some with the main
    # checkout's (a changed label showed up in one process's PNG only). In a process of its own:
    # Python has one forkserver per process.
    import json
    import subprocess
    import sys
    from pathlib import Path

    for copy in ("mine", "other"):
        (tmp_path / copy).mkdir()
        (tmp_path / copy / "probe_copy.py").write_text(PROBE.format(copy=copy))
    root = str(Path(__file__).resolve().parents[1])
    code = SAME_CODE_SCRIPT.format(root=root, mine=str(tmp_path / "mine"), other=str(tmp_path / "other"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    copy, preloaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert copy == "mine"  # not the copy in the directory the server started in
    assert preloaded  # imported once by the server, not again by the worker
