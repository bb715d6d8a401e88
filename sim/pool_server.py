"""The server that local ensemble workers are forked from, and starting it early.

A local pool (``frontiersim ensemble|sweep|sensitivity --workers N``, N > 1) forks its workers
from a 'forkserver' process that imported the model once, so that starting (and recycling) a
worker costs a fork, not the model's imports, and no state of the parent leaks into it.

The server's imports (~1 s) used to start only when the first run was submitted, after the
parent had done its own (~0.6 s). :func:`start_early` starts the server first, so the two
import side by side on two cores. This module imports only the standard library, so that the
command line can call it before anything heavy.

The server imports its preload list with this process's ``sys.path``, so that workers run the
same code as the process that made the pool. Python 3.11 does not pass ``sys.path`` to the
server (CPython issue 117378, fixed in later 3.12 and 3.13 releases): it started with the default path of
``python -c``, the directory it was started in and then the installed package, so a checkout
run with its own directory on the path (``python -m pytest`` in a git worktree) had its
workers import the code of the editable install instead, whenever the server was started from
another directory (and a package in the directory it started from came before both).
:func:`forkserver_context` starts the server itself with the path given in ``PYTHONPATH``, the
workaround the CPython issue names.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

#: everything a run imports, so that no worker imports it again: the model, its records, and
#: Parquet for the parts
PRELOAD = ["sim.ensemble", "sim.model", "sim.run", "sim.record", "sim.allocator", "pyarrow.parquet",
           "pyarrow.pandas_compat", "pyarrow.vendored.version"]


def forkserver_context(preload: list[str]):
    """'forkserver' with ``preload`` imported by the server; 'spawn' where there is no forkserver.

    The preload list is process-wide (Python has one forkserver per process): the list set
    when the server starts is the one it keeps. Workers of a pool whose modules it did not
    preload import them on their first task; the results are the same.

    The server is started here if it is not running (see :func:`_ensure_running`); where it
    cannot start (an ``OSError``), the pool that uses the context meets the same error.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(preload)
    try:
        _ensure_running()
    except OSError:  # no Unix sockets or no fork here (a sandbox): the pool says so when it starts
        pass
    return ctx


def _server_path() -> str:
    """This process's ``sys.path`` as a ``PYTHONPATH`` value, '' (the current directory, for
    ``python -c``) replaced by the directory this process was in when it imported
    multiprocessing, as 'spawn' does for its workers."""
    from multiprocessing import process

    here = process.ORIGINAL_DIR or os.getcwd()
    paths = (p or here for p in sys.path if isinstance(p, str))
    return os.pathsep.join(dict.fromkeys(paths))


def _ensure_running() -> None:
    """Start the forkserver if it is not running, with this process's ``sys.path`` as its own,
    so that its preload imports the modules this process imports, from the same files.

    The path goes through ``PYTHONPATH``, and ``PYTHONSAFEPATH`` keeps the server (a
    ``python -c``) from putting the directory it starts in before it; the server and the
    workers it forks keep both variables (no worker starts a Python of its own).
    """
    from multiprocessing import forkserver

    env = {"PYTHONPATH": _server_path(), "PYTHONSAFEPATH": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        forkserver.ensure_running()
    finally:
        for k, v in old.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v


def start_forkserver(preload: list[str]) -> bool:
    """Start the forkserver now, so that it imports ``preload`` while the caller goes on; False
    where there is none. A server nobody uses exits with this process.

    Raises:
        OSError: the server cannot start here.
    """
    if forkserver_context(preload).get_start_method() != "forkserver":
        return False
    _ensure_running()  # (again: forkserver_context let an OSError pass)
    return True


def context():
    """'forkserver' with the model preloaded; 'spawn' where there is no forkserver."""
    return forkserver_context(PRELOAD)


def start_early() -> bool:
    """Start the ensemble workers' forkserver now (it then imports :data:`PRELOAD` while the
    caller goes on); False where there is none."""
    return start_forkserver(PRELOAD)
