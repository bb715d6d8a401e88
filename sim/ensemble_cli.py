"""``frontiersim ensemble``, ``sweep`` and ``sensitivity``: many runs through one executor.

Each command builds a plan (:mod:`sim.ensemble`, :mod:`sim.sensitivity`), runs its missing runs
(rerunning a command on the same ``--out`` resumes it), then writes and prints its summary.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path


def register(subparsers) -> None:
    """Add the ensemble, sweep and sensitivity subcommands to ``frontiersim``."""
    from sim.cli import END_HELP, _end_month, _seed

    def common(p, seed_help: str, outcomes_default: str = "all documented ones") -> None:
        p.add_argument("scenario", help="a named scenario (see 'frontiersim scenarios list') or a .toml file")
        p.add_argument("--seed", type=_seed, default=0, help=seed_help)
        p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="processes (default: the number of CPUs); 1 runs in this process")
        p.add_argument("--scheduler", metavar="ADDRESS|local",
                       help="run on a Dask cluster: a scheduler address (tcp://host:8786) or 'local' for a "
                            "LocalCluster of --workers processes (needs pip install 'frontiersim[dask]')")
        p.add_argument("--out", help="output directory; rerunning the same command on it resumes")
        p.add_argument("--end", type=_end_month, help=END_HELP)
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a parameter for every run (repeatable)")
        p.add_argument("--outcomes", metavar="A,B",
                       help=f"scalar outcomes to record, COLUMN_YEAR (e.g. hhi_revenue_2035); default: {outcomes_default}")
        p.add_argument("--scalars-only", action="store_true",
                       help="store only each run's scalar outcomes, not its monthly model table")
        p.add_argument("--check", action="store_true",
                       help="check the conservation laws and bounds of docs/ODD.md 7.24 every month of every run "
                            "(a few percent slower); stop at the first run that breaks one")

    e = subparsers.add_parser("ensemble", help="replicate runs of one scenario with derived seeds",
                              description="Runs SCENARIO --runs times with seeds derived from one master seed "
                                          "(numpy SeedSequence), writes each run as DIR/runs/part-NNNNN.parquet, "
                                          "and prints the median and 5-95% band of headline outcomes.")
    common(e, "master seed the runs' seeds derive from (default 0)")
    e.add_argument("--runs", type=int, required=True, metavar="N", help="number of runs")
    e.add_argument("--agents", action="store_true", help="also store each run's agents table (DIR/agents/)")
    e.set_defaults(func=cmd_ensemble)

    s = subparsers.add_parser("sweep", help="runs over a grid or Latin hypercube of parameter values",
                              description="Runs SCENARIO at each point of a design over --param ranges.")
    common(s, "seed of the Latin hypercube and master seed of the replicates (default 0)")
    s.add_argument("--param", action="append", default=[], metavar="KEY=LOW:HIGH[:STEPS]", required=True,
                   help="a parameter range (repeatable); STEPS points on a grid (default 5)")
    s.add_argument("--design", choices=["grid", "lhs"], default="grid")
    s.add_argument("--samples", type=int, help="points of a Latin hypercube (--design lhs)")
    s.add_argument("--replicates", type=int, default=1, help="seeds per point, the same at every point (default 1)")
    s.set_defaults(func=cmd_sweep)

    g = subparsers.add_parser("sensitivity", help="Sobol or Morris global sensitivity indices (SALib)",
                              description="Samples the --ranges with SALib, runs every sample, and reports "
                                          "first-order and total Sobol indices (or Morris mu*) with 95% "
                                          "confidence intervals as a table, CSV and bar chart.")
    # (sim.experiment.DEFAULT_SENSITIVITY_OUTCOMES, written out: building the parser imports no model code)
    common(g, "seed of the sampler and of the runs (one model seed for all runs; default 0)",
           "hhi_revenue_2035,frontier_median_gap_ece_2035")
    g.add_argument("--ranges", required=True, metavar="FILE", help="TOML or CSV of parameter, low, high")
    g.add_argument("--method", choices=["sobol", "morris"], default="sobol")
    g.add_argument("--samples", type=int, default=64, metavar="N",
                   help="Sobol base samples (a power of 2; N (D + 2) runs) or Morris trajectories (N (D + 1) runs)")
    g.add_argument("--levels", type=int, help="Morris grid levels, an even number >= 2 (default 4; --method morris only)")
    g.set_defaults(func=cmd_sensitivity)


def _outcomes(a) -> list[str] | None:
    if not a.outcomes:
        return None
    names = [x.strip() for x in a.outcomes.split(",") if x.strip()]
    if not names:
        from sim.cli import UserError

        raise UserError(f"--outcomes {a.outcomes!r}: expected names separated by commas, e.g. hhi_revenue_2035")
    return names


def _check(plan, names: list[str] | None) -> None:
    from sim.cli import UserError
    from sim.experiment import check_outcomes

    if names:
        try:
            check_outcomes(plan.scenario, names, scalar=True)
        except ValueError as e:
            raise UserError(f"--outcomes: {e}") from None


def _workers(a) -> int:
    from sim.cli import at_least_one

    return at_least_one("--workers", a.workers)


#: a Dask scheduler address: [scheme://]host:port (host may be an IPv6 address in brackets)
SCHEDULER_RE = re.compile(r"^([a-z]+://)?(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d+/?$")


def _options(a, default_out: Path, sub: str = "") -> Path:
    """Check --workers, --scheduler and --out before any work; returns the output directory
    (``sub`` is the folder the runs go in, as ``ensemble`` for validate).

    Raises:
        UserError: one line naming the option.
    """
    from sim.cli import UserError
    from sim.paths import dir_path_problem, write_problem

    _workers(a)
    if a.scheduler is not None and a.scheduler != "local" and not SCHEDULER_RE.match(a.scheduler):
        raise UserError(f"--scheduler {a.scheduler}: not an address; expected the address of a running Dask "
                        "scheduler, [tcp://]HOST:PORT (e.g. tcp://127.0.0.1:8786), or 'local'")
    raw = str(default_out) if a.out is None else a.out
    problem = dir_path_problem(raw)
    if problem:
        raise UserError(f"--out {raw or repr(raw)}: {problem}")  # (an empty path shown as '')
    out = Path(raw)
    target = out / sub if sub else out
    problem = write_problem(target / "runs")
    if problem:
        raise UserError(f"--out {out}: {problem}")
    return out


def _scenario(a):
    """The scenario of the command with its --set and --end, as its runs will have it: a bad one
    is a one-line error before any work, naming --set and --end as the user typed them.

    Raises:
        ScenarioError: one line.
    """
    from sim.run import resolve_scenario

    return resolve_scenario(a.scenario, a.set, end=a.end, from_cli=True)[0]


def _start_pool_early(a) -> None:
    """With a local pool of several workers, start the server they fork from before this process
    imports the model's dependencies, so that both import at once (see :mod:`sim.pool_server`)."""
    if a.scheduler is None and a.workers > 1:
        from sim.pool_server import start_early

        start_early()


