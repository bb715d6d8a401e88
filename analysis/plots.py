"""Figures of a run or an ensemble, readable without the code.

Every function takes the long model table of :func:`analysis.io.load_runs` (after
:func:`analysis.headline.add_derived`) and returns a :class:`matplotlib.figure.Figure`. One run
draws lines; several runs draw the median across runs inside a shaded 5-95% band. Figures are
built on ``matplotlib.figure.Figure`` directly (rendered by the Agg canvas, no pyplot, no GUI and
no global state), and matplotlib is imported only when a figure is made, so that importing
``analysis`` never slows ``frontiersim run``.
"""

from __future__ import annotations

import io
import math
import numpy as np
import pandas as pd

from analysis.headline import BAND_QUANTILES, Metric, bands, regions

__all__ = [
    "capability", "concentration", "resources", "demography", "finance", "deals_network",
    "compare_metric", "to_png", "HHI_THRESHOLDS",
]

#: (HHI, label) lines drawn on HHI axes: the 2010 US Horizontal Merger Guidelines' boundaries of
#: "moderately" and "highly concentrated" markets, and the 2023 Merger Guidelines' single
#: "highly concentrated" threshold.
HHI_THRESHOLDS = (
    (1500, "1,500: moderately concentrated (2010 HMG)", "--"),
    (1800, "1,800: highly concentrated (2023 MG)", ":"),
    (2500, "2,500: highly concentrated (2010 HMG)", "--"),
)

#: one colour per role, kept across figures
C = {
    "frontier": "#1b1b1b", "median": "#1f77b4", "p10": "#6baed6", "meek": "#d62728", "open": "#2ca02c",
    "compute": "#1f77b4", "revenue": "#ff7f0e", "supplier": "#9467bd", "training": "#8c564b",
}
REGION_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
DPI = 110


# =========================================================================================
# helpers
# =========================================================================================
def _figure(nrows: int, ncols: int, width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def to_png(fig, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (Agg renderer)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def _date_axis(ax, label: bool = True) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc, show_offset=False))
    if label:
        ax.set_xlabel("date (month simulated)")
    ax.grid(True, alpha=0.3)


class _Series:
    """Per-month median and 5-95% band (across runs) of the columns a figure draws."""

    def __init__(self, df: pd.DataFrame, columns: list[str]):
        self.n_runs = int(df["run"].nunique()) if "run" in df else 1
        self.cols = [c for c in columns if c in df.columns and pd.to_numeric(df[c], errors="coerce").notna().any()]
        self.q = bands(df, self.cols) if self.cols else {}

    def has(self, col: str) -> bool:
        return col in self.cols

    def same(self, a: str, b: str) -> bool:
        """Whether two columns coincide in every month and quantile (so one line can show both)."""
        if not (self.has(a) and self.has(b)):
            return False
        return all(np.allclose(self.q[q][a], self.q[q][b], rtol=0, atol=1e-9, equal_nan=True) for q in self.q)

    def plot(self, ax, col: str, label: str, color: str, scale: float = 1.0, **kw) -> bool:
        """Draw one column (median line, plus the band for several runs); False if absent."""
        if not self.has(col):
            return False
        lo, mid, hi = (self.q[q][col] * scale for q in BAND_QUANTILES)
        ax.plot(mid.index, mid.to_numpy(), color=color, label=label, **kw)
        if self.n_runs > 1:
            ax.fill_between(mid.index, lo.to_numpy(), hi.to_numpy(), color=color, alpha=0.18, linewidth=0)
        return True


def _subtitle(n_runs: int) -> str:
    return "" if n_runs <= 1 else f" (median of {n_runs} runs; shaded: 5-95% of runs)"


def _legend(ax, **kw) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, framealpha=0.85, **kw)


