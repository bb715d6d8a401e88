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
3. The loss is minimized over the parameters within their ranges, in three stages, within a fixed
   budget of ``--maxfev`` evaluations (default 160) on the fitting seeds:

   a. *sample* (global): the prior and ``--sample`` points (default 32) of a scrambled Sobol
      sequence with a fixed seed (``--sample-seed``, default 0) spread over the ranges;
   b. *local*: Nelder-Mead (scipy) on the logistic transform of the ranges, with a fixed initial
      simplex, from each of the ``--starts`` best points of the sample (default 4) that lie at
      least a quarter of the ranges apart, sharing the rest of the budget equally;
   c. *confirm*: the best point of each local search is run on ``--confirm-seeds`` more seeds
      (default 5); the one with the lowest fitting loss on all the seeds is the fitted point.

   The objective is rough (a small change of a parameter moves the stochastic runs, so points a
   thousandth apart differ by up to ~0.3 in loss) and has more than one basin, so a single
   Nelder-Mead search from the prior collapses where it starts; the global stage and the several
   searches make the result depend on the ranges and the budget, not on the starting point, and
   the confirmation keeps the luckiest evaluation on five seeds from being chosen by its luck.
   The result is deterministic for given options (the number of ``--workers`` does not change it).

Usage::

    python -m analysis.calibrate                       # 5+5 seeds, 160 evaluations, ~3-5 minutes on 2 cores
    python -m analysis.calibrate --maxfev 400 --sample 64 --starts 6 --seeds 8   # a bigger budget
    python -m analysis.calibrate --seeds 1 --maxfev 8 --confirm-seeds 0          # a quick check
    python -m analysis.calibrate --out calibration.json

It prints the fitted values (paste them into ``scenarios/schema.py`` defaults, citing this
procedure) and writes a JSON record of the run: parameters, ranges, start and fitted values,
losses on fitting and held-out rows, the local searches and finalists, and every evaluation with
its stage (``sample``, ``local`` or ``confirm``).
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


#: the order of the stages in the record of evaluations
STAGES = ("sample", "local", "confirm")


def plan(lo: np.ndarray, hi: np.ndarray, prior: np.ndarray, sample: int, seed: int = 0) -> np.ndarray:
    """The candidates of the global stage: the prior, then ``sample`` points of a scrambled Sobol
    sequence (scipy, fixed ``seed``) spread uniformly over the ranges. Deterministic."""
    import warnings

    from scipy.stats import qmc

    pts = [np.asarray(prior, float)]
    if sample > 0:
        with warnings.catch_warnings():  # a sample size that is not a power of 2 is allowed, only less balanced
            warnings.simplefilter("ignore", UserWarning)
            u = qmc.Sobol(len(lo), scramble=True, seed=seed).random(sample)
        pts += list(lo + (hi - lo) * u)
    return np.vstack(pts)


def pick_starts(points: np.ndarray, losses, k: int, lo: np.ndarray, hi: np.ndarray, spread: float = 0.25) -> list[int]:
    """Indices of the ``k`` best points (lowest loss, ties by order) that lie at least ``spread``
    apart (Euclidean, in units of the ranges) from every better one picked; if too few are that
    far apart, the next best fill the list. Deterministic."""
    order = sorted(range(len(points)), key=lambda i: (np.nan_to_num(losses[i], nan=np.inf), i))
    u = (np.asarray(points, float) - lo) / (hi - lo)
    picked: list[int] = []
    for i in order:
        if len(picked) < k and all(np.linalg.norm(u[i] - u[j]) >= spread for j in picked):
            picked.append(i)
    for i in order:
        if len(picked) < k and i not in picked:
            picked.append(i)
    return picked


