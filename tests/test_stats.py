"""Confidence intervals of ensembles and contrasts between them (analysis.stats), and the
comparison that reports them (frontiersim compare --csv, the HTML page, the dashboard's data)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analysis.stats import (CONTRAST_COLUMNS, contrast, contrast_table, ensemble_contrasts, holm, is_replicates,
                            median_interval, run_seeds)

ROOT = Path(__file__).resolve().parents[1]


# ----- intervals of one ensemble --------------------------------------------------------------
def test_median_interval_is_the_order_statistic_interval():
    x = np.array([7.0, 1, 9, 3, 5, 2, 10, 4, 8, 6])  # 1..10, shuffled
    # n = 10: P(Bin(10, 1/2) <= 1) = 11/1024 <= 0.025 < P(<= 2) = 56/1024: the 2nd smallest and largest
    assert median_interval(x) == (2.0, 9.0, 1 - 2 * 11 / 1024)
    # n = 6: the smallest and largest, coverage 1 - 2/64; n = 5 cannot reach 95%: no interval
    assert median_interval(np.arange(6.0)) == (0.0, 5.0, 1 - 2 / 64)
    assert all(math.isnan(v) for v in median_interval(np.arange(5.0)))
    # NaN and infinite values are left out, not counted as runs
    assert median_interval(np.r_[x, np.nan, np.inf]) == median_interval(x)
    # a lower level gives a narrower interval inside the wider one
    lo, hi, cov = median_interval(np.arange(101.0), level=0.5)
    lo95, hi95, _ = median_interval(np.arange(101.0))
    assert lo95 < lo <= 50 <= hi < hi95 and 0.5 <= cov < 0.6


def test_median_interval_rank_and_coverage_are_scipys_binomial():
    """The rank is found from exact binomial sums; SciPy's binomial distribution is the reference."""
    for level in (0.95, 0.99, 0.9, 0.5):
        for n in [*range(1, 400), 999, 1000, 1001, 4096]:
            tail = sps.binom.cdf(np.arange(n), n, 0.5)  # P(Bin(n, 1/2) <= j)
            k = min(int(np.searchsorted(tail, (1 - level) / 2, side="right")), (n + 1) // 2)
            lo, hi, cov = median_interval(np.arange(float(n)), level=level)
            if k < 1:
                assert math.isnan(lo) and math.isnan(hi) and math.isnan(cov), (n, level)
            else:
                assert (lo, hi) == (k - 1, n - k), (n, level)
                assert cov == pytest.approx(1 - 2 * tail[k - 1], rel=1e-12, abs=1e-15), (n, level)


def test_an_ensemble_summary_does_not_import_scipy():
    """frontiersim ensemble and the dashboard summarize every ensemble; SciPy's import alone would
    cost most of a second there."""
    code = ("import sys, numpy as np, pandas as pd\n"
            "from sim.ensemble import summarize\n"
            "s = summarize(pd.DataFrame({'frontier_ece_2030': np.arange(20.0)}))\n"
            "assert s.loc[0, 'median_low'] == 5.0 and s.loc[0, 'median_high'] == 14.0, s\n"
            "print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_median_interval_covers_the_true_median_as_often_as_it_says():
    rng = np.random.default_rng(11)
    for n in (8, 25, 60):
        draws = rng.lognormal(0.0, 1.5, size=(4000, n))  # true median 1
        hits, cov = 0, None
        for row in draws:
            lo, hi, cov = median_interval(row)
            hits += lo <= 1.0 <= hi
        se = math.sqrt(cov * (1 - cov) / len(draws))
        assert abs(hits / len(draws) - cov) < 4 * se and cov >= 0.95, (n, hits, cov)


def test_holm_adjustment_and_missing_tests():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = holm([0.01, math.nan, 0.04])
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)


# ----- contrasts of two ensembles on one outcome ----------------------------------------------
def test_a_paired_contrast_is_the_paired_t_test_over_shared_seeds():
    rng = np.random.default_rng(3)
    a = rng.normal(10, 2, 40)
    b = a + 0.3 + rng.normal(0, 0.2, 40)
    seeds = rng.permutation(10_000)[:40]
    order = rng.permutation(40)  # the other ensemble lists its runs in another order
    c = contrast(a, b[order], seeds, seeds[order])
    t = sps.ttest_rel(b, a)
    assert c.pairs == 40 and c.paired
    assert c.p_value == pytest.approx(t.pvalue, rel=1e-9)
    assert (c.diff_mean_low, c.diff_mean_high) == pytest.approx(tuple(t.confidence_interval(0.95)), rel=1e-9)
    assert c.share_greater == pytest.approx(np.mean(b > a))
    assert c.diff_median == pytest.approx(np.median(b) - np.median(a))
    assert c.diff_median_low < c.diff_median < c.diff_median_high
    # only the shared seeds pair: an extra run of either side is left out of the pairs
    c2 = contrast(np.r_[a, 99.0], np.r_[b, -99.0], np.r_[seeds, 10_001], np.r_[seeds, 10_002])
    assert c2.pairs == 40 and c2.diff_mean == pytest.approx(c.diff_mean)


def test_an_independent_contrast_is_welchs_test_and_mann_whitney():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 30), rng.normal(0.8, 2, 45)
    c = contrast(a, b)  # no seeds: independent samples
    t = sps.ttest_ind(b, a, equal_var=False)
    assert c.pairs == 0 and not c.paired and (c.n_ref, c.n_other) == (30, 45)
    assert c.p_value == pytest.approx(t.pvalue, rel=1e-9)
    assert (c.diff_mean_low, c.diff_mean_high) == pytest.approx(tuple(t.confidence_interval(0.95)), rel=1e-9)
    assert c.share_greater == pytest.approx(sps.mannwhitneyu(b, a).statistic / (30 * 45))
    # seeds that do not overlap also give independent samples
    assert contrast(a, b, np.arange(30), np.arange(100, 145)).pairs == 0


