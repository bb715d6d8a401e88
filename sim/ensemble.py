"""Many runs of one scenario: replicate seeds, parts on disk, resumable, local or Dask.

The pieces are kept apart as in EMA Workbench: a :class:`Plan` says which runs to make (the
scenario, the function to call, each run's seed and parameter overrides); :func:`execute` makes
the missing ones with one of three backends (in-process, a local process pool, a Dask cluster)
and writes each finished run at once as its own Parquet part; :func:`collect_outcomes` and
:func:`summarize` read the parts back. Sweeps and sensitivity analyses build other plans and use
the same executor.

Layout of an output directory::

    DIR/manifest.json          what the runs are (scenario, parameters, master seed, seeds, versions)
    DIR/runs/part-00000.parquet   run 0: its model table with `run` and `seed` columns first; its
                                  scalar outcomes in the file's key-value metadata ('frontiersim')
    DIR/agents/part-00000.parquet run 0's agents table (with --agents)
    DIR/outcomes.csv           one row per run: run, seed, per-run parameters, scalar outcomes
    DIR/summary.csv            median and 5-95% band of the headline outcomes at milestone years

A part is written under a hidden temporary name (``.part-00000.parquet.XXXXXXXX.tmp``, skipped
by Parquet dataset readers) and renamed into place (:func:`sim.paths.write_atomic`), so a killed
ensemble leaves only whole parts; rerunning the same command computes only the missing ones. The
parent process writes every part, so workers need no shared filesystem and memory does not grow
with the number of runs: results are streamed to disk as they finish and at most ``2 x workers``
runs are in flight.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.cli import UserError, plural
from sim.paths import write_atomic
from sim.experiment import HEADLINE_COLUMNS, evaluate, parse_outcome, plain_overrides, plain_value

MANIFEST_FORMAT = 1
PART_RE = re.compile(r"^part-(\d+)\.parquet$")
META_KEY = b"frontiersim"
#: worker processes of the local pool are replaced after this many runs each: a backstop against
#: slow leaks in libraries (the model itself releases everything, see sim.run.run_model)
TASKS_PER_WORKER = 50


class EnsembleError(UserError):
    """A user-facing problem with an ensemble directory, option or design (one line)."""


def replicate_seeds(master_seed: int, n: int) -> list[int]:
    """Integer seeds of ``n`` replicates derived from one master seed.

    Run ``i`` gets ``SeedSequence(master).spawn(n)[i].generate_state(1)[0]``; the first runs'
    seeds do not depend on ``n``, so an ensemble can be extended.
    """
    return [int(c.generate_state(1)[0]) for c in np.random.SeedSequence(master_seed).spawn(n)]


def function_name(fn: Callable) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


# =========================================================================================
# what to run
# =========================================================================================
@dataclass(frozen=True)
class RunSpec:
    """One run: its index, seed and the parameter overrides particular to it."""

    run: int
    seed: int
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """The runs of an ensemble, sweep or sensitivity analysis.

    Attributes:
        kind: 'ensemble', 'sweep' or 'sensitivity' (recorded; a directory holds one kind).
        scenario: what is passed to ``fn`` as its first argument: a resolved Scenario for the
            model, any string for another evaluate-like function.
        scenario_name: the name recorded in the manifest.
        runs: one :class:`RunSpec` per run, ``runs[i].run == i``.
        fn: an evaluate-like callable ``fn(scenario, overrides, seed, end, outcomes) -> dict``,
            picklable by reference (defined at module level).
        base_overrides: overrides common to all runs (recorded; for a string ``scenario`` they
            are passed to ``fn`` merged with each run's own).
        end: passed to ``fn`` (None when already applied to a resolved scenario).
        outcomes: passed to ``fn``; None for its defaults.
        master_seed: the seed the runs' seeds derive from.
        parameters: the resolved scenario parameters (None for another function).
        design: how the runs were chosen (parameter ranges, method, samples); part of the identity.
        extendable: an ensemble of replicates may be rerun with more runs (seeds are stable).
        agents: also write each run's agents table.
        check: check the laws of :mod:`sim.invariants` every month of every run (``fn`` gets
            ``check=True``); the first run that breaks one stops the plan. Not part of the
            identity: a run that keeps the laws is the same checked or not.
    """

    kind: str
    scenario: Any
    scenario_name: str
    runs: list[RunSpec]
    fn: Callable = evaluate
    base_overrides: dict[str, Any] = field(default_factory=dict)
    end: str | None = None
    outcomes: list[str] | None = None
    master_seed: int = 0
    parameters: dict | None = None
    design: dict = field(default_factory=dict)
    extendable: bool = False
    agents: bool = False
    check: bool = False

    @property
    def n(self) -> int:
        return len(self.runs)

    def identity(self) -> dict:
        """What must match for a directory to be resumed."""
        ident = {
            "kind": self.kind, "scenario": self.scenario_name, "function": function_name(self.fn),
            "parameters": self.parameters, "master_seed": self.master_seed, "end": self.end,
            "outcomes": self.outcomes, "agents": self.agents, "design": _jsonable(self.design),
            "model_rules": MODEL_RULES,
        }
        if self.parameters is None:  # otherwise the resolved parameters already say what --set changed
            ident["overrides"] = _jsonable(self.base_overrides)
        if not self.extendable:  # a design: its runs' seeds and parameter values, as a digest
            runs = json.dumps([[r.seed, r.overrides] for r in self.runs], default=_json_default, sort_keys=True)
            ident["runs_sha256"] = hashlib.sha256(runs.encode()).hexdigest()
        return ident


#: the version of the model's rules: raised whenever a change makes a run of the same parameters
#: and seed come out differently, so that an ensemble made under other rules is not resumed with
#: runs of these (2: the power planning, unpaid bills and equity-round fixes of the eleventh
#: performance pass; directories without it were made under rules 1; 3: the fixes of ODD 7.24,
#: which change runs far from the defaults only: the cloud owes electricity it cannot pay, a run
#: with no tokens or, under a compute cap, a worse model is not deployed, the starting models
#: predate the opt-out, and runs go on without labs)
MODEL_RULES = 3


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=_json_default))


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serializable: {type(v).__name__}")


def fn_outcomes(outcomes: list[str] | None, keep_model: bool = True, agents: bool = False) -> list[str] | None:
    """What to ask :func:`~sim.experiment.evaluate` for: the scalar outcomes (all documented ones
    when None) and the tables to store."""
    if outcomes is None and keep_model and not agents:
        return None
    names = list(outcomes) if outcomes is not None else ["scalars"]
    names += [t for t, keep in (("model", keep_model), ("agents", agents)) if keep and t not in names]
    return names


def ensemble_plan(scenario: str, runs: int, master_seed: int = 0, overrides: dict | list | None = None,
                  end: str | None = None, outcomes: list[str] | None = None, agents: bool = False,
                  keep_model: bool = True, fn: Callable = evaluate) -> Plan:
    """Replicates of one scenario: run ``i`` has seed ``replicate_seeds(master_seed, runs)[i]``.

    Args:
        outcomes: scalar outcomes to record (None: every documented one inside the horizon).
        agents: also store each run's agents table; keep_model: store its model table.

    Raises:
        ScenarioError: the scenario or an override is invalid (one line).
    """
    if runs < 1:
        raise EnsembleError(f"--runs {runs}: expected at least 1")
    seeds = replicate_seeds(master_seed, runs)
    specs = [RunSpec(i, s) for i, s in enumerate(seeds)]
    names = fn_outcomes(outcomes, keep_model, agents) if fn is evaluate else outcomes
    return Plan(kind="ensemble", runs=specs, fn=fn, master_seed=master_seed, outcomes=names, agents=agents,
                extendable=True, **scenario_target(scenario, overrides, end, fn))


def scenario_target(scenario: str, overrides: dict | list | None, end: str | None, fn: Callable) -> dict:
    """The Plan fields that say what to run: a resolved scenario for the model, the bare name for
    another function (which gets the overrides and ``end`` itself)."""
    from sim.run import _pairs, resolve_scenario

    base = plain_overrides(dict(_pairs(overrides)))
    if fn is not evaluate:
        return {"scenario": scenario, "scenario_name": str(scenario), "base_overrides": base, "end": end}
    sc, _ = resolve_scenario(scenario, base, end=end)
    return {"scenario": sc, "scenario_name": sc.name, "base_overrides": base, "end": None,
            "parameters": sc.model_dump(mode="json")}


# =========================================================================================
# one run (in a worker)
# =========================================================================================
@dataclass(frozen=True)
class Task:
    fn: Callable
    scenario: Any
    overrides: dict
    seed: int
    end: str | None
    outcomes: list[str] | None
    run: int
    run_overrides: dict
    agents: bool
    check: bool = False


@dataclass
class TaskResult:
    run: int
    seed: int
    part: bytes
    agents_part: bytes | None
    wall_time_s: float


def _task(plan: Plan, spec: RunSpec) -> Task:
    overrides = dict(spec.overrides) if not isinstance(plan.scenario, str) else {**plan.base_overrides, **spec.overrides}
    return Task(plan.fn, plan.scenario, overrides, spec.seed, plan.end, plan.outcomes, spec.run, dict(spec.overrides),
                plan.agents, plan.check)


def run_task(t: Task) -> TaskResult:
    """Call the function and serialize its result to Parquet bytes (so the parent only writes)."""
    from sim.errors import InvariantError, PopulationError
    from sim.model import SetupError

    t0 = time.perf_counter()
    try:
        res = t.fn(t.scenario, t.overrides, t.seed, t.end, t.outcomes, **({"check": True} if t.check else {}))
    except (PopulationError, InvariantError, SetupError) as e:  # (which run: the finished ones stay written)
        which = f"run {t.run} (seed {t.seed}{', ' if t.run_overrides else ''}" + \
            f"{', '.join(f'{k}={v}' for k, v in t.run_overrides.items())})"
        if isinstance(e, InvariantError):
            raise InvariantError(f"{which}: {e.month}", e.problems) from None
        if isinstance(e, SetupError):  # the model refuses the run's parameters (one line, as for a run)
            raise UserError(f"{which}: the model cannot start from these parameters: {e}") from None
        raise PopulationError(f"{which}: {e}") from None
    scalars = {k: v for k, v in res.items() if not isinstance(v, (pd.DataFrame, np.ndarray))}
    scalars = {k: plain_value(v) for k, v in scalars.items()}
    lead = {"run": t.run, "seed": t.seed, **t.run_overrides}
    if isinstance(res.get("model"), pd.DataFrame):
        table = _with_lead(res["model"], lead)
    else:  # a function without a model table: one row of its scalars
        table = {**lead, **scalars}
    wall = time.perf_counter() - t0
    meta = {"run": t.run, "seed": t.seed, "overrides": t.run_overrides, "outcomes": scalars, "wall_time_s": round(wall, 4)}
    agents = None
    if t.agents and isinstance(res.get("agents"), pd.DataFrame):
        from sim.run import _clean_for_parquet

        agents = _parquet_bytes(_with_lead(_clean_for_parquet(res["agents"]), lead), meta)
    return TaskResult(t.run, t.seed, _parquet_bytes(table, meta), agents, wall)


def _with_lead(df: pd.DataFrame, lead: dict) -> pd.DataFrame:
    df = df.copy()
    for i, (k, v) in enumerate(lead.items()):
        df.insert(i, k, np.int64(v) if k in ("run", "seed") else v)
    return df


def _parquet_bytes(df: pd.DataFrame | dict, meta: dict) -> bytes:
    """A table (or one row given as a dict, built without pandas: cheap functions make many) as
    Parquet bytes, with ``meta`` in the file's key-value metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(df, dict):
        table = pa.Table.from_pylist([df])
    else:
        table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(meta, default=_json_default).encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def read_part_meta(path: str | Path) -> dict:
    """The run, seed, overrides and scalar outcomes stored in a part's metadata."""
    import pyarrow.parquet as pq

    return json.loads(pq.read_schema(path).metadata[META_KEY])


# =========================================================================================
# backends: each yields TaskResults as runs finish
# =========================================================================================
class _Stopped(Exception):
    """The caller of :func:`execute` asked to stop (its ``stop`` returned True)."""


def _inprocess(tasks: Iterator[Task], stop: Callable[[], bool] | None = None) -> Iterator[TaskResult]:
    for t in tasks:
        if stop is not None and stop():
            raise _Stopped
        yield run_task(t)


def _worker_init(main_pid: int) -> None:
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle

    def watch() -> None:
        # a killed ensemble must not leave workers behind: a worker's parent is the forkserver,
        # which the workers themselves keep alive, so watch the process that made the pool
        while True:
            time.sleep(1.0)
            try:
                os.kill(main_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch, daemon=True, name="frontiersim-orphan-watch").start()


def _pool(tasks: Iterator[Task], workers: int, tasks_per_worker: int = TASKS_PER_WORKER,
          stream=None, stop: Callable[[], bool] | None = None) -> Iterator[TaskResult]:
    """A local process pool, its processes replaced every ``workers x tasks_per_worker`` runs.

    ``stop`` is asked about four times a second while runs are in flight; once it says True, the
    runs in flight are abandoned (their workers finish them in the background, unwritten, and
    exit) and :class:`_Stopped` is raised.

    The pool is recycled by hand rather than with ``max_tasks_per_child``, which deadlocks on
    Python 3.11-3.12 (CPython issue 115634). Where worker processes cannot be started at all (an
    ``OSError``: a sandbox without fork, Unix sockets or shared-memory semaphores), it says so in
    one line on ``stream`` (stderr) and makes the remaining runs in this process, which gives the
    same outputs.
    """
    from sim.pool_server import context

    ctx = context()  # forkserver with the model preloaded (see sim.pool_server)
    pending: dict = {}  # future -> its task
    pool: ProcessPoolExecutor | None = None
    budget = 0
    exhausted = False
    clean = interrupted = False
    here: list[Task] | None = None  # tasks for this process once the pool could not start

    def cannot_start(e: OSError) -> list[Task]:
        print(f"frontiersim: cannot start worker processes ({type(e).__name__}: {e}); making the runs in "
              "this process", file=sys.stderr if stream is None else stream, flush=True)
        return []

    try:
        while True:
            if pool is None and not exhausted and here is None:
                try:
                    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                               initargs=(os.getpid(),))
                except OSError as e:
                    here = cannot_start(e)
                budget = workers * tasks_per_worker
            while pool is not None and here is None and not exhausted and budget > 0 and len(pending) < 2 * workers:
                t = next(tasks, None)
                if t is None:
                    exhausted = True
                    break
                try:
                    pending[pool.submit(run_task, t)] = t  # (submitting starts a worker when one is missing)
                except OSError as e:
                    here = cannot_start(e) + [t]
                    break
                budget -= 1
            if not pending:
                if pool is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = None
                if exhausted or here is not None:
                    break
                continue
            done, _ = wait(pending, timeout=None if stop is None else 0.25, return_when=FIRST_COMPLETED)
            if not done:  # (the wait timed out: runs that finish are written; the caller asks again after each)
                if stop is not None and stop():
                    raise _Stopped
                continue
            finished = []
            for f in done:
                t = pending.pop(f)
                try:
                    finished.append(f.result())
                except BrokenProcessPool:
                    if here is not None:  # the pool never fully started: this run too is made here
                        here.append(t)
                        continue
                    raise EnsembleError("a worker process died or could not start (killed, out of memory, or, from "
                                        "Python, a script that starts the pool outside an 'if __name__ == \"__main__\":' "
                                        "guard or that was read from stdin); finished runs are kept; expected to rerun "
                                        "the same command to resume, with --workers 1 if it happens again") from None
            yield from sorted(finished, key=lambda r: r.run)
            if pool is not None and (budget == 0 or exhausted) and not pending:
                pool.shutdown(wait=True)
                pool = None
        clean = True
    except GeneratorExit:
        clean = True  # the consumer stopped early (stop_after): let running tasks finish
        raise
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if pool is not None:
            for f in pending:
                f.cancel()
            if interrupted:  # Ctrl-C: do not wait for runs nobody will write
                for p in list((getattr(pool, "_processes", None) or {}).values()):
                    p.terminate()
            # After an error or a stop (_Stopped) the call returns at once and the runs in flight
            # end in the background, unwritten. Their workers are not killed: one killed while it
            # sends a result can leave the pool's result pipe half-read, and the pool's manager
            # thread, which the interpreter joins at exit, waiting for the rest forever.
            pool.shutdown(wait=clean, cancel_futures=True)
    if here is not None:
        yield from _inprocess(itertools.chain(sorted(here, key=lambda t: t.run), tasks), stop)