def budget(maxfev: int, sample: int, starts: int, dims: int) -> tuple[int, int, int]:
    """Split the evaluation budget: (Sobol points, local searches, evaluations per local search).
    The global stage (the prior and the Sobol points) takes at most half of ``maxfev``; the rest is
    shared by the local searches, each given at least ``dims + 1`` evaluations (its first simplex)."""
    n_sample = max(0, min(sample, maxfev // 2 - 1))
    rest = maxfev - 1 - n_sample
    n_starts = max(0, min(starts, 1 + n_sample, rest // (dims + 1)))
    return n_sample, n_starts, (rest // n_starts if n_starts else 0)


def multistart(fun, lo: np.ndarray, hi: np.ndarray, prior: np.ndarray, *, maxfev: int = 160, sample: int = 32,
               starts: int = 4, sample_seed: int = 0, map_fn=map) -> dict:
    """Minimize ``fun(values, tag)`` over the box ``[lo, hi]``: a global stage over :func:`plan`,
    then Nelder-Mead from the best distinct points (:func:`pick_starts`), on the logistic transform
    of the ranges, within ``maxfev`` evaluations in all. ``tag`` is ``(stage, search, index)``;
    ``map_fn`` maps a function over a list (a thread pool's map runs the global stage's candidates
    and the local searches concurrently; the result does not depend on it).

    Returns the plan, the global stage's losses, the starts, and for each local search its
    ``best`` values and loss; ``finalists`` are the distinct best points of the searches (the
    global stage's best when there are none)."""
    from scipy.optimize import minimize

    lo, hi, prior = (np.asarray(a, float) for a in (lo, hi, prior))
    n_sample, n_starts, per_start = budget(maxfev, sample, starts, len(lo))
    points = plan(lo, hi, prior, n_sample, sample_seed)
    losses = list(map_fn(lambda ix: fun(ix[1], ("sample", 0, ix[0])), list(enumerate(points))))
    start_idx = pick_starts(points, losses, n_starts, lo, hi)

    def search(j: int) -> dict:
        x0 = _to_x(points[start_idx[j]], lo, hi)
        seen: list[tuple[float, np.ndarray]] = [(losses[start_idx[j]], points[start_idx[j]])]

        def g(x):
            v = _to_values(x, lo, hi)
            loss = fun(v, ("local", j, len(seen) - 1))
            seen.append((loss, v))
            return loss

        minimize(g, x0, method="Nelder-Mead",
                 options={"maxfev": per_start, "xatol": 1e-3, "fatol": 1e-4, "initial_simplex": _simplex(x0)})
        k = min(range(len(seen)), key=lambda i: (np.nan_to_num(seen[i][0], nan=np.inf), i))
        return {"start": [float(v) for v in points[start_idx[j]]], "start_loss": float(losses[start_idx[j]]),
                "best": [float(v) for v in seen[k][1]], "best_loss": float(seen[k][0]), "evaluations": len(seen) - 1}

    searches = list(map_fn(search, range(len(start_idx))))
    finalists: list[list[float]] = []
    for s in searches or [{"best": [float(v) for v in points[start_idx[0] if start_idx else 0]]}]:
        if s["best"] not in finalists:
            finalists.append(s["best"])
    return {"plan": points.tolist(), "plan_losses": [float(v) for v in losses], "starts": start_idx,
            "per_start": per_start, "searches": searches, "finalists": finalists}


class Objective:
    """Loss on fitting rows for parameter values; remembers every evaluation (thread-safe)."""

    def __init__(self, history: pd.DataFrame, seeds: list[int], scenario: str, pool: ProcessPoolExecutor | None,
                 names: list[str]):
        import threading

        self.history, self.seeds, self.scenario, self.pool, self.names = history, seeds, scenario, pool, names
        self.log: list[dict] = []
        self._runs: dict[tuple, dict] = {}
        self._lock = threading.Lock()

    def runs(self, values, seeds: list[int]) -> list[dict]:
        """The runs at ``values`` with ``seeds`` (each run once: a repeated point is not rerun)."""
        ov = {n: float(v) for n, v in zip(self.names, values)}
        key = tuple(ov.values())
        todo = [s for s in seeds if (key, s) not in self._runs]
        jobs = [(self.scenario, ov, s) for s in todo]
        out = list(self.pool.map(_one, jobs)) if self.pool else [_one(j) for j in jobs]
        with self._lock:
            self._runs.update({(key, s): r for s, r in zip(todo, out)})
            return [self._runs[(key, s)] for s in seeds]

    def table(self, values, seeds: list[int] | None = None) -> pd.DataFrame:
        return V.compare(self.history, pd.DataFrame(self.runs(values, self.seeds if seeds is None else seeds)))

    def __call__(self, values, tag=("local", 0, 0), seeds: list[int] | None = None) -> float:
        t = self.table(values, seeds)
        loss, hold = V.fit_loss(t, ("fit",)), V.fit_loss(t, ("holdout",))
        stage, search, k = tag
        with self._lock:
            self.log.append({"stage": stage, "search": search, "index": k,
                             "values": dict(zip(self.names, map(float, values))), "fit_loss": loss,
                             "holdout_loss": hold, "seeds": len(self.seeds if seeds is None else seeds)})
            print(f"  {stage} {search}.{k:<3d}: " + ", ".join(f"{n.split('.')[-1]}={v:.4g}" for n, v in zip(self.names, values))
                  + f" -> fit {loss:.4f} (held out {hold:.4f})", file=sys.stderr, flush=True)
        return loss

    def ordered_log(self) -> list[dict]:
        """The evaluations in a deterministic order: by stage, search, then index."""
        return sorted(self.log, key=lambda e: (STAGES.index(e["stage"]), e["search"], e["index"]))


def calibrate(seeds: int = 5, maxfev: int = 160, workers: int = 1, scenario: str = "backcast",
              history_path: str | None = None, free: dict | None = None, sample: int = 32, starts: int = 4,
              confirm_seeds: int = 5, sample_seed: int = 0) -> dict:
    """Run the procedure; returns the JSON-able record."""
    from concurrent.futures import ThreadPoolExecutor

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
    all_seeds = replicate_seeds(0, seeds + confirm_seeds)  # the first `seeds` are the fit's (a prefix)
    seed_list = all_seeds[:seeds]
    t0 = time.perf_counter()
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    threads = ThreadPoolExecutor(64) if pool else None  # keep many runs in flight; results do not depend on it
    try:
        f = Objective(history, seed_list, scenario, pool, names)
        ms = multistart(f, lo, hi, start, maxfev=maxfev, sample=sample, starts=starts, sample_seed=sample_seed,
                        map_fn=threads.map if threads else map)
        finalists = [np.array(v) for v in ms["finalists"]]
        if confirm_seeds and len(finalists) > 1:  # the finalists on more seeds: the lowest loss over all of them wins
            conf = list((threads.map if threads else map)(
                lambda iv: f(iv[1], ("confirm", 0, iv[0]), seeds=all_seeds), list(enumerate(finalists))))
        else:  # (already evaluated: the runs are not repeated)
            conf = [V.fit_loss(f.table(v), ("fit",)) for v in finalists]
        win = min(range(len(finalists)), key=lambda i: (np.nan_to_num(conf[i], nan=np.inf), i))
        best = finalists[win]
        start_table, end_table = f.table(start), f.table(best)
        end_all = f.table(best, all_seeds)
    finally:
        if threads:
            threads.shutdown()
        if pool:
            pool.shutdown()
    return {
        "scenario": scenario, "seeds": seed_list, "confirm_seeds": all_seeds[seeds:], "maxfev": maxfev,
        "method": (f"global stage (the prior and {len(ms['plan']) - 1} scrambled Sobol points, seed {sample_seed}), "
                   f"Nelder-Mead on logistic-transformed ranges from the {len(ms['searches'])} best distinct points "
                   f"({ms['per_start']} evaluations each), the searches' best points compared on "
                   f"{len(all_seeds)} seeds"),
        "sample": sample, "starts": starts, "sample_seed": sample_seed,
        "parameters": {n: {"low": free[n][0], "high": free[n][1], "why_free": free[n][3], "start": float(s),
                           "default_before": float(d), "fitted": float(b)}
                       for n, s, d, b in zip(names, start, defaults, best)},
        "fit_rows": [f"{r.metric} {r.year}" for r in history.itertuples() if r.role == "fit"],
        "holdout_rows": [f"{r.metric} {r.year}" for r in history.itertuples() if r.role == "holdout"],
        "loss_start": {"fit": V.fit_loss(start_table, ("fit",)), "holdout": V.fit_loss(start_table, ("holdout",))},
        "loss_fitted": {"fit": V.fit_loss(end_table, ("fit",)), "holdout": V.fit_loss(end_table, ("holdout",))},
        "loss_fitted_all_seeds": {"fit": V.fit_loss(end_all, ("fit",)), "holdout": V.fit_loss(end_all, ("holdout",)),
                                  "seeds": len(all_seeds)},
        "within_start": int(start_table["within"].sum()), "within_fitted": int(end_table["within"].sum()), "rows": len(end_table),
        "search_starts": ms["starts"], "searches": ms["searches"], "finalists": [{"values": dict(zip(names, map(float, v))), "loss": float(c)}
                                                 for v, c in zip(finalists, conf)],
        "evaluations": f.ordered_log(), "wall_time_s": round(time.perf_counter() - t0, 1),
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
    p.add_argument("--maxfev", type=int, default=160,
                   help="evaluation budget of the global and local stages together (default 160)")
    p.add_argument("--sample", type=int, default=32, help="Sobol points of the global stage (default 32; "
                   "at most half the budget is used for it)")
    p.add_argument("--starts", type=int, default=4, help="local Nelder-Mead searches (default 4)")
    p.add_argument("--confirm-seeds", type=int, default=5, help="more seeds on which the searches' best points "
                   "are compared (default 5; 0: compare them on the fitting seeds)")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the Sobol scrambling (default 0)")
    p.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 3), help="processes (default: CPUs, at most 3)")
    p.add_argument("--scenario", default="backcast")
    p.add_argument("--history", help="history file (default: the packaged one)")
    p.add_argument("--out", help="write the JSON record here")
    a = p.parse_args(argv)
    try:
        for option, n in (("--seeds", a.seeds), ("--maxfev", a.maxfev), ("--workers", a.workers), ("--starts", a.starts)):
            at_least_one(option, n)
        for option, n in (("--sample", a.sample), ("--confirm-seeds", a.confirm_seeds), ("--sample-seed", a.sample_seed)):
            if n < 0:
                raise UserError(f"{option} {n}: expected at least 0")
        if a.out is not None:  # checked before the calibration's minutes of work, not after them
            check_out_file(a.out, JSON_PATH)
        rec = calibrate(a.seeds, a.maxfev, a.workers, a.scenario, a.history, sample=a.sample, starts=a.starts,
                        confirm_seeds=a.confirm_seeds, sample_seed=a.sample_seed)
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
    la = rec.get("loss_fitted_all_seeds")
    if la and la["seeds"] > len(rec["seeds"]):
        print(f"  on {la['seeds']} seeds (with the confirming ones): fitting rows {la['fit']:.3f}, held out {la['holdout']:.3f}")
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