def _plain(v: float) -> str:
    """A tick label without scientific notation for everyday magnitudes."""
    if v <= 0 or not math.isfinite(v):
        return ""
    if v >= 1e6 or v < 1e-3:
        e = int(round(math.log10(v)))
        return f"$10^{{{e}}}$" if abs(v / 10.0 ** e - 1) < 1e-6 else f"{v:.0e}"
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _log_axis(ax, label: str = "") -> bool:
    """Log scale with plain tick labels (1, 2, 5, 10, 20 ... or decades) when the data span a
    decade or more; a linear axis otherwise, where a log scale would only hide the ticks.
    Sets the y label (noting the log scale) and returns whether the axis is logarithmic."""
    import matplotlib.ticker as mticker

    lo, hi = ax.dataLim.intervaly
    decades = math.log10(hi / lo) if lo > 0 and hi > 0 and math.isfinite(hi / lo) else (0.0 if lo > 0 else math.nan)
    if not decades >= 1.0:  # narrow (or non-positive) range
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: _plain(v) if v > 0 else f"{v:g}"))
        if label:
            ax.set_ylabel(label)
        return False
    ax.set_yscale("log")
    subs = (1.0, 2.0, 5.0) if decades <= 3.2 else (1.0,)
    ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: _plain(v)))
    ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    if label:
        ax.set_ylabel(label + (" (log scale)" if "log scale" not in label else ""))
    return True


def _legend_below(ax, ncol: int = 2, handles=None) -> None:
    """A legend under the axes, so that it never hides a line."""
    h = handles if handles is not None else ax.get_legend_handles_labels()[0]
    if h:
        ax.legend(handles=h, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, fontsize=8.5, frameon=False)