class _Dask:
    """A Dask cluster: ``address`` of a running scheduler, or 'local' for a LocalCluster of
    ``workers`` single-threaded processes. Connects at once, so a missing Dask or a wrong
    address is reported before any run."""

    def __init__(self, address: str, workers: int):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise EnsembleError("--scheduler needs dask.distributed, which is not installed; "
                                "expected pip install 'frontiersim[dask]'") from None
        import logging

        self.cluster = None
        try:
            if address == "local":
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
            else:
                self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError, ValueError) as e:
            self.close()
            what = "not an address" if isinstance(e, ValueError) else "cannot connect"
            raise EnsembleError(f"--scheduler {address}: {what} ({e}); expected the address of a running "
                                "Dask scheduler (e.g. tcp://host:8786) or 'local'") from None

    def results(self, tasks: Iterator[Task]) -> Iterator[TaskResult]:
        from dask.distributed import as_completed

        window = max(2 * sum(self.client.nthreads().values()), 2)
        ac = as_completed()
        live = 0
        try:
            for t in tasks:
                ac.add(self.client.submit(run_task, t, pure=False))
                live += 1
                if live >= window:
                    f = next(ac)
                    live -= 1
                    yield f.result()
                    f.release()
            for f in ac:
                yield f.result()
                f.release()
        finally:
            for f in list(ac.futures):
                f.cancel()

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


