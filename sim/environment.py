"""Environment objects owned by the model: the hardware frontier, the public algorithmic frontier
and the stock of training data. Time is an integer month index (``YYYY*12 + MM-1``)."""

from __future__ import annotations

import numpy as np

from scenarios.schema import AlgorithmParams, DataParams, HardwareParams

SECONDS_PER_MONTH = 365.25 * 24 * 3600 / 12
HOURS_PER_MONTH = 365.25 * 24 / 12


class HardwareFrontier:
    """Newest chip generation. FLOP/s per dollar and per watt follow exponential trends but
    arrive in discrete generations every ``generation_interval_months``; a chip keeps the
    performance of its vintage.

    Prices are per H100e (so FLOP/s per dollar shows up as a falling price per H100e), and
    ``unit_cost_per_h100e`` is the incumbent's 2024-01 price net of its markup.
    """

    def __init__(self, p: HardwareParams, calibration_month: int, incumbent_markup: float):
        self.p = p
        self.m0 = calibration_month
        self.cost0 = p.h100_price_usd / (1.0 + incumbent_markup)

    def _gen_years(self, month: int) -> float:
        k = np.floor((month - self.m0) / self.p.generation_interval_months)
        return float(k * self.p.generation_interval_months / 12.0)

    def unit_cost_per_h100e(self, month: int) -> float:
        return self.cost0 / self.p.flops_per_dollar_growth ** self._gen_years(month)

    def watts_per_h100e(self, month: int) -> float:
        return self.p.h100_watts_all_in / self.p.flops_per_watt_growth ** self._gen_years(month)

    def flop_per_h100e_month(self, mfu: float) -> float:
        """Delivered FLOP of one energized H100e in a month."""
        return self.p.h100_flops * mfu * SECONDS_PER_MONTH


class AlgorithmicFrontier:
    """Public algorithmic efficiency ``A_pub`` (1.0 at the calibration month), growing at a
    fixed yearly rate, raised by breakthroughs and by open-weight releases."""

    def __init__(self, p: AlgorithmParams, calibration_month: int, start_month: int):
        self.p = p
        self.growth_month = p.public_growth ** (1 / 12)
        self.A_pub = p.public_growth ** ((start_month - calibration_month) / 12)

    def advance(self) -> None:
        self.A_pub *= self.growth_month

    def jump(self, factor: float) -> None:
        self.A_pub *= factor

    def lift_to(self, level: float) -> None:
        self.A_pub = max(self.A_pub, level)


class DataStock:
    """Public human text (minus an opt-out share) and the licensable proprietary pool."""

    def __init__(self, p: DataParams, calibration_month: int, start_month: int):
        self.p = p
        years = (start_month - calibration_month) / 12
        self.public_tokens = p.public_tokens * (1 + p.public_growth_per_year) ** years
        self.opt_out_share = p.opt_out_share
        self.licensable_tokens = p.licensable_tokens  # remaining in the pool
        self.licensed_total = 0.0

    def advance(self) -> None:
        self.public_tokens *= (1 + self.p.public_growth_per_year) ** (1 / 12)
        self.opt_out_share = min(1.0, self.opt_out_share + self.p.opt_out_growth_per_year / 12)

    @property
    def usable_public_tokens(self) -> float:
        return self.public_tokens * (1.0 - self.opt_out_share)

    def license(self, tokens: float) -> float:
        """Take up to ``tokens`` from the pool (exclusive licence); returns tokens granted."""
        got = max(0.0, min(tokens, self.licensable_tokens))
        self.licensable_tokens -= got
        self.licensed_total += got
        return got
