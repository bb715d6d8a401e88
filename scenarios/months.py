"""Months as scenarios and the command line write them (``YYYY-MM``), and the earliest month a
scenario may start in and the latest it may end in.

It imports nothing heavy: the ``frontiersim`` parser checks ``--start`` and ``--end`` with it and
names :data:`FIRST_MONTH` and :data:`LAST_MONTH` in its help. :mod:`scenarios.schema` checks a
scenario's months with it.
"""

from __future__ import annotations

import functools
import re

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

#: The earliest month a run may simulate: a scenario's ``start`` (in a file, ``--set start=`` or
#: ``--start``) is at least this month (docs/ODD.md 2.1 says why).
FIRST_MONTH = "2020-01"

#: The latest month a run may simulate: a scenario's ``end`` (in a file, ``--set end=`` or
#: ``--end``) is at most this month (docs/ODD.md 2.1 says why).
LAST_MONTH = "2100-12"


class HorizonError(ValueError):
    """A month outside the run's horizon: an event's month outside start..end, or an end outside
    start..:data:`LAST_MONTH`. The loader adds which ``--set`` (or ``--start``/``--end``) set the
    start or the end, as a cause the file itself does not show."""


def month_index(ym: str) -> int:
    """Months since year 0 for a 'YYYY-MM' string."""
    y, m = ym.split("-")
    return int(y) * 12 + int(m) - 1


@functools.lru_cache(maxsize=4096)  # called for every record, event and deal
def index_month(i: int) -> str:
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def check_month(v: str) -> str:
    """``v`` if it is a month 'YYYY-MM'.

    Raises:
        ValueError: what was expected, as the end of a one-line error.
    """
    if not MONTH_RE.match(v):
        raise ValueError(f"expected a month as YYYY-MM, got {v!r}")
    return v


def check_start(v: str) -> str:
    """``v`` if it is a month from :data:`FIRST_MONTH` to :data:`LAST_MONTH` (a run that starts
    later could not end by then).

    Raises:
        ValueError: what was expected, as the end of a one-line error.
    """
    check_month(v)
    if not month_index(FIRST_MONTH) <= month_index(v) <= month_index(LAST_MONTH):
        raise ValueError(f"expected a month from {FIRST_MONTH} to {LAST_MONTH}, got {v!r}")
    return v


def check_end(v: str, start: str | None = None) -> str:
    """``v`` if it is a month no later than :data:`LAST_MONTH` and, when ``start`` (a valid
    start, see :func:`check_start`) is known, not before it.

    Raises:
        HorizonError: when ``start`` is known: the range from it to :data:`LAST_MONTH` was
            expected (so that the error can say when --set or --start set the start).
        ValueError: what was expected, as the end of a one-line error.
    """
    check_month(v)
    if month_index(v) > month_index(LAST_MONTH) or (start and month_index(v) < month_index(start)):
        if start:
            raise HorizonError(f"expected a month from start {start} to {LAST_MONTH}, got {v!r}")
        raise ValueError(f"expected a month no later than {LAST_MONTH}, got {v!r}")
    return v
