"""Market-clearing algorithms, vectorized over suppliers and buyers.

``ration`` splits what each supplier has among its buyers' orders under one of three rules;
it is a pure function so that it can be tested alone and swapped by configuration.
"""

from __future__ import annotations

import numpy as np

RULES = ("pro_rata", "largest_first", "partners_first")


def _pro_rata(orders: np.ndarray, avail: np.ndarray) -> np.ndarray:
    tot = orders.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(tot > 0, np.minimum(1.0, avail / tot), 0.0)
    return orders * f[:, None]


def _largest_first(orders: np.ndarray, avail: np.ndarray) -> np.ndarray:
    # sort each supplier's orders descending (stable, so equal orders keep buyer order)
    idx = np.argsort(-orders, axis=1, kind="stable")
    o_sorted = np.take_along_axis(orders, idx, axis=1)
    before = np.cumsum(o_sorted, axis=1) - o_sorted
    filled_sorted = np.clip(avail[:, None] - before, 0.0, o_sorted)
    out = np.empty_like(orders)
    np.put_along_axis(out, idx, filled_sorted, axis=1)
    return out


def ration(orders, available, rule: str = "pro_rata", partners=None) -> np.ndarray:
    """Fill orders from what each supplier has.

    Args:
        orders: (n_suppliers, n_buyers) H100e ordered, >= 0.
        available: (n_suppliers,) H100e each supplier can deliver this month.
        rule: 'pro_rata' (everyone gets the same fraction), 'largest_first' (biggest orders
            filled in full first), or 'partners_first' (long-term-contract partners pro rata
            first, then the rest pro rata).
        partners: (n_suppliers, n_buyers) bool, long-term-contract partners (for 'partners_first').

    Returns:
        (n_suppliers, n_buyers) H100e delivered: never above the order, and per supplier
        ``min(available, total orders)`` in total.
    """
    orders = np.asarray(orders, dtype=float)
    avail = np.maximum(np.asarray(available, dtype=float), 0.0)
    if np.any(orders < 0):
        raise ValueError("orders must be >= 0")
    if rule == "pro_rata":
        return _pro_rata(orders, avail)
    if rule == "largest_first":
        return _largest_first(orders, avail)
    if rule == "partners_first":
        p = np.zeros_like(orders, dtype=bool) if partners is None else np.asarray(partners, dtype=bool)
        first = _pro_rata(np.where(p, orders, 0.0), avail)
        rest = avail - first.sum(axis=1)
        second = _pro_rata(np.where(p, 0.0, orders), rest)
        return first + second
    raise ValueError(f"unknown rationing rule {rule!r}; expected one of {RULES}")