# =========================================================================================
# the executor
# =========================================================================================
@dataclass
class ExecStats:
    out: Path
    n: int
    computed: int
    skipped: int
    wall_time_s: float
    stopped_early: bool = False


def execute(plan: Plan, out: str | Path, workers: int = 1, scheduler: str | None = None, progress: bool = True,
            stop_after: int | None = None, stream=None, tasks_per_worker: int = TASKS_PER_WORKER,
            on_start: Callable[[], None] | None = None, on_part: Callable[[TaskResult, int], None] | None = None,
            stop: Callable[[], bool] | None = None) -> ExecStats:
    """Make the plan's missing runs and write each as a Parquet part in ``out/runs``.

    Args:
        plan: the runs.
        out: the output directory; created, or resumed when it holds the same plan.
        workers: 1 runs in this process; more use a pool of that many processes (or, with
            ``scheduler='local'``, a Dask LocalCluster of that many workers).
        scheduler: None for the local backends, 'local' or a Dask scheduler address.
        progress: print a progress line on ``stream`` (stderr).
        stop_after: stop after writing this many parts (to test resuming).
        tasks_per_worker: runs per pool process before it is replaced.
        on_start: called once ``out`` is checked and the backend is ready, before the first run.
        on_part: called after each run's part is written, with its result and the number of
            runs in ``out`` now (those from before included).
        stop: asked between runs (and, with a local pool, about four times a second while runs
            are in flight); once it says True, runs not yet written are abandoned and the call
            returns with ``stopped_early``. Finished runs stay written, as after ``stop_after``
            (not with a Dask scheduler, which does not ask).

    An error before any run is written (a directory in use or holding other runs, a scheduler
    that cannot be reached, Ctrl-C) removes what this call created (``out`` itself when it made
    it, or the lock, manifest and folders it added); finished runs are never removed.

    Raises:
        EnsembleError: ``out`` holds different runs, is in use by another process or cannot be
            written, or the scheduler cannot be reached.
    """
    from sim.paths import dir_path_problem

    stream = sys.stderr if stream is None else stream
    problem = dir_path_problem(out)  # (of the path as given: as a Path, '' would be the current directory)
    if problem:
        raise EnsembleError(f"--out {out or repr(out)}: {problem}")
    out = Path(out)
    t0 = time.perf_counter()
    new = [p for p in (out / ".lock", out / "manifest.json", out / "agents", out / "runs", out, *out.absolute().parents)
           if not p.exists()]
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
        if plan.agents:
            (out / "agents").mkdir(exist_ok=True)
        return _execute(plan, out, workers, scheduler, progress, stop_after, stream, tasks_per_worker, on_start, t0,
                        on_part, stop)
    except BaseException as e:
        if not any(PART_RE.match(p.name) for p in _listdir(out / "runs")):
            _remove_created(new)
        if isinstance(e, OSError) and not (out / "runs").is_dir():
            raise EnsembleError(f"--out {out}: cannot create it ({e.strerror or e}); expected a writable "
                                "directory") from None
        raise


