"""Do two ensembles come from the same model? A check for changes that are not bit-identical.

Most speed-ups keep every output bit for bit (the benchmarks README lists how that is checked).
A change that draws random numbers differently, or adds in a different order, cannot: its runs
differ from the old ones seed by seed, and the question becomes whether the *distribution* of
outcomes is the same. This script answers it from two ensembles made with ``frontiersim
ensemble`` (one with the code before the change, one after, with different master seeds so that
the two samples are independent):

    git worktree add ../before <commit-before>
    PYTHONPATH=../before frontiersim ensemble baseline --runs 200 --seed 1000 --scalars-only --out before
    frontiersim ensemble baseline --runs 200 --seed 2000 --scalars-only --out after
    python benchmarks/equivalence.py before after

For every scalar outcome the two ensembles share (``COLUMN_YEAR``, e.g. ``hhi_revenue_2035``) it
runs a two-sample Kolmogorov-Smirnov test (any difference in distribution) and Welch's t-test
(a difference in means, the more powerful test for a shift), and controls the family-wise error
over all outcomes with Holm's method. It prints one line per outcome, the standardized
difference of means, and the smallest shift the test would catch with 80% power, and exits 1 when
some outcome differs at the chosen level (0 when none does, 2 on bad input). Passing is evidence,
not proof: it says the two distributions are within what this many runs can tell apart.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.stats import holm  # noqa: E402  (Holm-adjusted p-values, in the order given)


def compare_samples(a: np.ndarray, b: np.ndarray) -> dict:
    """Two-sample tests of one outcome; ``a`` and ``b`` are the finite values of each ensemble."""
    from scipy import stats

    sd = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2) if a.size > 1 and b.size > 1 else math.nan
    row = {"n_ref": int(a.size), "n_new": int(b.size), "mean_ref": float(a.mean()), "mean_new": float(b.mean()),
           "sd_pooled": sd}
    if sd == 0 or not math.isfinite(sd):
        # both samples constant: the same constant or not (no test is needed, or possible)
        same = bool(np.all(a == a[0]) and np.all(b == a[0])) if a.size and b.size else a.size == b.size
        row.update(std_diff=0.0 if same else math.inf, ks_d=0.0 if same else 1.0, p_ks=1.0 if same else 0.0,
                   p_t=1.0 if same else 0.0)
    else:
        with warnings.catch_warnings():  # scipy falls back to the asymptotic p-value with ties, and says so
            warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful", RuntimeWarning)
            ks = stats.ks_2samp(a, b)
        t = stats.ttest_ind(a, b, equal_var=False)
        p_t = float(t.pvalue) if math.isfinite(t.pvalue) else 1.0
        row.update(std_diff=(row["mean_new"] - row["mean_ref"]) / sd, ks_d=float(ks.statistic),
                   p_ks=float(ks.pvalue), p_t=p_t)
    # one p-value per outcome: the smaller of the two tests, Bonferroni-corrected for taking it
    row["p"] = min(1.0, 2 * min(row["p_ks"], row["p_t"]))
    return row


def compare(ref: pd.DataFrame, new: pd.DataFrame, alpha: float = 0.01) -> pd.DataFrame:
    """One row per shared scalar outcome: sample sizes, means, standardized difference, the tests'
    p-values, the Holm-adjusted p-value over all outcomes and whether it is below ``alpha``."""
    from sim.experiment import parse_outcome

    names = [c for c in ref.columns if c in new.columns and parse_outcome(c)[1] is not None]
    rows = []
    for name in names:
        a = pd.to_numeric(ref[name], errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(new[name], errors="coerce").to_numpy(dtype=float)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size < 2 or b.size < 2:
            continue
        rows.append({"outcome": name, **compare_samples(a, b)})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["p_holm"] = holm(out["p"].tolist())
    out["differs"] = out["p_holm"] < alpha
    return out


def detectable_shift(n_ref: int, n_new: int, tests: int, alpha: float, power: float = 0.8) -> float:
    """The standardized shift of one outcome's mean that Welch's test catches with ``power`` at a
    family-wise ``alpha`` over ``tests`` outcomes (normal approximation, both tests counted)."""
    from scipy.stats import norm

    z = norm.ppf(1 - alpha / (2 * 2 * tests)) + norm.ppf(power)
    return float(z * math.sqrt(1 / n_ref + 1 / n_new))


def load(path: str) -> pd.DataFrame:
    """The scalar outcomes of an ensemble directory (one line of error on bad input)."""
    from sim.ensemble import collect_outcomes

    p = Path(path)
    if not (p / "runs").is_dir():
        raise SystemExit(f"equivalence.py: {p}: not an ensemble directory (expected {p / 'runs'}/part-*.parquet "
                         "from 'frontiersim ensemble --out')")
    df = collect_outcomes(p)
    if df.empty:
        raise SystemExit(f"equivalence.py: {p / 'runs'}: no finished runs")
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ref", help="ensemble directory made with the code before the change")
    ap.add_argument("new", help="ensemble directory made with the code after the change")
    ap.add_argument("--alpha", type=float, default=0.01, help="family-wise error rate over all outcomes (default 0.01)")
    ap.add_argument("--json", help="also write the table to this JSON file")
    args = ap.parse_args(argv)
    if not 0 < args.alpha < 1:
        print(f"equivalence.py: --alpha {args.alpha}: expected a number between 0 and 1", file=sys.stderr)
        return 2
    try:
        ref, new = load(args.ref), load(args.new)
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    seeds = set(ref["seed"]) & set(new["seed"]) if "seed" in ref and "seed" in new else set()
    if seeds:
        print(f"equivalence.py: {len(seeds)} seeds occur in both ensembles; use different --seed values so "
              "that the two samples are independent", file=sys.stderr)
        return 2
    res = compare(ref, new, args.alpha)
    if res.empty:
        print("equivalence.py: the two ensembles share no scalar outcome with two or more values", file=sys.stderr)
        return 2
    print(f"{'outcome':<40} {'mean ref':>11} {'mean new':>11} {'shift/sd':>8} {'KS D':>6} {'p KS':>8} {'p t':>8} "
          f"{'p Holm':>8}")
    for r in res.itertuples():
        flag = "  DIFFERS" if r.differs else ""
        print(f"{r.outcome:<40} {r.mean_ref:>11.4g} {r.mean_new:>11.4g} {r.std_diff:>8.3f} {r.ks_d:>6.3f} "
              f"{r.p_ks:>8.2g} {r.p_t:>8.2g} {r.p_holm:>8.2g}{flag}")
    n_ref, n_new = int(res["n_ref"].median()), int(res["n_new"].median())
    shift = detectable_shift(n_ref, n_new, len(res), args.alpha)
    n_diff = int(res["differs"].sum())
    print(f"\n{len(res)} outcomes, {len(ref)} and {len(new)} runs: a shift of {shift:.2f} standard deviations in "
          f"any one outcome's mean is caught with 80% power at a family-wise level of {args.alpha:g}.")
    print(f"{n_diff} outcome(s) differ." if n_diff else "No outcome differs.")
    if args.json:
        Path(args.json).write_text(json.dumps({"alpha": args.alpha, "detectable_shift_sd": shift,
                                               "outcomes": res.to_dict(orient="records")}, indent=1))
    return 1 if n_diff else 0


if __name__ == "__main__":
    sys.exit(main())
