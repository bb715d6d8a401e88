"""Headline metrics: which columns a report shows, in which unit, and their ensemble statistics.

Works on the long model table of :func:`analysis.io.load_runs` (a ``run`` column, one row per run
and month), so that one run and an ensemble go through the same code: a single run is an
ensemble of one whose 5th, 50th and 95th percentiles coincide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.cli import MILESTONE_YEARS

__all__ = [
    "Metric", "HEADLINE", "MILESTONE_YEARS", "BAND_QUANTILES", "add_derived", "available",
    "bands", "milestone_values", "milestone_years", "fmt_number",
]

BAND_QUANTILES = (0.05, 0.5, 0.95)
"""Quantiles across runs drawn for an ensemble: a median line inside a 5-95% band."""


@dataclass(frozen=True)
class Metric:
    """A headline number: model-table column, label, unit and how to show it.

    ``scale`` converts the column to ``unit`` (e.g. 1e-9 for USD -> USD billion); ``log`` asks
    for a log axis in comparison plots.
    """

    column: str
    label: str
    unit: str
    scale: float = 1.0
    digits: int = 3
    log: bool = False
    fixed: int | None = None  # decimals for fixed-point display instead of significant digits
    ratio: bool = True  # a relative difference (%) between scenarios means something


HEADLINE: tuple[Metric, ...] = (
    Metric("frontier_train_flop", "Frontier training compute", "FLOP", log=True),
    Metric("frontier_ece", "Frontier capability, ece", "log10 FLOP-equivalent", fixed=2, ratio=False),
    Metric("frontier_score", "Frontier capability, score", "0-1 (chance 0.25)", fixed=3, ratio=False),
    Metric("median_ece", "Median provider capability, ece", "log10 FLOP-equivalent", fixed=2, ratio=False),
    Metric("meek_gap_ece", "Meek gap, ece (frontier - fixed-budget reference)", "orders of magnitude", fixed=2, ratio=False),
    Metric("meek_gap_loss", "Meek gap, loss (fixed-budget reference - frontier)", "nats per token", fixed=4, ratio=False),
    Metric("open_gap_ece", "Open-weight gap, ece (frontier - best open)", "orders of magnitude", fixed=2, ratio=False),
    Metric("hhi_compute", "HHI of installed compute (labs)", "points, 0-10,000", fixed=0),
    Metric("cr4_compute", "CR4 of installed compute (labs)", "%", scale=100, fixed=0, ratio=False),
    Metric("hhi_revenue", "HHI of AI-services revenue", "points, 0-10,000", fixed=0),
    Metric("cr4_revenue", "CR4 of AI-services revenue", "%", scale=100, fixed=0, ratio=False),
    Metric("hhi_supplier", "HHI of chip supply", "points, 0-10,000", fixed=0),
    Metric("gini_compute", "Gini of compute (labs and startups)", "0-1", fixed=3, ratio=False),
    Metric("installed_h100e", "Installed AI compute", "million H100e", scale=1e-6, log=True),
    Metric("chip_price_usd", "Chip price", "USD per H100e", log=True),
    Metric("rental_price_usd_per_h100e_hr", "Rental price", "USD per H100e-hour", log=True),
    Metric("power_used_gw", "Power drawn by AI data centres", "GW", log=True),
    Metric("elec_price_usd_per_mwh", "Electricity price (capacity-weighted mean)", "USD per MWh", log=True),
    Metric("stranded_h100e", "Stranded (unpowered) chips", "million H100e", scale=1e-6),
    Metric("public_tokens", "Usable public text stock", "trillion tokens", scale=1e-12),
    Metric("synthetic_share", "Synthetic share of frontier training tokens (kept after filtering)", "%", scale=100, fixed=0, ratio=False),
    Metric("startups_alive", "Startups alive", "count", fixed=0),
    Metric("revenue_usd_per_year", "AI revenue (annualized)", "USD billion per year", scale=1e-9, log=True),
    Metric("capex_usd_per_year", "AI capex (annualized)", "USD billion per year", scale=1e-9, log=True),
    Metric("venture_usd_per_year", "Venture funding (annualized)", "USD billion per year", scale=1e-9, log=True),
    Metric("sentiment", "Investor sentiment", "index, 1 = neutral (the default start)", fixed=2, ratio=False),
    Metric("circular_deal_share", "Circular deals", "% of lab funding", scale=100, fixed=1, ratio=False),
)


def _regions(df: pd.DataFrame, prefix: str) -> list[str]:
    return [c[len(prefix):] for c in df.columns if c.startswith(prefix) and c != prefix + "total"]


def add_derived(df: pd.DataFrame) -> pd.DataFrame:
    """Add the derived headline columns that the model table does not store directly.

    ``power_used_gw`` and ``power_capacity_gw`` (from MW), ``elec_price_usd_per_mwh`` (regional
    prices weighted by regional capacity), annualized ``revenue/capex/venture_usd_per_year``
    (monthly flows x 12) and ``stranded_share`` (stranded / installed chips). Columns whose
    inputs are missing are left out; the input is not modified.
    """
    out = df.copy()
    if "mw_used_total" in out:
        out["power_used_gw"] = out["mw_used_total"] / 1e3
    if "mw_capacity_total" in out:
        out["power_capacity_gw"] = out["mw_capacity_total"] / 1e3
    regions = [r for r in _regions(out, "price_usd_per_mwh_") if f"mw_capacity_{r}" in out]
    if regions:
        price = out[[f"price_usd_per_mwh_{r}" for r in regions]].to_numpy(dtype=float)
        cap = out[[f"mw_capacity_{r}" for r in regions]].to_numpy(dtype=float)
        w = cap.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["elec_price_usd_per_mwh"] = np.where(w > 0, (price * cap).sum(axis=1) / np.where(w > 0, w, 1), np.nan)
    for flow in ("revenue_usd", "capex_usd", "venture_usd"):
        if flow in out:
            out[flow + "_per_year"] = out[flow] * 12.0
    if "stranded_h100e" in out and "installed_h100e" in out:
        inst = out["installed_h100e"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["stranded_share"] = np.where(inst > 0, out["stranded_h100e"] / np.where(inst > 0, inst, 1), np.nan)
    return out


def regions(df: pd.DataFrame) -> list[str]:
    """Grid regions present in the model table, in column order."""
    return _regions(df, "mw_used_")


def available(df: pd.DataFrame, metrics=HEADLINE) -> list[Metric]:
    """The metrics whose column exists and holds at least one number."""
    out = []
    for m in metrics:
        if m.column in df.columns and pd.to_numeric(df[m.column], errors="coerce").notna().any():
            out.append(m)
    return out


def bands(df: pd.DataFrame, columns: list[str], quantiles=BAND_QUANTILES) -> dict[float, pd.DataFrame]:
    """Per-month quantiles across runs.

    Args:
        df: long model table with ``run`` and ``date`` columns.
        columns: numeric (or boolean) columns to summarize.
        quantiles: quantiles in [0, 1].

    Returns:
        ``{q: DataFrame}``, each indexed by month-start timestamps with one column per input
        column. Months where every run is NaN stay NaN (no warning).
    """
    from analysis.io import month_index

    cols = [c for c in columns if c in df.columns]
    num = df[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    num.index = month_index(df["date"]).to_numpy()
    g = num.groupby(level=0)
    return {q: g.quantile(q) for q in quantiles}


def milestone_years(df: pd.DataFrame, years=MILESTONE_YEARS) -> list[int]:
    """Milestone years that the runs cover; the last simulated year when none does."""
    have = sorted(set(df["date"].astype(str).str[:4].astype(int)))
    ys = [y for y in years if y in have]
    return ys or have[-1:]


def milestone_values(df: pd.DataFrame, columns: list[str], years: list[int]) -> pd.DataFrame:
    """Each run's value of ``columns`` in the last simulated month of each year.

    Returns:
        A table indexed by (run, year) with a ``date`` column naming the month used.
    """
    d = df[["run", "date"] + [c for c in columns if c in df.columns]].copy()
    d["year"] = d["date"].astype(str).str[:4].astype(int)
    d = d[d["year"].isin(years)].sort_values(["run", "date"])
    return d.groupby(["run", "year"], sort=False).tail(1).set_index(["run", "year"])


def fmt_number(v: float, metric: Metric | None = None) -> str:
    """A number for a table: scaled to the metric's unit, three significant digits (or the
    metric's fixed decimals), thousands separators; an en dash for a missing value."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)) or pd.isna(v):
        return "\u2013"
    x = float(v) * (metric.scale if metric else 1.0)
    if metric is not None and metric.fixed is not None:
        out = f"{x:,.{metric.fixed}f}"
        return out[1:] if out.startswith("-") and not out.strip("-0.,") else out  # no "-0.00"
    if x == 0:
        return "0"
    digits = metric.digits if metric else 3
    mag = math.floor(math.log10(abs(x)))
    if mag >= 6 and (metric is None or metric.unit in ("FLOP",)) or mag >= 9:
        mant, exp = f"{x:.{digits - 1}e}".split("e")
        return f"{mant}e{int(exp)}"
    decimals = max(0, digits - 1 - mag)
    return f"{x:,.{decimals}f}"
