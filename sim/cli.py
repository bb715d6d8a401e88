"""The ``frontiersim`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scenarios.months import FIRST_MONTH, LAST_MONTH, check_end, check_start

MILESTONE_YEARS = (2024, 2025, 2027, 2030, 2035, 2040)

#: modules that add subcommands with a ``register(subparsers)`` function (imported lazily so
#: that heavy libraries stay out of ``frontiersim run``)
PLUGIN_COMMANDS = ("analysis.commands", "sim.ensemble_cli", "sim.dashboard_cli")


class UserError(Exception):
    """An error the user can fix; printed as one line, exit status 2."""


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 month', '2 months' (``many`` for an irregular plural)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def _start_month(s: str) -> str:
    """A first month, YYYY-MM, from :data:`scenarios.months.FIRST_MONTH` to ``LAST_MONTH``."""
    return _checked(check_start, s)


def _end_month(s: str) -> str:
    """A last month, YYYY-MM, no later than :data:`scenarios.months.LAST_MONTH`."""
    return _checked(check_end, s)


def _checked(check, s: str) -> str:
    try:
        return check(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


#: help of a --start option (the scenario's own start applies without one)
START_HELP = f"first month, YYYY-MM, {FIRST_MONTH} at the earliest"
#: help of an --end option (the scenario's own end applies without one)
END_HELP = f"last month, YYYY-MM, {LAST_MONTH} at the latest"


def _seed(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {s!r}; expected a whole number >= 0") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{s}: expected a whole number >= 0")
    return v


def at_least_one(option: str, n: int) -> int:
    """``n``, a count given as ``option`` (runs, workers, seeds...), checked after parsing.

    Raises:
        UserError: ``n`` is below 1.
    """
    if n < 1:
        raise UserError(f"{option} {n}: expected at least 1")
    return n


def check_out_file(out: str | Path, expected: str, flag: str = "--out") -> None:
    """Refuse an ``--out`` file path that cannot be written, before any work; ``out`` as given
    ('' is refused, as a Path it would be the current directory). ``expected`` says what the path
    should be ('an HTML file path'); ``flag`` is the option that named it.

    Raises:
        UserError: one line naming the option and what is wrong.
    """
    from sim.paths import file_path_problem

    problem = file_path_problem(out, expected)
    if problem:
        raise UserError(f"{flag} {str(out) or repr(str(out))}: {problem}")  # (an empty path shown as '')


def write_out_file(out: str | Path, data: str | bytes, expected: str, flag: str = "--out") -> Path:
    """Write the ``--out`` file (or the file of option ``flag``) atomically
    (:func:`sim.paths.write_atomic`), checked first as :func:`check_out_file` does.

    Raises:
        UserError: one line naming the option, when it cannot be written (nothing is written then).
    """
    from sim.paths import write_atomic

    check_out_file(out, expected, flag)
    try:
        return write_atomic(out, data)
    except OSError as e:
        raise UserError(f"{flag} {out}: cannot write ({e.strerror or e}); nothing was written") from None


#: ``frontiersim run`` reports progress on stderr once a run has taken this long, and then as often
#: (a run of the default horizon, ~1.5 s, prints nothing extra)
PROGRESS_EVERY_S = 5.0


class RunProgress:
    """``on_month`` callback of a run: a line on stderr every :data:`PROGRESS_EVERY_S` seconds
    with the month reached, the share of the horizon done and the time so far."""

    def __init__(self, start: str, end: str, clock=None):
        import time

        from scenarios.schema import month_index

        self.first, self.total = month_index(start), month_index(end) - month_index(start) + 1
        self.clock = clock or time.monotonic
        self.t0 = self.last = self.clock()

    def __call__(self, model) -> None:
        now = self.clock()
        if now - self.last < PROGRESS_EVERY_S:
            return
        from scenarios.schema import index_month

        self.last = now
        done = model.month - self.first + 1
        print(f"frontiersim: run: {index_month(model.month)} simulated, {done} of {plural(self.total, 'month')} "
              f"({100 * done / self.total:.0f}%) in {now - self.t0:.0f} s", file=sys.stderr, flush=True)


def milestone_rows(model_df, years=MILESTONE_YEARS):
    """Rows of the model table at the last month of each milestone year inside the run."""
    import pandas as pd

    d = model_df.copy()
    d["year"] = d["date"].str[:4].astype(int)
    last = d.groupby("year").tail(1).set_index("year")
    ys = [y for y in years if y in last.index]
    if not ys or ys[-1] != last.index.max():
        ys.append(int(last.index.max()))
    return last.loc[sorted(set(ys))]


def summary_table(model_df) -> str:
    if "frontier_budget_usd" in model_df.columns:  # meek-limit run
        rows = milestone_rows(model_df, tuple(range(2024, 2100, 5)))
        lines = [f"{'year':>5} {'frontier FLOP':>14} {'meek FLOP':>11} {'loss gap':>9} {'ece gap':>8}"]
        for y, r in rows.iterrows():
            lines.append(f"{y:>5} {r.frontier_train_flop:>14.3g} {r.meek_train_flop:>11.3g} {r.meek_gap_loss:>9.4f} {r.meek_gap_ece:>8.2f}")
        return "\n".join(lines)
    rows = milestone_rows(model_df)
    hdr = (f"{'year':>5} {'frontier FLOP':>13} {'ece':>6} {'score':>6} {'installed H100e':>15} {'power GW':>9} "
           f"{'chip $':>8} {'rent $/h':>8} {'elec $/MWh':>10} {'HHI rev':>8} {'startups':>8}")
    lines = [hdr]
    for y, r in rows.iterrows():
        price_cols = [c for c in model_df.columns if c.startswith("price_usd_per_mwh_")]
        cap_cols = [c.replace("price_usd_per_mwh_", "mw_capacity_") for c in price_cols]
        w = r[cap_cols].to_numpy(dtype=float)
        elec = float((r[price_cols].to_numpy(dtype=float) * w).sum() / max(w.sum(), 1e-9))
        lines.append(f"{y:>5} {r.frontier_train_flop:>13.3g} {r.frontier_ece:>6.2f} {r.frontier_score:>6.3f} "
                     f"{r.installed_h100e:>15,.0f} {r.mw_used_total / 1e3:>9.1f} {r.chip_price_usd:>8,.0f} "
                     f"{r.rental_price_usd_per_h100e_hr:>8.2f} {elec:>10.1f} {r.hhi_revenue:>8.0f} {r.startups_alive:>8d}")
    return "\n".join(lines)


def cmd_run(a) -> int:
    from sim.run import output_dir_problem, resolve_scenario, run_resolved, write_outputs

    out = Path(a.out) if a.out is not None else Path("runs") / f"{Path(a.scenario).stem}-seed{a.seed}"
    problem = output_dir_problem(a.out if a.out is not None else out)
    if problem:
        raise UserError(f"run: --out {a.out if a.out is not None else out}: {problem}")
    sc, origin = resolve_scenario(a.scenario, a.set, start=a.start, end=a.end, from_cli=True)
    from scenarios.loader import scenario_path
    from sim.errors import InvariantError, PopulationError
    from sim.model import SetupError

    progress = None

    def started() -> None:
        nonlocal progress
        print(f"frontiersim: running {sc.name} {sc.start}..{sc.end} (seed {a.seed})...", file=sys.stderr, flush=True)
        progress = RunProgress(sc.start, sc.end)

    try:
        res = run_resolved(sc, origin, a.seed, on_start=started, on_month=lambda m: progress(m), check=a.check)
    except (SetupError, PopulationError, InvariantError) as e:
        raise run_error(e, sc.name, a.seed, origin, scenario_path(a.scenario), "run", "; nothing was written") from None
    try:
        write_outputs(res, out)
    except OSError as e:
        raise UserError(f"run: --out {out}: cannot write the outputs ({e.strerror or e}); nothing was written") from None
    print(summary_table(res.model))
    print(f"\n{plural(len(res.model), 'month')} simulated in {res.wall_time_s:.2f} s; outputs in {out}/ "
          "(model.parquet, agents.parquet, events.parquet, deals.graphml, manifest.json)")
    if not a.check:  # (with --check such a run stops at its first month, as a law is broken)
        from sim.invariants import infinite_columns

        inf = infinite_columns(res.model)
        if inf is not None:
            print(f"frontiersim: warning: model.parquet has infinite {', '.join(inf[0])}, first in {inf[1]}: the run "
                  "left the model's numeric domain, which breaks the 'finite' law of docs/ODD.md 7.24 (7.6 names "
                  "parameter combinations that do); --check stops a run at the first month that breaks a law",
                  file=sys.stderr)
    return 0


def cmd_scenarios(a) -> int:
    try:
        return _scenarios(a)
    except BrokenPipeError:  # 'frontiersim scenarios show X | head': stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _scenarios(a) -> int:
    """``scenarios list``: named scenarios and their questions; ``show NAME|FILE``: every resolved
    parameter with its origin (default, parent:NAME, file, override) as parseable TOML, or as the
    ``parameters``/``parameter_origin`` of a run's manifest with ``--json``; ``check [NAME|FILE]``:
    validate (all named scenarios when none is given) and build the model's initial state."""
    import json

    from scenarios.loader import (ScenarioError, field_unit, format_key, format_value, load_scenario, named_scenarios,
                                  resolved_parameters, resolved_with_origin, scenario_path)
    from sim.run import resolve_scenario

    if a.changed and a.action != "show":
        raise UserError(f"scenarios {a.action}: --changed applies to 'scenarios show'; expected no --changed")
    if a.json and a.action == "check":
        raise UserError("scenarios check: --json applies to 'scenarios list' and 'scenarios show'; expected no --json")
    if a.json and a.changed:
        raise UserError("scenarios show: --changed applies to the TOML listing, not to --json (which gives every "
                        "parameter with its origin in parameter_origin); expected one of them")
    if a.action == "list":
        if a.target or a.set or a.start or a.end:
            raise UserError("scenarios list: takes no scenario, --set, --start or --end")
        bad = 0
        listed = []
        for name in named_scenarios():
            try:
                sc, _ = load_scenario(name)
            except ScenarioError as e:
                bad += 1
                listed.append({"name": name, "error": str(e)})
                if not a.json:
                    print(f"{name:<18} INVALID: {e}")
                continue
            listed.append({"name": name, "extends": sc.extends, "question": sc.question})
            if not a.json:
                parent = f"[extends {sc.extends}] " if sc.extends else ""
                print(f"{name:<18} {parent}{sc.question}")
        if a.json:
            print(json.dumps(listed, indent=2))
        return 2 if bad else 0
    if a.action == "check":
        bad = 0
        for t in [a.target] if a.target else named_scenarios():
            try:
                sc, origin = resolve_scenario(t, a.set, start=a.start, end=a.end, from_cli=True)
                _build_initial_state(sc, origin, scenario_path(t))
            except ScenarioError as e:
                if a.target:
                    raise
                print(f"frontiersim: error: {e}", file=sys.stderr)  # checking all: one line per bad file
                bad += 1
                continue
            print(f"{t}: ok ({sc.name}, {sc.start}..{sc.end}, {plural(len(sc.labs), 'lab')}, {plural(len(sc.suppliers), 'supplier')}, "
                  f"{plural(len(sc.grids), 'grid')}, {plural(len(sc.events), 'event')}; {plural(len(origin), 'value')} set by the file, its parents or overrides)")
        return 2 if bad else 0
    if a.action == "show":
        if not a.target:
            raise UserError("scenarios show: expected a scenario name or .toml file (see 'frontiersim scenarios list')")
        # resolve exactly as 'frontiersim run' does, so the output equals that run's manifest
        sc, origin = resolve_scenario(a.target, a.set, start=a.start, end=a.end, from_cli=True)
        if a.json:
            print(json.dumps(resolved_parameters(sc, origin), indent=2))
            return 0
        rows = [(format_key(k), format_value(v) if v is not None else None, src, field_unit(k))
                for k, v, src in resolved_with_origin(sc, origin)]
        if a.changed:
            rows = [r for r in rows if r[2] != "default"]
        print(f"# scenario {sc.name}: {scenario_path(a.target)}")
        if sc.question:
            print(f"# question: {sc.question}")
        print("# origin: default = schema default; parent:NAME = inherited from scenario NAME; "
              "file = set in this file; override = --set/--start/--end")
        kw = max((len(r[0]) for r in rows), default=0)
        vw = min(max((len(r[1] or "") for r in rows), default=0), 40)
        for key, val, src, unit in rows:
            unit_s = f"  [{unit}]" if unit else ""
            if val is None:  # TOML has no null: an unset optional value is shown as a comment
                print(f"# {key} is unset  # {src}")
                continue
            print(f"{key:<{kw}} = {val:<{vw}}  # {src:<16}{unit_s}".rstrip())
        return 0
    raise UserError(f"scenarios: unknown action {a.action!r}; expected list, show or check")