def test_contrasts_of_equal_and_of_shifted_ensembles():
    a = np.linspace(1.0, 2.0, 12)
    seeds = np.arange(12)
    same = contrast(a, a.copy(), seeds, seeds)
    assert (same.diff_mean, same.diff_mean_low, same.diff_mean_high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert (same.diff_median, same.diff_median_low, same.diff_median_high, same.share_greater) == (0.0, 0.0, 0.0, 0.5)
    up = contrast(a, a + 0.25, seeds, seeds)
    assert up.diff_mean == pytest.approx(0.25) and up.p_value == 0.0 and up.share_greater == 1.0
    assert (up.diff_mean_low, up.diff_mean_high) == pytest.approx((0.25, 0.25))
    assert (up.diff_median_low, up.diff_median_high) == pytest.approx((0.25, 0.25))
    # the bootstrap is seeded: the same numbers every time
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=30), rng.normal(size=30)
    assert contrast(x, y) == contrast(x, y)
    # too few runs for an interval: NaN, not a number that looks like one
    few = contrast([1.0, 2.0, 3.0], [2.0, 3.0, 5.0])
    assert math.isnan(few.diff_median_low) and math.isfinite(few.diff_mean_low)
    one = contrast([1.0], [2.0])
    assert one.diff_mean == 1.0 and math.isnan(one.p_value) and math.isnan(one.diff_mean_low)


def test_holm_keeps_false_alarms_over_a_table_within_the_level():
    """Ensembles of the same law on 20 outcomes: the chance that any outcome 'differs' stays at
    or below 5% (it would be ~64% for 20 unadjusted tests)."""
    rng = np.random.default_rng(8)
    alarms = 0
    tables = 1000
    for _ in range(tables):  # (Welch's p-values, which contrast gives: see the test above)
        p = sps.ttest_ind(rng.normal(size=(20, 20)), rng.normal(size=(20, 20)), axis=1, equal_var=False).pvalue
        alarms += any(q < 0.05 for q in holm(p))
    assert alarms / tables <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / tables)


# ----- tables of a comparison -----------------------------------------------------------------
def _table(values: dict[str, list[float]], seeds=None) -> pd.DataFrame:
    rows = []
    for i in range(len(next(iter(values.values())))):
        rows.append({"run": str(i), **({"seed": seeds[i]} if seeds is not None else {}), "date": "2030-12",
                     **{k: v[i] for k, v in values.items()}})
    return pd.DataFrame(rows)


