"""The chip fleet against a plain list-of-vintages implementation of the same rules."""

from __future__ import annotations

import numpy as np
import pytest

from agents.fleet import Fleet

LIFE = 6


class ListFleet:
    """Reference: one dict per vintage, straight-line depreciation at cost, retirement at end of life."""

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, h, w, c, m):
        if h <= 0:
            return
        if self.rows and self.rows[-1]["m"] == m and self.rows[-1]["w"] == w:
            r = self.rows[-1]
            r["h"] += h; r["c"] += c; r["b"] += c
            return
        self.rows.append({"h": h, "w": w, "c": c, "b": c, "m": m})

    def depreciate(self, month):
        dep_total = retired = 0.0
        keep = []
        for r in self.rows:
            dep = min(r["c"] / LIFE, r["b"])
            r["b"] -= dep
            dep_total += dep
            if month - r["m"] >= LIFE:
                retired += r["h"]
                dep_total += r["b"]
            else:
                keep.append(r)
        self.rows = keep
        return dep_total, retired


def _check_same(f: Fleet, ref: ListFleet):
    for col, key in (("h100e", "h"), ("watts", "w"), ("cost_usd", "c"), ("book_usd", "b"), ("month", "m")):
        np.testing.assert_allclose(getattr(f, col), [r[key] for r in ref.rows], rtol=1e-12, err_msg=col)
    assert f.total_h100e == pytest.approx(sum(r["h"] for r in ref.rows), rel=1e-12)
    assert f.mw_needed() == pytest.approx(sum(r["h"] * r["w"] for r in ref.rows) / 1e6, rel=1e-12)
    assert f.monthly_cost_usd() == pytest.approx(sum(r["c"] / LIFE for r in ref.rows), rel=1e-12)
    assert f.book_value_usd == pytest.approx(sum(r["b"] for r in ref.rows), rel=1e-12)


def test_fleet_matches_reference_through_growth_merges_and_retirements():
    rng = np.random.default_rng(7)
    f, ref = Fleet(LIFE, capacity=2), ListFleet()  # tiny buffers: growth happens many times
    for month in range(40):
        for _ in range(int(rng.integers(0, 4))):
            h, w, c = float(rng.uniform(-5, 100)), float(rng.choice([700.0, 1000.0])), float(rng.uniform(1e5, 1e7))
            f.add(h, w, c, month)
            ref.add(h, w, c, month)
        _check_same(f, ref)
        got, want = f.depreciate(month), ref.depreciate(month)
        assert got == pytest.approx(want, rel=1e-12)
        _check_same(f, ref)
    assert f.h100e.size < 4 * LIFE * 2  # retired vintages are gone


def test_fleet_conserves_chips_and_book_value_when_handed_over():
    a, b = Fleet(LIFE), Fleet(LIFE)
    a.add(10.0, 700.0, 1e6, 0); a.add(5.0, 1000.0, 2e6, 1)
    b.add(7.0, 700.0, 3e6, 2)
    a.depreciate(1)
    chips, book = a.total_h100e + b.total_h100e, a.book_value_usd + b.book_value_usd
    b.absorb(a.take_all())
    assert a.total_h100e == 0.0 and a.book_value_usd == 0.0 and a.h100e.size == 0
    assert b.total_h100e == pytest.approx(chips) and b.book_value_usd == pytest.approx(book)
    assert b.month.tolist() == [2, 0, 1]
    # the oldest vintage came with the absorbed rows: it retires when its life ends
    assert b.depreciate(LIFE - 1)[1] == 0.0
    assert b.depreciate(LIFE)[1] == pytest.approx(10.0)
    a.add(1.0, 700.0, 1.0, 9)  # the emptied fleet is usable again
    assert a.total_h100e == 1.0 and a.month.tolist() == [9]


def test_energize_powers_the_most_efficient_chips_first():
    f = Fleet(LIFE)
    f.add(100.0, 1000.0, 1.0, 0)  # 0.1 MW
    f.add(100.0, 500.0, 1.0, 1)  # 0.05 MW, more efficient
    h, mw = f.energize(0.05)
    assert h == pytest.approx(100.0) and mw == pytest.approx(0.05)
    h, mw = f.energize(0.1)
    assert h == pytest.approx(150.0) and mw == pytest.approx(0.1)
    assert f.energize(1.0) == pytest.approx((200.0, 0.15))
