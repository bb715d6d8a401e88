"""``frontiersim report``, ``frontiersim compare`` and ``frontiersim validate``.

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
                    "is summarized by medians and 5-95% bands across its runs; a directory of run directories must "
                    "hold runs of one scenario and horizon that differ only in the seed (use 'compare' for "
                    "different scenarios).")
    r.add_argument("dir", metavar="DIR", help="a run directory (model.parquet) or an ensemble directory")
    r.add_argument("--out", metavar="FILE", help="output HTML file (default DIR/report.html)")
    r.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes that draw the figures (default: the number of CPUs where processes can fork); 1 draws in this process")
    r.set_defaults(func=cmd_report)
    c = subparsers.add_parser(
        "compare", help="compare runs or ensembles in one HTML file",
        usage="frontiersim compare [-h] [--out FILE] [--csv FILE] [--workers N] DIR_A DIR_B [DIR ...]",
        description="One figure per headline metric with each directory a line, and tables of differences "
                    "from the first directory at milestone years. Ensembles are also compared with confidence "
                    "intervals: difference of means and of medians, paired by seed where they share seeds (made "
                    "with the same --seed), with p-values adjusted over the table (Holm).")
    # one positional for all directories, so that a single one is told it needs at least two
    # (with DIR_A and DIR_B argparse said 'required: DIR_B, DIR', naming the optional DIR)
    c.add_argument("dirs", metavar="DIR", nargs="*",
                   help="two or more run or ensemble directories; the first (DIR_A) is the reference the others are compared with")
    c.add_argument("--out", metavar="FILE", help="output HTML file (default ./compare.html)")
    c.add_argument("--csv", metavar="FILE",
                   help="also write the ensembles' differences from DIR_A with their 95%% intervals and p-values as CSV "
                        "(needs DIR_A and another directory to be ensembles of two or more runs)")
    c.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes that draw the figures (default: the number of CPUs where processes can fork); 1 draws in this process")
    c.set_defaults(func=cmd_compare)
    import os

    from scenarios.months import LAST_MONTH
    from sim.cli import _end_month, _seed

    v = subparsers.add_parser(
        "validate", help="backcast 2020-2025 over an ensemble of seeds and compare with history; check the Meek limit",
        description="Runs the backcast scenario (2020-01 to 2025-12) --runs times with derived seeds, compares the "
                    "median and 5-95% band of each simulated series with the historical series in the history "
                    "file, checks the meek-limit scenario against its closed form, prints both tables and writes "
                    "validation.csv, meek.csv, backcast.png and meek.png. Exits 1 if a row lies outside the "
                    "tolerance its data file declares, naming it. Rows of years an earlier --end leaves out (or cuts "
                    "short) are reported as not simulated and count neither in the losses nor in the exit status; "
                    "a row of a year the scenario cannot simulate is an error.")
    v.add_argument("--runs", type=int, default=20, metavar="N", help="seeds of the backcast ensemble (default 20)")
    v.add_argument("--seed", type=_seed, default=0, help="master seed the runs' seeds derive from (default 0)")
    v.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes (default: the number of CPUs); 1 runs in this process")
    v.add_argument("--scheduler", metavar="ADDRESS|local", help="run the ensemble on a Dask cluster (see 'ensemble')")
    v.add_argument("--out", metavar="DIR", help="output directory (default runs/validate); rerunning resumes its ensemble")
    v.add_argument("--scenario", default="backcast", help="the scenario to backcast (default backcast)")
    v.add_argument("--end", type=_end_month,
                   help=f"last month of the backcast, YYYY-MM, {LAST_MONTH} at the latest (default: the scenario's)")
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a backcast parameter for every run (repeatable)")
    v.add_argument("--history", metavar="FILE", help="historical series with tolerances (default: the packaged analysis/data/history.csv)")
    v.add_argument("--meek-checks", metavar="FILE", help="Meek-limit tolerances (default: the packaged analysis/data/meek_checks.csv)")
    v.add_argument("--no-meek", action="store_true", help="skip the Meek-limit check")
    v.set_defaults(func=cmd_validate)


def _drawing_workers(a) -> int:
    """``--workers`` (default: the CPUs); with more than one, start the server the drawing
    processes fork from now, so that it imports matplotlib while this process reads the runs."""
    from analysis.render import default_workers, start_early
    from sim.cli import at_least_one

    n = default_workers() if a.workers is None else at_least_one("--workers", a.workers)
    if n > 1:
        start_early()
    return n


def cmd_report(a) -> int:
    workers = _drawing_workers(a)
    from analysis.report import write_report

    out = write_report(a.dir, a.out, workers)
    print(f"frontiersim: report written to {out}", file=sys.stderr)
    return 0


def cmd_compare(a) -> int:
    if len(a.dirs) < 2:
        from sim.cli import UserError

        got = "none" if not a.dirs else f"only {a.dirs[0]}"
        raise UserError(f"compare: expected at least two run or ensemble directories (DIR_A DIR_B [DIR ...]), got {got}")
    workers = _drawing_workers(a)
    from analysis.report import write_comparison

    out = write_comparison(a.dirs, a.out, workers, a.csv)
    print(f"frontiersim: comparison written to {out}" + (f"; differences with intervals to {a.csv}" if a.csv else ""),
          file=sys.stderr)
    return 0


def cmd_validate(a) -> int:
    from pathlib import Path

    from analysis import validate as V
    from sim.cli import UserError, plural
    from sim.ensemble import collect_outcomes, ensemble_plan
    from sim.ensemble_cli import _execute, _options, _scenario
    from sim.run import resolve_scenario

    out = _options(a, Path("runs") / "validate", "ensemble")
    sc = _scenario(a)  # a bad scenario fails here, before any run
    # history rows may lie in years an earlier --end leaves out (reported as not simulated), but
    # not outside the years the scenario can simulate: from its start to its own end or --end
    own_end = resolve_scenario(a.scenario, a.set, from_cli=True)[0].end if a.end else sc.end
    last = max(int(sc.end[:4]), int(own_end[:4]))
    history = V.load_history(a.history, (int(sc.start[:4]), last, f"the years {sc.name} {sc.start}..{max(sc.end, own_end)} simulates; a later --end simulates more"))
    simulated = V.whole_years(sc.start, sc.end)
    if not history["year"].isin(simulated).any():
        span = f"{simulated[0]}-{simulated[-1]}" if simulated else "none"
        raise UserError(f"--end {sc.end}: no row of {a.history or V.HISTORY_PATH} lies in a whole simulated year "
                        f"({span}); expected an end at or after {int(history['year'].min())}-12")
    checks = None if a.no_meek else V.load_meek_checks(a.meek_checks)
    years = list(range(int(sc.start[:4]), int(sc.end[:4]) + 1))
    plan = ensemble_plan(a.scenario, a.runs, master_seed=a.seed, overrides=a.set, end=a.end, fn=V.backcast_outcomes)
    stats = _execute(plan, a, out / "ensemble",
                     f"frontiersim: validate: {plural(plan.n, 'run')} of {sc.name} {sc.start}..{sc.end} into {out}/ensemble/")
    if stats is None:  # interrupted, having said how to resume
        return 130
    outcomes = collect_outcomes(out / "ensemble", plan.n)
    table = V.compare(history, outcomes, simulated)
    meek = None
    if checks is not None:
        print("frontiersim: validate: meek-limit against its closed form...", file=sys.stderr, flush=True)
        meek = V.meek_validation(checks)
    files = V.write_outputs(out, table, history, outcomes, years, meek)
    print(f"Backcast {sc.start}..{sc.end}, {plural(plan.n, 'seed')}: simulated median and 5-95% band against history")
    print(V.format_table(table))
    losses = [(what, V.fit_loss(table, (role,))) for what, role in (("fitting targets", "fit"), ("held-out rows", "holdout"))]
    print("\nloss on " + ", on ".join(f"{what} {x:.3f}" if x == x else f"{what} n/a (none simulated)" for what, x in losses)
          + " (mean squared deviation in tolerance units; 1 = at the edge)")
    if meek is not None:
        print("\nMeek-models limit: simulated loss gap against the closed form of Gundlach, Lynch & Thompson")
        print(V.format_meek(meek.table))
    print(f"\n{plural(stats.computed, 'run')} computed, {stats.skipped} already done; outputs: {', '.join(str(p) for p in files)}")
    sim = table[table["simulated"]]
    skipped = len(table) - len(sim)
    bad = [f"{r.metric} {r.year}" for r in sim.itertuples() if not r.within]
    if meek is not None:
        bad += [f"meek {r.quantity}" for r in meek.table.itertuples() if not r.within]
    rows = "simulated rows" if skipped else "rows"
    note = (f"; {skipped} history row{'' if skipped == 1 else 's'} not simulated (the whole years of "
            f"{sc.start}..{sc.end} are {f'{simulated[0]}-{simulated[-1]}' if simulated else 'none'})") if skipped else ""
    if bad:
        print(f"frontiersim: validate: {len(bad)} of {len(sim) + (len(meek.table) if meek is not None else 0)} "
              f"{rows} outside tolerance: {', '.join(bad)}{note}", file=sys.stderr)
        return 1
    print(f"frontiersim: validate: every {rows[:-1]} within tolerance{note}", file=sys.stderr)
    return 0