def _banner(text: str):
    """A callable that prints the command's banner line (once the runs are about to start)."""
    return lambda: print(text, file=sys.stderr, flush=True)


def _execute(plan, a, out: Path, banner: str):
    """Run the plan's missing runs, printing ``banner`` once they can start; None after Ctrl-C
    (having said how to resume)."""
    from sim.ensemble import execute

    plan.check = bool(getattr(a, "check", False))
    try:
        return execute(plan, out, workers=_workers(a), scheduler=a.scheduler, on_start=_banner(banner))
    except KeyboardInterrupt:
        _interrupted(out, plan.n)
        return None


def _interrupted(out: Path, n_runs: int) -> None:
    n = sum(1 for p in (out / "runs").glob("part-*.parquet")) if (out / "runs").is_dir() else 0
    print(f"\nfrontiersim: interrupted; {n} of {n_runs} runs are in {out}/runs; rerun the same command to "
          "compute the rest", file=sys.stderr)


def _stem(scenario: str) -> str:
    return Path(scenario).stem


def cmd_ensemble(a) -> int:
    _start_pool_early(a)
    from sim.cli import plural
    from sim.ensemble import ensemble_plan, format_summary, write_summaries

    out = _options(a, Path("runs") / f"ensemble-{_stem(a.scenario)}-seed{a.seed}")
    names = _outcomes(a)
    _scenario(a)
    plan = ensemble_plan(a.scenario, a.runs, master_seed=a.seed, overrides=a.set, end=a.end, outcomes=names,
                         agents=a.agents, keep_model=not a.scalars_only)
    _check(plan, names)
    stats = _execute(plan, a, out, f"frontiersim: ensemble of {plural(plan.n, 'run')} of {plan.scenario_name} "
                                   f"(master seed {a.seed}) into {out}/")
    if stats is None:
        return 130
    summary = write_summaries(out, plan.n)
    print(format_summary(summary, plan.n))
    print(f"\n{plural(stats.computed, 'run')} computed, {stats.skipped} already done, in {stats.wall_time_s:.1f} s; "
          f"outputs in {out}/ (runs/part-*.parquet, outcomes.csv, summary.csv, manifest.json)")
    return 0