def _listdir(d: Path) -> list[Path]:
    try:
        return list(d.iterdir())
    except OSError:
        return []


def _remove_created(paths: list[Path]) -> None:
    """Remove files and folders an execute call created (in order: contents before folders)."""
    import shutil

    for p in paths:
        try:
            if p.is_dir() and not p.is_symlink():
                if p.name in ("runs", "agents"):
                    shutil.rmtree(p)
                else:
                    p.rmdir()  # out and its parents: empty once their contents are gone
            elif p.exists():
                p.unlink()
        except OSError:
            return


def _execute(plan: Plan, out: Path, workers: int, scheduler: str | None, progress: bool, stop_after: int | None,
             stream, tasks_per_worker: int, on_start: Callable[[], None] | None, t0: float,
             on_part: Callable[[TaskResult, int], None] | None = None,
             stop: Callable[[], bool] | None = None) -> ExecStats:
    with _Lock(out):
        _check_or_write_manifest(plan, out)
        _remove_stray_temporaries(out)
        done = _finished_runs(plan, out)
        todo = [s for s in plan.runs if s.run not in done]
        tasks = (_task(plan, s) for s in todo)
        dask = _Dask(scheduler, workers) if scheduler and todo else None
        if on_start is not None:
            on_start()
        prog = Progress(f"{plan.kind} {plan.scenario_name}", plan.n, len(done), stream, enabled=progress)
        if dask is not None:
            results = dask.results(tasks)
        elif workers <= 1 or len(todo) <= 1:
            results = _inprocess(tasks, stop)
        else:
            results = _pool(tasks, min(workers, len(todo)), tasks_per_worker, stream, stop)
        computed = 0
        stopped = False
        try:
            for r in results:
                if r.agents_part is not None:
                    write_atomic(out / "agents" / f"part-{r.run:05d}.parquet", r.agents_part)
                write_atomic(out / "runs" / f"part-{r.run:05d}.parquet", r.part)
                computed += 1
                prog.update(len(done) + computed)
                if on_part is not None:
                    on_part(r, len(done) + computed)
                if stop_after is not None and computed >= stop_after and computed < len(todo):
                    stopped = True  # (runs in flight finish; they are not written)
                    break
                if stop is not None and computed < len(todo) and stop():
                    stopped = True
                    try:  # runs in flight are abandoned: the call returns without waiting for them
                        results.throw(_Stopped())
                    except (_Stopped, StopIteration):
                        pass
                    break
        except _Stopped:
            stopped = True
        finally:
            results.close()
            if dask is not None:
                dask.close()
            prog.close()
        if not stopped:
            _write_json_atomic(out / "manifest.json", {**json.loads((out / "manifest.json").read_text()),
                                                       "completed": _now(), "n_runs": plan.n})
    return ExecStats(out, plan.n, computed, len(done), time.perf_counter() - t0, stopped)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_json_atomic(path: Path, obj: dict) -> None:
    write_atomic(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _remove_stray_temporaries(out: Path) -> None:
    """Temporary parts left by a killed process (we hold the directory's lock, so none is live)."""
    for sub in ("runs", "agents"):
        d = out / sub
        if d.is_dir():
            for p in d.iterdir():
                if p.name.startswith(".part-") and ".tmp" in p.name:
                    p.unlink(missing_ok=True)


def _finished_runs(plan: Plan, out: Path) -> set[int]:
    """Runs whose part exists, is readable and holds that run's seed (others are recomputed)."""
    done: set[int] = set()
    for p in (out / "runs").iterdir():
        m = PART_RE.match(p.name)
        if not m or int(m[1]) >= plan.n:
            continue
        i = int(m[1])
        try:
            meta = read_part_meta(p)
        except Exception:  # an unreadable part (not written by this module): compute it again
            p.unlink(missing_ok=True)
            continue
        if meta.get("seed") != plan.runs[i].seed:
            p.unlink(missing_ok=True)
            continue
        if plan.agents and not (out / "agents" / p.name).exists():
            continue
        done.add(i)
    return done


class _Lock:
    """One process per output directory (an advisory lock on DIR/.lock)."""

    def __init__(self, out: Path):
        self.path = out / ".lock"
        self.fh = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # not on POSIX: no lock
            return self
        self.fh = open(self.path, "a+")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.close()
            self.fh = None
            raise EnsembleError(f"--out {self.path.parent}: in use by another frontiersim process; "
                                "expected one process per output directory") from None
        return self

    def __exit__(self, *exc):
        if self.fh is not None:
            self.fh.close()  # closing releases the lock


# =========================================================================================
# the manifest and resuming
# =========================================================================================
def _check_or_write_manifest(plan: Plan, out: Path) -> None:
    from sim.run import versions

    path = out / "manifest.json"
    ident = _jsonable(plan.identity())
    if path.exists():
        try:
            old = json.loads(path.read_text())
            old_ident = old["identity"]
        except (ValueError, KeyError):
            raise EnsembleError(f"{path}: not an ensemble manifest; expected a directory written by "
                                "'frontiersim ensemble/sweep/sensitivity' or a new --out") from None
        diff = _first_difference(old_ident, ident)
        if diff:
            kind = old_ident.get("kind", "")
            raise EnsembleError(f"--out {out}: holds {'an' if kind[:1] in 'aeiou' else 'a'} {kind} of {old_ident.get('scenario')!r} "
                                f"(master seed {old_ident.get('master_seed')}) that differs from this one: {diff}; "
                                "expected the same scenario, parameters and seed to resume, or another --out")
        if old.get("n_runs", 0) > plan.n:
            raise EnsembleError(f"--out {out}: holds {old['n_runs']} runs; expected --runs {old['n_runs']} "
                                f"or more to resume it (or another --out)")
        v_old, v_new = old.get("versions", {}), versions()
        changed = [k for k in ("frontiersim", "mesa", "numpy") if v_old.get(k) != v_new.get(k)]
        if changed:
            print(f"frontiersim: warning: {out} was started with other versions of {', '.join(changed)}; "
                  "finished runs are kept as they are", file=sys.stderr)
        if old.get("n_runs") == plan.n:
            return
        created = old.get("created")
    else:
        created = _now()
    manifest = {
        "format": MANIFEST_FORMAT,
        "kind": plan.kind,
        "scenario": plan.scenario_name,
        "function": function_name(plan.fn),
        "master_seed": plan.master_seed,
        "n_runs": plan.n,
        "seeds": [r.seed for r in plan.runs],
        "overrides": plan.base_overrides,
        "end": plan.end if plan.parameters is None else plan.parameters.get("end"),
        "outcomes": plan.outcomes,
        "design": plan.design,
        "parameters": plan.parameters,
        "versions": versions(),
        "created": created,
        "tables": ["runs/part-NNNNN.parquet"] + (["agents/part-NNNNN.parquet"] if plan.agents else []),
        "identity": ident,
    }
    _write_json_atomic(path, manifest)


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The first place two JSON values differ, phrased for a user."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{k}" if path else k
            if k not in a or k not in b:
                return f"{_describe(sub)} is {'missing' if k not in a else _short(a[k])} there, " \
                       f"{'missing' if k not in b else _short(b[k])} here"
            d = _first_difference(a[k], b[k], sub)
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{_describe(path)} has {len(a)} entries there, {len(b)} here"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{path}.{i}")
            if d:
                return d
        return None
    if a != b:
        return f"{_describe(path)} is {_short(a)} there, {_short(b)} here"
    return None


