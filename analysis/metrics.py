"""Market-structure and capability metrics.

Pure, numpy-vectorized functions with no dependency on the rest of
frontiersim. Every function accepts array-likes.

Conventions:
    * "values" are non-negative holdings of each firm (revenue, compute in
      FLOP/s, users, ...). Units cancel out for every concentration metric,
      so all of them are scale invariant and permutation invariant.
    * Firms lie along ``axis`` (default: the last one). A 1-D input is one
      market and gives a Python ``float``; a 2-D input with one row per time
      period (and ``axis=-1``) gives a 1-D array with one value per row.
    * Negative values raise ``ValueError``. NaN entries are not treated
      specially by the concentration metrics: they propagate to the result.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "shares",
    "hhi",
    "cr_n",
    "hhi_cr_n_total",
    "gini",
    "effective_number",
    "hhi_equivalent_number",
    "quantile_or_nan",
    "weighted_quantile_or_nan",
    "catch_up_lag",
    "gap",
]

HHI_MAX = 10_000.0
"""HHI of a monopoly on the 0-10,000 scale (100% share squared)."""


def _nonneg_last(values: ArrayLike, axis: int) -> np.ndarray:
    """Return ``values`` as a float array with ``axis`` moved last.

    Raises:
        ValueError: If any value is negative.
    """
    x = np.atleast_1d(np.asarray(values, dtype=float))
    if (x < 0).any():  # NaN compares False, so it passes through.
        raise ValueError("metric inputs must be non-negative")
    if axis == -1 or axis == x.ndim - 1:  # already last (moveaxis would only add overhead)
        return x
    return np.moveaxis(x, axis, -1)


def _out(result: np.ndarray) -> Any:
    """Return a Python float for 0-d results, otherwise the array."""
    result = np.asarray(result, dtype=float)
    return float(result) if result.ndim == 0 else result


def _plain_vector(values: Any) -> np.ndarray | None:
    """``values`` itself if it is a 1-D float64 ndarray without negative values, else None.

    The functions below take a shorter path for such an input (the model records a dozen small
    ones a month): the same numpy operations on the same values in the same order, so the same
    bits, without the conversions, axis handling and masks a general input needs. A negative
    value sends the input down the general path, which raises.
    """
    if type(values) is np.ndarray and values.ndim == 1 and values.dtype == np.float64 and not _any(_less(values, 0.0)):
        return values
    return None


_sum, _any, _less = np.add.reduce, np.logical_or.reduce, np.less  # ndarray.sum()/.any() without their Python wrappers


def _shares_last(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shares along the last axis of a non-negative array, plus totals."""
    total = x.sum(axis=-1, keepdims=True)
    if (total > 0).all():  # the common case, without the masking passes (same values)
        return x / total, total[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(total > 0, x / np.where(total > 0, total, 1.0), 0.0)
    # Keep NaN totals visible instead of silently turning them into zeros.
    s = np.where(np.isnan(total), np.nan, s)
    return s, total[..., 0]


def shares(values: ArrayLike, axis: int = -1) -> np.ndarray:
    """Fraction of the total held by each firm.

    ``s_i = x_i / sum_j x_j`` along ``axis``.

    Args:
        values: Non-negative holdings, firms along ``axis`` (any unit).
        axis: Axis along which firms lie.

    Returns:
        Array of the same shape with shares in [0, 1] (dimensionless) that
        sum to 1 along ``axis``. Slices whose total is zero get all-zero
        shares.

    Raises:
        ValueError: If any value is negative.
    """
    s, _ = _shares_last(_nonneg_last(values, axis))
    return np.moveaxis(s, -1, axis)


def hhi(values: ArrayLike, axis: int = -1) -> Any:
    """Herfindahl-Hirschman index on the 0-10,000 scale.

    ``HHI = sum_i (100 * s_i)**2`` where ``s_i`` are shares (so shares are
    expressed in percent). A monopoly gives 10,000 and ``n`` equal firms give
    ``10,000 / n``.

    Args:
        values: Non-negative holdings, firms along ``axis`` (any unit).
        axis: Axis along which firms lie.

    Returns:
        HHI in [0, 10,000] (points, dimensionless): a float for 1-D input,
        otherwise an array with ``axis`` removed (one value per row for 2-D
        input). NaN where the total is zero, since concentration is
        undefined when nobody holds anything.

    Raises:
        ValueError: If any value is negative.
    """
    x = _plain_vector(values)
    if x is not None:
        total = _sum(x)
        if total > 0:  # as below: shares, squared in place, summed
            s = x / total
            return float(HHI_MAX * _sum(np.multiply(s, s, out=s)))
    s, total = _shares_last(_nonneg_last(values, axis))
    h = HHI_MAX * np.multiply(s, s, out=s).sum(axis=-1)  # s is our own array: square in place
    return _out(np.where(total > 0, h, np.nan))


_TOP_BLOCK = 512
"""Block length of :func:`_top_candidates`."""


def _top_candidates(x: np.ndarray, n: int) -> np.ndarray:
    """A short array whose ``n`` largest values are those of ``x`` (1-D, no NaN, some value > 0).

    ``x`` is cut into blocks of ``_TOP_BLOCK`` values. ``t``, the ``n``-th largest block maximum,
    is at most the ``n``-th largest value (``n`` values reach it), so the ``n`` largest values are
    those above ``t`` (in fewer than ``n`` blocks or the unblocked tail), then copies of ``t``.
    Returns those values followed by ``n`` copies of ``t`` (a zero ``t`` may differ from the zeros
    of ``x`` in sign, which no sum over the ``n`` largest, led by a positive value, can show);
    ``x`` itself when it has fewer than ``4 n`` blocks. Unlike partitioning all of ``x`` this
    stays fast when most values tie (e.g. are zero).
    """
    k = x.size // _TOP_BLOCK
    if k < 4 * n:
        return x
    blocks = x[: k * _TOP_BLOCK].reshape(k, _TOP_BLOCK)
    bmax = blocks.max(axis=1)
    t = np.partition(bmax, k - n)[k - n]
    head, tail = blocks[bmax > t].ravel(), x[k * _TOP_BLOCK:]
    return np.concatenate((head[head > t], tail[tail > t], np.full(n, t)))


def cr_n(values: ArrayLike, n: int = 4, axis: int = -1) -> Any:
    """Concentration ratio CR_n: combined share of the ``n`` largest firms.

    With fewer than ``n`` firms this is the share of all firms, i.e. 1.0
    whenever the total is positive.

    Args:
        values: Non-negative holdings, firms along ``axis`` (any unit).
        n: Number of largest firms to include (``n >= 1``).
        axis: Axis along which firms lie.

    Returns:
        Share in [0, 1] (dimensionless): a float for 1-D input, otherwise an
        array with ``axis`` removed. NaN where the total is zero.

    Raises:
        ValueError: If any value is negative or ``n < 1``.
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    x = _plain_vector(values)
    if x is not None:
        total = _sum(x)
        if total > 0:  # as below, for one market
            x = _top_candidates(x, n)
            m = x.size
            if m > 64:  # (on a few values, sorting them all gives the same n largest in the same order)
                x = np.partition(x, m - n)[m - n:]
            return float(_sum(-np.sort(-x)[:n]) / total)
    x = _nonneg_last(values, axis)
    total = x.sum(axis=-1)
    m = x.shape[-1]
    if x.ndim == 1 and total > 0:  # long 1-D inputs: keep a few values holding the n largest
        x = _top_candidates(x, n)
        m = x.shape[-1]
    if m > n:  # only the n largest need sorting (the same values, summed in the same order)
        x = np.partition(x, m - n, axis=-1)[..., m - n:]
    top = -np.sort(-x, axis=-1)[..., :n].sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = top / np.where(total > 0, total, 1.0)
    return _out(np.where(total > 0, ratio, np.nan))


def hhi_cr_n_total(values: np.ndarray, n: int = 4) -> tuple[float, float, float]:
    """``(hhi(values), cr_n(values, n), float(values.sum()))`` of a 1-D float64 array, bit for bit,
    with one check for negative values and one sum instead of three (the records take all three
    of arrays of up to a million sales a month). ``values`` is the caller's own: its values are
    overwritten (by the shares the HHI squares, in place, after the CR_n has read them).

    Raises:
        ValueError: If any value is negative, or ``n`` is not a positive integer.
    """
    x = _plain_vector(values)
    if x is None or int(n) != n or n < 1:
        return hhi(values), cr_n(values, n), float(np.sum(values))
    total = _sum(x)
    if not total > 0:  # (no share: the functions' own NaN)
        return hhi(x), cr_n(x, n), float(total)
    n = int(n)
    top = _top_candidates(x, n)  # as cr_n
    m = top.size
    if m > 64:
        top = np.partition(top, m - n)[m - n:]
    cr = float(_sum(-np.sort(-top)[:n]) / total)
    s = np.divide(x, total, out=x)  # as hhi, in place
    return float(HHI_MAX * _sum(np.multiply(s, s, out=s))), cr, float(total)


def gini(values: ArrayLike, axis: int = -1) -> Any:
    """Gini coefficient (population version).

    With values sorted ascending ``x_(1) <= ... <= x_(n)``::

        G = sum_i (2 i - n - 1) x_(i) / (n * sum_i x_(i)),  i = 1..n

    Equal holdings give 0; one holder among ``n`` firms gives ``(n-1)/n``.

    Args:
        values: Non-negative holdings, firms along ``axis`` (any unit).
        axis: Axis along which firms lie.

    Returns:
        Gini in [0, 1) (dimensionless): a float for 1-D input, otherwise an
        array with ``axis`` removed. 0.0 where the total is zero (nobody has
        anything, so everybody is equal); NaN for an empty slice.

    Raises:
        ValueError: If any value is negative.
    """
    v = _plain_vector(values)
    if v is not None and v.size:
        x = np.sort(v)
        n = x.size
        total = _sum(x)
        if total > 0:  # as below, for one market
            return float(_sum(x * np.arange(1 - n, n, 2.0)) / (n * total))
    x = np.sort(_nonneg_last(values, axis), axis=-1)
    n = x.shape[-1]
    if n == 0:
        return _out(np.full(x.shape[:-1], np.nan))
    total = x.sum(axis=-1)
    coef = np.arange(1 - n, n, 2.0)  # 2 i - n - 1 for i = 1..n in one pass (exact integers)
    # an element-wise product and numpy's own sum, not ``x @ coef``: a BLAS dot product may split
    # long inputs across threads, which makes the last bits depend on the thread count and keeps
    # idle BLAS threads spinning beside ensemble workers
    with np.errstate(invalid="ignore", divide="ignore"):
        g = (x * coef).sum(axis=-1) / (n * np.where(total > 0, total, 1.0))
    return _out(np.where(total > 0, g, np.where(np.isnan(total), np.nan, 0.0)))


def effective_number(values: ArrayLike, axis: int = -1) -> Any:
    """Entropy-based effective number of firms.

    ``N_eff = exp(-sum_i s_i ln s_i)`` with the convention ``0 ln 0 = 0``
    (the exponential of Shannon entropy in nats). One firm gives 1 and
    ``n`` equal firms give ``n``; firms with zero share do not count.

    Args:
        values: Non-negative holdings, firms along ``axis`` (any unit).
        axis: Axis along which firms lie.

    Returns:
        Effective number of firms (>= 1, in firms): a float for 1-D input,
        otherwise an array with ``axis`` removed. NaN where the total is
        zero.

    Raises:
        ValueError: If any value is negative.
    """
    s, total = _shares_last(_nonneg_last(values, axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        plogp = np.where(s > 0, s * np.log(np.where(s > 0, s, 1.0)), 0.0)
    plogp = np.where(np.isnan(s), np.nan, plogp)
    n_eff = np.exp(-plogp.sum(axis=-1))
    return _out(np.where(total > 0, n_eff, np.nan))


def hhi_equivalent_number(values: ArrayLike, axis: int = -1) -> Any:
    """HHI-equivalent number of firms, ``10,000 / HHI``.

    The number of equal-sized firms that would produce the observed HHI
    (equivalently ``1 / sum_i s_i**2``).

    Args:
        values: Non-negative holdings, firms along ``axis`` (any unit).
        axis: Axis along which firms lie.

    Returns:
        Equivalent number of firms (>= 1): a float for 1-D input, otherwise
        an array with ``axis`` removed. NaN where the total is zero.

    Raises:
        ValueError: If any value is negative.
    """
    h = np.asarray(hhi(values, axis=axis), dtype=float)
    return _out(HHI_MAX / h)


_PARTITION_FROM = 4096
"""Above this many values :func:`quantile_or_nan` selects order statistics instead of sorting
(measured here for three quantiles: sorting 3,000 values takes ~20 us, selecting ~70 us; at
10,000, 70 us against 90 us). Both give the same values."""


def _place(y: np.ndarray, ks: list[int]) -> None:
    """Partition ``y`` in place so that ``y[k]`` is its k-th smallest value for every ``k`` in
    ``ks`` (ascending), splitting at the middle one and recursing on each side: about
    ``n log2(len(ks))`` work, where numpy's own partition with several ``kth`` is slower than a
    sort on long inputs."""
    if not ks:
        return
    m = len(ks) // 2
    k = ks[m]
    y.partition(k)
    _place(y[:k], ks[:m])
    _place(y[k + 1:], [j - k - 1 for j in ks[m + 1:]])


def _order_statistics(x: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values at positions ``lo`` and ``min(lo + 1, n - 1)`` of sorted ``x`` (1-D, no NaN),
    exactly, without sorting; ``x`` is reordered in place.

    After :func:`_place` every value right of a placed ``k`` is at least ``x[k]`` and every value
    right of the next placed position ``k'`` at least ``x[k']``, so the (k+1)-th smallest value
    is the smallest of ``x[k + 1 : k' + 1]`` (of ``x[k + 1:]`` after the last one).
    """
    n = x.size
    ks = sorted(set(lo.ravel().tolist()))  # np.unique's result, without its ~30 us of overhead on a few values
    _place(x, ks)
    nxt = {}
    for k, k_next in zip(ks, ks[1:] + [n - 1]):
        nxt[k] = x[k + 1 : k_next + 1].min() if k < n - 1 else x[k]
    return x[lo], np.array([nxt[k] for k in lo.ravel().tolist()]).reshape(lo.shape)


def _plain_quantiles(x: np.ndarray, q: tuple, overwrite_input: bool) -> np.ndarray | None:
    """:func:`quantile_or_nan` of a 1-D float64 array without NaN at a tuple of Python floats in
    [0, 1], or None for any other input. The arithmetic below is that of the general path, in
    Python floats instead of 0-d arrays (the same IEEE operations, so the same bits); short arrays
    are sorted, long ones selected, as there (the records take a few long ones a month, which
    skip the general path's conversions and masks)."""
    n = x.size
    if not 0 < n or not all(type(v) is float and 0.0 <= v <= 1.0 for v in q):
        return None
    pos = [v * (n - 1) for v in q]
    lo = [math.floor(p) for p in pos]
    if n <= _PARTITION_FROM:
        xs = np.sort(x)
        if xs[-1] != xs[-1]:  # NaN sorts last
            return None
        at = xs[lo + [min(i + 1, n - 1) for i in lo]].tolist()  # the values at lo, then at hi
    else:
        if _any(np.isnan(x)):
            return None
        x_lo, x_hi = _order_statistics(x if overwrite_input else x.copy(), np.array(lo, dtype=np.intp))
        at = x_lo.tolist() + x_hi.tolist()
    out = []
    for p, i, x_lo, x_hi in zip(pos, lo, at, at[len(q):]):
        t = p - i
        out.append(x_hi - (x_hi - x_lo) * (1 - t) if t >= 0.5 else x_lo + (x_hi - x_lo) * t)
    return np.array(out)


def _quantile_levels(q: ArrayLike) -> np.ndarray:
    """``q`` as a float array, checked.

    Raises:
        ValueError: If any ``q`` lies outside [0, 1] (NaN compares False, so it is refused too).
    """
    qa = np.asarray(q, dtype=float)
    if not ((qa >= 0) & (qa <= 1)).all():
        raise ValueError("quantiles must be in [0, 1]")
    return qa


def quantile_or_nan(values: ArrayLike, q: ArrayLike, overwrite_input: bool = False) -> Any:
    """NaN-ignoring quantile of all values that never warns.

    The input is flattened and NaNs are dropped; the quantile uses numpy's
    default linear interpolation.

    Args:
        values: Any numeric array-like (same unit as the result).
        q: Quantile(s) in [0, 1], scalar or array-like.
        overwrite_input: As numpy's: if True, a float64 array given as
            ``values`` may be reordered in place instead of copied first
            (the caller no longer needs its order). The result is the same.

    Returns:
        The quantile(s) in the unit of ``values``: a float for scalar ``q``,
        otherwise an array shaped like ``q``. NaN (no warning) when there is
        no non-NaN value.

    Raises:
        ValueError: If any ``q`` lies outside [0, 1].
    """
    if type(values) is np.ndarray and values.ndim == 1 and values.dtype == np.float64:
        if type(q) is tuple:
            plain = _plain_quantiles(values, q, overwrite_input)
            if plain is not None:
                return plain
        elif type(q) is float:
            plain = _plain_quantiles(values, (q,), overwrite_input)
            if plain is not None:
                return float(plain[0])
    qa = _quantile_levels(q)
    x = np.asarray(values, dtype=float).ravel()
    nan = np.isnan(x)
    owned = overwrite_input  # x may be reordered: the caller gives it up, or (below) it is new
    if nan.any():
        x, owned = x[~nan], True
    if x.size == 0:
        return _out(np.full(qa.shape, np.nan))
    # numpy's default 'linear' method, written out: ~10x cheaper than np.quantile on the small
    # arrays the model records every month
    pos = qa * (x.size - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, x.size - 1)
    if x.size > _PARTITION_FROM:  # only the values at lo and hi of the sorted array are needed
        x_lo, x_hi = _order_statistics(x if owned else x.copy(), lo)
    else:
        x = np.sort(x)
        x_lo, x_hi = x[lo], x[hi]
    t = pos - lo
    with np.errstate(invalid="ignore"):  # inf - inf between infinite neighbours: NaN, as numpy gives
        return _out(np.where(t >= 0.5, x_hi - (x_hi - x_lo) * (1 - t), x_lo + (x_hi - x_lo) * t))


def weighted_quantile_or_nan(values: ArrayLike, weights: ArrayLike, q: ArrayLike) -> Any:
    """Weighted lower quantile: the smallest value whose cumulative weight reaches ``q`` of the total.

    With the values sorted ascending and ``W(v)`` the total weight of the values ``<= v``, the
    result at ``q`` is the smallest value ``v`` of positive weight with ``W(v) >= q * W``, ``W``
    the total weight. A value of zero weight is never the result, so ``q = 0`` gives the smallest
    value of positive weight and ``q = 1`` the largest. At ``q = 0.5`` it is the weighted median
    (equal weights give the lower median: of four values, the second smallest). No interpolation,
    so the result is always one of the values. As :func:`quantile_or_nan`, the input is flattened
    and NaN values are dropped with their weights.

    Args:
        values: Any numeric array-like (same unit as the result).
        weights: Non-negative finite weights, the shape of ``values``.
        q: Quantile(s) in [0, 1], scalar or array-like.

    Returns:
        The quantile(s) in the unit of ``values``: a float for scalar ``q``, otherwise an array
        shaped like ``q``. NaN (no warning) when no non-NaN value has a positive weight (no value,
        or a total weight of 0).

    Raises:
        ValueError: If ``values`` and ``weights`` differ in shape, a weight is negative or not
            finite, or any ``q`` lies outside [0, 1].
    """
    qa = _quantile_levels(q)
    x = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if x.shape != w.shape:
        raise ValueError(f"values and weights differ in shape: {x.shape} and {w.shape}")
    x, w = x.ravel(), w.ravel()
    if not (np.isfinite(w) & (w >= 0)).all():
        raise ValueError("weights must be finite and non-negative")
    keep = (w > 0) & ~np.isnan(x)
    if not keep.any():
        return _out(np.full(qa.shape, np.nan))
    x, w = x[keep], w[keep]
    # the weights are summed in the order of their values, and tied values in their own order (a
    # stable sort): numpy's default sort finds that order ~5x faster when no two values tie (the
    # common case: then it is the only ascending order); with ties, the stable sort
    order = np.argsort(x)
    xs = x.take(order)
    if _any(np.equal(xs[1:], xs[:-1])):
        order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    # the first sorted position whose cumulative weight reaches q of the total (the total is the
    # last cumulative sum itself, so q = 1 finds the last position, never one past it)
    at = np.searchsorted(cum, qa * cum[-1], side="left")
    return _out(x[order[at]])


def catch_up_lag(frontier: ArrayLike, follower: ArrayLike) -> np.ndarray:
    """Months until a follower reaches each month's frontier level.

    For each month ``t`` the lag is the smallest ``k >= 0`` such that
    ``follower[t + k] >= frontier[t]``. Runs in O(n log n): a sparse table
    of range maxima of ``follower`` plus a vectorized binary-lifting search
    for all ``t`` at once.

    Args:
        frontier: 1-D capability of the frontier, one entry per month.
        follower: 1-D capability of the follower on the same monthly grid
            and in the same unit.

    Returns:
        1-D float array (months, integral values) of the same length. NaN
        where the follower never reaches ``frontier[t]`` within the series
        or ``frontier[t]`` is NaN. NaN follower months never count as
        caught up.

    Raises:
        ValueError: If the inputs are not 1-D or differ in length.
    """
    fr = np.asarray(frontier, dtype=float)
    fo = np.asarray(follower, dtype=float)
    if fr.ndim != 1 or fo.ndim != 1 or fr.shape != fo.shape:
        raise ValueError("frontier and follower must be 1-D of equal length")
    n = fr.size
    if n == 0:
        return np.empty(0)
    fo = np.where(np.isnan(fo), -np.inf, fo)
    # table[L][i] = max(fo[i : i + 2**L]), valid for i + 2**L <= n.
    table = [fo]
    while 2 ** len(table) <= n:
        prev, half = table[-1], 2 ** (len(table) - 1)
        table.append(np.maximum(prev[:-half], prev[half:]))
    pos = np.arange(n)
    # Greedily skip blocks lying entirely below the target; powers are tried
    # from large to small, so the skipped distance is built bit by bit and
    # stops exactly at the first index that reaches the target.
    for level in range(len(table) - 1, -1, -1):
        block = table[level]
        ok = pos + 2**level <= n
        idx = np.where(ok, pos, 0)
        skip = ok & (block[np.minimum(idx, block.size - 1)] < fr)
        pos = np.where(skip, pos + 2**level, pos)
    lag = (pos - np.arange(n)).astype(float)
    return np.where((pos >= n) | np.isnan(fr), np.nan, lag)


def gap(frontier: ArrayLike, other: ArrayLike) -> Any:
    """Capability gap, ``frontier - other`` elementwise.

    Args:
        frontier: Frontier capability (any unit; broadcastable).
        other: Capability to compare, in the same unit.

    Returns:
        Difference in the input unit: a float for scalar inputs, otherwise
        an array. NaN wherever either input is NaN (no warning raised).
    """
    with np.errstate(invalid="ignore"):
        return _out(np.subtract(np.asarray(frontier, dtype=float),
                                np.asarray(other, dtype=float)))
