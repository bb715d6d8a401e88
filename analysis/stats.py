"""How precisely an ensemble pins an outcome down, and whether two ensembles differ by more than noise.

An ensemble's median and 5-95% band describe how outcomes spread across seeds. They do not say
how well this many runs estimate the median itself, nor whether a difference between two
scenarios' medians would survive another set of seeds. This module answers both, for outcomes
that are one number per run (a metric in the last simulated month of a milestone year):

* :func:`median_interval`: a confidence interval for the median from order statistics. It is
  distribution-free: for any continuous distribution of outcomes, it covers the true median with
  at least the stated probability (exactly ``1 - 2 P(Binomial(n, 1/2) < k)`` for the ``k``-th
  smallest and largest runs).
* :func:`contrast`: another ensemble against a reference on one outcome. Runs with the same seed
  are **paired**: ``frontiersim ensemble --seed S`` gives run ``i`` the same seed whatever the
  scenario, so two ensembles made with the same master seed start from the same random draws
  (common random numbers, a classic variance reduction), and the difference is estimated seed by
  seed. Without shared seeds the two are independent samples. Either way: the difference of means
  with its t interval (paired or Welch's) and p-value, the difference of medians with a bootstrap
  percentile interval (pairs resampled together; seeded, so the same numbers every time), and
  the probability that the other scenario's outcome is the higher one.
* :func:`contrast_table`: every headline metric at every milestone year, with p-values adjusted
  over the whole table by Holm's method, so that "differs" controls the chance of any false
  alarm among all of them, not of each one.

Intervals assume runs are independent draws, which seeds from ``numpy.random.SeedSequence``
give. They quantify the Monte Carlo error of the ensemble only: not the uncertainty of the
model's parameters (see ``frontiersim sensitivity``) nor that of its structure.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

#: the confidence level of every interval here
LEVEL = 0.95
#: bootstrap resamples for intervals of a difference of medians, and their seed
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
#: fewest runs (or pairs) for a bootstrap interval; fewer give NaN (the resamples of a handful of
#: values take a handful of medians, whose percentiles are no interval)
MIN_BOOTSTRAP = 5


def _finite(x) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    return a[np.isfinite(a)]


def median_interval(x, level: float = LEVEL) -> tuple[float, float, float]:
    """Distribution-free interval for the median of the finite values of ``x``.

    Returns:
        ``(low, high, coverage)``: the ``k``-th smallest and ``k``-th largest values for the largest
        ``k`` whose coverage ``1 - 2 P(Binomial(n, 1/2) <= k - 1)`` is at least ``level``, and that
        coverage. ``(nan, nan, nan)`` when no ``k`` reaches it (under 6 values at 95%).
    """
    a = np.sort(_finite(x))
    n = a.size
    k, coverage = _median_rank(n, float(level))
    if k < 1:
        return math.nan, math.nan, math.nan
    return float(a[k - 1]), float(a[n - k]), coverage


@functools.lru_cache(maxsize=128)
def _median_rank(n: int, level: float) -> tuple[int, float]:
    """The ``k`` and coverage of :func:`median_interval` for ``n`` values: the largest ``k`` up to
    ``(n + 1) // 2`` with ``P(Binomial(n, 1/2) <= k - 1) <= (1 - level) / 2``; ``(0, nan)`` when none.

    Exact: the binomial sums are integers over ``2**n`` and are compared with the level as an exact
    fraction, so the rank is the same for any ``n``. It needs no SciPy, whose import would cost
    ``frontiersim ensemble`` most of a second. The cost grows as ``n**2`` (big integers): 0.02 s for
    10,000 runs, 1.5 s for 100,000, once per ``n`` and level (cached).
    """
    alpha = Fraction(1.0 - level) / 2  # (the float 1 - level, exactly)
    total = 1 << n
    limit = alpha.numerator * total // alpha.denominator  # cum / 2**n <= alpha  <=>  cum <= limit
    k, kept = 0, 0
    term = cum = 1  # C(n, j) and sum of C(n, i) for i <= j, for j = 0
    for j in range((n + 1) // 2):
        if cum > limit:
            break
        k, kept = j + 1, cum
        term = term * (n - j) // (j + 1)
        cum += term
    return k, (1.0 - 2.0 * (kept / total) if k else math.nan)


def holm(pvalues) -> list[float]:
    """Holm-adjusted p-values (step-down Bonferroni), in the order given; NaN stays NaN and does
    not count as a test."""
    p = [float(v) for v in pvalues]
    live = [i for i, v in enumerate(p) if math.isfinite(v)]
    out = [math.nan] * len(p)
    m, running = len(live), 0.0
    for rank, i in enumerate(sorted(live, key=lambda i: p[i])):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


@dataclass(frozen=True)
class Contrast:
    """Another ensemble (``other``) against a reference (``ref``) on one outcome.

    Attributes:
        n_ref, n_other: runs with a finite value (when paired, the pairs); pairs: seeds both
            have with a finite value (0: independent samples).
        mean_*, median_*: each ensemble's mean and median (over the pairs when paired).
        diff_mean, diff_mean_low, diff_mean_high: other minus ref, difference of means, and its
            interval; p_value: of a difference in means (paired t-test or Welch's test).
        diff_median, diff_median_low, diff_median_high: difference of medians and its bootstrap
            percentile interval (NaN under :data:`MIN_BOOTSTRAP` runs or pairs).
        share_greater: paired, the share of seeds where other's outcome is higher; independent,
            the probability that a run of other beats a run of ref (Mann-Whitney); ties count half.
    """

    n_ref: int
    n_other: int
    pairs: int
    mean_ref: float
    mean_other: float
    median_ref: float
    median_other: float
    diff_mean: float
    diff_mean_low: float
    diff_mean_high: float
    diff_median: float
    diff_median_low: float
    diff_median_high: float
    share_greater: float
    p_value: float

    @property
    def paired(self) -> bool:
        return self.pairs > 0


def _t_test(d_mean: float, se: float, df: float, level: float) -> tuple[float, float, float]:
    """(low, high, p) of a t statistic ``d_mean / se`` with ``df`` degrees of freedom; a zero
    standard error (all values equal) gives a point interval and p 0 or 1."""
    from scipy.stats import t as student

    if not (math.isfinite(se) and math.isfinite(df) and df > 0):
        return math.nan, math.nan, math.nan
    if se == 0:
        return d_mean, d_mean, 1.0 if d_mean == 0 else 0.0
    h = float(student.ppf(0.5 + level / 2.0, df)) * se
    p = float(2.0 * student.sf(abs(d_mean) / se, df))
    return d_mean - h, d_mean + h, p


def _ranked(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` sorted, and each element's rank in it."""
    order = np.argsort(x, kind="stable")
    rank = np.empty(x.size, dtype=np.intp)
    rank[order] = np.arange(x.size)
    return x[order], rank


def _medians(ranked: tuple[np.ndarray, np.ndarray], idx: np.ndarray) -> np.ndarray:
    """The median of each row of resampled positions ``idx`` (k, n) of the sample ``ranked``
    (:func:`_ranked`): the middle of each row's sorted ranks, looked up in the sorted values.
    The medians :func:`numpy.median` gives, found by sorting integers rather than partitioning
    floats, about three times faster."""
    values, rank = ranked
    r = rank[idx]
    r.sort(axis=1)
    n = idx.shape[1]
    return 0.5 * (values[r[:, (n - 1) // 2]] + values[r[:, n // 2]])


def _bootstrap_median_diff(a: np.ndarray, b: np.ndarray, paired: bool, level: float) -> tuple[float, float]:
    """Percentile interval of ``median(b) - median(a)`` over seeded resamples (pairs resampled
    together when ``paired``)."""
    if min(a.size, b.size) < MIN_BOOTSTRAP:
        return math.nan, math.nan
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    diffs = np.empty(BOOTSTRAP_RESAMPLES)
    chunk = max(1, min(BOOTSTRAP_RESAMPLES, 2_000_000 // max(a.size, b.size)))
    ranked_a, ranked_b = _ranked(a), _ranked(b)
    for s in range(0, BOOTSTRAP_RESAMPLES, chunk):
        k = min(chunk, BOOTSTRAP_RESAMPLES - s)
        ia = rng.integers(0, a.size, size=(k, a.size))
        ib = ia if paired else rng.integers(0, b.size, size=(k, b.size))
        diffs[s:s + k] = _medians(ranked_b, ib) - _medians(ranked_a, ia)
    lo, hi = np.quantile(diffs, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


def contrast(ref, other, ref_seeds=None, other_seeds=None, level: float = LEVEL) -> Contrast:
    """``other`` against ``ref`` on one outcome (one value per run).

    Args:
        ref, other: the runs' values (NaN and infinite values are left out).
        ref_seeds, other_seeds: each run's seed, in the same order. When both are given and two or
            more seeds with finite values in both are shared, the contrast is paired over those
            seeds; otherwise the samples are taken as independent.
        level: confidence level of the intervals.
    """
    a_all, b_all = np.asarray(ref, dtype=float).ravel(), np.asarray(other, dtype=float).ravel()
    pairs = 0
    if ref_seeds is not None and other_seeds is not None:
        ia = {int(s): i for i, s in enumerate(ref_seeds) if math.isfinite(a_all[i])}
        common = [(ia[int(s)], j) for j, s in enumerate(other_seeds) if int(s) in ia and math.isfinite(b_all[j])]
        if len(common) >= 2:
            pairs = len(common)
            a = a_all[[i for i, _ in common]]
            b = b_all[[j for _, j in common]]
    if pairs:
        d = b - a
        d_mean = float(d.mean())
        lo, hi, p = _t_test(d_mean, float(d.std(ddof=1)) / math.sqrt(pairs), pairs - 1, level)
        share = float(np.mean(d > 0) + 0.5 * np.mean(d == 0))
    else:
        a, b = _finite(a_all), _finite(b_all)
        d_mean = float(b.mean() - a.mean()) if a.size and b.size else math.nan
        if a.size >= 2 and b.size >= 2:
            va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
            se = math.sqrt(va + vb)
            # Welch-Satterthwaite degrees of freedom (both variances zero: the point interval)
            df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1)) if se > 0 else 1.0
            lo, hi, p = _t_test(d_mean, se, df, level)
        else:
            lo = hi = p = math.nan
        if a.size and b.size:
            from scipy.stats import rankdata

            ranks = rankdata(np.concatenate([a, b]))  # (ties get their mean rank: they count half)
            u = ranks[a.size:].sum() - b.size * (b.size + 1) / 2.0
            share = float(u / (a.size * b.size))
        else:
            share = math.nan
    med_a = float(np.median(a)) if a.size else math.nan
    med_b = float(np.median(b)) if b.size else math.nan
    m_lo, m_hi = _bootstrap_median_diff(a, b, bool(pairs), level)
    return Contrast(int(a.size), int(b.size), pairs, float(a.mean()) if a.size else math.nan,
                    float(b.mean()) if b.size else math.nan, med_a, med_b, d_mean, lo, hi, med_b - med_a,
                    m_lo, m_hi, share, p)


def is_replicates(rs) -> bool:
    """Whether an :class:`analysis.io.RunSet` holds replicates of one scenario (an ensemble, or the
    runs of ``validate``), not the points of a sweep or sensitivity design, which differ in their
    parameters."""
    return rs.kind == "ensemble" and not rs.run_overrides and rs.design not in ("sweep", "sensitivity")


def run_seeds(rs) -> dict[str, int]:
    """Each run's seed by run id, as far as the RunSet records it: a ``seed`` column (ensemble
    parts), the runs' own manifests (run directories), or the ``seeds`` list of the manifest of an
    ensemble made in memory (run ids ``0``, ``1``, ...). Runs without one are left out."""
    df = rs.model
    out: dict[str, int] = {}
    if "seed" in df.columns:
        for r, s in df[["run", "seed"]].drop_duplicates("run").itertuples(index=False):
            if pd.notna(s):
                out[str(r)] = int(s)
        return out
    for r, m in rs.manifests.items():
        if isinstance(m.get("seed"), int) and not isinstance(m.get("seed"), bool):
            out[str(r)] = m["seed"]
    seeds = rs.manifest.get("seeds")
    if not out and isinstance(seeds, list):
        for r in rs.runs:
            if str(r).isdigit() and int(r) < len(seeds):
                out[str(r)] = int(seeds[int(r)])
    return out


#: the columns of :func:`contrast_table`
CONTRAST_COLUMNS = ["label", "metric", "year", "n_ref", "n_other", "pairs", "mean_ref", "mean_other", "diff_mean",
                    "diff_mean_low", "diff_mean_high", "median_ref", "median_other", "diff_median",
                    "diff_median_low", "diff_median_high", "share_greater", "p_value", "p_holm", "differs"]


def contrast_table(ref: pd.DataFrame, others: dict[str, pd.DataFrame], metrics: list[str], years: list[int],
                   ref_seeds: dict[str, int] | None = None, other_seeds: dict[str, dict[str, int]] | None = None,
                   level: float = LEVEL) -> pd.DataFrame:
    """Each of ``others`` against ``ref`` on each metric at each milestone year.

    Args:
        ref, others: long model tables (``run``, ``date``, metric columns); others by label.
        metrics: metric columns; years: milestone years (a run's value is that of the last
            simulated month of the year, as in the report's tables).
        ref_seeds, other_seeds: run id -> seed of ``ref`` and of each of ``others`` (by label):
            runs with a shared seed are paired (:func:`contrast`).

    Returns:
        One row per (label, metric, year) that both have values for, with :data:`CONTRAST_COLUMNS`:
        the fields of :class:`Contrast`, ``p_holm`` (Holm-adjusted over each label's rows) and
        ``differs`` (``p_holm`` below ``1 - level``).
    """
    from analysis.headline import milestone_values

    def values(df: pd.DataFrame, seeds: dict[str, int] | None) -> dict[int, tuple[pd.DataFrame, np.ndarray | None]]:
        """Each year's run values (indexed by run) and the runs' seeds (None: not every run has one)."""
        vals = milestone_values(df, metrics, years)
        by_year = {}
        for y in years:
            if y in vals.index.get_level_values("year"):
                v = vals.xs(y, level="year")
                s = [seeds.get(str(r)) for r in v.index] if seeds else []
                by_year[y] = (v, np.array(s, dtype=float) if s and None not in s else None)
        return by_year

    ref_by_year = values(ref, ref_seeds)
    rows = []
    for label, df in others.items():
        by_year = values(df, (other_seeds or {}).get(label))
        start = len(rows)
        for m in metrics:
            for y in years:
                if y not in ref_by_year or y not in by_year or m not in ref_by_year[y][0] or m not in by_year[y][0]:
                    continue
                (va, sa), (vb, sb) = ref_by_year[y], by_year[y]
                a = pd.to_numeric(va[m], errors="coerce").to_numpy(dtype=float)
                b = pd.to_numeric(vb[m], errors="coerce").to_numpy(dtype=float)
                if not (np.isfinite(a).any() and np.isfinite(b).any()):
                    continue
                c = contrast(a, b, sa, sb, level)
                rows.append({"label": label, "metric": m, "year": y, **asdict(c)})
        adjusted = holm([r["p_value"] for r in rows[start:]])
        for r, p in zip(rows[start:], adjusted):
            r["p_holm"] = p
            r["differs"] = bool(math.isfinite(p) and p < 1.0 - level)
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def ensemble_contrasts(sets: dict, frames: dict[str, pd.DataFrame], metrics: list[str], years: list[int] | None = None,
                       level: float = LEVEL) -> tuple[pd.DataFrame, list[str]]:
    """:func:`contrast_table` of RunSets (label -> :class:`analysis.io.RunSet`; the first is the
    reference) whose model tables, derived columns included, are ``frames`` (by label).

    Only ensembles of replicates with two or more runs take part (:func:`is_replicates`); years
    default to the milestone years any of them covers.

    Returns:
        The table (empty when the reference or every other set cannot take part) and one line per
        set left out, saying why.
    """
    from analysis.headline import milestone_years

    labels = list(sets)
    notes = []

    def why_not(label: str) -> str | None:
        rs = sets[label]
        if rs.kind != "ensemble":
            return "a single run (intervals need an ensemble of two or more runs)"
        if not is_replicates(rs):
            return f"a {rs.design}: its runs differ in their parameters, not only in the seed"
        if rs.n_runs < 2:
            return "an ensemble of one run (intervals need two or more)"
        return None

    ref = labels[0]
    problem = why_not(ref)
    if problem is not None:
        return pd.DataFrame(columns=CONTRAST_COLUMNS), [f"{ref} (the reference): {problem}"]
    others = {}
    for label in labels[1:]:
        problem = why_not(label)
        if problem is None:
            others[label] = frames[label]
        else:
            notes.append(f"{label}: {problem}")
    if not others:
        return pd.DataFrame(columns=CONTRAST_COLUMNS), notes
    if years is None:
        years = sorted(set().union(*(milestone_years(frames[k]) for k in [ref, *others])))
    table = contrast_table(frames[ref], others, metrics, years, run_seeds(sets[ref]),
                           {k: run_seeds(sets[k]) for k in others}, level)
    return table, notes
