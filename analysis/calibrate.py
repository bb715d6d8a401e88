"""Calibration of the free parameters that no source pins down, against the 2020-2025 backcast.

The procedure is fixed and reproducible (no hand-tuning):

1. The free parameters and their plausible ranges are listed in :data:`FREE` (a parameter
   belongs here only if ``docs/ODD.md`` gives it no source).
2. Each candidate is scored by running the ``backcast`` scenario with ``--seeds`` replicate seeds
   (derived from master seed 0 as in ``frontiersim ensemble``) and computing
   :func:`analysis.validate.fit_loss` on the history rows whose role is ``fit``: the mean squared
   deviation of the simulated median from history, in units of each row's tolerance. Rows whose
   role is ``holdout`` are never seen by the fit; they are reported before and after, so that
   over-fitting shows as a held-out loss that does not fall.
3. The loss is minimized by Nelder-Mead (scipy) over the parameters mapped to the real line by a
   logistic transform of their ranges, from the current defaults, with a fixed evaluation budget.

Usage::

    python -m analysis.calibrate                       # 5 seeds, 80 evaluations, ~2-4 minutes
    python -m analysis.calibrate --seeds 1 --maxfev 8  # a quick check
    python -m analysis.calibrate --out calibration.json

It prints the fitted values (paste them into ``scenarios/schema.py`` defaults, citing this
procedure) and writes a JSON record of the run: parameters, ranges, start and fitted values,
losses on fitting and held-out rows, and every evaluation.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from analysis import validate as V
from sim.cli import OneLineParser, UserError, at_least_one, check_out_file, plural, write_out_file

#: free parameter -> (low, high, prior, why it is free). The search starts from the prior, a
#: value argued from sources in docs/ODD.md (not the current default, which may be a fit).
FREE: dict[str, tuple[float, float, float, str]] = {
    "finance.parent_capex_growth_before_cal": (0.25, 1.5, 0.5,
        "AI capex before 2024: only total capex is reported; AI's share of it rose, so AI capex grew at least as fast "
        "as the total (25%/yr, the lower bound) and at most about as fast as NVIDIA's data-centre revenue (~2.4x/yr)"),
    "training.share_growth_per_year": (0.0, 1.0, 0.5,
        "how fast labs raised the share of compute in their largest run: not reported; 4-5x/yr run growth over "
        "2.3-3.3x/yr stock growth bounds it to about 0.2-1.0"),
    "finance.sentiment_revenue_weight": (0.0, 1.0, 0.5,
        "how strongly investors react to revenue growth: sentiment is not observed"),
}


def _to_x(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    u = np.clip((values - lo) / (hi - lo), 1e-6, 1 - 1e-6)
    return np.log(u / (1 - u))


def _to_values(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return lo + (hi - lo) / (1 + np.exp(-x))


def _one(args) -> dict[str, float]:
    scenario, overrides, seed = args
    return V.backcast_outcomes(scenario, overrides, seed)


class Objective:
    """Loss on fitting rows for parameter values; remembers every evaluation."""

    def __init__(self, history: pd.DataFrame, seeds: list[int], scenario: str, pool: ProcessPoolExecutor | None,
                 names: list[str]):
        self.history, self.seeds, self.scenario, self.pool, self.names = history, seeds, scenario, pool, names
        self.log: list[dict] = []

    def table(self, values: np.ndarray) -> pd.DataFrame:
        ov = {n: float(v) for n, v in zip(self.names, values)}
        jobs = [(self.scenario, ov, s) for s in self.seeds]
        runs = list(self.pool.map(_one, jobs)) if self.pool else [_one(j) for j in jobs]
        return V.compare(self.history, pd.DataFrame(runs))

    def __call__(self, values: np.ndarray) -> float:
        t = self.table(values)
        loss, hold = V.fit_loss(t, ("fit",)), V.fit_loss(t, ("holdout",))
        self.log.append({"values": dict(zip(self.names, map(float, values))), "fit_loss": loss, "holdout_loss": hold})
        print(f"  eval {len(self.log):3d}: " + ", ".join(f"{n.split('.')[-1]}={v:.3g}" for n, v in zip(self.names, values))
              + f" -> fit {loss:.4f} (held out {hold:.4f})", file=sys.stderr, flush=True)
        return loss


def calibrate(seeds: int = 5, maxfev: int = 80, workers: int = 1, scenario: str = "backcast",
              history_path: str | None = None, free: dict | None = None) -> dict:
    """Run the procedure; returns the JSON-able record."""
    from scipy.optimize import minimize

    from sim.ensemble import replicate_seeds
    from sim.run import resolve_scenario
    from sim.sensitivity import _lookup

    free = FREE if free is None else free
    names = list(free)
    lo = np.array([free[n][0] for n in names])
    hi = np.array([free[n][1] for n in names])
    start = np.array([free[n][2] for n in names])
    history = V.load_history(history_path)
    sc, _ = resolve_scenario(scenario)
    dumped = sc.model_dump()
    defaults = np.array([float(_lookup(dumped, n)) for n in names])
    seed_list = replicate_seeds(0, seeds)
    t0 = time.perf_counter()
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        f = Objective(history, seed_list, scenario, pool, names)
        start_table = f.table(start)
        res = minimize(lambda x: f(_to_values(x, lo, hi)), _to_x(start, lo, hi), method="Nelder-Mead",
                       options={"maxfev": maxfev, "xatol": 1e-3, "fatol": 1e-4,
                                "initial_simplex": _simplex(_to_x(start, lo, hi))})
        best = _to_values(res.x, lo, hi)
        end_table = f.table(best)
    finally:
        if pool:
            pool.shutdown()
    return {
        "scenario": scenario, "seeds": seed_list, "maxfev": maxfev, "method": "Nelder-Mead on logistic-transformed ranges",
        "parameters": {n: {"low": free[n][0], "high": free[n][1], "why_free": free[n][3], "start": float(s),
                           "default_before": float(d), "fitted": float(b)}
                       for n, s, d, b in zip(names, start, defaults, best)},
        "fit_rows": [f"{r.metric} {r.year}" for r in history.itertuples() if r.role == "fit"],
        "holdout_rows": [f"{r.metric} {r.year}" for r in history.itertuples() if r.role == "holdout"],
        "loss_start": {"fit": V.fit_loss(start_table, ("fit",)), "holdout": V.fit_loss(start_table, ("holdout",))},
        "loss_fitted": {"fit": V.fit_loss(end_table, ("fit",)), "holdout": V.fit_loss(end_table, ("holdout",))},
        "within_start": int(start_table["within"].sum()), "within_fitted": int(end_table["within"].sum()), "rows": len(end_table),
        "evaluations": f.log, "wall_time_s": round(time.perf_counter() - t0, 1),
        "table_fitted": end_table.to_dict(orient="records"),
    }


def _simplex(x0: np.ndarray, step: float = 0.5) -> np.ndarray:
    """A fixed initial simplex: x0 and one step along each axis (deterministic)."""
    return np.vstack([x0] + [x0 + step * np.eye(len(x0))[i] for i in range(len(x0))])


#: what --out should be
JSON_PATH = "a JSON file path"


def main(argv: list[str] | None = None) -> int:
    # a bad option value is one line and exit status 2, as for the frontiersim command line
    p = OneLineParser(prog="python -m analysis.calibrate", description=__doc__.split("\n\n")[0], error_name="calibrate")
    p.add_argument("--seeds", type=int, default=5, help="replicate seeds per evaluation (default 5)")
    p.add_argument("--maxfev", type=int, default=80, help="evaluation budget of Nelder-Mead (default 80)")
    p.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 3), help="processes (default: CPUs, at most 3)")
    p.add_argument("--scenario", default="backcast")
    p.add_argument("--history", help="history file (default: the packaged one)")
    p.add_argument("--out", help="write the JSON record here")
    a = p.parse_args(argv)
    try:
        for option, n in (("--seeds", a.seeds), ("--maxfev", a.maxfev), ("--workers", a.workers)):
            at_least_one(option, n)
        if a.out is not None:  # checked before the calibration's minutes of work, not after them
            check_out_file(a.out, JSON_PATH)
        rec = calibrate(a.seeds, a.maxfev, a.workers, a.scenario, a.history)
    except (V.ValidationError, UserError) as e:
        print(f"calibrate: error: {e}", file=sys.stderr)
        return 2
    print(f"Calibration of {plural(len(rec['parameters']), 'free parameter')} on {plural(len(rec['fit_rows']), 'fitting row')} "
          f"({plural(len(rec['seeds']), 'seed')}, {plural(len(rec['evaluations']), 'evaluation')}, {rec['wall_time_s']} s)")
    for n, d in rec["parameters"].items():
        print(f"  {n:<45} {d['start']:.4g} -> {d['fitted']:.4g}   range {d['low']:g}..{d['high']:g}")
    ls, lf = rec["loss_start"], rec["loss_fitted"]
    print(f"  loss on fitting rows {ls['fit']:.3f} -> {lf['fit']:.3f}; on held-out rows {ls['holdout']:.3f} -> {lf['holdout']:.3f}")
    print(f"  rows within tolerance {rec['within_start']} -> {rec['within_fitted']} of {rec['rows']}")
    if a.out is not None:
        try:
            write_out_file(a.out, json.dumps(rec, indent=1, default=float), JSON_PATH)
        except UserError as e:
            print(f"calibrate: error: {e}", file=sys.stderr)
            return 2
        print(f"  record written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
