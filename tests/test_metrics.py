"""Hand-computed checks for analysis.metrics."""

import math
import warnings

import numpy as np
import pytest

from analysis.metrics import (
    catch_up_lag,
    cr_n,
    effective_number,
    gap,
    gini,
    hhi,
    hhi_cr_n_total,
    hhi_equivalent_number,
    quantile_or_nan,
    shares,
    weighted_quantile_or_nan,
)


# --- one firm / equal firms --------------------------------------------------

def test_single_firm():
    # share 1.0 -> HHI = 100^2 = 10000; CR4 = 1; exp(-1 ln 1) = 1; Gini 0/(1*7) = 0.
    assert hhi([7.0]) == 10000.0
    assert cr_n([7.0]) == 1.0
    assert effective_number([7.0]) == 1.0
    assert gini([7.0]) == 0.0
    # A monopoly among zeros: still HHI 10000, 1 effective firm.
    assert hhi([0, 5, 0]) == 10000.0
    assert effective_number([0, 5, 0]) == 1.0


def test_four_equal_firms():
    x = [3, 3, 3, 3]
    # shares 25% each -> HHI = 4 * 25^2 = 2500.
    assert hhi(x) == pytest.approx(2500.0)
    # All four firms are the top four -> CR4 = 1.
    assert cr_n(x, 4) == pytest.approx(1.0)
    # Gini coefficients (-3,-1,1,3) sum to 0 -> 0.
    assert gini(x) == pytest.approx(0.0)
    # exp(-4 * 0.25 ln 0.25) = exp(ln 4) = 4.
    assert effective_number(x) == pytest.approx(4.0)
    assert hhi_equivalent_number(x) == pytest.approx(4.0)


def test_50_30_20():
    x = [50, 30, 20]
    # 50^2 + 30^2 + 20^2 = 2500 + 900 + 400 = 3800.
    assert hhi(x) == pytest.approx(3800.0)
    # top two: 0.5 + 0.3 = 0.8.
    assert cr_n(x, n=2) == pytest.approx(0.8)
    # Fewer firms than n -> share of all = 1.0.
    assert cr_n(x, n=4) == pytest.approx(1.0)
    assert cr_n(x, n=1) == pytest.approx(0.5)
    np.testing.assert_allclose(shares(x), [0.5, 0.3, 0.2])
    # 10000 / 3800.
    assert hhi_equivalent_number(x) == pytest.approx(10000 / 3800)


# --- Gini --------------------------------------------------------------------

def test_gini_hand_cases():
    # [0,0,0,1]: n=4, sum=1, only i=4 counts: (2*4-4-1)*1 / (4*1) = 3/4.
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75)
    # Order does not matter (sorted inside).
    assert gini([1, 0, 0, 0]) == pytest.approx(0.75)
    # [1,2,3,4]: coefficients (-3,-1,1,3) -> -3-2+3+12 = 10; 10/(4*10) = 0.25.
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25)
    # One holder among n=5 -> (n-1)/n = 0.8.
    assert gini([0, 0, 9, 0, 0]) == pytest.approx(0.8)


def test_gini_zero_and_empty():
    assert gini([0, 0, 0]) == 0.0
    assert math.isnan(gini([]))


# --- effective number --------------------------------------------------------

def test_effective_number_hand_cases():
    # (0.5,0.5): H = -2*0.5 ln 0.5 = ln 2 -> exp = 2.
    assert effective_number([0.5, 0.5]) == pytest.approx(2.0)
    # (0.5,0.25,0.25): H = 0.5 ln 2 + 2*0.25 ln 4 = 1.5 ln 2 = 1.0397208...
    # -> exp(1.0397208) = 2^1.5 = 2.8284271...
    h = 0.5 * math.log(2) + 2 * 0.25 * math.log(4)
    assert h == pytest.approx(1.0397208)
    assert effective_number([0.5, 0.25, 0.25]) == pytest.approx(math.exp(h))
    assert effective_number([2, 1, 1]) == pytest.approx(2 ** 1.5)


# --- zero total --------------------------------------------------------------