def _describe(path: str) -> str:
    if path.startswith("parameters."):
        return f"parameter {path.removeprefix('parameters.')}"
    if path == "runs_sha256":
        return "the design (the runs' parameter values and seeds)"
    return {"master_seed": "the master seed", "scenario": "the scenario", "overrides": "--set",
            "model_rules": "the version of the model's rules (runs of different versions differ)"}.get(path, path)


def _short(v: Any) -> str:
    s = json.dumps(v, default=str)
    return s if len(s) <= 60 else s[:57] + "..."


# =========================================================================================
# progress
# =========================================================================================
class Progress:
    """``label: done/N runs, rate, ETA`` on stderr: rewritten in place on a terminal, plain lines
    (at most every 5% of the runs or 10 s) otherwise."""

    def __init__(self, label: str, total: int, already: int, stream, enabled: bool = True):
        self.label, self.total, self.already, self.stream, self.enabled = label, total, already, stream, enabled
        self.t0 = time.perf_counter()
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.last_t = self.t0
        self.last_done = already
        self.step = max(1, total // 20)
        self.text = ""
        if enabled and already:
            self._emit(already, force=True)

    def line(self, done: int) -> str:
        el = time.perf_counter() - self.t0
        new = done - self.already
        rate = new / el if el > 0 and new > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else math.nan
        prev = f" ({self.already} from before)" if self.already else ""
        if new <= 0:
            return f"{self.label}: {done}/{self.total} runs{prev}"
        return (f"{self.label}: {done}/{self.total} runs{prev}, {rate:.2f} runs/s, "
                f"elapsed {_dur(el)}, ETA {_dur(eta) if done < self.total else '0s'}")

    def update(self, done: int) -> None:
        if self.enabled:
            self._emit(done)

    def _emit(self, done: int, force: bool = False) -> None:
        now = time.perf_counter()
        if self.tty:
            self.text = self.line(done)
            self.stream.write("\r" + self.text + "\x1b[K")
            self.stream.flush()
            return
        if force or done >= self.total or done - self.last_done >= self.step or now - self.last_t >= 10:
            self.stream.write(self.line(done) + "\n")
            self.stream.flush()
            self.last_t, self.last_done = now, done

    def close(self) -> None:
        if self.tty and self.text:
            self.stream.write("\n")
            self.stream.flush()


def _dur(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


# =========================================================================================
# reading results back
# =========================================================================================
def part_paths(out: str | Path, n: int | None = None) -> list[Path]:
    """The finished parts in run order (the first ``n`` runs when given)."""
    d = Path(out) / "runs"
    parts = sorted((int(m[1]), p) for p in d.iterdir() if (m := PART_RE.match(p.name)))
    return [p for i, p in parts if n is None or i < n]


def write_summaries(out: str | Path, n: int | None = None) -> pd.DataFrame:
    """Write ``outcomes.csv`` (:func:`collect_outcomes`) and ``summary.csv`` (:func:`summarize`)
    of the ensemble in ``out``, as ``frontiersim ensemble`` does after its runs; returns the summary."""
    out = Path(out)
    outcomes = collect_outcomes(out, n)
    outcomes.to_csv(out / "outcomes.csv", index=False)
    summary = summarize(outcomes)
    summary.to_csv(out / "summary.csv", index=False)
    return summary


def collect_outcomes(out: str | Path, n: int | None = None) -> pd.DataFrame:
    """One row per run: ``run``, ``seed``, the run's own parameters and its scalar outcomes.

    Reads only the parts' metadata, so it is fast and small whatever the size of the tables.
    """
    rows = []
    for p in part_paths(out, n):
        meta = read_part_meta(p)
        rows.append({"run": meta["run"], "seed": meta["seed"], **meta.get("overrides", {}), **meta.get("outcomes", {})})
    return pd.DataFrame(rows)


def read_tables(out: str | Path, n: int | None = None, table: str = "runs") -> pd.DataFrame:
    """All parts of ``table`` ('runs' or 'agents') concatenated (for small ensembles and tests)."""
    d = Path(out) / table
    parts = sorted((int(m[1]), p) for p in d.iterdir() if (m := PART_RE.match(p.name)))
    return pd.concat([pd.read_parquet(p) for i, p in parts if n is None or i < n], ignore_index=True)


def summarize(outcomes: pd.DataFrame, columns: tuple[str, ...] = HEADLINE_COLUMNS) -> pd.DataFrame:
    """Median and 5-95% band across runs of the headline outcomes at each milestone year, and how
    precisely the runs pin the median down.

    Returns:
        A long table: outcome (column), year, n (runs with a value), median, p5, p95, mean, and
        median_low, median_high: the distribution-free 95% confidence interval of the median
        (:func:`analysis.stats.median_interval`; NaN with fewer than 6 runs).
    """
    from analysis.stats import median_interval

    rows = []
    names = [c for c in outcomes.columns if parse_outcome(c)[1] is not None]
    for col in columns:
        for name in names:
            c, year = parse_outcome(name)
            if c != col:
                continue
            v = pd.to_numeric(outcomes[name], errors="coerce").to_numpy(dtype=float)
            ok = v[np.isfinite(v)]
            q = np.percentile(ok, [50, 5, 95]) if ok.size else [math.nan] * 3
            lo, hi, _ = median_interval(ok)
            rows.append({"outcome": col, "year": year, "n": int(ok.size), "median": q[0], "p5": q[1], "p95": q[2],
                         "mean": float(ok.mean()) if ok.size else math.nan, "median_low": lo, "median_high": hi})
    return pd.DataFrame(rows, columns=["outcome", "year", "n", "median", "p5", "p95", "mean", "median_low", "median_high"])


def format_summary(summary: pd.DataFrame, runs: int | None = None) -> str:
    """The summary as a text table; the median, p5 and p95 of a row share one number format, and
    the 95% confidence interval of the median (when the summary has it, from 6 runs) another.
    ``runs``: the ensemble's number of runs; a note then names the rows over fewer (an outcome
    NaN or infinite in the others)."""
    ci = "median_low" in summary.columns and bool(np.isfinite(summary["median_low"].to_numpy(dtype=float)).any())
    lines = [f"{'outcome':<26} {'year':>4} {'median':>11} {'p5':>11} {'p95':>11} {'runs':>5}"
             + (f"  {'95% CI of the median':>25}" if ci else "")]
    for r in summary.itertuples():
        f = number_format([r.median, r.p5, r.p95])
        line = f"{r.outcome:<26} {r.year:>4} {f(r.median):>11} {f(r.p5):>11} {f(r.p95):>11} {r.n:>5}"
        if ci:
            g = number_format([r.median_low, r.median_high])
            line += f"  {f'[{g(r.median_low)}, {g(r.median_high)}]':>25}" if np.isfinite(r.median_low) else f"  {'-':>25}"
        lines.append(line)
    if "median_low" in summary.columns and not ci and len(summary):
        lines.append("(a 95% confidence interval of the median needs 6 runs or more)")
    short = summary[summary["n"] < runs] if runs is not None else summary.iloc[:0]
    if len(short):
        rows = ", ".join(f"{r.outcome} {r.year}" for r in short.head(3).itertuples()) + (", ..." if len(short) > 3 else "")
        lines.append(f"note: {plural(len(short), 'row')} of the table ({rows}) {'counts' if len(short) == 1 else 'count'} "
                     f"fewer than the ensemble's {runs} runs: the outcome is NaN or infinite in the others (outcomes.csv "
                     "has every run's value)")
    return "\n".join(lines)


def number_format(values) -> Callable[[float], str]:
    """One format for a group of numbers shown side by side (a row or a column), chosen by
    :func:`_num` for the largest finite magnitude among them: whole numbers with thousands
    separators, 2 decimals, or 3 significant digits (1.08e+06)."""
    xs = [float(x) for x in values if math.isfinite(float(x))]
    if not xs:
        return _num
    big = max(abs(x) for x in xs)
    if all(x.is_integer() for x in xs) and big < 1e6:
        return lambda x: _num(x) if not math.isfinite(x) else f"{int(x):,}"
    if big >= 1e6 or 0 < big < 1e-2:
        return lambda x: _num(x) if not math.isfinite(x) else f"{x:.3g}"
    if big >= 1000:
        return lambda x: _num(x) if not math.isfinite(x) else f"{x:,.0f}"
    return lambda x: _num(x) if not math.isfinite(x) else f"{x:,.2f}"


def _num(x: float) -> str:
    if not math.isfinite(x):
        return "nan"
    if float(x).is_integer() and abs(x) < 1e6:
        return f"{int(x):,}"
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-2):
        return f"{x:.3g}"
    return f"{x:,.2f}" if abs(x) < 1000 else f"{x:,.0f}"