def _hhi_guides(ax, top: float) -> list:
    """Shade the merger-guideline concentration zones on an HHI axis; returns legend handles."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax.axhspan(1500, 2500, color="#f2c14e", alpha=0.16, lw=0, zorder=0)
    ax.axhspan(2500, max(top, 2500), color="#d62728", alpha=0.08, lw=0, zorder=0)
    for level, _, ls in HHI_THRESHOLDS:
        ax.axhline(level, color="0.35", lw=0.9, ls=ls, zorder=0.5)
    ax.set_ylim(0, top)
    import matplotlib.ticker as mticker

    ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
    # the zones are named on a right-hand axis, away from the data
    sec = ax.secondary_yaxis("right")
    ticks = [750, 2000] + ([min(top, 10_000) / 2 + 1250] if top > 3500 else [])
    names = ["unconcentrated\n(< 1,500)", "moderately\n(1,500-2,500)", "highly\nconcentrated\n(> 2,500)"]
    sec.set_yticks(ticks[: len(names)], labels=names[: len(ticks)], fontsize=7.5, color="0.3")
    sec.tick_params(length=0)
    return [Patch(color="#f2c14e", alpha=0.4, label="1,500-2,500: moderately concentrated (2010 US HMG)"),
            Patch(color="#d62728", alpha=0.2, label="> 2,500: highly concentrated (2010 US HMG)"),
            Line2D([], [], color="0.35", ls=":", label="1,800: highly concentrated (2023 US Merger Guidelines)")]


def _usd(x: float) -> str:
    for div, unit in ((1e12, " trillion"), (1e9, " billion"), (1e6, " million"), (1e3, ",000")):
        if abs(x) >= div:
            v = x / div
            return f"${v:,.0f}{unit}" if unit == ",000" else f"${v:,.3g}{unit}"
    return f"${x:,.0f}"


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


# =========================================================================================
# figures of one scenario
# =========================================================================================
def capability(df: pd.DataFrame, title: str = "", meek_budget_usd: float | None = None):
    """Capability over time in two panels: ece (unbounded) and score (bounded)."""
    s = _Series(df, ["frontier_ece", "median_ece", "p10_ece", "meek_ece", "best_open_ece",
                     "frontier_score", "median_score", "p10_score", "meek_score", "best_open_score"])
    units = [u for u in ("ece", "score") if s.has(f"frontier_{u}") or s.has(f"meek_{u}")] or ["ece"]
    fig, ax = _figure(1, len(units), 6 * len(units), 4.8)
    meek = "meek reference: fixed " + (_usd(meek_budget_usd) if meek_budget_usd else "small") + " budget"
    for a, unit in zip(ax[0], units):
        s.plot(a, f"frontier_{unit}", "frontier (best model)", C["frontier"], lw=2.2)
        if s.same(f"median_{unit}", f"p10_{unit}"):  # one line, or the dashed one hides under the other
            s.plot(a, f"median_{unit}", "median = 10th percentile provider", C["median"], lw=1.8)
        else:
            s.plot(a, f"median_{unit}", "median provider", C["median"], lw=1.8)
            s.plot(a, f"p10_{unit}", "10th percentile provider", C["p10"], lw=1.5, ls="--")
        s.plot(a, f"best_open_{unit}", "best open-weight model", C["open"], lw=1.5, ls="-.")
        s.plot(a, f"meek_{unit}", meek, C["meek"], lw=1.5, ls=":")
        _date_axis(a)
        if unit == "ece":
            a.set_title("Capability as effective compute (ece)")
            a.set_ylabel("ece: log10 FLOP a compute-optimal\nrun would need for the same loss")
            _legend(a, loc="upper left")
        else:
            a.set_title("Capability as benchmark-like score")
            a.set_ylabel("score (0.25 = chance, 1 = perfect)")
            a.axhline(0.25, color="0.5", lw=0.8)
            a.text(0.01, 0.25, " chance", transform=a.get_yaxis_transform(), va="bottom", fontsize=8, color="0.4")
            a.set_ylim(0.2, 1.0)
            _legend(a, loc="lower right")
    fig.suptitle(f"Capability over time{': ' + title if title else ''}{_subtitle(s.n_runs)}", fontsize=12)
    return fig


def concentration(df: pd.DataFrame, title: str = ""):
    """HHI (with merger-guideline thresholds) and CR4 of compute, revenue and chip supply."""
    s = _Series(df, ["hhi_compute", "hhi_revenue", "hhi_supplier", "hhi_training",
                     "cr4_compute", "cr4_revenue", "cr4_training", "gini_compute"])
    fig, ax = _figure(1, 2, 12, 5.6)
    a = ax[0, 0]
    s.plot(a, "hhi_compute", "installed compute (labs)", C["compute"], lw=2)
    s.plot(a, "hhi_training", "training compute (labs + startups)", C["training"], lw=1.3, ls="--")
    s.plot(a, "hhi_revenue", "AI-services revenue", C["revenue"], lw=2)
    s.plot(a, "hhi_supplier", "chip supply (last 12 months)", C["supplier"], lw=2)
    hi = _nan_max([_nan_max(s.q[0.95][c]) for c in s.cols if c.startswith("hhi_")] + [3000.0])
    top = min(10_500.0, max(3000.0, hi * 1.08))
    guides = _hhi_guides(a, top)
    a.set_ylabel("Herfindahl-Hirschman index\n(0-10,000; monopoly = 10,000)")
    a.set_title("HHI = sum of squared market shares in %")
    _date_axis(a)
    _legend_below(a, ncol=2, handles=a.get_legend_handles_labels()[0] + guides)
    a = ax[0, 1]
    s.plot(a, "cr4_compute", "installed compute (labs)", C["compute"], scale=100, lw=2)
    s.plot(a, "cr4_training", "training compute (labs + startups)", C["training"], scale=100, lw=1.3, ls="--")
    s.plot(a, "cr4_revenue", "AI-services revenue", C["revenue"], scale=100, lw=2)
    a.set_ylim(0, 105)
    a.set_ylabel("share held by the 4 largest firms (%)")
    a.set_title("CR4 = combined share of the four largest firms")
    _date_axis(a)
    _legend_below(a, ncol=2)
    fig.suptitle(f"Market concentration{': ' + title if title else ''}{_subtitle(s.n_runs)}", fontsize=12)
    return fig


def resources(df: pd.DataFrame, title: str = ""):
    """Compute, chips, power, electricity and data in eight panels."""
    regs = regions(df)
    cols = ["installed_h100e", "lab_h100e", "cloud_h100e", "stranded_h100e", "stranded_share", "chip_price_usd",
            "rental_price_usd_per_h100e_hr", "public_tokens", "licensable_tokens_left", "synthetic_share",
            "power_used_gw", "power_capacity_gw"]
    cols += [f"{p}{r}" for r in regs for p in ("mw_used_", "mw_capacity_", "price_usd_per_mwh_")]
    s = _Series(df, cols)
    fig, ax = _figure(4, 2, 12, 15)
    a = ax[0, 0]
    s.plot(a, "installed_h100e", "all installed chips", C["frontier"], scale=1e-6, lw=2)
    s.plot(a, "lab_h100e", "labs (owned + rented)", C["compute"], scale=1e-6, lw=1.4, ls="--")
    s.plot(a, "cloud_h100e", "cloud pool", C["revenue"], scale=1e-6, lw=1.4, ls="--")
    _log_axis(a, "million H100-equivalents")
    a.set_title("Installed AI compute")
    _legend(a, loc="upper left")
    a = ax[0, 1]
    if s.plot(a, "stranded_h100e", "stranded chips (millions)", C["meek"], scale=1e-6, lw=2):
        a.set_ylabel("million H100e without power")
        a.set_ylim(bottom=0)
        if s.has("stranded_share"):
            b = a.twinx()
            s.plot(b, "stranded_share", "as % of installed (right axis)", "0.4", scale=100, lw=1.2, ls=":")
            b.set_ylabel("% of installed chips")
            b.set_ylim(bottom=0)
            h1, l1 = a.get_legend_handles_labels()
            h2, l2 = b.get_legend_handles_labels()
            a.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
    else:
        _empty(a, "no stranded-chip column in this run")
    a.set_title("Stranded chips: bought but not energized")
    a = ax[1, 0]
    s.plot(a, "chip_price_usd", "price of one H100-equivalent", C["supplier"], lw=2)
    _log_axis(a, "USD per H100e")
    a.set_title("Chip price (incumbent supplier)")
    _legend(a, loc="best")
    a = ax[1, 1]
    s.plot(a, "rental_price_usd_per_h100e_hr", "cloud rental price", C["revenue"], lw=2)
    _log_axis(a, "USD per H100e-hour")
    a.set_title("Compute rental price")
    _legend(a, loc="best")
    a = ax[2, 0]
    for i, r in enumerate(regs):
        col = REGION_COLORS[i % len(REGION_COLORS)]
        s.plot(a, f"mw_used_{r}", r, col, scale=1e-3, lw=1.8)
        s.plot(a, f"mw_capacity_{r}", None, col, scale=1e-3, lw=1.0, ls="--")
    _log_axis(a, "GW")
    a.set_title("Data-centre power by region: used (solid) vs capacity (dashed)")
    _legend(a, loc="best", ncol=2)
    a = ax[2, 1]
    for i, r in enumerate(regs):
        s.plot(a, f"price_usd_per_mwh_{r}", r, REGION_COLORS[i % len(REGION_COLORS)], lw=1.6)
    _log_axis(a, "USD per MWh")
    a.set_title("Electricity price for data centres by region")
    _legend(a, loc="best")
    a = ax[3, 0]
    s.plot(a, "public_tokens", "usable public text", C["open"], scale=1e-12, lw=2)
    s.plot(a, "licensable_tokens_left", "licensable data not yet sold", C["supplier"], scale=1e-12, lw=1.5, ls="--")
    a.set_ylabel("trillion tokens")
    a.set_ylim(bottom=0)
    a.set_title("Data stock")
    _legend(a, loc="center left")
    a = ax[3, 1]
    s.plot(a, "synthetic_share", "synthetic share of frontier model's data", C["meek"], scale=100, lw=2)
    a.set_ylim(0, 100)
    a.set_ylabel("% of training tokens")
    a.set_title("Synthetic data in the frontier model")
    _legend(a, loc="upper left")
    for i, a in enumerate(ax.ravel()):
        if a.has_data():
            _date_axis(a, label=i >= ax.size - 2)
    fig.suptitle(f"Resources: compute, chips, power and data{': ' + title if title else ''}{_subtitle(s.n_runs)}", fontsize=12)
    return fig


def demography(df: pd.DataFrame, title: str = ""):
    """Startups alive, and monthly entries, failures and acquisitions (12-month averages)."""
    flows = ["startups_entered", "startups_failed", "startups_acquired"]
    d = df.copy()
    for c in flows:
        if c in d:
            # one moving average per run, then the band across runs
            d[c + "_ma12"] = d.groupby("run", sort=False)[c].transform(lambda x: x.astype(float).rolling(12, min_periods=1).mean())
    s = _Series(d, ["startups_alive", "startups_alive_app", "startups_alive_model"] + flows + [c + "_ma12" for c in flows])
    fig, ax = _figure(1, 2, 12, 4.6)
    a = ax[0, 0]
    s.plot(a, "startups_alive", "all startups", C["frontier"], lw=2)
    s.plot(a, "startups_alive_app", "application startups", C["revenue"], lw=1.5)
    s.plot(a, "startups_alive_model", "model-building startups", C["compute"], lw=1.5)
    a.set_ylim(bottom=0)
    a.set_ylabel("startups alive (count)")
    a.set_title("Startups alive")
    _date_axis(a)
    _legend(a, loc="upper left")
    a = ax[0, 1]
    for c, label, color in zip(flows, ("entries", "failures", "acquisitions by labs"), (C["open"], C["meek"], C["supplier"])):
        if s.n_runs == 1:
            s.plot(a, c, None, color, lw=0.7, alpha=0.35)
        s.plot(a, c + "_ma12", label, color, lw=2)
    a.set_ylim(bottom=0)
    a.set_ylabel("startups per month")
    a.set_title("Entries and exits" + (" (thin: monthly; bold: 12-month mean)" if s.n_runs == 1 else " (12-month mean)"))
    _date_axis(a)
    _legend(a, loc="upper left")
    fig.suptitle(f"Startup demography{': ' + title if title else ''}{_subtitle(s.n_runs)}", fontsize=12)
    return fig


def finance(df: pd.DataFrame, title: str = ""):
    """Money flows (revenue, capex, venture; annualized) and investor sentiment."""
    s = _Series(df, ["revenue_usd_per_year", "capex_usd_per_year", "venture_usd_per_year", "sentiment", "circular_deal_share"])
    fig, ax = _figure(1, 2, 12, 4.6)
    a = ax[0, 0]
    s.plot(a, "revenue_usd_per_year", "AI revenue", C["revenue"], scale=1e-9, lw=2)
    s.plot(a, "capex_usd_per_year", "capex on chips (labs + cloud)", C["compute"], scale=1e-9, lw=2)
    s.plot(a, "venture_usd_per_year", "venture funding of startups", C["open"], scale=1e-9, lw=2)
    _log_axis(a, "USD billion per year (monthly x 12)")
    a.set_title("Money flows")
    _date_axis(a)
    _legend(a, loc="upper left")
    a = ax[0, 1]
    s.plot(a, "sentiment", "investor sentiment (1 = neutral)", C["frontier"], lw=2)
    a.axhline(1.0, color="0.6", lw=0.8)
    a.set_ylabel("sentiment index")
    a.set_ylim(bottom=0)
    a.set_title("Investor sentiment and circular deals")
    if s.has("circular_deal_share"):
        b = a.twinx()
        s.plot(b, "circular_deal_share", "circular deals, % of lab funding (right axis)", C["meek"], scale=100, lw=1.4, ls="--")
        b.set_ylabel("% of lab funding")
        b.set_ylim(0, max(5.0, np.nan_to_num(_nan_max(s.q[0.95]["circular_deal_share"])) * 120))
        h1, l1 = a.get_legend_handles_labels()
        h2, l2 = b.get_legend_handles_labels()
        a.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right")
    else:
        _legend(a, loc="upper right")
    _date_axis(a)
    fig.suptitle(f"Finance{': ' + title if title else ''}{_subtitle(s.n_runs)}", fontsize=12)
    return fig


# =========================================================================================
# the deals network
# =========================================================================================
KIND_COLORS = {
    "chip_sale": "#1f77b4", "cloud_rental": "#ff7f0e", "equity_investment": "#2ca02c",
    "acquisition": "#9467bd", "data_licence": "#8c564b",
}
TYPE_COLORS = {"lab": "#4c72b0", "supplier": "#dd8452", "cloud": "#c44e52", "ext": "#55a868", "startup": "#8172b3"}


def _node_type(key: str) -> str:
    return key.split(":", 1)[0] if ":" in key else key


def aggregate_deals(g) -> tuple[pd.DataFrame, list[tuple[str, str]], dict[str, int]]:
    """The largest weakly connected component of a deals multigraph, with startups merged into
    one node and parallel edges summed by kind.

    Args:
        g: the deals network (``networkx.MultiDiGraph``, edges payer -> payee with ``kind`` and
            ``amount_usd``), e.g. from :func:`analysis.io.load_deals`; None for no network.

    Returns:
        ``(edges, circular, merged)``: one row per (src, dst, kind) with the summed
        ``amount_usd`` and the number of ``deals``; the circular (investor, lab) pairs, where a
        supplier or cloud invested in a lab that paid it back; the number of startup nodes
        merged into the ``startups (N)`` node.
    """
    import networkx as nx

    if g is None or g.number_of_nodes() == 0:
        return pd.DataFrame(columns=["src", "dst", "kind", "amount_usd", "deals"]), [], {}
    comp = max(nx.weakly_connected_components(g), key=len)
    sub = g.subgraph(comp)
    circular = []
    for u, v, d in sub.edges(data=True):
        # an investor (supplier or cloud) funds a lab that pays the investor back
        if d.get("kind") == "equity_investment" and _node_type(u) in ("supplier", "cloud") and sub.has_edge(v, u):
            circular.append((u, v))
    circular = sorted(set(circular))
    n_startups = sum(1 for n in comp if _node_type(n) == "startup")
    merged = f"startups ({n_startups:,})"

    def key(n: str) -> str:
        return merged if _node_type(n) == "startup" else n

    rows = [(key(u), key(v), d.get("kind", "?"), float(d.get("amount_usd", 0.0) or 0.0)) for u, v, d in sub.edges(data=True)]
    e = pd.DataFrame(rows, columns=["src", "dst", "kind", "amount_usd"])
    e = e.groupby(["src", "dst", "kind"], as_index=False).agg(amount_usd=("amount_usd", "sum"), deals=("amount_usd", "size"))
    return e, circular, {"startup": n_startups}


def _layout(nodes: list[str]) -> dict[str, tuple[float, float]]:
    """Three columns: funders, data sellers and startups left; labs centre; suppliers and cloud right."""
    left = sorted(n for n in nodes if _node_type(n) in ("ext",)) + sorted(n for n in nodes if n.startswith("startups ("))
    mid = sorted(n for n in nodes if _node_type(n) == "lab")
    right = sorted(n for n in nodes if _node_type(n) == "supplier") + sorted(n for n in nodes if _node_type(n) == "cloud")
    other = sorted(set(nodes) - set(left) - set(mid) - set(right))
    left += other
    pos = {}
    for x, col in ((0.0, left), (1.0, mid), (2.0, right)):
        k = len(col)
        for i, n in enumerate(col):
            pos[n] = (x, 1.0 - (i + 0.5) / k if k else 0.5)
    return pos


def deals_network(g, title: str = "", aggregated: tuple | None = None):
    """The deals network: who paid whom, summed by kind, circular investor-lab pairs highlighted.

    ``aggregated``: what :func:`aggregate_deals` returns for ``g``, when the caller has it already.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    e, circular, _ = aggregate_deals(g) if aggregated is None else aggregated
    fig, ax = _figure(1, 1, 12, 8.5)
    a = ax[0, 0]
    a.set_axis_off()
    if e.empty:
        _empty(a, "no deals recorded")
        fig.suptitle("Deals network" + (f": {title}" if title else ""), fontsize=12)
        return fig
    nodes = sorted(set(e["src"]) | set(e["dst"]))
    pos = _layout(nodes)
    paid = e.loc[e["amount_usd"] > 0, "amount_usd"]
    hi = np.log10(paid.max()) if len(paid) else 1.0
    lo = max(np.log10(paid.min()) if len(paid) else 0.0, hi - 4.0)  # four decades of widths
    span = max(hi - lo, 1e-9)

    def width(x: float) -> float:
        if x <= 0:
            return 0.8
        return 1.0 + 6.0 * float(np.clip((np.log10(x) - lo) / span, 0.0, 1.0))

    circ_edges = {(u, v) for u, v in circular} | {(v, u) for u, v in circular}
    # stagger the curvature of same-direction edges of different kinds so none hide each other
    e = e.sort_values(["src", "dst", "kind"]).reset_index(drop=True)
    e["rank"] = e.groupby(["src", "dst"]).cumcount()
    node_r = 14  # points: arrows stop short of the node markers
    for row in e.itertuples(index=False):
        p, q = pos[row.src], pos[row.dst]
        same_col = abs(p[0] - q[0]) < 1e-9
        rad = (0.35 if same_col else 0.08) + 0.1 * row.rank
        kw = dict(connectionstyle=f"arc3,rad={rad}", shrinkA=node_r, shrinkB=node_r, mutation_scale=11)
        if (row.src, row.dst) in circ_edges and row.kind in ("equity_investment", "chip_sale", "cloud_rental"):
            a.add_patch(FancyArrowPatch(p, q, arrowstyle="-", color="#ff0000", alpha=0.28,
                                        lw=width(row.amount_usd) + 6, zorder=1, **kw))
        a.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", color=KIND_COLORS.get(row.kind, "0.3"),
                                    lw=width(row.amount_usd), alpha=0.85, zorder=2, **kw))
    for n, (x, y) in pos.items():
        t = "startup" if n.startswith("startups (") else _node_type(n)
        ring = any(n in pair for pair in circular)
        a.scatter([x], [y], s=420, color=TYPE_COLORS.get(t, "0.6"), edgecolors="#ff0000" if ring else "white",
                  linewidths=2.5 if ring else 1.0, zorder=3)
        label = n.split(":", 1)[1] if ":" in n else n
        ha, dx = ("right", -0.06) if x < 0.5 else (("left", 0.06) if x > 1.5 else ("center", 0.0))
        dy = 0.0 if dx else 0.045
        a.text(x + dx, y + dy, label, ha=ha, va="center", fontsize=9, zorder=4,
               bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    for x, head in ((0.0, "funders, data sellers\nand startups"), (1.0, "labs"), (2.0, "chip suppliers\nand cloud")):
        a.text(x, 1.06, head, ha="center", va="bottom", fontsize=10, fontweight="bold")
    a.set_xlim(-0.7, 2.7)
    a.set_ylim(-0.05, 1.15)
    handles = []
    for k, c in KIND_COLORS.items():
        sel = e[e["kind"] == k]
        if len(sel):
            n = int(sel["deals"].sum())
            unpriced = " (no amount recorded)" if (sel["amount_usd"] <= 0).all() else ""
            handles.append(Line2D([], [], color=c, lw=2.5, label=f"{k.replace('_', ' ')}: {n:,} deals{unpriced}"))
    top = int(np.floor(hi))
    amounts = [10.0 ** k for k in (top - 3, top - 2, top - 1, top) if k >= np.floor(lo)]
    handles += [Line2D([], [], color="0.3", lw=width(x), label=f"total {_usd(x)}") for x in amounts]
    if circular:
        handles.append(Line2D([], [], color="#ff0000", alpha=0.3, lw=7, label="circular pair: investor funds lab,\nlab pays investor back"))
    a.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.13), ncol=4, fontsize=8.5, frameon=False,
             title="edge colour: kind of deal (arrow: payer -> payee); width: total USD over the run (log)", title_fontsize=8.5)
    fig.suptitle("Deals network, largest connected component, parallel deals summed by kind"
                 + (f": {title}" if title else ""), fontsize=12)
    return fig


