"""Vintaged chip fleets and the power they draw.

Chips are counted in H100-equivalents (H100e: 989e12 dense BF16 FLOP/s). A vintage keeps the
watts per H100e and the price of the month it was bought; it depreciates straight-line and
retires at the end of its depreciation life. Only energized chips deliver FLOP.
"""

from __future__ import annotations

import numpy as np


class Fleet:
    """Chips owned by one lab or by the cloud pool, one row per purchase month."""

    __slots__ = ("h100e", "watts", "cost_usd", "book_usd", "month", "life_months", "_tot", "_mw", "_cost_month")

    def __init__(self, life_months: int):
        self.life_months = int(life_months)
        self.h100e = np.zeros(0)
        self.watts = np.zeros(0)  # all-in W per H100e of the vintage
        self.cost_usd = np.zeros(0)  # purchase cost of the whole vintage
        self.book_usd = np.zeros(0)
        self.month = np.zeros(0, dtype=np.int64)
        self._changed()

    def _changed(self) -> None:
        """Forget the cached totals (every change of ``h100e``, ``watts`` or ``cost_usd`` calls it)."""
        self._tot = self._mw = self._cost_month = None

    def add(self, h100e: float, watts_per_h100e: float, cost_usd: float, month: int) -> None:
        """Install ``h100e`` chips bought this month for ``cost_usd`` (book value starts at cost)."""
        if h100e <= 0:
            return
        self._changed()
        if self.month.size and self.month[-1] == month and self.watts[-1] == watts_per_h100e:
            self.h100e[-1] += h100e
            self.cost_usd[-1] += cost_usd
            self.book_usd[-1] += cost_usd
            return
        # np.append without its argument handling: the same arrays
        cat = np.concatenate
        self.h100e = cat((self.h100e, np.asarray(h100e).ravel()))
        self.watts = cat((self.watts, np.asarray(watts_per_h100e).ravel()))
        self.cost_usd = cat((self.cost_usd, np.asarray(cost_usd).ravel()))
        self.book_usd = cat((self.book_usd, np.asarray(cost_usd).ravel()))
        self.month = cat((self.month, np.asarray(month).ravel()))

    @property
    def total_h100e(self) -> float:
        if self._tot is None:
            self._tot = float(self.h100e.sum())
        return self._tot

    @property
    def book_value_usd(self) -> float:
        return float(self.book_usd.sum())

    def mw_needed(self) -> float:
        """MW to energize the whole fleet."""
        if self._mw is None:
            self._mw = float((self.h100e * self.watts).sum() / 1e6)
        return self._mw

    def monthly_cost_usd(self) -> float:
        """Straight-line monthly depreciation of the fleet at cost: ``sum(cost_usd / life_months)``."""
        if self._cost_month is None:
            self._cost_month = float((self.cost_usd / self.life_months).sum())
        return self._cost_month

    def depreciate(self, month: int) -> tuple[float, float]:
        """Book one month of straight-line depreciation and retire vintages at end of life.

        Returns:
            (depreciation in USD this month, H100e retired this month).
        """
        if not self.h100e.size:
            return 0.0, 0.0
        dep = np.minimum(self.cost_usd / self.life_months, self.book_usd)
        self.book_usd = self.book_usd - dep
        old = (month - self.month) >= self.life_months
        if not old.any():  # nothing retires: the write-off below would be an empty sum, 0.0
            return float(dep.sum()) + 0.0, 0.0
        retired = float(self.h100e[old].sum())
        dep_total = float(dep.sum()) + float(self.book_usd[old].sum())  # write off any remainder
        self._changed()
        keep = ~old
        self.h100e, self.watts = self.h100e[keep], self.watts[keep]
        self.cost_usd, self.book_usd, self.month = self.cost_usd[keep], self.book_usd[keep], self.month[keep]
        return dep_total, retired

    def energize(self, mw: float) -> tuple[float, float]:
        """Power the most efficient chips first with ``mw`` MW.

        Returns:
            (energized H100e, MW actually drawn).
        """
        if not self.h100e.size or mw <= 0:
            return 0.0, 0.0
        order = np.argsort(self.watts, kind="stable")
        h100e = self.h100e[order]
        need_mw = h100e * self.watts[order] / 1e6
        cum = np.cumsum(need_mw)
        frac = ((mw - (cum - need_mw)) / np.where(need_mw > 0, need_mw, 1.0)).clip(0.0, 1.0)
        return float((h100e * frac).sum()), float((need_mw * frac).sum())

    def take_all(self) -> "Fleet":
        """Remove and return every vintage (used when a failed lab's chips change hands)."""
        out = Fleet(self.life_months)
        out.h100e, out.watts, out.cost_usd, out.book_usd, out.month = (
            self.h100e, self.watts, self.cost_usd, self.book_usd, self.month)
        self.h100e = np.zeros(0); self.watts = np.zeros(0); self.cost_usd = np.zeros(0)
        self.book_usd = np.zeros(0); self.month = np.zeros(0, dtype=np.int64)
        self._changed()
        out._changed()
        return out

    def absorb(self, other: "Fleet") -> None:
        self._changed()
        self.h100e = np.concatenate([self.h100e, other.h100e])
        self.watts = np.concatenate([self.watts, other.watts])
        self.cost_usd = np.concatenate([self.cost_usd, other.cost_usd])
        self.book_usd = np.concatenate([self.book_usd, other.book_usd])
        self.month = np.concatenate([self.month, other.month])
