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


@pytest.mark.parametrize("seed", [1, 15])  # rounding left -1.9e-9 and +5.6e-9 H100e stranded before
def test_a_fully_powered_fleet_strands_no_chip_and_a_short_one_strands_the_rest(seed):
    from agents.lab import ComputeOwner

    rng = np.random.default_rng(seed)
    owner = ComputeOwner()
    owner.init_compute(0, LIFE)
    for m in range(30):  # newer vintages draw less power, so energize adds them in reverse order
        owner.fleet.add(float(rng.uniform(1e3, 1e6)), float(1500 - 30 * m + rng.uniform(0, 5)), 1e9, m)
    owner.energize(2 * owner.fleet.mw_needed())
    assert owner.stranded_h100e == 0.0
    assert owner.energized_h100e == pytest.approx(owner.fleet.total_h100e, rel=1e-12)
    oldest = owner.fleet.h100e[0]  # the least efficient vintage, powered last
    owner.energize(owner.fleet.mw_needed() - oldest * owner.fleet.watts[0] / 1e6)
    assert owner.stranded_h100e == pytest.approx(oldest, rel=1e-6)


def test_retiring_a_prefix_of_rows_gives_the_same_bits_as_the_general_path():
    # rows in purchase order (as deliveries arrive) retire by shifting the rest down; any order
    # (after absorb) by selecting the rows kept. Both must give exactly the same numbers.
    rng = np.random.default_rng(11)
    fast, general = Fleet(LIFE, capacity=2), Fleet(LIFE, capacity=2)
    for month in range(30):
        for _ in range(int(rng.integers(0, 4))):
            h, w, c = float(rng.uniform(1, 100)), float(rng.choice([700.0, 1000.0])), float(rng.uniform(1e5, 1e7))
            fast.add(h, w, c, month)
            general.add(h, w, c, month)
        general._sorted = False  # the general path
        assert fast._sorted
        assert fast.depreciate(month) == general.depreciate(month)
        for col in ("h100e", "watts", "cost_usd", "book_usd", "month"):
            assert getattr(fast, col).tolist() == getattr(general, col).tolist(), col
        assert fast.monthly_cost_usd() == general.monthly_cost_usd() and fast._oldest == general._oldest


def test_rows_out_of_purchase_order_are_noticed():
    f = Fleet(LIFE)
    f.add(1.0, 700.0, 1e6, 3)
    f.add(1.0, 700.0, 1e6, 2)  # an older purchase after a newer one
    assert not f._sorted
    g = Fleet(LIFE)
    g.add(1.0, 700.0, 1e6, 5)
    g.absorb(f)
    assert not g._sorted and g.month.tolist() == [5, 3, 2]
    assert g.depreciate(2 + LIFE)[1] == pytest.approx(1.0) and g.month.tolist() == [5, 3]
    g._set_rows(g.h100e[::-1].copy(), g.watts[::-1].copy(), g.cost_usd[::-1].copy(), g.book_usd[::-1].copy(),
                g.month[::-1].copy())
    assert g._sorted  # in order again