def cmd_sweep(a) -> int:
    _start_pool_early(a)
    from sim.cli import plural
    from sim.ensemble import collect_outcomes
    from sim.sensitivity import parse_param, sweep_plan

    out = _options(a, Path("runs") / f"sweep-{_stem(a.scenario)}-seed{a.seed}")
    ranges = [parse_param(t) for t in a.param]
    keys = [r.key for r in ranges]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup:
        from sim.cli import UserError

        raise UserError(f"--param {dup}: given twice; expected each parameter once")
    names = _outcomes(a)
    _scenario(a)
    plan = sweep_plan(a.scenario, ranges, design=a.design, samples=a.samples, seed=a.seed, replicates=a.replicates,
                      overrides=a.set, end=a.end, outcomes=names, keep_model=not a.scalars_only)
    _check(plan, names)
    n_points = plan.n // a.replicates
    stats = _execute(plan, a, out, f"frontiersim: sweep of {plan.scenario_name}: {plural(n_points, 'point')} x "
                                   f"{plural(a.replicates, 'replicate')} = {plural(plan.n, 'run')} into {out}/")
    if stats is None:
        return 130
    outcomes = collect_outcomes(out, plan.n)
    outcomes.to_csv(out / "outcomes.csv", index=False)
    summary = _per_point(outcomes, keys, a.replicates)
    summary.to_csv(out / "summary.csv", index=False)
    print(_format_points(summary, keys))
    print(f"\n{plural(stats.computed, 'run')} computed, {stats.skipped} already done, in {stats.wall_time_s:.1f} s; "
          f"outputs in {out}/ (runs/part-*.parquet, outcomes.csv, summary.csv, manifest.json)")
    return 0


def _per_point(outcomes, keys: list[str], replicates: int):
    """Median across replicates of each scalar outcome, one row per design point."""
    import pandas as pd

    from sim.experiment import parse_outcome

    cols = [c for c in outcomes.columns if c not in keys and c not in ("run", "seed") and parse_outcome(c)[1] is not None]
    d = outcomes.copy()
    d.insert(0, "point", d["run"] // replicates)
    g = d.groupby("point", sort=True)
    summary = pd.concat([g[keys].first(), g[cols].median(numeric_only=True)], axis=1).reset_index()
    summary.insert(1, "replicates", g.size().to_numpy())
    return summary


def _format_points(summary, keys: list[str], max_rows: int = 40) -> str:
    from sim.ensemble import number_format
    from sim.experiment import HEADLINE_COLUMNS, parse_outcome

    years = sorted({parse_outcome(c)[1] for c in summary.columns if parse_outcome(c)[1] is not None})
    if not years:
        return summary.head(max_rows).to_string(index=False)
    y = max(years)
    show = [f"{c}_{y}" for c in HEADLINE_COLUMNS if f"{c}_{y}" in summary.columns]
    heads = [k.split(".")[-1][:18] for k in keys] + [s.removesuffix(f"_{y}")[:24] for s in show]
    w = [max(10, len(h)) for h in heads]
    lines = [f"median over replicates at {y}-12:", "point " + " ".join(f"{h:>{wi}}" for h, wi in zip(heads, w))]
    rows = summary.head(max_rows)
    fmts = [number_format(rows[c].astype(float)) for c in keys + show]  # one format per column
    for _, r in rows.iterrows():
        vals = [f(float(r[c])) for f, c in zip(fmts, keys + show)]
        lines.append(f"{int(r['point']):>5} " + " ".join(f"{v:>{wi}}" for v, wi in zip(vals, w)))
    if len(summary) > max_rows:
        lines.append(f"... {len(summary) - max_rows} more points in summary.csv")
    return "\n".join(lines)


def cmd_sensitivity(a) -> int:
    _start_pool_early(a)
    from sim.cli import UserError, plural
    from sim.experiment import DEFAULT_SENSITIVITY_OUTCOMES, check_outcomes
    from sim.sensitivity import format_indices, read_ranges, run_sensitivity

    out = _options(a, Path("runs") / f"sensitivity-{_stem(a.scenario)}-{a.method}-seed{a.seed}")
    if a.levels is not None and a.method != "morris":
        raise UserError(f"--levels {a.levels}: applies to --method morris; expected no --levels with --method {a.method}")
    levels = 4 if a.levels is None else a.levels
    ranges = read_ranges(a.ranges)
    names = _outcomes(a) or list(DEFAULT_SENSITIVITY_OUTCOMES)
    sc = _scenario(a)
    try:
        check_outcomes(sc, names, scalar=True)
    except ValueError as e:
        raise UserError(f"--outcomes: {e}{'' if a.outcomes else ' (the default outcomes; choose others with --outcomes)'}") from None
    d = len(ranges)
    n_runs = a.samples * (d + 2 if a.method == "sobol" else d + 1)
    banner = (f"frontiersim: {a.method} sensitivity of {sc.name}: {plural(d, 'parameter')} x {plural(a.samples, 'sample')} "
              f"= {plural(n_runs, 'run')} into {out}/")
    try:
        res = run_sensitivity(a.scenario, ranges, out, method=a.method, samples=a.samples, outcomes=names, seed=a.seed,
                              workers=_workers(a), scheduler=a.scheduler, overrides=a.set, end=a.end, levels=levels,
                              keep_model=not a.scalars_only, on_start=_banner(banner), check=a.check)
    except KeyboardInterrupt:
        _interrupted(out, n_runs)
        return 130
    print(format_indices(res.table, a.method))
    print(f"\n{plural(res.stats.computed, 'run')} computed, {res.stats.skipped} already done, in {res.stats.wall_time_s:.1f} s; "
          f"outputs in {out}/ (sensitivity.csv, sensitivity.png, outcomes.csv, samples.csv, runs/, manifest.json)")
    return 0