# =========================================================================================
# comparison of scenarios
# =========================================================================================
def compare_metric(frames: dict[str, pd.DataFrame], metric: Metric):
    """One headline metric over time, one line per scenario (median and 5-95% band for ensembles)."""
    fig, ax = _figure(1, 1, 8.5, 4.3)
    a = ax[0, 0]
    colors = ("#1b1b1b", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
    ens = False
    drawn = 0
    for i, (label, df) in enumerate(frames.items()):
        s = _Series(df, [metric.column])
        ens |= s.n_runs > 1
        n = f"{label} ({s.n_runs} runs)" if s.n_runs > 1 else label
        drawn += s.plot(a, metric.column, n, colors[i % len(colors)], scale=metric.scale, lw=2 if i == 0 else 1.6,
                        ls="-" if i < len(colors) else "--")
    if not drawn:
        _empty(a, f"{metric.column}: not in these runs")
    else:
        if metric.log and all(float(np.nanmin(d[metric.column])) > 0 for d in frames.values() if metric.column in d
                              and d[metric.column].notna().any()):
            _log_axis(a)
        if metric.column.startswith("hhi_"):
            hi = _nan_max([_nan_max(d[metric.column]) for d in frames.values() if metric.column in d])
            guides = _hhi_guides(a, min(10_500.0, max(3000.0, np.nan_to_num(hi) * 1.08)))
            _date_axis(a)
            _legend_below(a, ncol=2, handles=a.get_legend_handles_labels()[0] + guides)
            a.set_ylabel(metric.unit)
            a.set_title(metric.label + (" (lines: median; shaded: 5-95% of runs)" if ens else ""), fontsize=11)
            return fig
        _date_axis(a)
        _legend(a, loc="best")
    a.set_ylabel(f"{metric.unit}" + (" (log scale)" if a.get_yscale() == "log" else ""))
    a.set_title(metric.label + (" (lines: median; shaded: 5-95% of runs)" if ens else ""), fontsize=11)
    return fig


def _nan_max(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(np.nanmax(x)) if np.isfinite(x).any() else math.nan