def _build_initial_state(sc, origin, path) -> None:
    """Build the model (no step) so that checks made at set-up (e.g. a grid smaller than the load
    committed at start) are reported as scenario errors."""
    from sim.model import IndustryModel, SetupError
    from sim.run import release_model

    try:
        m = IndustryModel(sc, seed=0)
    except SetupError as e:
        raise setup_error(e, origin, path) from None
    release_model(m)


def setup_error(e, origin: dict, path) -> Exception:
    """A one-line scenario error for a failed model set-up (a :class:`sim.model.SetupError`),
    naming the file and the field, and ``--set`` when the field's value came from one."""
    from scenarios.loader import ScenarioError

    return ScenarioError(f"{path}: --set {e}" if origin.get(e.key) == "override" else f"{path}: {e}")


def run_error(e, name: str, seed: int, origin: dict, path, command: str = "", after: str = "") -> Exception:
    """The one-line error for a run stopped by its set-up (a :class:`sim.model.SetupError`, see
    :func:`setup_error`), its startup population (:class:`sim.errors.PopulationError`) or, with
    ``check``, a broken law (:class:`sim.errors.InvariantError`): ``COMMAND: NAME seed N: ...`` and
    ``COMMAND --check: ...`` (``check: ...`` without a command), each ending with ``after``."""
    from sim.errors import InvariantError, PopulationError

    if isinstance(e, PopulationError):
        return UserError(f"{command + ': ' if command else ''}{name} seed {seed}: {e}{after}")
    if isinstance(e, InvariantError):
        return UserError(f"{command + ' --check' if command else 'check'}: {name} seed {seed} breaks a law of "
                         f"docs/ODD.md 7.24 in {e}; {_broken_law_cause(e)}{after}")
    return setup_error(e, origin, path)


