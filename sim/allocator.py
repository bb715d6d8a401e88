"""Keep freed array memory in the process on Linux/glibc instead of handing it back every month.

Each month the startup phases make a few dozen temporary arrays with one value per startup. By
default glibc serves a large block (above a threshold that starts at 128 KiB and adapts up to
32 MiB) with its own ``mmap`` and unmaps it when it is freed, and it returns free memory at the
top of the heap to the system once more than 128 KiB (adapting likewise) is free there. The next
month's arrays then start on fresh pages, and the kernel has to fault in and zero every page
again. With 100,000 startups (about a million rows by the 2030s) a third of a run went to the
kernel: a 100k-startup run to 2032 spent 2.7-3.1 s of its 8.3-9.6 s in system time, on about
900,000 minor page faults (``benchmarks/README.md`` has the measurements).

:func:`tune_allocator` sets two ``mallopt`` parameters, once per process:

* ``M_MMAP_THRESHOLD`` = 32 MiB (the largest value glibc's dynamic threshold would reach by
  itself): blocks up to that size come from the heap and are reused when freed;
* ``M_TRIM_THRESHOLD`` = 256 MiB: up to that much free memory stays at the top of the heap.
  A month's temporaries with ~1.9M rows (100k startups by 2040) add up to more than 128 MiB;
  at 128 MiB the heap was still trimmed and refilled every month (~140-250k page faults in a
  run to 2040 against ~110k at 256 or 512 MiB, most of them the heap's first growth).

Only *when* memory is returned to the system changes; no value the model computes can. The
cost is memory kept mapped: up to 256 MiB of freed memory after a large run, and a higher peak
RSS (100k startups to 2040: ~700 MiB default, ~750-810 MiB tuned). It does nothing on other
platforms or C libraries, nothing when the environment sets ``FRONTIERSIM_MALLOC_TUNING=0``, and
nothing when it sets malloc parameters of its own (``MALLOC_*``, ``GLIBC_TUNABLES=glibc.malloc...``).
:func:`sim.run.run_model` calls it, so every run, ensemble worker and benchmark gets it.
"""

from __future__ import annotations

import os
import sys

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 2**20
TRIM_THRESHOLD_BYTES = 256 * 2**20
ENV_SWITCH = "FRONTIERSIM_MALLOC_TUNING"

_state: bool | None = None


def tune_allocator() -> bool:
    """Set glibc's mmap and trim thresholds (once per process); returns whether they are set.

    Returns False, changing nothing, off Linux, on a C library other than glibc, when the
    environment variable ``FRONTIERSIM_MALLOC_TUNING`` is ``0``, or when the environment already
    sets malloc parameters (``MALLOC_*`` variables or ``glibc.malloc`` tunables).
    """
    global _state
    if _state is not None:
        return _state
    _state = False
    if not sys.platform.startswith("linux") or os.environ.get(ENV_SWITCH, "1").strip() == "0":
        return False
    if any(k.startswith("MALLOC_") for k in os.environ) or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False  # the user tunes malloc already: leave their settings alone
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return False
    except (ValueError, OSError, AttributeError):  # not glibc, or no such name here
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success
    _state = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    return _state
