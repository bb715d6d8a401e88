"""Validation against history: the 2020 backcast over an ensemble of seeds, and the Meek limit.

``frontiersim validate`` runs the ``backcast`` scenario (2020-01 to 2025-12) with replicate seeds
through the ensemble executor (resumable parts, local pool or Dask), reduces every run to yearly
values of the metrics in :data:`METRICS`, and compares the median across seeds with the
historical series in ``analysis/data/history.csv``. Each history row declares its tolerance:

* ``ratio``: simulated median / historical value must lie in [lower, upper];
* ``absolute``: simulated median - historical value must lie in [lower, upper].

The Meek-models check runs the ``meek-limit`` scenario and compares the simulated loss gap with
the closed form of Gundlach, Lynch & Thompson (arXiv 2507.07931) at the peak and at 5, 10 and 20
years, with tolerances from ``analysis/data/meek_checks.csv``.

A row outside its tolerance makes the command exit with status 1 and name the row; a row of a
year an earlier ``--end`` leaves out (or cuts short) is reported as not simulated and counts
neither in the losses nor in the exit status. A bad data file, or a history row of a year the
scenario cannot simulate, is a one-line error (file, row, field, expected value) with status 2.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics import quantile_or_nan
from sim.cli import UserError

DATA = Path(__file__).resolve().parent / "data"
HISTORY_PATH = DATA / "history.csv"
MEEK_CHECKS_PATH = DATA / "meek_checks.csv"

#: metric -> (what the simulated value is, unit, log-scale axis)
METRICS: dict[str, tuple[str, str, bool]] = {
    "largest_run_flop": ("largest training run deployed by the end of the year", "FLOP", True),
    "installed_h100e": ("installed AI accelerators in December (labs and cloud)", "H100e", True),
    "ai_power_gw": ("power drawn by AI accelerators in December", "GW", True),
    "chip_price_usd": ("incumbent's price per H100e, yearly mean", "USD", True),
    "rental_price_usd_per_h100e_hr": ("cloud rental price, yearly mean", "USD/H100e-hour", True),
    "frontier_run_cost_usd": ("largest run's compute at that month's cloud price, yearly maximum", "USD", True),
    "hyperscaler_capex_usd": ("hyperscaler parents' capex, yearly mean of the annual rate", "USD/yr", True),
    "ai_venture_usd": ("venture pool for AI plus equity rounds of frontier labs, yearly sum", "USD/yr", True),
    "incumbent_share": ("incumbent's share of H100e delivered in the year", "fraction", False),
    "incumbent_gpu_share": ("incumbent's share of merchant GPUs (custom ASICs excluded) delivered in the year", "fraction", False),
    "open_closed_lag_months": ("months since the frontier first reached today's best open model, yearly mean", "months", False),
}

HISTORY_COLUMNS = ("metric", "year", "value", "unit", "tolerance_kind", "lower", "upper", "role", "confidence",
                   "source_title", "source_url", "source_year", "note")
ROLES = ("fit", "holdout", "input")
CONFIDENCE = ("high", "medium", "low")
MEEK_QUANTITIES = ("peak_time_years", "peak_gap_nats", "gap_5y_nats", "gap_10y_nats", "gap_20y_nats")


class ValidationError(UserError):
    """A bad history or check file, or option (one line, exit status 2)."""


# =========================================================================================
# the data files
# =========================================================================================
def _read_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise ValidationError(f"{path}: header: expected columns {', '.join(columns)}; missing {', '.join(missing)}")
            return list(reader)
    except FileNotFoundError:
        raise ValidationError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValidationError(f"{path}: cannot read: {e}") from None


def _number(path: Path, where: str, field: str, text: str, expected: str = "a number") -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise ValidationError(f"{path}: {where}: field {field}: expected {expected}, got {text!r}") from None
    if not math.isfinite(v):
        raise ValidationError(f"{path}: {where}: field {field}: expected {expected}, got {text!r}")
    return v


def load_history(path: str | Path | None = None, years: tuple[int, int, str] | None = None) -> pd.DataFrame:
    """The historical series with sources and tolerances, checked row by row.

    Args:
        years: ``(first, last, why)``: reject a row whose year lies outside first..last, the years
            the backcast can simulate; ``why`` says so in the message.

    Raises:
        ValidationError: one line naming the file, the row (line number), the field and what was expected.
    """
    path = Path(path) if path is not None else HISTORY_PATH
    rows = []
    seen = set()
    for i, r in enumerate(_read_csv(path, HISTORY_COLUMNS), start=2):
        where = f"line {i}"
        if r["metric"] not in METRICS:
            raise ValidationError(f"{path}: {where}: field metric: expected one of {', '.join(METRICS)}, got {r['metric']!r}")
        year = _number(path, where, "year", r["year"], "a year such as 2023")
        if year != int(year) or not 1900 <= year <= 2200:
            raise ValidationError(f"{path}: {where}: field year: expected a year such as 2023, got {r['year']!r}")
        if years is not None and not years[0] <= year <= years[1]:
            raise ValidationError(f"{path}: {where}: field year: expected a year from {years[0]} to {years[1]} "
                                  f"({years[2]}), got {r['year']!r}")
        where = f"line {i} ({r['metric']} {int(year)})"
        if (r["metric"], int(year)) in seen:
            raise ValidationError(f"{path}: {where}: expected one row per metric and year; this one is repeated")
        seen.add((r["metric"], int(year)))
        value = _number(path, where, "value", r["value"])
        kind = r["tolerance_kind"]
        if kind not in ("ratio", "absolute"):
            raise ValidationError(f"{path}: {where}: field tolerance_kind: expected ratio or absolute, got {kind!r}")
        lo = _number(path, where, "lower", r["lower"])
        hi = _number(path, where, "upper", r["upper"])
        if kind == "ratio" and (value <= 0 or lo <= 0):
            bad = "value" if value <= 0 else "lower"
            raise ValidationError(f"{path}: {where}: field {bad}: expected a positive number for a ratio tolerance, got {r[bad]!r}")
        if not lo < hi or (kind == "ratio" and not lo <= 1 <= hi) or (kind == "absolute" and not lo <= 0 <= hi):
            one = "1" if kind == "ratio" else "0"
            raise ValidationError(f"{path}: {where}: fields lower, upper: expected lower < upper with {one} between them, got {r['lower']}, {r['upper']}")
        for f, allowed in (("role", ROLES), ("confidence", CONFIDENCE)):
            if r[f] not in allowed:
                raise ValidationError(f"{path}: {where}: field {f}: expected one of {', '.join(allowed)}, got {r[f]!r}")
        for f in ("source_title", "source_url"):
            if not r[f].strip():
                raise ValidationError(f"{path}: {where}: field {f}: expected a source, got an empty field")
        rows.append({**r, "year": int(year), "value": value, "lower": lo, "upper": hi})
    if not rows:
        raise ValidationError(f"{path}: expected at least one row of history")
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def load_meek_checks(path: str | Path | None = None) -> pd.DataFrame:
    path = Path(path) if path is not None else MEEK_CHECKS_PATH
    rows = []
    for i, r in enumerate(_read_csv(path, ("quantity", "lower", "upper", "source")), start=2):
        if r["quantity"] not in MEEK_QUANTITIES:
            raise ValidationError(f"{path}: line {i}: field quantity: expected one of {', '.join(MEEK_QUANTITIES)}, got {r['quantity']!r}")
        lo = _number(path, f"line {i}", "lower", r["lower"])
        hi = _number(path, f"line {i}", "upper", r["upper"])
        if not lo <= 0 <= hi or lo == hi:
            raise ValidationError(f"{path}: line {i}: fields lower, upper: expected absolute tolerances with lower <= 0 <= upper, got {r['lower']}, {r['upper']}")
        rows.append({"quantity": r["quantity"], "lower": lo, "upper": hi, "source": r["source"]})
    return pd.DataFrame(rows)


# =========================================================================================
# one run -> yearly metrics
# =========================================================================================
def open_closed_lag_months(frontier_ece: np.ndarray, best_open_ece: np.ndarray) -> np.ndarray:
    """For each month t: t minus the first month at which the frontier reached the best open
    model's ece of month t (0 when the open model is the frontier). Months before the run's start
    are unknown, so a lag reaching back to the first month is a lower bound."""
    reached = np.maximum.accumulate(frontier_ece)
    t = np.arange(len(frontier_ece))
    first = np.searchsorted(reached, best_open_ece - 1e-12, side="left")
    lag = np.where(np.isfinite(best_open_ece), t - np.minimum(first, t), np.nan)
    return lag.astype(float)


def yearly_metrics(model: pd.DataFrame, agents: pd.DataFrame, sc) -> pd.DataFrame:
    """Yearly values of every metric of :data:`METRICS` for one run: index year, one column each."""
    from sim.model import venture_pool_usd_per_year
    from scenarios.schema import month_index

    year = model["date"].str[:4].astype(int).to_numpy()
    g = model.assign(year=year).groupby("year")
    out = pd.DataFrame(index=pd.Index(sorted(set(year)), name="year"))
    out["largest_run_flop"] = g["largest_run_flop"].max()
    out["installed_h100e"] = g["installed_h100e"].last()
    out["ai_power_gw"] = g["mw_used_total"].last() / 1e3
    out["chip_price_usd"] = g["chip_price_usd"].mean()
    out["rental_price_usd_per_h100e_hr"] = g["rental_price_usd_per_h100e_hr"].mean()
    flop_per_h100e_hour = sc.hardware.h100_flops * sc.scaling.mfu * 3600.0
    cost = model["largest_run_flop"] / flop_per_h100e_hour * model["rental_price_usd_per_h100e_hr"]
    out["frontier_run_cost_usd"] = cost.groupby(year).max()
    out["hyperscaler_capex_usd"] = g["parent_capex_usd_per_year"].mean()
    months = model["date"].map(month_index).to_numpy()
    years_since_cal = (months - month_index(sc.calibration_month)) / 12.0
    pool = venture_pool_usd_per_year(sc.startups, years_since_cal, model["sentiment"].to_numpy()) / 12.0
    venture = pd.Series(pool, index=model.index).groupby(year).sum()
    labs = agents[agents["agent_type"] == "lab"]
    equity = [lid for lid, p in sc.labs.items() if p.funding == "equity"]
    rounds = labs[labs["agent_id"].isin(equity)]
    lab_years = rounds["date"].str[:4].astype(int)
    venture = venture.add(rounds["income_funding"].groupby(lab_years).sum(), fill_value=0.0)
    out["ai_venture_usd"] = venture
    sup = agents[agents["agent_type"] == "supplier"]
    if len(sup):
        kind = sup["agent_id"].map({sid: p.kind for sid, p in sc.suppliers.items()})
        sy = sup["date"].str[:4].astype(int)
        total = sup["delivered_h100e"].groupby(sy).sum()
        inc = sup["delivered_h100e"].where(kind == "incumbent", 0.0).groupby(sy).sum()
        out["incumbent_share"] = (inc / total.where(total > 0)).astype(float)
        gpus = sup["delivered_h100e"].where(kind != "custom_asic", 0.0).groupby(sy).sum()
        out["incumbent_gpu_share"] = (inc / gpus.where(gpus > 0)).astype(float)
    else:
        out["incumbent_share"] = out["incumbent_gpu_share"] = np.nan
    lag = open_closed_lag_months(model["frontier_ece"].to_numpy(float), model["best_open_ece"].to_numpy(float))
    out["open_closed_lag_months"] = pd.Series(lag, index=model.index).groupby(year).mean()
    return out[list(METRICS)]


def backcast_outcomes(scenario, overrides: dict[str, Any] | None = None, seed: int = 0, end: str | None = None,
                      outcomes: list[str] | None = None) -> dict[str, float]:
    """An evaluate-like function for the ensemble executor: one run of ``scenario`` reduced to
    ``{METRIC_YEAR: value}`` for every metric and every year of the horizon."""
    from sim.experiment import plain_overrides
    from sim.run import run_scenario

    res = run_scenario(scenario, plain_overrides(overrides), seed=int(seed), end=end, tables=("model", "agents"))
    y = yearly_metrics(res.model, res.agents, res.scenario)
    return {f"{m}_{yr}": float(v) for yr, row in y.iterrows() for m, v in row.items()}


# =========================================================================================
# comparison
# =========================================================================================
def band(outcomes: pd.DataFrame, metric: str, years) -> pd.DataFrame:
    """Median and 5-95% band across runs of a metric, by year (NaN where not simulated)."""
    rows = []
    for yr in years:
        col = f"{metric}_{yr}"
        v = outcomes[col].to_numpy(float) if col in outcomes else np.array([np.nan])
        v = v[np.isfinite(v)]
        q = quantile_or_nan(v, [0.5, 0.05, 0.95])  # NaN when no run has a value
        rows.append({"year": yr, "median": q[0], "p05": q[1], "p95": q[2], "runs": int(v.size)})
    return pd.DataFrame(rows)


def whole_years(start: str, end: str) -> list[int]:
    """The years whose twelve months all lie in start..end: a year cut short has no December
    value, and its sums and means cover only part of it."""
    first = int(start[:4]) + (start[5:] != "01")
    last = int(end[:4]) - (end[5:] != "12")
    return list(range(first, last + 1))


def compare(history: pd.DataFrame, outcomes: pd.DataFrame, years=None) -> pd.DataFrame:
    """One row per history row: the simulated median and 5-95% band, the ratio (or difference)
    to history, and whether it lies within the row's declared tolerance.

    ``years``: the years the runs simulated (:func:`whole_years`); a row of another year is
    marked ``simulated`` False, with no simulated values, and is not ``within``. None: every
    row counts as simulated (a row without a simulated value is then outside its tolerance).
    """
    rows = []
    for h in history.itertuples(index=False):
        simulated = years is None or h.year in years
        b = band(outcomes if simulated else outcomes.iloc[:0], h.metric, [h.year]).iloc[0]
        med = b["median"]
        if h.tolerance_kind == "ratio":
            dev = med / h.value if np.isfinite(med) else np.nan
        else:
            dev = med - h.value if np.isfinite(med) else np.nan
        ok = bool(np.isfinite(dev) and h.lower <= dev <= h.upper)
        rows.append({"metric": h.metric, "year": h.year, "role": h.role, "history": h.value, "unit": h.unit,
                     "sim_median": med, "sim_p05": b["p05"], "sim_p95": b["p95"], "runs": b["runs"],
                     "tolerance_kind": h.tolerance_kind, "deviation": dev, "lower": h.lower, "upper": h.upper,
                     "within": ok, "simulated": simulated, "confidence": h.confidence, "source": h.source_title})
    return pd.DataFrame(rows)


def fit_loss(table: pd.DataFrame, roles=("fit",)) -> float:
    """Mean squared deviation in units of the tolerance: log(ratio)/log(bound) for ratio rows
    (the bound on the side the ratio falls), difference/bound for absolute rows. A row at its
    tolerance edge scores 1; a missing simulated value scores 100. Rows of years the runs did not
    simulate (``simulated`` False) are left out; NaN when no row is left."""
    parts = []
    rows = table[table["role"].isin(roles)]
    if "simulated" in rows.columns:
        rows = rows[rows["simulated"].astype(bool)]
    for r in rows.itertuples(index=False):
        if not np.isfinite(r.deviation):
            parts.append(100.0)
        elif r.tolerance_kind == "ratio":
            x = math.log(r.deviation)
            parts.append((x / math.log(r.upper if x > 0 else r.lower)) ** 2 if x != 0 else 0.0)
        else:
            d = r.deviation
            parts.append((d / (r.upper if d > 0 else r.lower)) ** 2 if d != 0 else 0.0)
    return float(np.mean(parts)) if parts else float("nan")


# =========================================================================================
# the Meek-models limit
# =========================================================================================
@dataclass
class MeekResult:
    table: pd.DataFrame  # quantity, simulated, closed_form, difference, lower, upper, within
    t_years: np.ndarray
    simulated: np.ndarray
    closed_form: np.ndarray


def meek_validation(checks: pd.DataFrame, end: str = "2053-12") -> MeekResult:
    """Run ``meek-limit`` and compare the loss gap with the closed form at the peak and at 5, 10
    and 20 years (the horizon must reach 20 years)."""
    from sim import scaling as S
    from sim.run import run_scenario

    res = run_scenario("meek-limit", end=end, tables=("model",))
    m, ml, sc = res.model, res.scenario.meek_limit, res.scenario.scaling
    t = m["t_years"].to_numpy(float)
    sim = m["meek_gap_loss"].to_numpy(float)
    C0 = float(m["meek_train_flop"].iloc[0])
    closed = S.meek_gap_closed_form(t, sc.collapsed_K, sc.collapsed_gamma, C0, ml.hardware_growth, ml.algorithmic_growth, ml.budget_growth)
    t_star = S.meek_peak_time(sc.collapsed_gamma, ml.hardware_growth, ml.algorithmic_growth, ml.budget_growth)
    fine = np.linspace(0, t[-1], 20001)
    closed_fine = S.meek_gap_closed_form(fine, sc.collapsed_K, sc.collapsed_gamma, C0, ml.hardware_growth, ml.algorithmic_growth, ml.budget_growth)

    def at(arr, years):
        i = int(np.argmin(np.abs(t - years)))
        if abs(t[i] - years) > 1e-9:
            raise ValidationError(f"meek-limit: no simulated month at {years} years (horizon {t[-1]:.2f} years); expected end >= 2044-01")
        return float(arr[i])

    values = {
        "peak_time_years": (float(t[int(np.argmax(sim))]), float(t_star)),
        "peak_gap_nats": (float(sim.max()), float(closed_fine.max())),
        "gap_5y_nats": (at(sim, 5), at(closed, 5)),
        "gap_10y_nats": (at(sim, 10), at(closed, 10)),
        "gap_20y_nats": (at(sim, 20), at(closed, 20)),
    }
    rows = []
    for c in checks.itertuples(index=False):
        s, ref = values[c.quantity]
        d = s - ref
        rows.append({"quantity": c.quantity, "simulated": s, "closed_form": ref, "difference": d,
                     "lower": c.lower, "upper": c.upper, "within": bool(c.lower <= d <= c.upper), "source": c.source})
    return MeekResult(pd.DataFrame(rows), t, sim, closed)


# =========================================================================================
# output
# =========================================================================================
def _fmt(x: float, unit: str = "") -> str:
    if not np.isfinite(x):
        return "n/a"
    if unit in ("fraction",):
        return f"{x:.2f}"
    if abs(x) >= 1e5 or (abs(x) < 1e-2 and x != 0):
        return f"{x:.2e}"
    return f"{x:,.1f}" if abs(x) >= 10 else f"{x:.2f}"


def format_table(table: pd.DataFrame) -> str:
    head = ["metric", "year", "role", "history", "sim median", "sim 5-95%", "ratio/diff", "tolerance", "ok"]
    lines = []
    for r in table.itertuples(index=False):
        dev = f"x{r.deviation:.2f}" if r.tolerance_kind == "ratio" else f"{r.deviation:+.2f}" if abs(r.deviation) < 10 else f"{r.deviation:+.1f}"
        if not np.isfinite(r.deviation):
            dev = "n/a"
        tol = f"x{r.lower:g}..x{r.upper:g}" if r.tolerance_kind == "ratio" else f"{r.lower:+g}..{r.upper:+g}"
        ok = "yes" if r.within else "NO" if getattr(r, "simulated", True) else "not simulated"
        lines.append([r.metric, str(r.year), r.role, _fmt(r.history, r.unit), _fmt(r.sim_median, r.unit),
                      f"{_fmt(r.sim_p05, r.unit)}..{_fmt(r.sim_p95, r.unit)}", dev, tol, ok])
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    out += ["  ".join(x.ljust(w) for x, w in zip(line, widths)) for line in lines]
    return "\n".join(out)


def format_meek(table: pd.DataFrame) -> str:
    lines = [f"{'quantity':<16} {'simulated':>10} {'closed form':>12} {'difference':>11}  tolerance        ok"]
    for r in table.itertuples(index=False):
        lines.append(f"{r.quantity:<16} {r.simulated:>10.4f} {r.closed_form:>12.4f} {r.difference:>+11.2e}  "
                     f"{r.lower:+.0e}..{r.upper:+.0e}  {'yes' if r.within else 'NO'}")
    return "\n".join(lines)


def figure_backcast(history: pd.DataFrame, outcomes: pd.DataFrame, years: list[int]):
    from matplotlib.figure import Figure

    metrics = [m for m in METRICS if m in set(history["metric"])]
    ncol = 3
    nrow = math.ceil(len(metrics) / ncol)
    fig = Figure(figsize=(4.2 * ncol, 3.0 * nrow), layout="constrained")
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(nrow, ncol, k + 1)
        desc, unit, log = METRICS[metric]
        b = band(outcomes, metric, years)
        ax.fill_between(b["year"], b["p05"], b["p95"], color="tab:blue", alpha=0.25, lw=0, label="simulated 5-95%")
        ax.plot(b["year"], b["median"], color="tab:blue", marker="o", ms=3, label="simulated median")
        h = history[history["metric"] == metric]
        for r in h.itertuples(index=False):
            lo, hi = (r.value * r.lower, r.value * r.upper) if r.tolerance_kind == "ratio" else (r.value + r.lower, r.value + r.upper)
            ax.plot([r.year, r.year], [lo, hi], color="black", lw=1, alpha=0.6)
            ax.plot(r.year, r.value, marker="s" if r.role == "fit" else ("D" if r.role == "holdout" else "^"),
                    color="black", mfc="black" if r.role == "fit" else "white", ms=5)
        if log:
            ax.set_yscale("log")
        ax.set_title(metric, fontsize=9)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.axes[0].legend(fontsize=6, loc="upper left")
    fig.suptitle("Backcast vs history: squares = fitting targets, diamonds = held out, triangles = inputs; bars = tolerance",
                 fontsize=9)
    return fig


def figure_meek(r: MeekResult):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 3.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(r.t_years, r.closed_form, color="black", lw=2.5, alpha=0.4, label="closed form (Gundlach et al. 2025)")
    ax.plot(r.t_years, r.simulated, color="tab:red", lw=1, label="simulated (meek-limit)")
    peak = r.table.set_index("quantity")
    if "peak_time_years" in peak.index:
        ax.axvline(peak.loc["peak_time_years", "closed_form"], color="grey", ls=":", label="closed-form peak")
    ax.set_xlabel("years")
    ax.set_ylabel("loss gap, frontier vs $1,000 trainer [nats]")
    ax.legend(fontsize=8)
    return fig


def write_outputs(out: Path, table: pd.DataFrame, history: pd.DataFrame, outcomes: pd.DataFrame,
                  years: list[int], meek: MeekResult | None) -> list[Path]:
    """validation.csv, meek.csv and the figures, each written to a temporary name and renamed."""
    from analysis.plots import to_png
    from sim.paths import write_atomic

    # everything is rendered before anything is written, so a failure leaves no partial output
    files = {"validation.csv": table.to_csv(index=False).encode(),
             "backcast.png": to_png(figure_backcast(history, outcomes, years))}
    if meek is not None:
        files["meek.csv"] = meek.table.to_csv(index=False).encode()
        files["meek.png"] = to_png(figure_meek(meek))
    for name, data in files.items():
        write_atomic(out / name, data)
    return [out / name for name in files]
