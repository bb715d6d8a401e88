"""The server that local ensemble workers are forked from, and starting it early.

A local pool (``frontiersim ensemble|sweep|sensitivity --workers N``, N > 1) forks its workers
from a 'forkserver' process that imported the model once, so that starting (and recycling) a
worker costs a fork, not the model's imports, and no state of the parent leaks into it.

The server's imports (~1 s) used to start only when the first run was submitted, after the
parent had done its own (~0.6 s). :func:`start_early` starts the server first, so the two
import side by side on two cores. This module imports only the standard library, so that the
command line can call it before anything heavy.
"""

from __future__ import annotations

import multiprocessing

#: everything a run imports, so that no worker imports it again: the model, its records, and
#: Parquet for the parts
PRELOAD = ["sim.ensemble", "sim.model", "sim.run", "sim.record", "sim.allocator", "pyarrow.parquet",
           "pyarrow.pandas_compat", "pyarrow.vendored.version"]


def forkserver_context(preload: list[str]):
    """'forkserver' with ``preload`` imported by the server; 'spawn' where there is no forkserver.

    The preload list is process-wide (Python has one forkserver per process): the list set
    when the server starts is the one it keeps. Workers of a pool whose modules it did not
    preload import them on their first task; the results are the same.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(preload)
    return ctx


def start_forkserver(preload: list[str]) -> bool:
    """Start the forkserver now, so that it imports ``preload`` while the caller goes on; False
    where there is none. A server nobody uses exits with this process."""
    if forkserver_context(preload).get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    forkserver.ensure_running()
    return True


def context():
    """'forkserver' with the model preloaded; 'spawn' where there is no forkserver."""
    return forkserver_context(PRELOAD)


def start_early() -> bool:
    """Start the ensemble workers' forkserver now (it then imports :data:`PRELOAD` while the
    caller goes on); False where there is none."""
    return start_forkserver(PRELOAD)
