"""Power grids: capacity for data centres, an interconnection queue with lead times, convex
scarcity pricing and moratoria on new load."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenarios.schema import GridParams
from sim.mesa_import import mesa  # Mesa, without SciPy at import (see sim/mesa_import.py)


class _SumMemo:
    """``float(arr.sum())`` of a 1-D array that anyone may write in place (model code adds to
    ``held_mw`` directly): recomputed when the array object or its bytes change, so a value is
    never stale and always the one ``arr.sum()`` gives for the current contents."""

    __slots__ = ("arr", "key", "value")

    def __init__(self):
        self.arr = self.key = None
        self.value = 0.0

    def __call__(self, arr: np.ndarray) -> float:
        key = arr.tobytes()
        if key != self.key or arr is not self.arr:
            # arr.sum() without its Python wrapper: the same reduction
            self.arr, self.key, self.value = arr, key, float(np.add.reduce(arr, axis=None))
        return self.value


@dataclass
class QueueEntry:
    owner: int  # index of the compute owner (labs, then the cloud pool)
    mw: float
    ready_month: int
    onsite: bool = False
    joined_month: int = 0


class PowerGrid(mesa.Agent):
    """One grid region.

    Attributes:
        capacity_mw: MW available to data centres. held_mw: MW allocated to each compute owner.
        outside_mw: MW committed to loads outside the model. queue: pending requests.
        price_usd_per_mwh: this month's price. moratorium: no new requests accepted.
    """

    def __init__(self, model: mesa.Model, rid: str, p: GridParams, n_owners: int):
        super().__init__(model)
        self.rid, self.p = rid, p
        self.capacity_mw = p.capacity_mw
        self.outside_mw = p.committed_mw
        self.buildout_mw_per_year = p.buildout_mw_per_year
        self.held_mw = np.zeros(n_owners)
        self.onsite_mw = np.zeros(n_owners)  # behind-the-meter generation, outside grid capacity
        self.queue: list[QueueEntry] = []
        self.pending = np.zeros(n_owners)  # MW queued per owner (grid and on-site)
        self._queued_grid_mw = 0.0
        self.price_usd_per_mwh = p.base_price_usd_per_mwh
        self.moratorium = False
        self.forced_moratorium: bool | None = None
        self.carbon_price = model.sc.power.carbon_price_usd_per_t
        self.used_mw = 0.0  # drawn in the region, grid and on-site
        self.used_grid_mw = 0.0  # drawn from the grid
        self.connected_this_month = np.zeros(n_owners)
        self.withdrawn_this_month = np.zeros(n_owners)  # grid MW owners withdrew from the queue
        self._ready_month = -1
        self._ready_need = 0.0
        self._held_total = _SumMemo()
        self._onsite_total = _SumMemo()

    @property
    def account(self) -> str:
        return f"grid:{self.rid}"

    @property
    def committed_mw(self) -> float:
        return self._held_total(self.held_mw) + self.outside_mw

    @property
    def onsite_total_mw(self) -> float:
        """On-site generation of all owners, ``float(onsite_mw.sum())``."""
        return self._onsite_total(self.onsite_mw)

    @property
    def free_mw(self) -> float:
        return max(self.capacity_mw - self.committed_mw, 0.0)

    @property
    def queued_mw(self) -> float:
        return self._queued_grid_mw

    def _enqueue(self, q: QueueEntry) -> None:
        """Add a request; one owner's requests of one month with the same completion date merge."""
        self.pending[q.owner] += q.mw
        if not q.onsite:
            self._queued_grid_mw += q.mw
        for old in reversed(self.queue):
            if old.joined_month != q.joined_month:
                break
            if old.owner == q.owner and old.ready_month == q.ready_month and old.onsite == q.onsite:
                old.mw += q.mw
                return
        self.queue.append(q)

    def _recount(self) -> None:
        self.pending[:] = 0.0
        self._queued_grid_mw = 0.0
        for q in self.queue:
            self.pending[q.owner] += q.mw
            if not q.onsite:
                self._queued_grid_mw += q.mw

    @property
    def utilization(self) -> float:
        return self.committed_mw / max(self.capacity_mw, 1e-9)

    def expected_wait_months(self, free_mw: float | None = None) -> float:
        """Months a new request would wait: the lead time if the queue is longer than free MW.
        (``free_mw``: :attr:`free_mw`, if the caller has it at hand.)"""
        if self.queued_mw + 1.0 <= (self.free_mw if free_mw is None else free_mw):
            return 0.0
        return float(self.p.queue_lead_months)

    def build_out(self) -> None:
        """Add this month's new capacity; the buildout rate itself grows."""
        self.capacity_mw += self.buildout_mw_per_year / 12.0
        self.buildout_mw_per_year *= (1.0 + self.p.buildout_growth_per_year) ** (1 / 12)

    def update_status(self) -> None:
        """Switch the moratorium and set the price from utilization including queue pressure."""
        pw = self.model.sc.power
        if self.forced_moratorium is not None:
            self.moratorium = self.forced_moratorium
        else:
            u = self.utilization
            if u >= self.p.moratorium_threshold:
                self.moratorium = True
            elif u < self.p.moratorium_threshold - 0.05:
                self.moratorium = False
        # prices follow the load actually drawn (last month) plus pressure from the queue
        pressure = min(self.queued_mw / max(self.capacity_mw, 1e-9), pw.queue_pressure_cap)
        u_eff = (self.used_grid_mw + self.outside_mw) / max(self.capacity_mw, 1e-9) + pressure
        tight = max(u_eff - pw.price_knee_utilization, 0.0) / (1.0 - pw.price_knee_utilization)
        self.price_usd_per_mwh = self.p.base_price_usd_per_mwh * (1.0 + pw.price_scarcity_coef * tight**pw.price_scarcity_exponent)
        self.price_usd_per_mwh += self.carbon_price * self.p.carbon_t_per_mwh

    def grantable_mw(self, free_mw: float | None = None) -> float:
        """MW a new grid request would be granted at once (:meth:`request`): free MW net of the
        queued requests that are ready (new load is served only after every ready request);
        none under a moratorium. (``free_mw``: :attr:`free_mw`, if the caller has it at hand.)"""
        if self.moratorium:
            return 0.0
        month = self.model.month
        ready_need = self._ready_need if self._ready_month == month else self._ready(month)
        return max((self.free_mw if free_mw is None else free_mw) - ready_need, 0.0)

    def request(self, owner: int, mw: float, onsite: bool = False, at_once: bool = True) -> float:
        """Ask for ``mw``; returns MW granted now, queues the rest. Refused under a moratorium.
        ``at_once=False``: a request for load expected later, queued whole (nothing granted now)."""
        month = self.model.month
        if mw <= 0:
            return 0.0
        if onsite:
            self._enqueue(QueueEntry(owner, mw, month + self.model.sc.power.onsite_lead_months, True, month))
            return 0.0
        if self.moratorium:
            return 0.0
        grant = min(mw, self.grantable_mw()) if at_once else 0.0
        self.held_mw[owner] += grant
        self.connected_this_month[owner] += grant
        if mw - grant > 1e-9:
            self._enqueue(QueueEntry(owner, mw - grant, month + self.p.queue_lead_months, False, month))
        return grant

    def withdraw(self, owner: int, mw: float, joined_month: int | None = None) -> float:
        """Withdraw up to ``mw`` of the owner's queued grid requests, newest first (only those
        that joined in ``joined_month``, if given); returns the MW withdrawn. An entry left with
        less than 1e-9 MW is withdrawn whole. On-site builds are not withdrawn.

        The queue's totals (``pending``, ``queued_mw``, the ready MW that
        :meth:`grantable_mw` nets out) fall by exactly what is withdrawn."""
        if mw <= 0:
            return 0.0
        done = 0.0
        emptied = False
        for q in reversed(self.queue):  # entries are kept in the order they joined
            if joined_month is not None and q.joined_month != joined_month:
                if q.joined_month < joined_month:
                    break  # (the rest joined earlier still)
                continue
            if q.owner != owner or q.onsite:
                continue
            take = min(q.mw, mw - done)
            if q.mw - take <= 1e-9:
                take, emptied = q.mw, True
            q.mw -= take
            done += take
            if mw - done <= 1e-9:
                break
        if done > 0:
            if emptied:
                self.queue = [q for q in self.queue if q.mw > 0.0]
            self.pending[owner] -= done
            self._queued_grid_mw -= done
            self.withdrawn_this_month[owner] += done
            self._ready_month = -1  # the ready MW may have fallen: recomputed when next asked
        return done

    def _ready(self, month: int) -> float:
        """MW of grid requests whose lead time has passed (cached for the month)."""
        self._ready_month = month
        self._ready_need = sum(q.mw for q in self.queue if not q.onsite and q.ready_month <= month)
        return self._ready_need

    def serve_queue(self) -> None:
        """Connect ready requests first come first served while free MW lasts; finish on-site builds."""
        month = self.model.month
        self.connected_this_month[:] = 0.0
        self.withdrawn_this_month[:] = 0.0
        keep: list[QueueEntry] = []
        # the totals of what stays queued, summed in queue order as _recount sums them, and the
        # ready MW of what stays (as _ready sums it): Python floats, written to ``pending`` at the
        # end (a numpy element update costs several times a float addition; same additions)
        pending = [0.0] * self.pending.size
        queued_grid = 0.0
        ready_need = 0
        for q in self.queue:
            if q.ready_month > month:
                keep.append(q)
                pending[q.owner] += q.mw
                if not q.onsite:
                    queued_grid += q.mw
                continue
            if q.onsite:
                self.onsite_mw[q.owner] += q.mw
                self.connected_this_month[q.owner] += q.mw
                continue
            grant = min(q.mw, self.free_mw)
            if grant > 0:
                self.held_mw[q.owner] += grant
                self.connected_this_month[q.owner] += grant
            if q.mw - grant > 1e-9:
                q.mw -= grant
                keep.append(q)
                pending[q.owner] += q.mw
                queued_grid += q.mw
                ready_need += q.mw
        self.pending[:] = pending
        self.queue = keep
        self._queued_grid_mw = queued_grid
        self._ready_month, self._ready_need = month, ready_need  # == self._ready(month)

    def pending_mw(self, owner: int) -> float:
        return float(self.pending[owner])

    def release(self, owner: int) -> None:
        """Free everything an owner held or queued (when a lab exits)."""
        self.held_mw[owner] = 0.0
        self.onsite_mw[owner] = 0.0
        self.queue = [q for q in self.queue if q.owner != owner]
        self._recount()
        self._ready_month = -1
