"""Double-entry money ledger.

Every dollar moves from one account to another with :meth:`Ledger.post`; money enters or leaves
the modelled economy only through accounts named ``ext:*`` (end customers, parent companies,
outside investors, fabs, staff and other opex). The sum of all balances is therefore zero at all
times, which the tests check. Agents hold their cash *in* the ledger (``ledger.balance(key)``).
"""

from __future__ import annotations

from collections import defaultdict


class Ledger:
    def __init__(self) -> None:
        self._bal: dict[str, float] = defaultdict(float)
        # this month's postings in order, (src, dst, kind, USD): a run posts ~150 a month and reads
        # their sums once a month (``flows``), so they are summed when read, not as posted
        self._posts: list[tuple[str, str, str, float]] = []

    def post(self, src: str, dst: str, amount: float, kind: str) -> None:
        """Move ``amount`` USD from ``src`` to ``dst``; ``kind`` labels the flow (e.g. 'chip_sale')."""
        if amount <= 0:  # (one comparison on the common path; NaN is posted, as before)
            if amount < 0:
                raise ValueError(f"negative posting {amount} {src}->{dst} ({kind})")
            return
        bal = self._bal
        bal[src] -= amount
        bal[dst] += amount
        self._posts.append((src, dst, kind, amount))

    def balance(self, key: str) -> float:
        return self._bal.get(key, 0.0)

    def balances(self) -> dict[str, float]:
        return dict(self._bal)

    def total(self) -> float:
        """Sum of all balances, external accounts included: zero up to rounding."""
        return sum(self._bal.values())

    @property
    def month_flows(self) -> dict[tuple[str, str, str], float]:
        """This month's flows by ``(src, dst, kind)``, in the order each first occurred: the USD
        posted, added in the order posted (from 0.0)."""
        return self._flow_sums(None, None, None)

    def _flow_sums(self, kind, src, dst) -> dict[tuple[str, str, str], float]:
        sums: dict[tuple[str, str, str], float] = defaultdict(float)
        for s, d, k, v in self._posts:
            if kind is not None and k != kind:
                continue
            if src is not None and not s.startswith(src):
                continue
            if dst is not None and not d.startswith(dst):
                continue
            sums[(s, d, k)] += v
        return sums

    def flows(self, kind: str | None = None, src: str | None = None, dst: str | None = None) -> float:
        """Sum of this month's flows matching the filters (prefix match on account keys): each
        flow's USD summed first (``month_flows``), then the flows in the order they first occurred."""
        tot = 0.0
        for v in self._flow_sums(kind, src, dst).values():
            tot += v
        return tot

    def new_month(self) -> None:
        self._posts = []
