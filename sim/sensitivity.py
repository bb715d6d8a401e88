"""Experiment designs over parameter ranges: sweeps (grid, Latin hypercube) and global
sensitivity analysis (Sobol, Morris, with SALib).

Designs only say which runs to make; they are run by :func:`sim.ensemble.execute` (parts on
disk, resumable, local or Dask) and analysed from the runs' stored outcomes. The engine takes
any evaluate-like function ``fn(scenario, overrides, seed, end, outcomes) -> {name: value}``
(default :func:`sim.experiment.evaluate`), so it can be checked on functions with known indices.
"""

from __future__ import annotations

import csv
import itertools
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.ensemble import (EnsembleError, Plan, RunSpec, collect_outcomes, execute, fn_outcomes, replicate_seeds,
                          scenario_target)
from sim.experiment import evaluate

PARAM_SYNTAX = "expected key=low:high[:steps], e.g. --param grids.us_east.buildout_mw_per_year=500:3000:4"
MAX_GRID_RUNS = 100_000


@dataclass
class ParamRange:
    """A parameter varied between ``low`` and ``high`` (``steps`` points on a grid)."""

    key: str
    low: float
    high: float
    steps: int | None = None
    integer: bool = False
    where: str = field(default="", compare=False)  # the input it came from, for errors: '--param ...', 'FILE: line N'

    def cast(self, x: float) -> float | int:
        return int(round(x)) if self.integer else float(x)