def test_zero_total():
    z = [0.0, 0.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(shares(z), [0.0, 0.0, 0.0])
        assert math.isnan(hhi(z))
        assert math.isnan(cr_n(z))
        assert math.isnan(effective_number(z))
        assert math.isnan(hhi_equivalent_number(z))
        assert gini(z) == 0.0


# --- 2-D per row -------------------------------------------------------------

def test_2d_matches_1d_per_row():
    rows = np.array([[50, 30, 20, 0], [1, 1, 1, 1], [0, 0, 0, 0], [1, 2, 3, 4]], float)
    for fn in (hhi, cr_n, gini, effective_number, hhi_equivalent_number):
        out = fn(rows)
        assert isinstance(out, np.ndarray) and out.shape == (4,)
        expected = np.array([fn(r) for r in rows])
        np.testing.assert_allclose(out, expected, equal_nan=True)
        # Firms along axis 0 (columns are periods) give the same answers.
        np.testing.assert_allclose(fn(rows.T, axis=0), expected, equal_nan=True)
    np.testing.assert_allclose(hhi(rows), [3800, 2500, np.nan, 3000], equal_nan=True)
    s = shares(rows)
    assert s.shape == rows.shape
    np.testing.assert_allclose(s.sum(axis=1), [1, 1, 0, 1])
    assert isinstance(hhi([1, 2]), float)


# --- invalid input -----------------------------------------------------------

@pytest.mark.parametrize(
    "fn", [shares, hhi, cr_n, gini, effective_number, hhi_equivalent_number]
)
def test_negative_raises(fn):
    with pytest.raises(ValueError):
        fn([1.0, -0.5, 2.0])


def test_cr_n_bad_n():
    with pytest.raises(ValueError):
        cr_n([1, 2], n=0)


# --- invariances -------------------------------------------------------------

def test_scale_and_permutation_invariance():
    rng = np.random.default_rng(0)
    x = rng.random(9)
    perm = rng.permutation(9)
    for fn in (hhi, cr_n, gini, effective_number, hhi_equivalent_number):
        assert fn(3 * x) == pytest.approx(fn(x))
        assert fn(x[perm]) == pytest.approx(fn(x))


# --- quantile_or_nan ---------------------------------------------------------

def test_quantile_or_nan():
    assert quantile_or_nan([1, np.nan, 3], 0.5) == 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(quantile_or_nan([], 0.5))
        assert math.isnan(quantile_or_nan([np.nan, np.nan], 0.9))
        out = quantile_or_nan([np.nan], [0.1, 0.9])
    assert out.shape == (2,) and np.isnan(out).all()
    np.testing.assert_allclose(quantile_or_nan([0, 10], [0.0, 0.25, 1.0]), [0, 2.5, 10])


@pytest.mark.parametrize("n", [1, 2, 255, 256, 257, 1000, 4095, 4096, 4097, 30_001])
def test_quantile_or_nan_equals_numpy_exactly_on_both_sides_of_the_partition_shortcut(n):
    # long inputs go through order-statistic selection, short ones are sorted (float64 arrays
    # with a tuple or a float of quantiles by a path of their own): all must give numpy's linear
    # quantile to the last bit, with ties, infinities, NaNs to drop (or none), many quantiles at
    # once, and the input left untouched
    rng = np.random.default_rng(n)
    x = np.round(rng.lognormal(0, 2, n), 1)  # rounding makes ties
    x[rng.random(n) < 0.05] = np.nan
    x[rng.random(n) < 0.01] = np.inf
    x[rng.random(n) < 0.3] = 0.0
    finite = x[~np.isnan(x)]
    for q in (np.array([0.0, 0.1, 0.25, 0.5, 0.9, 0.999, 1.0]), rng.random(40), 0.5, (0.1, 0.5, 0.9), (1.0, 0.0)):
        want = np.full(np.shape(q), np.nan)
        if finite.size:
            with np.errstate(invalid="ignore"):  # inf - inf in numpy's own interpolation
                want = np.quantile(finite, q)
        for values in (x, finite):  # with NaNs to drop, and without (nothing is copied first)
            before = values.copy()
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # it never warns, infinities included
                got = quantile_or_nan(values, q)
            np.testing.assert_array_equal(values, before)
            np.testing.assert_array_equal(got, want)
            assert np.shape(got) == np.shape(q)
            # allowed to reorder a copy in place: the same result
            np.testing.assert_array_equal(quantile_or_nan(values.copy(), q, overwrite_input=True), want)


def test_quantile_or_nan_overwrite_input_reorders_instead_of_copying():
    # what the records rely on to skip a copy of a million values: the given array is the one
    # partitioned (its values kept, their order changed); without the flag the input is left as it
    # was (the test above)
    x = np.random.default_rng(3).random(10_000)
    y = x.copy()
    assert quantile_or_nan(y, [0.1, 0.5, 0.9], overwrite_input=True).tolist() == np.quantile(x, [0.1, 0.5, 0.9]).tolist()
    assert not np.array_equal(y, x) and np.array_equal(np.sort(y), np.sort(x))


# --- weighted_quantile_or_nan -------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 11])
def test_weighted_median_with_equal_weights_is_the_lower_median(n):
    # the smallest value whose cumulative weight reaches half: the (ceil(n/2))-th smallest
    x = np.random.default_rng(n).permutation(np.arange(n, dtype=float) * 1.5)
    want = np.sort(x)[(n + 1) // 2 - 1]
    for w in (np.ones(n), np.full(n, 7.25)):
        assert weighted_quantile_or_nan(x, w, 0.5) == want
    if n % 2:  # odd: the ordinary median
        assert weighted_quantile_or_nan(x, np.ones(n), 0.5) == np.median(x)


def test_weighted_quantile_hand_cases():
    wq = weighted_quantile_or_nan
    # one weight above half of the total decides the median wherever it lies
    assert wq([1.0, 2.0, 3.0, 4.0], [1, 1, 10, 1], 0.5) == 3.0
    assert wq([9.0, 1.0, 5.0], [0.1, 0.2, 100], 0.5) == 5.0
    # exactly half: the value where the cumulative weight reaches it, not the next one
    assert wq([1.0, 2.0, 3.0], [2, 0, 2], 0.5) == 1.0
    assert wq([1.0, 2.0, 3.0], [1, 1, 2], 0.5) == 2.0
    # ties pool their weights: sorted [1, 2, 2, 5] with weights [2, 1, 1, 4], half of 8 is
    # reached at the second 2; and a tie is returned once (not interpolated)
    assert wq([2.0, 5.0, 1.0, 2.0], [1, 4, 2, 1], 0.5) == 2.0
    assert wq([3.0, 3.0, 3.0], [1, 2, 3], 0.5) == 3.0
    # zero-weight values are never the result; q = 0 and q = 1 give the extremes of positive weight
    assert wq([0.0, 1.0, 2.0, 3.0], [0, 1, 1, 0], 0.0) == 1.0
    assert wq([0.0, 1.0, 2.0, 3.0], [0, 1, 1, 0], 1.0) == 2.0
    # other quantiles, several at once: cumulative weights 1, 3, 6, 10 of 10
    np.testing.assert_array_equal(wq([4.0, 3.0, 2.0, 1.0], [4, 3, 2, 1], [0.1, 0.11, 0.3, 0.6, 0.61, 1.0]),
                                  [1.0, 2.0, 2.0, 3.0, 4.0, 4.0])
    # NaN values are dropped with their weights
    assert wq([np.nan, 1.0, 2.0], [100, 1, 1], 0.5) == 1.0


def test_weighted_quantile_nan_when_no_weight():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(weighted_quantile_or_nan([1.0, 2.0], [0.0, 0.0], 0.5))
        assert math.isnan(weighted_quantile_or_nan([], [], 0.5))
        assert math.isnan(weighted_quantile_or_nan([np.nan, 2.0], [1.0, 0.0], 0.5))
        out = weighted_quantile_or_nan([1.0], [0.0], [0.1, 0.9])
    assert out.shape == (2,) and np.isnan(out).all()


def test_weighted_quantile_matches_a_loop_over_sorted_values():
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        x = np.round(rng.normal(size=n), 1)  # ties
        w = rng.random(n) * (rng.random(n) < 0.8)  # some zero weights
        q = float(rng.random())
        got = weighted_quantile_or_nan(x, w, q)
        pairs = sorted(zip(x.tolist(), w.tolist()))
        total = sum(v for _, v in pairs)
        want, acc = math.nan, 0.0
        if total > 0:
            for v, wt in pairs:
                acc += wt
                if wt > 0 and acc >= q * total:
                    want = v
                    break
        assert got == want or (math.isnan(got) and math.isnan(want))


def test_weighted_quantile_with_and_without_ties_equals_a_stable_sort():
    # the weights are summed in the stable order of their values, found by the default sort when
    # no two values tie: long inputs (sums in a different order could differ in the last bit),
    # with distinct values, with ties, with -0.0 beside 0.0
    rng = np.random.default_rng(9)
    for size in (2, 100, 5000, 40_000):
        for x in (rng.lognormal(0, 3, size), np.round(rng.random(size) * 50), np.where(rng.random(size) < 0.5, -0.0, 0.0)):
            w = rng.lognormal(0, 4, size) * (rng.random(size) < 0.9)
            keep = w > 0
            xs, ws = x[keep], w[keep]
            order = np.argsort(xs, kind="stable")
            cum = np.cumsum(ws[order])
            for q in (0.0, 0.1, 0.5, 0.9, 1.0):
                want = xs[order[np.searchsorted(cum, q * cum[-1], side="left")]]
                assert np.float64(weighted_quantile_or_nan(x, w, q)).tobytes() == want.tobytes()


def test_hhi_cr_n_total_equals_the_three_to_the_last_bit():
    rng = np.random.default_rng(3)
    for size in (1, 5, 64, 65, 4 * 4 * 512, 100_000):
        for x in (rng.lognormal(0, 5, size), np.where(rng.random(size) < 0.9, 0.0, rng.random(size)),
                  np.zeros(size), np.eye(1, size, size // 2).ravel()):
            want = (hhi(x), cr_n(x, 4), float(x.sum()))
            got = hhi_cr_n_total(x.copy(), 4)
            assert np.array(got).tobytes() == np.array(want).tobytes(), (size, got, want)
    with pytest.raises(ValueError, match="non-negative"):
        hhi_cr_n_total(np.array([1.0, -1.0]))


def test_weighted_quantile_rejects_bad_input():
    with pytest.raises(ValueError):
        weighted_quantile_or_nan([1.0, 2.0], [1.0, -1.0], 0.5)
    with pytest.raises(ValueError):
        weighted_quantile_or_nan([1.0, 2.0], [1.0, np.nan], 0.5)
    with pytest.raises(ValueError):
        weighted_quantile_or_nan([1.0, 2.0], [1.0], 0.5)
    with pytest.raises(ValueError):
        weighted_quantile_or_nan([1.0, 2.0], [1.0, 1.0], 1.5)


# --- catch_up_lag / gap ------------------------------------------------------

def test_catch_up_lag_hand():
    # follower reaches frontier[t] = t+1 at index t+1 -> lag 1; 4 never reached.
    np.testing.assert_array_equal(
        catch_up_lag([1, 2, 3, 4], [0, 1, 2, 3]), [1, 1, 1, np.nan]
    )
    # Non-monotone follower, target 5: reached at indices 0 and 3 only.
    # t=0 -> 0; t=1 -> 3-1=2; t=2 -> 1; t=3 -> 0; t=4 -> never.
    np.testing.assert_array_equal(
        catch_up_lag([5, 5, 5, 5, 5], [6, 0, 0, 7, 0]), [0, 2, 1, 0, np.nan]
    )
    # NaN frontier -> NaN; NaN follower month never counts.
    np.testing.assert_array_equal(
        catch_up_lag([np.nan, 1, 1], [5, np.nan, 1]), [np.nan, 1, 0]
    )
    assert catch_up_lag([], []).shape == (0,)
    with pytest.raises(ValueError):
        catch_up_lag([1, 2], [1])


def _lag_bruteforce(fr, fo):
    n = len(fr)
    out = np.full(n, np.nan)
    for t in range(n):
        for j in range(t, n):
            if fo[j] >= fr[t]:
                out[t] = j - t
                break
    return out


def test_catch_up_lag_matches_bruteforce():
    rng = np.random.default_rng(1)
    for n in (1, 2, 3, 7, 8, 9, 31, 64, 100):
        fr = rng.integers(0, 10, n).astype(float)
        fo = rng.integers(0, 10, n).astype(float)
        np.testing.assert_array_equal(catch_up_lag(fr, fo), _lag_bruteforce(fr, fo))


def test_catch_up_lag_long_series():
    # Follower trails a linear frontier by exactly 12 months.
    n = 200_000
    t = np.arange(n, dtype=float)
    lag = catch_up_lag(t, t - 12)
    np.testing.assert_array_equal(lag[: n - 12], 12.0)
    assert np.isnan(lag[n - 12 :]).all()


def test_gap():
    np.testing.assert_array_equal(gap([5, 3, np.nan], [2, np.nan, 1]), [3, np.nan, np.nan])
    assert gap(4, 1.5) == 2.5


def test_cr_n_long_mostly_tied_inputs_equal_a_full_sort():
    """Long 1-D inputs take a shortcut (block maxima bound the n largest values); it must give
    exactly the share a full descending sort gives, with heavy ties and mostly zeros, as in the
    training-compute array of a large startup population."""
    rng = np.random.default_rng(11)
    for n in (1, 4, 10):
        for _ in range(25):
            size = int(rng.integers(4 * n * 512, 60_000))
            x = np.zeros(size)
            hits = rng.integers(0, size, int(rng.integers(1, 3 * n)))
            x[hits] = rng.choice(np.array([1.0, 2.5, 1e-3, rng.random()]), hits.size)  # ties included
            expected = -np.sort(-x)[:n].sum() / x.sum()
            assert cr_n(x, n) == expected
            y = rng.exponential(1.0, size)  # no zeros, few ties
            assert cr_n(y, n) == -np.sort(-y)[:n].sum() / y.sum()


@pytest.mark.parametrize("shape", ["uniform", "lognormal", "half_zero", "ties", "one_positive"])
def test_float_arrays_take_a_short_path_with_the_same_bits_as_the_general_one(shape):
    # the model records a dozen small markets a month as float64 arrays, which skip the general
    # path's conversions; any other input (a list here) takes the general path. They must agree
    # to the last bit, below and above the sizes where cr_n partitions and quantiles select
    rng = np.random.default_rng(len(shape))
    for n in (1, 2, 4, 5, 10, 63, 64, 65, 300, 5000):
        x = {"uniform": rng.random(n), "lognormal": rng.lognormal(0, 5, n),
             "half_zero": np.where(rng.random(n) < 0.5, 0.0, rng.random(n) * 1e9),
             "ties": np.round(rng.random(n) * 3), "one_positive": np.eye(1, n, n // 2).ravel()}[shape]
        for f, args in ((hhi, ()), (cr_n, (4,)), (gini, ()), (quantile_or_nan, ((0.1, 0.5, 0.9),)), (quantile_or_nan, (0.5,))):
            fast, general = f(x, *args), f(x.tolist(), *args)
            assert type(fast) is type(general), (f.__name__, n)
            assert np.asarray(fast).tobytes() == np.asarray(general).tobytes(), (f.__name__, n, fast, general)
    # a negative value still raises, a zero total still gives NaN (HHI, CR4) or 0 (Gini)
    with pytest.raises(ValueError, match="non-negative"):
        hhi(np.array([1.0, -1.0]))
    zeros = np.zeros(3)
    assert math.isnan(hhi(zeros)) and math.isnan(cr_n(zeros)) and gini(zeros) == 0.0