def test_contrast_table_pairs_by_seed_and_adjusts_per_ensemble():
    rng = np.random.default_rng(9)
    x = rng.normal(100, 10, 20)
    ref = _table({"m1": x, "m2": rng.normal(size=20)})
    other = _table({"m1": x + 5 + rng.normal(0, 1, 20), "m2": rng.normal(size=20)})
    seeds = {str(i): 1000 + i for i in range(20)}
    t = contrast_table(ref, {"B": other}, ["m1", "m2"], [2030], seeds, {"B": seeds})
    assert list(t.columns) == CONTRAST_COLUMNS and len(t) == 2
    r = t.set_index("metric")
    assert r.loc["m1", "pairs"] == 20 and r.loc["m1", "differs"] and r.loc["m1", "diff_mean"] == pytest.approx(5, abs=1)
    assert r.loc["m1", "p_holm"] == pytest.approx(min(1.0, 2 * min(r["p_value"])))  # the smaller p doubled
    # without seeds the same numbers are independent samples, and the interval is far wider
    u = contrast_table(ref, {"B": other}, ["m1"], [2030]).iloc[0]
    assert u["pairs"] == 0 and u["diff_mean"] == pytest.approx(r.loc["m1", "diff_mean"])
    assert u["diff_mean_high"] - u["diff_mean_low"] > 5 * (r.loc["m1", "diff_mean_high"] - r.loc["m1", "diff_mean_low"])


def test_run_seeds_from_parts_run_directories_and_memory():
    from analysis.io import RunSet

    df = _table({"m": [1.0, 2.0]}, seeds=[17, 23])
    parts = RunSet(Path("e"), "ensemble", df, {"kind": "ensemble"})
    assert run_seeds(parts) == {"0": 17, "1": 23} and is_replicates(parts)
    dirs = RunSet(Path("e"), "ensemble", df.drop(columns="seed"), {}, {"0": {"seed": 5}, "1": {"seed": 6}})
    assert run_seeds(dirs) == {"0": 5, "1": 6}
    memory = RunSet(Path("e"), "ensemble", df.drop(columns="seed"), {"kind": "ensemble", "seeds": [40, 41]})
    assert run_seeds(memory) == {"0": 40, "1": 41}
    sweep = RunSet(Path("s"), "ensemble", df, {"kind": "sweep"}, run_overrides={"0": {"x": 1}, "1": {"x": 2}})
    assert not is_replicates(sweep)
    run = RunSet(Path("r"), "run", df.iloc[:1], {"seed": 3}, {"0": {"seed": 3}})
    t, notes = ensemble_contrasts({"r": run, "p": parts}, {"r": df.iloc[:1], "p": df}, ["m"])
    assert t.empty and notes == ["r (the reference): a single run (intervals need an ensemble of two or more runs)"]
    t, notes = ensemble_contrasts({"p": parts, "s": sweep, "d": dirs}, {"p": df, "s": df, "d": df}, ["m"])
    assert notes == ["s: a sweep: its runs differ in their parameters, not only in the seed"]
    assert set(t["label"]) == {"d"} and t["pairs"].tolist() == [0]  # seeds 5, 6 against 17, 23: none shared


# ----- the model: common random numbers, and the command ---------------------------------------
@pytest.fixture(scope="module")
def ensembles(tmp_path_factory):
    """Three ensembles of six runs to 2025-12: the baseline, a 30% higher AI-services spend from
    the same master seed (paired), and that spend from another master seed (independent)."""
    d = tmp_path_factory.mktemp("contrasts")
    common = ["ensemble", "baseline", "--runs", "6", "--end", "2025-12", "--workers", "1"]
    spend = ["--set", "services.spend_2024_usd_per_year=3.25e10"]
    out = {}
    for name, extra in (("base", []), ("paired", spend), ("indep", spend + ["--seed", "1"])):
        out[name] = d / name
        args = common + ["--out", str(out[name])] + extra
        r = subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True, cwd=ROOT,
                           timeout=300)
        assert r.returncode == 0, r.stderr
    return out


