"""Self-contained HTML reports: one run or ensemble (:func:`write_report`) and a comparison of
several (:func:`write_comparison`).

A report is a single HTML file: figures are embedded as base64 PNG, styles are inline, and
nothing refers to the network, so it can be mailed or archived as it is. Every directory is read
(and every error reported) before anything is written, and the file is written atomically.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from analysis import headline as H
from analysis.io import RunSet, load_deals, load_events, load_runs
from sim.cli import UserError, check_out_file, plural, write_out_file

__all__ = ["write_report", "write_comparison", "report_html", "comparison_html", "summary_frame", "summary_html",
           "differences_html", "parameters_html", "events_html", "deals_parts", "deals_summary", "deals_html",
           "figure_specs", "figure_png", "comparison_png", "flatten_parameters", "CSS"]

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1320px;margin:1.5em auto;padding:0 1em;color:#1b1b1b;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
.question{font-style:italic;color:#444;margin-top:0}
table{border-collapse:collapse;font-size:.88em;margin:.6em 0}
th,td{border:1px solid #d0d0d0;padding:.25em .55em;vertical-align:top}
th{background:#f3f3f3;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:nth-child(even) td{background:#fafafa}
td.pos{color:#1a6b1a} td.neg{color:#a01c1c}
.small{font-size:.85em;color:#555} code{font-size:.92em}
figure{margin:1em 0} figure img{max-width:100%;height:auto;border:1px solid #e4e4e4}
figcaption{font-size:.9em;color:#333;max-width:1100px;margin-top:.3em}
nav a{margin-right:.9em} details{margin:.6em 0} summary{cursor:pointer;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:.6em} .grid figure{flex:1 1 620px;margin:.3em 0}
"""


# =========================================================================================
# small HTML helpers
# =========================================================================================
def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _figure(png: bytes, alt: str, caption: str) -> str:
    return f"<figure>{_img(png, alt)}<figcaption>{caption}</figcaption></figure>"


def _png(fig) -> bytes:
    from analysis.plots import to_png

    png = to_png(fig)
    fig.clear()
    return png


def _table(header: list[str], rows: list[list[str]], num_from: int = 1, classes: list[list[str]] | None = None) -> str:
    """An HTML table; cells are already-escaped strings, columns from ``num_from`` right-aligned."""
    out = ["<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr></thead><tbody>"]
    for i, r in enumerate(rows):
        cells = []
        for j, c in enumerate(r):
            cls = ["num"] if j >= num_from else []
            if classes and classes[i][j]:
                cls.append(classes[i][j])
            cells.append(f'<td class="{" ".join(cls)}">{c}</td>' if cls else f"<td>{c}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _generated() -> str:
    from sim.run import versions  # metadata only: no model import

    v = versions()
    now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f'<p class="small">Generated {now} by frontiersim {_e(v.get("frontiersim", "?"))} '
            f'(python {_e(v.get("python", "?"))}, matplotlib {_e(v.get("matplotlib", "?"))}). '
            "How to read the metrics: docs/READING.md in the frontiersim repository.</p>")


#: what a report's or comparison's --out should be (sim.cli.check_out_file refuses any other)
HTML_PATH = "an HTML file path"
CSV_PATH = "a CSV file path"


# =========================================================================================
# summary numbers
# =========================================================================================
def summary_frame(df: pd.DataFrame, years: list[int] | None = None, metrics=H.HEADLINE) -> pd.DataFrame:
    """Headline numbers at milestone years: median and 5-95% across runs.

    Args:
        df: long model table (``run``, ``date``, model columns), derived columns included.
        years: milestone years (default: those of :data:`MILESTONE_YEARS` the runs cover).

    Returns:
        A table indexed by (metric column, year) with ``p05``, ``p50``, ``p95`` (in the
        column's own unit), ``n`` (runs with a value), ``date`` (the month used), and
        ``p50_low``, ``p50_high``: the 95% confidence interval of the median
        (:func:`analysis.stats.median_interval`; NaN with fewer than 6 runs).
    """
    from analysis.stats import median_interval

    years = years or H.milestone_years(df)
    ms = H.available(df, metrics)
    vals = H.milestone_values(df, [m.column for m in ms], years)
    rows = []
    for m in ms:
        for y in years:
            v = vals.xs(y, level="year")[m.column] if y in vals.index.get_level_values("year") else pd.Series(dtype=float)
            x = pd.to_numeric(v, errors="coerce").to_numpy(dtype=float)
            x = x[np.isfinite(x)]
            date = vals.xs(y, level="year")["date"].iloc[0] if len(v) else ""
            q = np.quantile(x, [0.05, 0.5, 0.95]) if x.size else [np.nan] * 3
            lo, hi, _ = median_interval(x)
            rows.append((m.column, y, q[0], q[1], q[2], int(x.size), date, lo, hi))
    return pd.DataFrame(rows, columns=["metric", "year", "p05", "p50", "p95", "n", "date", "p50_low", "p50_high"]
                        ).set_index(["metric", "year"])


