"""The ``frontiersim`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MILESTONE_YEARS = (2024, 2025, 2027, 2030, 2035, 2040)

#: modules that add subcommands with a ``register(subparsers)`` function (imported lazily so
#: that heavy libraries stay out of ``frontiersim run``)
PLUGIN_COMMANDS = ("analysis.commands", "sim.ensemble_cli")


class UserError(Exception):
    """An error the user can fix; printed as one line, exit status 2."""


def _month(s: str) -> str:
    from scenarios.schema import MONTH_RE

    if not MONTH_RE.match(s):
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {s!r}")
    return s


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
    from sim.run import resolve_scenario, run_resolved, write_outputs

    out = Path(a.out) if a.out else Path("runs") / f"{Path(a.scenario).stem}-seed{a.seed}"
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")
    sc, origin = resolve_scenario(a.scenario, a.set, start=a.start, end=a.end)
    print(f"frontiersim: running {sc.name} {sc.start}..{sc.end} (seed {a.seed})...", file=sys.stderr, flush=True)
    res = run_resolved(sc, origin, a.seed)
    write_outputs(res, out)
    print(summary_table(res.model))
    print(f"\n{len(res.model)} months simulated in {res.wall_time_s:.2f} s; outputs in {out}/ "
          "(model.parquet, agents.parquet, events.parquet, deals.graphml, manifest.json)")
    return 0


def cmd_scenarios(a) -> int:
    from scenarios.loader import load_scenario, named_scenarios, resolved_with_origin

    if a.action == "list":
        for name in named_scenarios():
            sc, _ = load_scenario(name)
            print(f"{name:<18} {sc.question}")
        return 0
    if a.action in ("show", "check"):
        if not a.target:
            raise UserError(f"scenarios {a.action}: expected a scenario name or file")
        sc, origin = load_scenario(a.target, a.set)
        if a.action == "check":
            print(f"{a.target}: ok ({sc.name}, {sc.start}..{sc.end}, {len(sc.labs)} labs, {len(sc.suppliers)} suppliers, "
                  f"{len(sc.grids)} grids, {len(sc.events)} events)")
            return 0
        for key, value, src in resolved_with_origin(sc, origin):
            print(f"{key} = {value!r}    # {src}")
        return 0
    raise UserError(f"scenarios: unknown action {a.action!r}; expected list, show or check")


class _Parser(argparse.ArgumentParser):
    """Argument errors are one line on stderr and exit status 2 (no usage dump)."""

    def error(self, message: str):  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="frontiersim", description="Agent-based simulation of the AI industry.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="run one scenario and write its tables")
    r.add_argument("scenario", help="a named scenario (see 'frontiersim scenarios list') or a .toml file")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--start", type=_month, help="first month, YYYY-MM")
    r.add_argument("--end", type=_month, help="last month, YYYY-MM")
    r.add_argument("--out", help="output directory (default runs/SCENARIO-seedN)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter (repeatable)")
    r.set_defaults(func=cmd_run)
    s = sub.add_parser("scenarios", help="list, show or check scenarios")
    s.add_argument("action", choices=["list", "show", "check"])
    s.add_argument("target", nargs="?")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
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
    try:
        return a.func(a)
    except (ScenarioError, UserError) as e:
        print(f"frontiersim: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("frontiersim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
