"""Vintaged chip fleets and the power they draw.

Chips are counted in H100-equivalents (H100e: 989e12 dense BF16 FLOP/s). A vintage keeps the
watts per H100e and the price of the month it was bought; it depreciates straight-line and
retires at the end of its depreciation life. Only energized chips deliver FLOP.
"""

from __future__ import annotations

import numpy as np

# ``arr.sum()`` and ``np.cumsum(arr)`` of 1-D float arrays without their Python wrappers: the same
# reductions (a fleet has a few dozen rows and is summed a dozen times a month, so the wrappers'
# overhead is most of the cost)
_sum = np.add.reduce
_cumsum = np.add.accumulate


class Fleet:
    """Chips owned by one lab or by the cloud pool, one row per purchase month (and watts).

    The rows live in the first ``n`` entries of preallocated buffers that grow geometrically, so
    that installing a month's deliveries (a couple of rows per owner and month) writes a few
    numbers instead of copying every column; ``h100e``, ``watts``, ``cost_usd``, ``book_usd`` and
    ``month`` are views of those entries (writable, valid until the fleet next changes shape).
    """

    __slots__ = ("_h", "_w", "_c", "_b", "_m", "_r", "_n", "_oldest", "_sorted", "life_months", "_tot", "_mw",
                 "_cost_month")

    def __init__(self, life_months: int, capacity: int = 16):
        self.life_months = int(life_months)
        self._h = np.zeros(capacity)  # H100e of each vintage
        self._w = np.zeros(capacity)  # all-in W per H100e of the vintage
        self._c = np.zeros(capacity)  # purchase cost of the whole vintage
        self._b = np.zeros(capacity)  # book value
        self._m = np.zeros(capacity, dtype=np.int64)  # purchase month
        self._r = np.zeros(capacity)  # straight-line depreciation per month at cost, cost / life
        self._n = 0
        self._oldest = None  # earliest purchase month among the rows (None: no rows)
        self._sorted = True  # rows in order of purchase month (as deliveries arrive; not after absorb)
        self._changed()

    # the rows, as views of the buffers
    h100e = property(lambda self: self._h[: self._n])
    watts = property(lambda self: self._w[: self._n])
    cost_usd = property(lambda self: self._c[: self._n])
    book_usd = property(lambda self: self._b[: self._n])
    month = property(lambda self: self._m[: self._n])

    def _changed(self) -> None:
        """Forget the cached totals (every change of ``h100e``, ``watts`` or ``cost_usd`` calls it)."""
        self._tot = self._mw = self._cost_month = None

    def _set_rows(self, h, w, c, b, m) -> None:
        """Replace every row by the given columns (equal-length 1-D arrays)."""
        n = len(h)
        if n > self._h.size:
            self._grow(n)
        for buf, col in ((self._h, h), (self._w, w), (self._c, c), (self._b, b), (self._m, m)):
            buf[:n] = col
        self._n = n
        np.divide(self._c[:n], self.life_months, out=self._r[:n])
        self._oldest = int(self._m[:n].min()) if n else None
        self._sorted = n < 2 or bool((self._m[1:n] >= self._m[: n - 1]).all())
        self._changed()

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * self._h.size, 16)
        for name in ("_h", "_w", "_c", "_b", "_m", "_r"):
            old = getattr(self, name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    def add(self, h100e: float, watts_per_h100e: float, cost_usd: float, month: int) -> None:
        """Install ``h100e`` chips (a number) bought this month for ``cost_usd`` (book value starts at cost)."""
        if h100e <= 0:
            return
        self._changed()
        n = self._n
        if n and self._m[n - 1] == month and self._w[n - 1] == watts_per_h100e:
            self._h[n - 1] += h100e
            self._c[n - 1] += cost_usd
            self._b[n - 1] += cost_usd
            self._r[n - 1] = self._c[n - 1] / self.life_months
            return
        if n and month < self._m[n - 1]:
            self._sorted = False
        if n == self._h.size:
            self._grow(n + 1)
        self._h[n] = h100e
        self._w[n] = watts_per_h100e
        self._c[n] = cost_usd
        self._b[n] = cost_usd
        self._m[n] = month
        self._r[n] = self._c[n] / self.life_months
        self._n = n + 1
        self._oldest = int(month) if self._oldest is None else min(self._oldest, int(month))

    @property
    def total_h100e(self) -> float:
        if self._tot is None:
            self._tot = float(_sum(self.h100e))
        return self._tot

    @property
    def book_value_usd(self) -> float:
        return float(_sum(self.book_usd))

    def mw_needed(self) -> float:
        """MW to energize the whole fleet."""
        if self._mw is None:
            self._mw = float(_sum(self.h100e * self.watts) / 1e6)
        return self._mw

    def monthly_cost_usd(self) -> float:
        """Straight-line monthly depreciation of the fleet at cost: ``sum(cost_usd / life_months)``."""
        if self._cost_month is None:
            self._cost_month = float(_sum(self._r[: self._n]))
        return self._cost_month

    def depreciate(self, month: int) -> tuple[float, float]:
        """Book one month of straight-line depreciation and retire vintages at end of life.

        Returns:
            (depreciation in USD this month, H100e retired this month).
        """
        n = self._n
        if not n:
            return 0.0, 0.0
        book = self._b[:n]
        dep = np.minimum(self._r[:n], book)
        book -= dep
        if month - self._oldest < self.life_months:  # nothing retires: the write-off would be an empty sum, 0.0
            return float(_sum(dep)) + 0.0, 0.0
        if self._sorted:  # the vintages that retire are the first rows: shift the others down
            # (the rows bought at or before month - life; usually one or two, so counted one by one)
            k, last = 1, month - self.life_months  # (the oldest row retires: checked above)
            while k < n and self._m.item(k) <= last:
                k += 1
            retired = float(_sum(self._h[:k]))
            dep_total = float(_sum(dep)) + float(_sum(book[:k]))  # write off any remainder
            for buf in (self._h, self._w, self._c, self._b, self._m, self._r):
                buf[: n - k] = buf[k:n]
            self._n = n = n - k
            self._oldest = int(self._m[0]) if n else None
            self._changed()
            return dep_total, retired
        old = (month - self._m[:n]) >= self.life_months
        retired = float(_sum(self._h[:n][old]))
        dep_total = float(_sum(dep)) + float(_sum(book[old]))  # write off any remainder
        keep = ~old
        self._set_rows(self._h[:n][keep], self._w[:n][keep], self._c[:n][keep], book[keep], self._m[:n][keep])
        return dep_total, retired

    def energize(self, mw: float) -> tuple[float, float]:
        """Power the most efficient chips first with ``mw`` MW.

        Returns:
            (energized H100e, MW actually drawn).
        """
        if not self._n or mw <= 0:
            return 0.0, 0.0
        order = self.watts.argsort(kind="stable")
        h100e = self.h100e[order]
        need_mw = h100e * self.watts[order] / 1e6
        cum = _cumsum(need_mw)
        frac = (mw - (cum - need_mw)) / np.where(need_mw > 0, need_mw, 1.0)
        # clipped to [0, 1] in place: as ndarray.clip, without its Python wrapper (mw > 0, so no
        # -0.0 whose sign the two could treat differently)
        np.minimum(np.maximum(frac, 0.0, out=frac), 1.0, out=frac)
        return float(_sum(h100e * frac)), float(_sum(need_mw * frac))

    def take_all(self) -> "Fleet":
        """Remove and return every vintage (used when a failed lab's chips change hands)."""
        out = Fleet(self.life_months)
        out._set_rows(self.h100e, self.watts, self.cost_usd, self.book_usd, self.month)
        self._n = 0
        self._oldest = None
        self._changed()
        return out

    def absorb(self, other: "Fleet") -> None:
        """Append every vintage of ``other`` after this fleet's own."""
        cat = np.concatenate
        self._set_rows(cat([self.h100e, other.h100e]), cat([self.watts, other.watts]), cat([self.cost_usd, other.cost_usd]),
                       cat([self.book_usd, other.book_usd]), cat([self.month, other.month]))