def summary_html(df: pd.DataFrame, n_runs: int, runs_label: str | None = None) -> str:
    """The table of headline numbers at milestone years, as HTML (the report's summary section)."""
    years = H.milestone_years(df)
    sf = summary_frame(df, years)
    ms = H.available(df)
    if not ms:
        return "<p>No headline columns in this model table.</p>"
    dates = {y: sf.xs(y, level="year")["date"].iloc[0] for y in years}
    header = ["metric", "unit"] + [_e(str(y) if str(d).endswith("-12") else f"{y} (to {d})") for y, d in dates.items()]
    rows = []
    for m in ms:
        r = [_e(m.label), _e(m.unit)]
        for y in years:
            s = sf.loc[(m.column, y)]
            cell = H.fmt_number(s.p50, m)
            if n_runs > 1 and s.n > 1:
                cell += f'<br><span class="small">[{H.fmt_number(s.p05, m)} \u2013 {H.fmt_number(s.p95, m)}]</span>'
            r.append(cell)
        rows.append(r)
    note = ("Values in the last simulated month of each milestone year (flows such as revenue are that month's "
            "rate x 12).")
    if n_runs > 1:
        note += f" Median across {runs_label or f'{n_runs} runs'}; below it, in brackets, the 5th to 95th percentile of runs."
    out = f'<p class="small">{note}</p>' + _table(header, rows, num_from=2)
    if np.isfinite(sf["p50_low"].to_numpy(dtype=float)).any():
        rows = [[_e(m.label), _e(m.unit)] + [
            "\u2013" if not np.isfinite(sf.loc[(m.column, y), "p50_low"]) else
            f"{H.fmt_number(sf.loc[(m.column, y), 'p50_low'], m)} \u2013 {H.fmt_number(sf.loc[(m.column, y), 'p50_high'], m)}"
            for y in years] for m in ms]
        out += ('<details><summary>How precisely these runs pin the medians down: 95% confidence intervals</summary>'
                '<p class="small">The interval that holds the median of all possible runs of this scenario with 95% '
                'confidence (from order statistics: the k-th smallest and largest runs; distribution-free). It narrows '
                'roughly as one over the square root of the number of runs; where it is wide against the differences that '
                'matter, add runs (rerunning the ensemble with a larger --runs computes only the new ones). Whether two '
                'ensembles differ: frontiersim compare (docs/READING.md).</p>'
                + _table(header, rows, num_from=2) + "</details>")
    return out