def _frontiersim(*args):
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_same_seed_ensembles_pair_and_pin_the_difference_down_more_tightly(ensembles, tmp_path):
    csv = tmp_path / "d.csv"
    html = tmp_path / "c.html"
    r = _frontiersim("compare", str(ensembles["base"]), str(ensembles["paired"]), str(ensembles["indep"]),
                     "--out", str(html), "--csv", str(csv), "--workers", "1")
    assert r.returncode == 0, r.stderr
    t = pd.read_csv(csv)
    assert list(t.columns) == CONTRAST_COLUMNS
    by = {lab: g.set_index(["metric", "year"]) for lab, g in t.groupby("label")}
    paired, indep = by["baseline (paired)"], by["baseline (indep)"]
    assert (paired["pairs"] == 6).all() and (indep["pairs"] == 0).all()
    # more spend means more revenue: both see it, and the paired one with a narrower interval
    key = ("revenue_usd_per_year", 2025)
    for x in (paired, indep):
        assert x.loc[key, "diff_mean"] > 0
    width = {k: x.loc[key, "diff_mean_high"] - x.loc[key, "diff_mean_low"] for k, x in (("p", paired), ("i", indep))}
    assert width["p"] < width["i"] / 3, width
    assert paired.loc[key, "differs"] and paired.loc[key, "share_greater"] == 1.0
    text = html.read_text()
    assert 'id="noise"' in text and "paired over the 6 seeds both ran" in text and "independent samples" in text


def test_compare_csv_needs_two_ensembles_and_writes_nothing_otherwise(ensembles, tmp_path):
    run = tmp_path / "run"
    r = _frontiersim("run", "baseline", "--end", "2024-06", "--out", str(run))
    assert r.returncode == 0, r.stderr
    html, csv = tmp_path / "c.html", tmp_path / "d.csv"
    r = _frontiersim("compare", str(run), str(ensembles["base"]), "--out", str(html), "--csv", str(csv), "--workers", "1")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith(f"frontiersim: error: --csv {csv}: no differences with intervals to write (")
    assert "a single run" in r.stderr and not html.exists() and not csv.exists()
    r = _frontiersim("compare", str(ensembles["base"]), str(ensembles["paired"]), "--out", str(html),
                     "--csv", str(tmp_path / "missing" / "d.csv"))
    assert r.returncode == 2 and r.stderr.strip() == (f"frontiersim: error: --csv {tmp_path / 'missing' / 'd.csv'}: directory "
                                                      f"{tmp_path / 'missing'} does not exist; expected an existing directory")
    assert not html.exists()
    # without --csv a run and an ensemble compare as before, the left-out run named on the page
    r = _frontiersim("compare", str(ensembles["base"]), str(run), "--out", str(html), "--workers", "1")
    assert r.returncode == 0 and 'id="noise"' not in html.read_text()


def test_ensemble_report_gives_the_medians_interval_from_six_runs():
    from analysis.report import summary_html

    ece = [31.2, 30.9, 31.05, 31.4, 30.8, 31.1, 31.0, 31.3]
    df = _table({"frontier_ece": ece})
    lo, hi, _ = median_interval(ece)
    html = summary_html(df, len(ece))
    assert "How precisely these runs pin the medians down" in html
    assert f"{lo:.2f} \u2013 {hi:.2f}" in html  # (ece is shown with two decimals)
    assert "How precisely" not in summary_html(df.iloc[:5], 5)  # under 6 runs there is no 95% interval


def test_ensemble_summary_gives_the_medians_interval():
    from sim.ensemble import format_summary, summarize

    v = np.array([712.0, 698.5, 730.25, 705.0, 720.0, 699.0, 741.5, 716.0])
    s = summarize(pd.DataFrame({"run": range(8), "hhi_revenue_2030": v}))
    row = s.set_index(["outcome", "year"]).loc[("hhi_revenue", 2030)]
    lo, hi, _ = median_interval(v)
    assert (row["median_low"], row["median_high"]) == (lo, hi) and lo <= row["median"] <= hi
    text = format_summary(s)
    assert "95% CI of the median" in text.splitlines()[0] and f"[{lo:,.2f}, {hi:,.2f}]" in text
