"""``frontiersim report`` and ``frontiersim compare``.

Registered by :mod:`sim.cli` through :func:`register`. This module imports nothing heavy at
import time (the command line imports it for every command, ``frontiersim run`` included);
pandas and matplotlib are imported when a report is made.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    """Add the ``report`` and ``compare`` subcommands to the ``frontiersim`` parser."""
    r = subparsers.add_parser(
        "report", help="write a self-contained HTML report of a run or an ensemble directory",
        description="Write one self-contained HTML file (figures embedded, no network needed) with headline "
                    "numbers at milestone years, figures and the scenario's parameters. An ensemble directory "
                    "is summarized by medians and 5-95%% bands across its runs.")
    r.add_argument("dir", metavar="DIR", help="a run directory (model.parquet) or an ensemble directory")
    r.add_argument("--out", metavar="FILE", help="output HTML file (default DIR/report.html)")
    r.set_defaults(func=cmd_report)
    c = subparsers.add_parser(
        "compare", help="compare runs or ensembles in one HTML file",
        description="One figure per headline metric with each directory a line, and tables of differences "
                    "from the first directory at milestone years.")
    c.add_argument("dir_a", metavar="DIR_A", help="the reference run or ensemble directory")
    c.add_argument("dir_b", metavar="DIR_B", help="a run or ensemble directory to compare with DIR_A")
    c.add_argument("more", metavar="DIR", nargs="*", help="further directories")
    c.add_argument("--out", metavar="FILE", help="output HTML file (default ./compare.html)")
    c.set_defaults(func=cmd_compare)


def cmd_report(a) -> int:
    from analysis.report import write_report

    out = write_report(a.dir, a.out)
    print(f"frontiersim: report written to {out}", file=sys.stderr)
    return 0


def cmd_compare(a) -> int:
    from analysis.report import write_comparison

    out = write_comparison([a.dir_a, a.dir_b, *a.more], a.out)
    print(f"frontiersim: comparison written to {out}", file=sys.stderr)
    return 0