# =========================================================================================
# parameters
# =========================================================================================
def flatten_parameters(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested scenario parameters as ``{dotted.key: value}`` (lists of tables indexed 0, 1, ...)."""
    out: dict[str, Any] = {}
    if isinstance(params, dict):
        for k, v in params.items():
            out.update(flatten_parameters(v, f"{prefix}{k}."))
        return out
    if isinstance(params, list) and params and all(isinstance(x, dict) for x in params):
        for i, v in enumerate(params):
            out.update(flatten_parameters(v, f"{prefix}{i}."))
        return out
    out[prefix[:-1]] = params
    return out


def _fmt_param(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def parameters_html(rs: RunSet) -> str:
    """The parameters section, as HTML: those that differ across runs, the overrides common to an
    ensemble, those the scenario set, and every resolved parameter with its origin."""
    params = flatten_parameters(rs.parameters)
    origin = rs.parameter_origin
    out = [] if params else ["<p>No resolved parameters recorded (no manifest.json, or a manifest without them).</p>"]
    varying = _varying_parameters(rs)
    if varying:
        rows = [[f"<code>{_e(k)}</code>", _e(v)] for k, v in varying.items()]
        out.append(f"<h3>Parameters that differ across the {rs.n_runs} runs</h3>"
                   + _table(["parameter", "values across runs"], rows, num_from=2))
    common = rs.manifest.get("overrides") if rs.kind == "ensemble" else None
    if common:
        rows = [[f"<code>{_e(k)}</code>", _e(_fmt_param(v))] for k, v in common.items()]
        out.append("<h3>Overrides (--set) common to all runs</h3>" + _table(["parameter", "value"], rows, num_from=2))
    design = rs.manifest.get("design") if rs.kind == "ensemble" else None
    if design:
        out.append(f'<p class="small">Design: <code>{_e(json.dumps(design))}</code></p>')
    if origin:
        set_rows = [[f"<code>{_e(k)}</code>", _e(_fmt_param(v)), _e(origin.get(k, "?"))]
                    for k, v in params.items() if origin.get(k, "default") != "default"]
        if set_rows:
            out.append(f"<h3>Set by the scenario (file, parent scenario or override): {len(set_rows)}</h3>"
                       + _table(["parameter", "value", "origin"], set_rows, num_from=3))
        all_rows = [[f"<code>{_e(k)}</code>", _e(_fmt_param(v)), _e(origin.get(k, "?"))] for k, v in params.items()]
        head = ["parameter", "value", "origin"]
    else:  # an ensemble manifest records the resolved values but not where each came from
        all_rows = [[f"<code>{_e(k)}</code>", _e(_fmt_param(v))] for k, v in params.items()]
        head = ["parameter", "value"]
    if all_rows:
        out.append(f"<details><summary>All {plural(len(all_rows), 'resolved parameter')}</summary>"
                   + _table(head, all_rows, num_from=len(head)) + "</details>")
    return "\n".join(out)


def _varying_parameters(rs: RunSet) -> dict[str, str]:
    """Parameters whose value differs between the runs' manifests (e.g. a sensitivity design)."""
    flat = [flatten_parameters(m.get("parameters", {})) for m in rs.manifests.values() if m.get("parameters")]
    if rs.run_overrides:
        flat = list(rs.run_overrides.values())
    if len(flat) < 2:
        return {}
    out = {}
    for k in sorted(set().union(*flat)):
        vals = [f.get(k) for f in flat]
        distinct = {json.dumps(v, sort_keys=True) for v in vals}
        if len(distinct) > 1:
            nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if len(nums) == len(vals):
                out[k] = f"{min(nums):.6g} to {max(nums):.6g} ({len(distinct)} distinct values)"
            else:
                out[k] = ", ".join(sorted(distinct)[:8]) + (" ..." if len(distinct) > 8 else "")
    return out


# =========================================================================================
# one scenario
# =========================================================================================
@dataclass(frozen=True)
class FigureSpec:
    """A figure of the report: its anchor (its name), heading, the columns without which it is left
    out (any one suffices), the :mod:`analysis.plots` function that draws it, and its caption (HTML)."""

    anchor: str
    heading: str
    columns: tuple[str, ...]
    build: Callable
    caption: str


def figure_specs() -> list[FigureSpec]:
    """The figures of a report of one run or ensemble, in the report's order."""
    from analysis import plots as P

    return [
        FigureSpec("capability", "Capability", ("frontier_ece", "frontier_score"), P.capability,
                   "Left: <b>ece</b>, the log10 of the training FLOP a compute-optimal run would need to reach the same "
                   "loss; a difference of 1 is a factor of 10 in effective compute, and the scale is unbounded. Right: "
                   "<b>score</b>, a benchmark-like sigmoid of loss from 0.25 (chance) to 1, which saturates. The "
                   "frontier is the best deployed model; median and 10th percentile are across active providers (labs "
                   "and model-building startups). The meek reference is a trainer with a fixed small budget using "
                   "public algorithms: the vertical distance to it is the meek gap."),
        FigureSpec("concentration", "Market concentration", ("hhi_compute", "hhi_revenue", "hhi_supplier"), P.concentration,
                   "HHI (left) is the sum of squared market shares in percent: 10,000 for a monopoly, 10,000/n for n "
                   "equal firms. Shading marks the 2010 US Horizontal Merger Guidelines zones (1,500 and 2,500); the "
                   "dotted line is the single 1,800 threshold of the 2023 Merger Guidelines. CR4 (right) is the share "
                   "of the four largest firms. Compute shares are labs' installed chips (owned plus rented); revenue "
                   "shares are among AI-service providers; supplier shares are chips produced in the last 12 months."),
        FigureSpec("resources", "Resources: compute, chips, power and data",
                   ("installed_h100e", "chip_price_usd", "mw_used_total", "public_tokens"), P.resources,
                   "Compute is counted in H100-equivalents (H100e). Stranded chips are bought but not energized "
                   "because their owner holds too little grid power; they still depreciate. Power is the data-centre "
                   "load used against capacity (grid allocation plus on-site generation) per region; electricity "
                   "prices rise steeply as a grid nears full utilization. The data stock is usable public text; the "
                   "synthetic share is the fraction of the frontier model's training tokens that were generated."),
        FigureSpec("demography", "Startup demography", ("startups_alive",), P.demography,
                   "Startups alive by kind (application startups sell to end customers through a lab's API; "
                   "model-building startups train and serve their own models), and monthly entries, failures (cash "
                   "ran out) and acquisitions by labs."),
        FigureSpec("finance", "Finance", ("revenue_usd", "sentiment"), P.finance,
                   "Monthly flows shown at an annual rate (x 12). Circular deals: the share of lab funding that came "
                   "from a supplier or cloud which the lab then paid back for chips or rented compute."),
    ]


def deals_parts(_df, run_dir: str, title: str) -> tuple[list[tuple], list[tuple[str, str]], bytes] | None:
    """Read a run's deals network, sum it by kind and draw it (a :class:`analysis.render.Jobs`
    job): ``(deals by kind, circular pairs, PNG)``; None when the run has no network file;
    an empty list of kinds (and no PNG) when it recorded no deals."""
    g = load_deals(Path(run_dir))
    return None if g is None else deals_summary(g, title)


def deals_summary(g, title: str) -> tuple[list[tuple], list[tuple[str, str]], bytes]:
    """A deals network (``networkx.MultiDiGraph`` as :func:`analysis.io.load_deals` reads it)
    summed by kind and drawn: ``(deals by kind, circular pairs, PNG)``, as :func:`deals_parts`."""
    from analysis import plots as P

    agg = P.aggregate_deals(g)
    e, circular, _ = agg
    if e.empty:
        return [], circular, b""
    k = e.groupby("kind").agg(deals=("deals", "sum"), amount_usd=("amount_usd", "sum")).reset_index()
    kinds = [(r.kind, int(r.deals), float(r.amount_usd)) for r in k.itertuples()]
    return kinds, circular, _png(P.deals_network(g, title, aggregated=agg))


def deals_html(rs: RunSet, parts) -> str:
    """The deals section from what :func:`deals_parts` returned for the run :meth:`RunSet.first_run_dir` names."""
    if parts is None:
        return "<p>No deals network (deals.graphml) in this directory.</p>"
    kinds, circular, png = parts
    if not kinds:
        return "<p>No deals were recorded in this run.</p>"
    which = ""
    if rs.kind != "run":
        d = rs.first_run_dir()
        shown = next((r for r, p in rs.run_dirs.items() if p == d), d.name)
        which = f" Shown for one run of the ensemble: <code>{_e(shown)}</code>."
    cap = ("Every chip sale, equity investment, cloud rental, acquisition and data licence is an edge from payer "
           "to payee. Shown: the largest weakly connected component, with all startups merged into one node and "
           "parallel deals between two parties summed by kind (width: total USD over the run, log scale). A red "
           "ring or halo marks a circular pair: a supplier or cloud invested in a lab that paid it back." + which)
    out = [_figure(png, "deals network", cap)]
    rows = [[_e(kind.replace("_", " ")), f"{deals:,}", H.fmt_number(usd * 1e-9) if usd > 0 else "not recorded"]
            for kind, deals, usd in kinds]
    out.append("<h3>Deals by kind (largest component)</h3>" + _table(["kind", "deals", "total, USD billion"], rows))
    if circular:
        items = ", ".join(f"{_e(u)} &rarr; {_e(v)} &rarr; {_e(u)}" for u, v in circular)
        out.append(f"<p><b>Circular pairs ({len(circular)}):</b> {items}</p>")
    else:
        out.append("<p>No circular investor &rarr; lab &rarr; investor pairs.</p>")
    return "\n".join(out)


def events_html(rs: RunSet, tables: dict[str, pd.DataFrame | None] | None = None) -> str:
    """The events section, as HTML: rows of each event kind per run and the first month, from
    ``tables`` (run id -> events table) or else the events tables of the runs' directories ('' when
    there are none)."""
    if tables is None:
        tables = {r: load_events(d) for r, d in rs.run_dirs.items()}
    frames = [ev.assign(run=r) for r, ev in tables.items() if ev is not None and len(ev) and "event" in ev]
    if not frames:
        return ""
    ev = pd.concat(frames, ignore_index=True)
    per_run = ev.groupby(["event", "run"]).size().unstack(fill_value=0).reindex(columns=list(tables), fill_value=0)
    rows = []
    for name, counts in per_run.iterrows():
        first = ev[ev["event"] == name]["month"].astype(str).min() if "month" in ev else ""
        cells = [f"<code>{_e(name)}</code>", f"{int(counts.median()):,}" if len(counts) > 1 else f"{int(counts.iloc[0]):,}", _e(first)]
        rows.append(cells)
    head = ["event", "rows per run" + (" (median)" if per_run.shape[1] > 1 else ""), "first month"]
    return _table(head, rows, num_from=1)


def _meta_html(rs: RunSet) -> str:
    df = rs.model
    on_disk = bool(rs.run_dirs) or (rs.path / "runs").is_dir()  # (a RunSet the dashboard made has neither)
    where = (["directory", f"<code>{_e(rs.path)}</code>"] if on_disk else
             ["source", f"made in the dashboard, not written to disk: {_e(rs.path)}"])
    rows = [where,
            ["kind", _e("single run" if rs.kind == "run" else f"{rs.design} of {rs.runs_label}")],
            ["period", _e(f"{df['date'].min()} to {df['date'].max()} ({df['date'].nunique()} months)")]]
    seeds = sorted({m.get("seed") for m in rs.manifests.values() if m.get("seed") is not None})
    if not seeds and "seed" in df.columns:
        seeds = sorted(pd.unique(df["seed"]).tolist())
    if rs.manifest.get("seed") is not None and rs.kind == "run":
        seeds = [rs.manifest["seed"]]
    if seeds:
        shown = ", ".join(map(str, seeds[:12])) + (f" ... ({len(seeds)} seeds)" if len(seeds) > 12 else "")
        rows.append(["seed" + ("s" if len(seeds) > 1 else ""), _e(shown)])
    v = rs.manifest.get("versions") or next((m.get("versions") for m in rs.manifests.values() if m.get("versions")), None)
    if v:
        rows.append(["written by", _e(", ".join(f"{k} {v[k]}" for k in ("frontiersim", "python", "mesa", "numpy") if k in v))])
    if rs.manifest.get("wall_time_s") is not None:
        rows.append(["wall time", _e(f"{rs.manifest['wall_time_s']} s")])
    return "<table>" + "".join(f"<tr><th>{a}</th><td>{b}</td></tr>" for a, b in rows) + "</table>"


def figure_png(df: pd.DataFrame, anchor: str, title: str, meek_budget: float | None) -> bytes:
    """Draw the report figure ``anchor`` of :func:`figure_specs` (a :class:`analysis.render.Jobs` job)."""
    spec = next(s for s in figure_specs() if s.anchor == anchor)
    return _png(spec.build(df, title, meek_budget) if anchor == "capability" else spec.build(df, title))


def comparison_png(frames: dict[str, pd.DataFrame], metric: H.Metric) -> bytes:
    """Draw the comparison figure of one headline metric (a :class:`analysis.render.Jobs` job)."""
    from analysis import plots as P

    return _png(P.compare_metric(frames, metric))


def report_html(rs: RunSet, workers: int = 1) -> str:
    """The HTML text of the report of one run or ensemble; ``workers`` processes draw its figures
    (:class:`analysis.render.Jobs`; the text is the same for any number)."""
    from analysis.render import Jobs

    df = H.add_derived(rs.model)
    name = rs.scenario
    q = rs.parameters.get("question")
    meek_budget = (rs.parameters.get("reference") or {}).get("meek_budget_usd")
    body = [f"<h1>frontiersim report: {_e(name)}</h1>"]
    if q:
        body.append(f'<p class="question">{_e(q)}</p>')
    if rs.planned_runs > rs.n_runs:
        body.append(f'<p><b>Incomplete {_e(rs.design)}: {_e(rs.runs_label)}.</b> Its manifest plans '
                    f'{rs.planned_runs} runs but only {rs.n_runs} are in this directory (the command was interrupted); '
                    "every median, band and figure below is over those. Rerun the same command with the same --out "
                    "to compute the rest.</p>")
    body.append(_meta_html(rs))
    specs = [spec for spec in figure_specs() if any(c in df.columns for c in spec.columns)]
    # the weight of a job is its number of panels (drawing time grows with it): heaviest first
    jobs = [(figure_png, (spec.anchor, name, meek_budget), 8.0 if spec.anchor == "resources" else 2.0) for spec in specs]
    d = rs.first_run_dir()
    deals = d is not None and (d / "deals.graphml").is_file()
    if deals:
        jobs.append((deals_parts, (str(d), name), 3.0))  # reading the GraphML, then one large panel
    with Jobs(jobs, df, workers) as pending:  # the tables are made while the figures are drawn
        summary, ev, params = summary_html(df, rs.n_runs, rs.runs_label), events_html(rs), parameters_html(rs)
        drawn = pending.results()
    sections: list[tuple[str, str, str]] = [("summary", "Headline numbers at milestone years", summary)]
    for spec, png in zip(specs, drawn):
        sections.append((spec.anchor, spec.heading, _figure(png, spec.heading, spec.caption)))
    if deals:
        sections.append(("deals", "Deals network", deals_html(rs, drawn[-1])))
    if ev:
        sections.append(("events", "Events", ev))
    sections.append(("parameters", "Scenario parameters", params))
    body.append("<nav>" + "".join(f'<a href="#{a}">{_e(h)}</a>' for a, h, _ in sections) + "</nav>")
    for a, h, content in sections:
        body.append(f'<h2 id="{a}">{_e(h)}</h2>\n{content}')
    body.append(_generated())
    return _page(f"frontiersim report: {name}", body)


def write_report(path: str | Path, out: str | Path | None = None, workers: int = 1) -> Path:
    """Read a run or ensemble directory and write its HTML report (default ``DIR/report.html``),
    its figures drawn by ``workers`` processes.

    Raises:
        UserError: the directory is not a run or ensemble, or the output cannot be written.
    """
    target = Path(out) if out is not None else Path(path) / "report.html"
    if out is not None:  # (the default, inside DIR, is checked once DIR is known to be a run)
        check_out_file(out, HTML_PATH)
    rs = load_runs(path)
    text = report_html(rs, workers)
    return write_out_file(target, text, HTML_PATH)


# =========================================================================================
# several scenarios
# =========================================================================================
def _labels(sets: list[RunSet]) -> list[str]:
    names = [rs.scenario for rs in sets]
    out = []
    for rs, n in zip(sets, names):
        if names.count(n) > 1:
            n = f"{n} ({rs.path.name})"
        out.append(n)
    if len(set(out)) < len(out):  # same scenario and directory name: fall back to paths
        out = [str(rs.path) for rs in sets]
    return out


def differences_html(frames: dict[str, pd.DataFrame], metrics: list[H.Metric]) -> str:
    """Tables of ``metrics`` at milestone years, one per year, with each scenario's difference from
    the first of ``frames`` (label -> long model table, derived columns included), as HTML."""
    labels = list(frames)
    base = labels[0]
    years = sorted(set().union(*(H.milestone_years(df) for df in frames.values())))
    sfs = {k: summary_frame(df, years, metrics) for k, df in frames.items()}
    out = [f'<p class="small">Each table: the value of every headline metric in the last simulated month of a milestone '
           f'year, and its difference from <b>{_e(base)}</b> (the first directory). For ensembles the value is the '
           'median across runs and the difference is the difference of medians. Relative differences are left out '
           'for logarithmic or percentage measures (ece, score, shares), where the difference in points is the '
           'meaningful one.</p>']

    def get(k: str, col: str, y: int) -> float:
        sf = sfs[k]
        return float(sf.loc[(col, y), "p50"]) if (col, y) in sf.index else np.nan

    for y in years:
        header = ["metric", "unit", _e(base)]
        for k in labels[1:]:
            header += [_e(k), f"&Delta; vs {_e(base)}", "&Delta; %"]
        rows, classes = [], []
        for m in metrics:
            a = get(base, m.column, y)
            r, c = [_e(m.label), _e(m.unit), H.fmt_number(a, m)], ["", "", ""]
            for k in labels[1:]:
                b = get(k, m.column, y)
                d = b - a if np.isfinite(a) and np.isfinite(b) else np.nan
                ds = H.fmt_number(d, m)
                if np.isfinite(d) and d > 0 and ds.strip("0.,"):
                    ds = "+" + ds
                rel = (100.0 * d / abs(a)) if (m.ratio and np.isfinite(d) and a not in (0.0,) and np.isfinite(a)) else np.nan
                rs_ = "\u2013" if not np.isfinite(rel) else f"{rel:+,.1f}%"
                sign = "" if not np.isfinite(d) or d == 0 else ("pos" if d > 0 else "neg")
                r += [H.fmt_number(b, m), ds, rs_]
                c += ["", sign, sign]
            rows.append(r)
            classes.append(c)
        out.append(f"<h3>{y}</h3>" + _table(header, rows, num_from=2, classes=classes))
    return "\n".join(out)


def _diff_number(v: float, m: H.Metric) -> str:
    """A difference or an interval bound in the metric's unit, to three significant digits (a
    metric's fixed decimals would round small differences away), with its sign."""
    import dataclasses

    s = H.fmt_number(v, dataclasses.replace(m, fixed=None))
    return "+" + s if np.isfinite(v) and v > 0 else s


def contrasts_html(table: pd.DataFrame, notes: list[str], metrics: list[H.Metric], ref: str) -> str:
    """The ensembles' differences from the reference ``ref`` with confidence intervals
    (:func:`analysis.stats.ensemble_contrasts`' table and notes), as HTML: per other ensemble
    and milestone year, each metric's difference of means and of medians with 95% intervals, the
    chance that the other scenario comes out higher, and the Holm-adjusted p-value."""
    from analysis.stats import LEVEL, MIN_BOOTSTRAP

    pct = f"{LEVEL:.0%}"
    out = [f'<p class="small">Whether a difference between two ensembles is more than the noise of their seeds. Runs '
           f'that share a seed are <b>paired</b>: <code>frontiersim ensemble --seed S</code> gives run <i>i</i> the same '
           f'seed whatever the scenario, so ensembles made with the same <code>--seed</code> start from the same random '
           f'draws (common random numbers) and each seed gives one difference; intervals are then much narrower than '
           f'for independent samples. <b>Difference of means</b>: with its {pct} t interval (paired, or Welch\'s). '
           f'<b>Difference of medians</b>: with a {pct} bootstrap interval ({MIN_BOOTSTRAP} or more runs). '
           f'<b>P(higher)</b>: the share of seeds where the other scenario\'s value is higher (independent samples: the '
           f'chance that one of its runs beats one of the reference\'s); ties count half. <b>p (Holm)</b>: the p-value '
           f'of the difference of means, adjusted over all metrics and years of the ensemble (Holm), so that a '
           f'<b>differs</b> mark is a false alarm with at most {1 - LEVEL:.0%} probability over the whole table. '
           f'The intervals measure the sampling error of the seeds only, not the uncertainty of the parameters.</p>']
    out += [f'<p class="small">Left out: {_e(n)}.</p>' for n in notes]
    if table.empty:
        return "\n".join(out)
    by_col = {m.column: m for m in metrics}
    for label, t in table.groupby("label", sort=False):
        pairs = int(t["pairs"].max())
        how = (f"paired over the {pairs} seeds both ran" if pairs else
               "independent samples (no seed in common: made with different --seed values)")
        n_ref, n_other = int(t["n_ref"].max()), int(t["n_other"].max())
        out.append(f"<h3>{_e(label)} vs {_e(ref)}: {_e(how)}</h3>")
        if not pairs:
            out.append(f'<p class="small">{n_other} runs against {n_ref}.</p>')
        for y, ty in t.groupby("year", sort=True):
            rows, classes = [], []
            for r in ty.itertuples(index=False):
                m = by_col.get(r.metric)
                if m is None:
                    continue
                sign = "" if not r.differs else ("pos" if r.diff_mean > 0 else "neg")
                rows.append([_e(m.label), _e(m.unit), H.fmt_number(r.mean_ref, m), H.fmt_number(r.mean_other, m),
                             f"{_diff_number(r.diff_mean, m)} [{_diff_number(r.diff_mean_low, m)}, "
                             f"{_diff_number(r.diff_mean_high, m)}]",
                             f"{_diff_number(r.diff_median, m)} [{_diff_number(r.diff_median_low, m)}, "
                             f"{_diff_number(r.diff_median_high, m)}]",
                             "\u2013" if not np.isfinite(r.share_greater) else f"{r.share_greater:.2f}",
                             "\u2013" if not np.isfinite(r.p_holm) else f"{r.p_holm:.2g}",
                             "differs" if r.differs else ""])
                classes.append(["", "", "", "", sign, "", "", "", sign])
            out.append(f"<h4>{y}</h4>" + _table(
                ["metric", "unit", f"mean, {_e(ref)}", f"mean, {_e(label)}", f"difference of means [{pct}]",
                 f"difference of medians [{pct}]", "P(higher)", "p (Holm)", ""], rows, num_from=2, classes=classes))
    return "\n".join(out)


def comparison_frames(sets: list[RunSet]) -> tuple[list[str], dict[str, pd.DataFrame], list[H.Metric]]:
    """The labels a comparison gives ``sets``, their model tables with the derived columns (by
    label), and the headline metrics any of them has."""
    labels = _labels(sets)
    frames = {k: H.add_derived(rs.model) for k, rs in zip(labels, sets)}
    metrics = [m for m in H.HEADLINE if any(m in H.available(df, [m]) for df in frames.values())]
    return labels, frames, metrics


def compares_ensembles(sets) -> bool:
    """Whether a comparison holds two or more ensembles (and so a section on their differences
    beyond the noise of the seeds)."""
    return sum(rs.kind == "ensemble" for rs in sets) >= 2


def comparison_contrasts(sets: list[RunSet], prepared: tuple | None = None) -> tuple[pd.DataFrame, list[str]]:
    """:func:`analysis.stats.ensemble_contrasts` of a comparison's sets (the first is the
    reference) on its headline metrics: the table and the lines on the sets left out.
    ``prepared``: :func:`comparison_frames` of ``sets``, when the caller has it already."""
    from analysis.stats import ensemble_contrasts

    labels, frames, metrics = prepared or comparison_frames(sets)
    return ensemble_contrasts(dict(zip(labels, sets)), frames, [m.column for m in metrics])


def comparison_html(sets: list[RunSet], workers: int = 1, contrasts: tuple[pd.DataFrame, list[str]] | None = None,
                    prepared: tuple | None = None) -> str:
    """The HTML text comparing several runs or ensembles (the first is the reference); ``workers``
    processes draw its figures. ``contrasts`` (:func:`comparison_contrasts`) and ``prepared``
    (:func:`comparison_frames`) of ``sets``, when the caller has them already."""
    from analysis.render import Jobs

    prepared = prepared or comparison_frames(sets)
    labels, frames, metrics = prepared
    title = " vs ".join(labels)
    body = [f"<h1>frontiersim comparison: {_e(title)}</h1>"]
    rows = []
    for k, rs in zip(labels, sets):
        df = rs.model
        rows.append([_e(k), f"<code>{_e(rs.path)}</code>", _e("run" if rs.kind == "run" else f"ensemble, {rs.runs_label}"),
                     _e(f"{df['date'].min()} to {df['date'].max()}"), _e(rs.parameters.get("question", ""))])
    body.append(_table(["scenario", "directory", "kind", "period", "question"], rows, num_from=5))
    ensembles = compares_ensembles(sets)
    body.append('<nav><a href="#differences">Differences at milestone years</a>'
                + ('<a href="#noise">Ensembles: differences beyond the noise</a>' if ensembles else "")
                + '<a href="#figures">Figures</a><a href="#parameters">Parameters that differ</a></nav>')
    with Jobs([(comparison_png, (m,), 1.0) for m in metrics], frames, workers) as pending:
        # the tables are made while the figures are drawn
        diffs, params = differences_html(frames, metrics), _param_diff_html(labels, sets)
        if ensembles:
            table, notes = contrasts if contrasts is not None else comparison_contrasts(sets, prepared)
            noise = contrasts_html(table, notes, metrics, labels[0])
        drawn = pending.results()
    body.append('<h2 id="differences">Differences at milestone years</h2>')
    body.append(diffs)
    if ensembles:
        body.append('<h2 id="noise">Ensembles: differences beyond the noise of the seeds</h2>')
        body.append(noise)
    body.append('<h2 id="figures">Headline metrics over time</h2><div class="grid">')
    for m, png in zip(metrics, drawn):
        body.append(_figure(png, m.label, f"{_e(m.label)} ({_e(m.unit)}); one line per scenario."))
    body.append("</div>")
    body.append('<h2 id="parameters">Parameters that differ from the first scenario</h2>')
    body.append(params)
    body.append(_generated())
    return _page(f"frontiersim comparison: {title}", body)


def _param_diff_html(labels: list[str], sets: list[RunSet]) -> str:
    flats = [flatten_parameters(rs.parameters) for rs in sets]
    keys = sorted(set().union(*flats) - {"name", "question", "extends"})
    rows = []
    for k in keys:
        vals = [f.get(k, None) for f in flats]
        if len({json.dumps(v, sort_keys=True) for v in vals}) > 1:
            rows.append([f"<code>{_e(k)}</code>"] + [_e("\u2013" if v is None else _fmt_param(v)) for v in vals])
    if not rows:
        return "<p>The resolved parameters are the same (apart from the name and question).</p>"
    return _table(["parameter"] + [_e(x) for x in labels], rows, num_from=len(labels) + 1)


def write_comparison(paths: list[str | Path], out: str | Path | None = None, workers: int = 1,
                     csv: str | Path | None = None) -> Path:
    """Read several run or ensemble directories and write an HTML comparison (default ``compare.html``),
    its figures drawn by ``workers`` processes; with ``csv``, also the ensembles' differences with
    their confidence intervals (:func:`comparison_contrasts`, columns
    :data:`analysis.stats.CONTRAST_COLUMNS`) as a CSV file.

    Raises:
        UserError: fewer than two directories, a directory that is not a run or ensemble, an
            output that cannot be written, or ``csv`` asked of directories no two of which are
            ensembles of replicates (the reference among them). Nothing is written then.
    """
    if len(paths) < 2:
        raise UserError("compare: expected at least two run or ensemble directories")
    target = Path(out) if out is not None else Path("compare.html")
    check_out_file(out if out is not None else target, HTML_PATH)
    if csv is not None:
        check_out_file(csv, CSV_PATH, "--csv")
        if Path(csv).resolve() == target.resolve():
            raise UserError(f"--csv {csv}: the same file as the HTML output; expected another file")
    sets = [load_runs(p) for p in paths]
    prepared = comparison_frames(sets)
    contrasts = comparison_contrasts(sets, prepared) if csv is not None or compares_ensembles(sets) else None
    if csv is not None and contrasts[0].empty:
        raise UserError(f"--csv {csv}: no differences with intervals to write ({'; '.join(contrasts[1])}); expected the "
                        "first directory and at least one other to be ensembles of two or more runs of one scenario")
    page = comparison_html(sets, workers, contrasts, prepared)
    if csv is not None:
        write_out_file(Path(csv), contrasts[0].to_csv(index=False), CSV_PATH, "--csv")
    return write_out_file(target, page, HTML_PATH)