# =========================================================================================
# reading ranges
# =========================================================================================
def _number(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise EnsembleError(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(v):
        raise EnsembleError(f"{what}: {text.strip()!r} is not a finite number")
    return v


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_param(text: str) -> ParamRange:
    """``key=low:high[:steps]`` from the command line.

    Raises:
        EnsembleError: one line naming the option and the expected syntax.
    """
    opt = f"--param {text}"
    key, sep, rng = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not p for p in key.split(".")):
        raise EnsembleError(f"{opt}: {PARAM_SYNTAX}")
    parts = rng.split(":")
    if len(parts) not in (2, 3):
        raise EnsembleError(f"{opt}: {PARAM_SYNTAX}")
    low, high = (_number(p, f"{opt}: {PARAM_SYNTAX}; low/high") for p in parts[:2])
    if not low < high:
        raise EnsembleError(f"{opt}: low {parts[0]} is not below high {parts[1]}; expected low < high")
    steps = None
    if len(parts) == 3:
        if not parts[2].strip().isdigit() or int(parts[2]) < 2:
            raise EnsembleError(f"{opt}: steps {parts[2]!r}: expected an integer >= 2")
        steps = int(parts[2])
    return ParamRange(key, low, high, steps, where=opt)


def read_ranges(path: str | Path) -> list[ParamRange]:
    """Parameter ranges from a TOML or CSV file.

    TOML: one entry per parameter, ``"dotted.key" = [low, high]`` or ``{low = .., high = ..}``,
    at the top level or under ``[parameters]`` (unquoted dotted keys work too). CSV: columns
    ``parameter,low,high`` (an optional header row ``parameter,low,high``; lines starting with
    ``#`` are comments).

    Raises:
        EnsembleError: one line naming the file and what was expected.
    """
    p = Path(path)
    where = f"--ranges {p}"
    if p.is_dir():
        raise EnsembleError(f"{where}: is a directory; expected a TOML or CSV file of parameter, low, high")
    if not p.is_file():
        raise EnsembleError(f"{where}: no such file; expected a TOML or CSV file of parameter, low, high")
    if p.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as e:
            raise EnsembleError(f"{where}: invalid TOML ({e})") from None
        data = data.get("parameters", data)
        out: list[ParamRange] = []
        _walk_ranges(data, "", out, where)
    elif p.suffix.lower() == ".csv":
        out = []
        first = True
        with open(p, newline="") as fh:
            for i, row in enumerate(csv.reader(fh), 1):
                row = [c.strip() for c in row]
                if not row or not any(row) or row[0].startswith("#"):
                    continue
                if len(row) != 3:
                    raise EnsembleError(f"{where}: line {i}: expected 3 columns parameter,low,high, got {len(row)}: "
                                        f"{','.join(row)!r}")
                if first and [c.lower() for c in row] == ["parameter", "low", "high"]:
                    first = False
                    continue
                if first and not _is_number(row[1]) and not _is_number(row[2]):
                    raise EnsembleError(f"{where}: line {i}: header {','.join(row)!r}; expected the header "
                                        "parameter,low,high (or no header)")
                first = False
                out.append(_range(row[0], row[1], row[2], f"{where}: line {i}"))
    else:
        raise EnsembleError(f"{where}: expected a .toml or .csv file")
    if not out:
        raise EnsembleError(f"{where}: no parameters; expected at least one parameter with low and high")
    keys = [r.key for r in out]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup:
        raise EnsembleError(f"{where}: {dup} is given twice; expected each parameter once")
    return out


def _walk_ranges(node: dict, prefix: str, out: list, where: str) -> None:
    for k, v in node.items():
        key = f"{prefix}{k}"
        if isinstance(v, list):
            if len(v) != 2:
                raise EnsembleError(f"{where}: {key}: expected [low, high], got {v!r}")
            out.append(_range(key, v[0], v[1], f"{where}: {key}"))
        elif isinstance(v, dict) and ("low" in v or "high" in v):
            if set(v) - {"low", "high"} or len(v) != 2:
                raise EnsembleError(f"{where}: {key}: expected {{low = .., high = ..}}, got keys {sorted(v)}")
            out.append(_range(key, v["low"], v["high"], f"{where}: {key}"))
        elif isinstance(v, dict):
            _walk_ranges(v, f"{key}.", out, where)
        else:
            raise EnsembleError(f"{where}: {key}: expected [low, high] or {{low = .., high = ..}}, got {v!r}")


def _range(key: str, low: Any, high: Any, where: str) -> ParamRange:
    lo = _number(str(low), f"{where}: low")
    hi = _number(str(high), f"{where}: high")
    if not lo < hi:
        raise EnsembleError(f"{where}: low {low} is not below high {high}; expected low < high")
    return ParamRange(key, lo, hi, where=where)


def check_ranges(scenario: str, ranges: list[ParamRange], overrides: dict | list | None = None,
                 end: str | None = None) -> list[ParamRange]:
    """Check each key names a numeric parameter of the scenario and both ends of its range are
    valid values; mark integer parameters (their sampled values are rounded).

    Raises:
        ScenarioError / EnsembleError: one line naming the parameter.
    """
    from scenarios.loader import OverrideError, ScenarioError
    from sim.run import _pairs, resolve_scenario

    base = dict(_pairs(overrides))
    sc, _ = resolve_scenario(scenario, base, end=end)
    data = sc.model_dump()
    out = []
    for r in ranges:
        where = r.where or r.key
        if r.key in base:
            raise EnsembleError(f"{where}: {r.key} is also set with --set; expected each parameter either varied "
                                "or set, not both")
        cur = _lookup(data, r.key)
        if isinstance(cur, bool) or (cur is not None and not isinstance(cur, (int, float))):
            raise EnsembleError(f"{where}: {r.key} is {type(cur).__name__} {cur!r}; expected a numeric parameter to vary")
        # (an unknown key, or an unset optional value, is checked with the low and high values below)
        r = ParamRange(r.key, r.low, r.high, r.steps, integer=isinstance(cur, int), where=r.where)
        for v in (r.low, r.high):
            try:
                resolve_scenario(scenario, {**base, r.key: r.cast(v)}, end=end)
            except ScenarioError as e:
                # the scenario file and a '--set KEY=VALUE' the user never typed: name the range instead
                own = isinstance(e, OverrideError) and e.key == r.key
                raise EnsembleError(f"{where}: {e.problem if own else e}") from None
        out.append(r)
    return out


def _lookup(data: Any, key: str) -> Any:
    node = data
    for p in key.split("."):
        if isinstance(node, dict) and p in node:
            node = node[p]
        elif isinstance(node, list) and p.isdigit() and int(p) < len(node):
            node = node[int(p)]
        else:
            return None
    return node


# =========================================================================================
# designs
# =========================================================================================
def grid_design(ranges: list[ParamRange], default_steps: int = 5) -> list[dict]:
    """Every combination of ``steps`` evenly spaced values per parameter (the last varies fastest)."""
    axes = [[r.cast(v) for v in np.linspace(r.low, r.high, r.steps or default_steps)] for r in ranges]
    axes = [list(dict.fromkeys(a)) for a in axes]  # integer rounding can merge points
    n = math.prod(len(a) for a in axes)
    if n > MAX_GRID_RUNS:
        raise EnsembleError(f"--param: the grid has {n:,} points; expected at most {MAX_GRID_RUNS:,} (fewer steps, or --design lhs)")
    return [dict(zip((r.key for r in ranges), combo)) for combo in itertools.product(*axes)]


def lhs_design(ranges: list[ParamRange], samples: int, seed: int = 0) -> list[dict]:
    """A Latin hypercube: each parameter's range cut into ``samples`` strata, each used once."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    d = len(ranges)
    u = (np.argsort(rng.random((samples, d)), axis=0) + rng.random((samples, d))) / samples
    return [{r.key: r.cast(r.low + u[i, j] * (r.high - r.low)) for j, r in enumerate(ranges)} for i in range(samples)]


def sweep_plan(scenario: str, ranges: list[ParamRange], design: str = "grid", samples: int | None = None, seed: int = 0,
               replicates: int = 1, overrides: dict | list | None = None, end: str | None = None,
               outcomes: list[str] | None = None, keep_model: bool = True, fn: Callable = evaluate) -> Plan:
    """Runs at each design point, ``replicates`` seeds per point (the same seeds at every point:
    common random numbers, so differences between points come from the parameters).

    ``outcomes`` are the scalar outcomes to record (None: every documented one in the horizon);
    ``keep_model`` stores each run's model table in its part too.
    """
    if fn is evaluate:
        ranges = check_ranges(scenario, ranges, overrides, end)
    if design == "grid":
        if samples is not None:
            raise EnsembleError("--samples: applies to --design lhs; expected steps in --param key=low:high:steps for a grid")
        points = grid_design(ranges)
    elif design == "lhs":
        bad = next((r for r in ranges if r.steps is not None), None)
        if bad is not None:
            raise EnsembleError(f"--param {bad.key}: steps apply to --design grid; expected key=low:high with --design lhs")
        if not samples or samples < 1:
            raise EnsembleError("--design lhs: expected --samples N (N >= 1)")
        points = lhs_design(ranges, samples, seed)
    else:
        raise EnsembleError(f"--design {design}: expected grid or lhs")
    if replicates < 1:
        raise EnsembleError(f"--replicates {replicates}: expected at least 1")
    seeds = replicate_seeds(seed, replicates)
    runs = [RunSpec(i * replicates + k, s, pt) for i, pt in enumerate(points) for k, s in enumerate(seeds)]
    des = {"design": design, "samples": samples, "replicates": replicates,
           "parameters": [[r.key, r.low, r.high, r.steps] for r in ranges]}
    names = fn_outcomes(outcomes, keep_model) if fn is evaluate else outcomes
    return Plan(kind="sweep", runs=runs, fn=fn, master_seed=seed, outcomes=names, design=des,
                **scenario_target(scenario, overrides, end, fn))


# =========================================================================================
# sensitivity (SALib)
# =========================================================================================
def _salib():
    import importlib.util

    if importlib.util.find_spec("SALib") is None:
        raise EnsembleError("sensitivity needs SALib, which is not installed; expected pip install SALib")


def problem_of(ranges: list[ParamRange]) -> dict:
    return {"num_vars": len(ranges), "names": [r.key for r in ranges], "bounds": [[r.low, r.high] for r in ranges]}


def sample(ranges: list[ParamRange], method: str, samples: int, seed: int = 0, levels: int = 4) -> np.ndarray:
    """The SALib sample matrix: Sobol (Saltelli scheme, N (D + 2) rows) or Morris (N (D + 1) rows)."""
    _salib()
    problem = problem_of(ranges)
    if method == "sobol":
        from SALib.sample import sobol

        if samples < 2 or samples & (samples - 1):
            raise EnsembleError(f"--samples {samples}: Sobol sampling needs a power of 2; expected e.g. 64, 256 or 1024")
        return sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    if method == "morris":
        from SALib.sample import morris

        if samples < 2:
            raise EnsembleError(f"--samples {samples}: expected at least 2 Morris trajectories")
        if levels < 2 or levels % 2:
            raise EnsembleError(f"--levels {levels}: expected an even number >= 2 (the Morris grid's levels; SALib's "
                                "design is biased with an odd number)")
        return morris.sample(problem, samples, num_levels=levels, seed=seed)
    raise EnsembleError(f"--method {method}: expected sobol or morris")


def sensitivity_plan(scenario: str, ranges: list[ParamRange], method: str, samples: int, seed: int = 0,
                     overrides: dict | list | None = None, end: str | None = None, outcomes: list[str] | None = None,
                     fn: Callable = evaluate, levels: int = 4) -> tuple[Plan, np.ndarray, list[ParamRange]]:
    """The runs of a sensitivity analysis, its sample matrix and the checked ranges. Every run
    uses the same model seed (derived from ``seed``): common random numbers, so indices measure
    parameter effects rather than noise between seeds."""
    if fn is evaluate:
        ranges = check_ranges(scenario, ranges, overrides, end)
    X = sample(ranges, method, samples, seed, levels)
    model_seed = replicate_seeds(seed, 1)[0]
    runs = [RunSpec(i, model_seed, {r.key: r.cast(x) for r, x in zip(ranges, row)}) for i, row in enumerate(X)]
    des = {"method": method, "samples": samples, "levels": levels if method == "morris" else None,
           "parameters": [[r.key, r.low, r.high] for r in ranges]}
    plan = Plan(kind="sensitivity", runs=runs, fn=fn, master_seed=seed, outcomes=outcomes, design=des,
                **scenario_target(scenario, overrides, end, fn))
    return plan, X, ranges


def analyze(ranges: list[ParamRange], method: str, X: np.ndarray, Y: dict[str, np.ndarray], seed: int = 0,
            conf_level: float = 0.95, levels: int = 4) -> pd.DataFrame:
    """Indices for each outcome: Sobol S1 and ST with their confidence half-widths, or Morris
    mu, mu* (with its confidence half-width) and sigma."""
    _salib()
    problem = problem_of(ranges)
    # SALib's Sobol analysis ignores a seed of 0: derive a non-zero one so the bootstrap is repeatable
    boot_seed = int(np.random.SeedSequence([seed, 1]).generate_state(1)[0]) or 1
    keys = ("S1", "S1_conf", "ST", "ST_conf") if method == "sobol" else ("mu", "mu_star", "mu_star_conf", "sigma")
    rows = []
    for name, y in Y.items():
        y = np.asarray(y, dtype=float)
        # an outcome that is NaN or infinite in any run has no indices: SALib would return NaN or
        # masked values for it, and a variance or an elementary effect of inf means nothing
        bad = int(np.count_nonzero(~np.isfinite(y)))
        if bad:
            res = {k: [math.nan] * len(ranges) for k in keys}
        elif method == "sobol":
            from SALib.analyze import sobol

            res = sobol.analyze(problem, y, calc_second_order=False, conf_level=conf_level, seed=boot_seed)
        else:
            from SALib.analyze import morris

            res = morris.analyze(problem, X, y, conf_level=conf_level, num_levels=levels, seed=boot_seed)
        # (SALib may return masked arrays: a masked value is NaN here)
        vals = {k: np.ma.filled(np.ma.asarray(res[k], dtype=float), np.nan) for k in keys}
        for j, r in enumerate(ranges):
            rows.append({"outcome": name, "parameter": r.key, **{k: float(v[j]) for k, v in vals.items()},
                         "n_not_finite": bad})
    return pd.DataFrame(rows)


@dataclass
class SensitivityResult:
    table: pd.DataFrame
    outcomes: pd.DataFrame
    out: Path
    stats: Any


def run_sensitivity(scenario: str, ranges: list[ParamRange], out: str | Path, method: str = "sobol", samples: int = 64,
                    outcomes: list[str] | tuple[str, ...] = ("hhi_revenue_2035", "frontier_median_gap_ece_2035"),
                    seed: int = 0, workers: int = 1, scheduler: str | None = None, overrides: dict | list | None = None,
                    end: str | None = None, fn: Callable = evaluate, levels: int = 4, conf_level: float = 0.95,
                    progress: bool = True, stop_after: int | None = None, plot: bool = True,
                    keep_model: bool = True, on_start: Callable[[], None] | None = None,
                    check: bool = False) -> SensitivityResult:
    """Sample, run (through :func:`sim.ensemble.execute`), analyse, and write
    ``out/sensitivity.csv`` (and ``out/sensitivity.png`` when ``plot``).

    ``keep_model=False`` stores only the scalar outcomes of each run, not its model table;
    ``on_start`` is called once the design is checked and the runs can start; ``check`` checks
    every month of every run (:attr:`sim.ensemble.Plan.check`).
    """
    outcomes = list(outcomes)
    names = fn_outcomes(outcomes, keep_model) if fn is evaluate else outcomes
    plan, X, ranges = sensitivity_plan(scenario, ranges, method, samples, seed, overrides, end, names, fn, levels)
    plan.check = check
    out = Path(out)
    stats = execute(plan, out, workers=workers, scheduler=scheduler, progress=progress, stop_after=stop_after,
                    on_start=on_start)
    if stats.stopped_early:
        return SensitivityResult(pd.DataFrame(), pd.DataFrame(), out, stats)
    table_o = collect_outcomes(out, plan.n)
    table_o.to_csv(out / "outcomes.csv", index=False)
    pd.DataFrame(X, columns=[r.key for r in ranges]).rename_axis("run").to_csv(out / "samples.csv")
    missing = [o for o in outcomes if o not in table_o.columns]
    if missing:
        raise EnsembleError(f"--outcomes: {missing[0]!r} is not among the runs' outcomes; expected one of "
                            f"{', '.join(c for c in table_o.columns if c not in ('run', 'seed') and c not in {r.key for r in ranges})}")
    Y = {o: table_o[o].to_numpy(dtype=float) for o in outcomes}
    table = analyze(ranges, method, X, Y, seed, conf_level, levels)
    table.to_csv(out / "sensitivity.csv", index=False)
    if plot:
        plot_indices(table, method, out / "sensitivity.png")
    return SensitivityResult(table, table_o, out, stats)


def format_indices(table: pd.DataFrame, method: str) -> str:
    kw = max([len(p) for p in table["parameter"]] + [9])
    if method == "sobol":
        lines = [f"{'outcome':<30} {'parameter':<{kw}} {'S1':>7} {'±95%':>6} {'ST':>7} {'±95%':>6}"]
        for r in table.itertuples():
            lines.append(f"{r.outcome:<30} {r.parameter:<{kw}} {r.S1:>7.3f} {r.S1_conf:>6.3f} {r.ST:>7.3f} {r.ST_conf:>6.3f}")
    else:
        lines = [f"{'outcome':<30} {'parameter':<{kw}} {'mu*':>10} {'±95%':>9} {'mu':>10} {'sigma':>10}"]
        for r in table.itertuples():
            lines.append(f"{r.outcome:<30} {r.parameter:<{kw}} {r.mu_star:>10.4g} {r.mu_star_conf:>9.3g} "
                         f"{r.mu:>10.4g} {r.sigma:>10.4g}")
    bad = table.groupby("outcome", sort=False)["n_not_finite"].first()
    for o, k in bad.items():
        if k:
            lines.append(f"note: {o} is NaN or infinite in {k} of the runs; it has no indices (NaN)")
    return "\n".join(lines)


def plot_indices(table: pd.DataFrame, method: str, path: str | Path) -> Path:
    """A bar chart per outcome: S1 and ST (Sobol) or mu* (Morris) with confidence intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outs = list(dict.fromkeys(table["outcome"]))
    fig, axes = plt.subplots(len(outs), 1, figsize=(8, 1.2 + 0.5 * table["parameter"].nunique() * len(outs) + 0.6 * len(outs)),
                             squeeze=False)
    for ax, o in zip(axes[:, 0], outs):
        t = table[table["outcome"] == o]
        y = np.arange(len(t))
        if method == "sobol":
            ax.barh(y - 0.2, t["S1"], 0.4, xerr=t["S1_conf"], label="first order S1", capsize=3)
            ax.barh(y + 0.2, t["ST"], 0.4, xerr=t["ST_conf"], label="total ST", capsize=3)
            ax.set_xlabel("Sobol index (95% CI)")
            ax.legend(loc="lower right", fontsize=8)
        else:
            ax.barh(y, t["mu_star"], 0.6, xerr=t["mu_star_conf"], capsize=3)
            ax.set_xlabel("Morris mu* (95% CI), outcome units per unit of the normalized range")
        ax.set_yticks(y, t["parameter"], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(o, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)

