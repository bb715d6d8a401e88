"""Drawing a report's figures side by side on several CPUs.

Drawing is most of what a report costs: about 0.7 s for a two-panel figure and 2.5 s for the
nine panels of the resources figure on this project's 2-core reference machine, against about
1 s for everything else (imports, reading the run, tables). The figures do not depend on each
other, so :func:`run_jobs` draws them in a small pool of processes, each job returning the
figure's PNG bytes, and the report places them in its own order. The bytes are those the same
figure gives when drawn in the report's own process (same matplotlib, same fonts, a fresh
figure each time; ``tests/test_report.py`` checks it).

The pool's processes fork from a 'forkserver' that has imported matplotlib, pandas and the
plotting code once (:data:`PRELOAD`), so a worker starts in milliseconds. ``frontiersim report``
and ``compare`` start that server first (:func:`start_early`), so it imports while the command
imports pandas and reads the run. Every worker gets the data all jobs read (``shared``, the
model table) once, when it starts.

This module imports only the standard library and :mod:`sim.pool_server` (which holds the
forkserver mechanism ensembles use too), so the command line can use it before anything heavy.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Sequence

from sim.pool_server import forkserver_context, start_forkserver

#: what a drawing worker needs, imported once by the server the workers fork from
PRELOAD = ["analysis.report", "analysis.plots", "matplotlib.figure", "matplotlib.backends.backend_agg",
           "matplotlib.dates", "networkx"]

#: above this much shared data (bytes), :func:`run_jobs` draws in its own process: every worker
#: would hold a copy, and sending it would cost more than the drawing saves
MAX_SHARED_BYTES = 256 * 2**20

_shared: Any = None  # in a worker: the data every job reads (set once by _init)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    """The CPUs, where workers can fork from a server that has imported matplotlib; 1 elsewhere
    (a worker started with 'spawn' imports everything itself, about as long as drawing a figure)."""
    return available_cpus() if "forkserver" in multiprocessing.get_all_start_methods() else 1


def context():
    """'forkserver' with :data:`PRELOAD`; 'spawn' where there is no forkserver (see
    :func:`sim.pool_server.forkserver_context`: in a Python session that already started the
    forkserver for an ensemble, drawing workers import matplotlib on their first job)."""
    return forkserver_context(PRELOAD)


def start_early() -> bool:
    """Start the forkserver now, so that it imports :data:`PRELOAD` while the caller goes on;
    False where there is none, or where it cannot start (then the jobs run in-process)."""
    try:
        return start_forkserver(PRELOAD)
    except OSError:  # no Unix sockets or no fork here (a sandbox)
        return False


def _init(shared: Any) -> None:
    global _shared
    _shared = shared


def _call(fn: Callable, args: tuple) -> Any:
    return fn(_shared, *args)


def _nbytes(shared: Any) -> int:
    """Bytes of a DataFrame or array, or of the values of a dict of them (0 for anything else)."""
    if isinstance(shared, dict):
        return sum(_nbytes(v) for v in shared.values())
    usage = getattr(shared, "memory_usage", None)  # a DataFrame
    if usage is not None:
        return int(usage(index=True, deep=False).sum())
    return int(getattr(shared, "nbytes", 0))


class Jobs:
    """Jobs ``fn(shared, *args)``, one per ``(fn, args, weight)``, started on creation.

    With ``workers`` > 1 (and more than one job) they run in that many processes, the heaviest
    (largest ``weight``) first so that the last to finish is a light one; ``fn`` must then be a
    module-level function and its arguments and result picklable. The caller can do other work
    before it asks for :meth:`results`. With one worker, or shared data above
    :data:`MAX_SHARED_BYTES`, or where processes cannot be started (an ``OSError``: a sandbox
    without fork or Unix sockets), the jobs run in this process when :meth:`results` is called.

    Use it as a context manager, so that the pool is stopped if the caller fails in between::

        with Jobs(jobs, df, workers=2) as pending:
            text = other_work()
            pngs = pending.results()
    """

    def __init__(self, jobs: Sequence[tuple[Callable, tuple, float]], shared: Any = None, workers: int = 1):
        self.jobs, self.shared = list(jobs), shared
        workers = min(int(workers), len(self.jobs))
        if workers > 1 and _nbytes(shared) > MAX_SHARED_BYTES:
            workers = 1
        self._ex = self._futures = None
        if workers > 1:
            order = sorted(range(len(self.jobs)), key=lambda i: -self.jobs[i][2])  # stable for equal weights
            try:
                self._ex = ProcessPoolExecutor(workers, mp_context=context(), initializer=_init, initargs=(shared,))
                self._futures = {i: self._ex.submit(_call, self.jobs[i][0], self.jobs[i][1]) for i in order}
            except OSError:  # processes cannot be started here (no fork, no sockets): run in-process
                self.close()

    def _here(self) -> list:
        return [fn(self.shared, *args) for fn, args, _ in self.jobs]

    def results(self) -> list:
        """Every job's result, in the order the jobs were given; a job's exception is raised
        here. If a worker died (killed, out of memory), the jobs are run again in this process."""
        if self._ex is None:
            return self._here()
        try:
            out = [self._futures[i].result() for i in range(len(self.jobs))]
        except BrokenProcessPool:
            self.close(wait=True)
            return self._here()
        self.close(wait=True)
        return out

    def close(self, wait: bool = False) -> None:
        """Stop the pool: cancel the jobs not started; with ``wait``, wait for the running ones."""
        if self._ex is not None:
            self._ex.shutdown(wait=wait, cancel_futures=True)
            self._ex = None

    def __enter__(self) -> "Jobs":
        return self

    def __exit__(self, *exc) -> None:
        self.close(wait=exc[0] is None)


def run_jobs(jobs: Sequence[tuple[Callable, tuple, float]], shared: Any = None, workers: int = 1) -> list:
    """The results of :class:`Jobs` ``(jobs, shared, workers)``, in the order of ``jobs``."""
    with Jobs(jobs, shared, workers) as pending:
        return pending.results()
