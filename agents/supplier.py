"""GPU suppliers: produce chips up to capacity, set prices from the order backlog, grow capacity
toward demand, and sell only where export rules allow."""

from __future__ import annotations

import numpy as np

from scenarios.schema import SupplierParams
from sim.mesa_import import mesa  # Mesa, without SciPy at import (see sim/mesa_import.py)


class GPUSupplier(mesa.Agent):
    """One chip supplier (incumbent vendor, challenger, custom ASIC or domestic supplier).

    Attributes:
        sid: scenario id. capacity_h100e: production capacity this month (H100e/month).
        inventory_h100e: produced but not yet delivered. markup: price over unit cost.
        backlog_h100e: unfilled orders carried to the next month. barred_regions: export controls.
    """

    def __init__(self, model: mesa.Model, sid: str, p: SupplierParams, index: int):
        super().__init__(model)
        self.sid, self.p, self.index = sid, p, index
        self.account = f"supplier:{sid}"  # the supplier's key in the ledger
        self.capacity_h100e = p.capacity_h100e_per_month
        self.demand_ewma_h100e = p.capacity_h100e_per_month
        self.markup = p.markup
        self.inventory_h100e = 0.0
        self.produced_h100e = 0.0  # cumulative
        self.produced_this_month = 0.0
        self.produced_last_year: list[float] = []
        self.delivered_this_month = 0.0
        self.sales_usd_this_month = 0.0
        self.backlog_h100e = 0.0
        self.shock_factor = 1.0
        self.shock_until = -1
        self.barred_regions: set[str] = set()
        self.unit_cost_usd = 0.0
        self.price_usd = 0.0
        self.watts_per_h100e = 0.0

    def may_sell_to(self, lab_id: str, region: str) -> bool:
        if region in self.barred_regions:
            return False
        if self.p.sells_to and region not in self.p.sells_to:
            return False
        if self.p.exclusive_to and lab_id not in self.p.exclusive_to:
            return False
        return True

    def post_product(self) -> None:
        """Set this month's product (the generation ``lag`` months behind the frontier) and price."""
        hw = self.model.hardware
        month = self.model.month - self.p.generation_lag_months
        self.unit_cost_usd = hw.unit_cost_per_h100e(month) * self.p.cost_premium
        self.watts_per_h100e = hw.watts_per_h100e(month)
        ratio = self.backlog_h100e / max(self.capacity_h100e, 1e-9)
        # the markup rises while the backlog exceeds half a month of capacity and falls below it
        # (the backlog counted up to 3 months; docs/ODD.md 7.9)
        adj = self.p.markup_adjust_per_month
        if self.model.month > self.model.start_month:  # no order book to read in the first month
            self.markup += adj * (min(ratio, 3.0) - 0.5) * (1.0 + self.markup)
        # np.clip on a Python float, without the array machinery (same value, NaN included)
        self.markup = float(min(max(self.markup, self.p.markup_min), self.p.markup_max))
        self.price_usd = self.unit_cost_usd * (1.0 + self.markup)

    def planned_production(self) -> float:
        """What the supplier would make this month before the packaging ceiling: the smoothed order
        book less what is in stock, within its capacity (times a supply shock's factor).

        ``demand_ewma_h100e`` smooths the whole order book, backlog included (see
        :meth:`grow_capacity`), so the backlog is not added again.
        """
        if self.model.month > self.shock_until:
            self.shock_factor = 1.0
        # make to order: the smoothed order book (backlog plus new orders), less what is in stock
        want = self.demand_ewma_h100e - self.inventory_h100e
        return float(min(max(want, 0.0), self.capacity_h100e * self.shock_factor))

    def produce(self, h100e: float) -> None:
        """Make ``h100e`` chips, paying their unit cost to the fabs."""
        self.produced_this_month = h100e
        self.produced_h100e += h100e
        self.inventory_h100e += h100e
        self.model.ledger.post(self.account, "ext:fabs", h100e * self.unit_cost_usd, "chip_production")

    def grow_capacity(self, orders_h100e: float) -> None:
        """Move capacity toward 1.1x smoothed demand, at most at the capacity growth rate."""
        self.demand_ewma_h100e += (orders_h100e - self.demand_ewma_h100e) / 6.0
        target = 1.1 * self.demand_ewma_h100e
        g_up = (1.0 + self.p.capacity_growth_per_year) ** (1 / 12)
        new = min(max(target, self.capacity_h100e * 0.98), self.capacity_h100e * g_up)
        self.capacity_h100e = max(new, 0.0)
