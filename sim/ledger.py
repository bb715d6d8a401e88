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
        self.month_flows: dict[tuple[str, str, str], float] = defaultdict(float)

    def post(self, src: str, dst: str, amount: float, kind: str) -> None:
        """Move ``amount`` USD from ``src`` to ``dst``; ``kind`` labels the flow (e.g. 'chip_sale')."""
        if amount < 0:
            raise ValueError(f"negative posting {amount} {src}->{dst} ({kind})")
        if amount == 0:
            return
        self._bal[src] -= amount
        self._bal[dst] += amount
        self.month_flows[(src, dst, kind)] += amount

    def balance(self, key: str) -> float:
        return self._bal.get(key, 0.0)

    def balances(self) -> dict[str, float]:
        return dict(self._bal)

    def total(self) -> float:
        """Sum of all balances, external accounts included: zero up to rounding."""
        return sum(self._bal.values())

    def flows(self, kind: str | None = None, src: str | None = None, dst: str | None = None) -> float:
        """Sum of this month's flows matching the filters (prefix match on account keys)."""
        tot = 0.0
        for (s, d, k), v in self.month_flows.items():
            if kind is not None and k != kind:
                continue
            if src is not None and not s.startswith(src):
                continue
            if dst is not None and not d.startswith(dst):
                continue
            tot += v
        return tot

    def new_month(self) -> None:
        self.month_flows = defaultdict(float)