def _broken_law_cause(e) -> str:
    """What a broken law (:class:`sim.errors.InvariantError`) means: outputs that are only infinite
    come from parameters past the model's numeric domain (docs/ODD.md 7.6); any other law broken
    is a bug."""
    if all(p.startswith("finite:") for p in e.problems):
        return ("these parameters take the model past its numeric domain (docs/ODD.md 7.6 names combinations "
                "that do); expected values nearer their defaults")
    return "this is a bug in frontiersim (please report the scenario, overrides and seed)"


def runs_error(e, kept: bool = True) -> UserError:
    """The one-line error for a run of an ensemble, sweep or sensitivity analysis stopped by its
    startup population (:class:`sim.errors.PopulationError`) or, with ``--check``, a broken law
    (:class:`sim.errors.InvariantError`); both already name the run and its seed. ``kept``: the
    runs finished before it stay in the output directory (and the message says so)."""
    from sim.errors import InvariantError

    if isinstance(e, InvariantError):
        return UserError(f"--check: {e}: a law of docs/ODD.md 7.24 broken; {_broken_law_cause(e)}"
                         f"{'; the runs finished before it are kept' if kept else ''}")
    return UserError(str(e))


class OneLineParser(argparse.ArgumentParser):
    """Argument errors are one line on stderr and exit status 2 (no usage dump):
    ``NAME: error: [SUBCOMMAND: ]MESSAGE (see 'PROG --help')``.

    ``error_name`` is ``frontiersim`` for the command line and its subcommands; a module run
    with ``python -m`` (``analysis.calibrate``, ``scenarios.provenance``) passes the name its other
    errors start with.
    """

    def __init__(self, *args, error_name: str = "frontiersim", **kwargs):
        super().__init__(*args, **kwargs)
        self.error_name = error_name

    def error(self, message: str):  # noqa: D102
        sub = self.prog.removeprefix("frontiersim").strip() if self.prog.startswith("frontiersim") else ""
        self.exit(2, f"{self.error_name}: error: {sub + ': ' if sub else ''}{message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="frontiersim", description="Agent-based simulation of the AI industry.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    r = sub.add_parser("run", help="run one scenario and write its tables")
    r.add_argument("scenario", help="a named scenario (see 'frontiersim scenarios list') or a .toml file")
    r.add_argument("--seed", type=_seed, default=0, help="the random seed, a whole number >= 0 (default 0)")
    r.add_argument("--start", type=_start_month, help=START_HELP)
    r.add_argument("--end", type=_end_month, help=END_HELP)
    r.add_argument("--out", help="output directory (default runs/SCENARIO-seedN)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter (repeatable)")
    r.add_argument("--check", action="store_true",
                   help="check the conservation laws and bounds of docs/ODD.md 7.24 after every month (a few "
                        "percent slower); stop with an error at the first month that breaks one")
    r.set_defaults(func=cmd_run)
    s = sub.add_parser("scenarios", help="list, show or check scenarios",
                       description="list: named scenarios and their questions; show NAME|FILE: every resolved "
                                   "parameter with its origin (default, parent:NAME, file, override); check [NAME|FILE]: "
                                   "validate a scenario (all named ones when none is given)")
    s.add_argument("action", choices=["list", "show", "check"])
    s.add_argument("target", nargs="?", help="a named scenario or a .toml file")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter (repeatable), as for run")
    s.add_argument("--start", type=_start_month, help=f"{START_HELP}, as for run")
    s.add_argument("--end", type=_end_month, help=f"{END_HELP}, as for run")
    s.add_argument("--json", action="store_true",
                   help="list: the named scenarios as a JSON list (name, extends, question; error for an invalid one); "
                        "show: the manifest's parameters and parameter_origin as JSON; an error with check or --changed")
    s.add_argument("--changed", action="store_true",
                   help="show: only values that are not schema defaults; an error with list, check or --json")
    s.set_defaults(func=cmd_scenarios)
    # further commands live beside the code they drive; each module exposes register(subparsers)
    import importlib

    for mod in PLUGIN_COMMANDS:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
            continue
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from scenarios.loader import ScenarioError

    parser = build_parser()
    a = parser.parse_args(argv)
    from sim.errors import InvariantError, PopulationError

    try:
        return a.func(a)
    except (ScenarioError, UserError) as e:
        print(f"frontiersim: error: {e}", file=sys.stderr)
        return 2
    except (PopulationError, InvariantError) as e:  # (a run of an ensemble, sweep or sensitivity analysis)
        print(f"frontiersim: error: {runs_error(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("frontiersim: interrupted", file=sys.stderr)
        return 130


def console() -> int:
    """The ``frontiersim`` command: :func:`main`, then an exit that skips the interpreter's final
    garbage collection over every object the run left (``gc.freeze``). Atexit handlers and module
    clean-up still run; only unreachable cycles are left to the operating system. That takes
    ~0.15 s off every command's exit (0.17 -> 0.03 s after ``frontiersim run``), which
    ``frontiersim run`` end to end and every short ensemble pay. (Not in :func:`main`, which
    tests and scripts call in a process that goes on.)"""
    import gc

    rc = main()
    gc.freeze()
    return rc


if __name__ == "__main__":
    # run the imported module's command, so that its error classes are the ones plug-ins raise
    # (under ``python -m`` this file is also ``__main__``, a second copy with its own classes)
    from sim.cli import console as _console

    sys.exit(_console())
