"""Reports and comparisons: what a reader of the HTML relies on, and the errors a user can cause."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import headline as H
from analysis.io import RunDirError, load_runs
from analysis.metrics import cr_n, effective_number, gini, hhi, hhi_equivalent_number, quantile_or_nan
from sim.cli import main

END = "2027-12"


# =========================================================================================
# fixtures: two short runs written to disk, and ensembles built from them
# =========================================================================================
@pytest.fixture(scope="module")
def run_dirs(run_cached, tmp_path_factory):
    from sim.run import write_outputs

    base = tmp_path_factory.mktemp("runs")
    a = write_outputs(run_cached("baseline", 0, END), base / "baseline-seed0")
    b = write_outputs(run_cached("baseline", 1, END), base / "baseline-seed1")
    return a, b


@pytest.fixture(scope="module")
def single_report(run_dirs):
    from analysis.report import write_report

    out = write_report(run_dirs[0])
    return out, out.read_text(encoding="utf-8")


class _Collect(HTMLParser):
    """Images, links, tables (as lists of rows of cell texts) and all text of a page."""

    def __init__(self):
        super().__init__()
        self.imgs, self.attrs, self.tables, self.text = [], [], [], []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        self.attrs.append((tag, d))
        if tag == "img":
            self.imgs.append(d)
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parse(text: str) -> _Collect:
    p = _Collect()
    p.feed(text)
    return p


def _decode_png(src: str) -> np.ndarray:
    import matplotlib.image as mpimg

    assert src.startswith("data:image/png;base64,"), src[:40]
    return mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)), format="png")


def _no_external_urls(text: str, parsed: _Collect) -> None:
    for tag, attrs in parsed.attrs:
        for k in ("src", "href"):
            v = attrs.get(k)
            if v is not None:
                assert not re.match(r"\s*(https?:)?//", v, re.I), f"<{tag} {k}={v[:60]}> needs the network"
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert "@import" not in text and "url(" not in text


def _summary_table(parsed: _Collect) -> list[list[str]]:
    for t in parsed.tables:
        if t and t[0][:2] == ["metric", "unit"]:
            return t
    raise AssertionError("no summary table (header 'metric', 'unit', years...)")


# =========================================================================================
# the report of one run
# =========================================================================================
def test_report_images_decode_and_are_figures(single_report, run_dirs):
    out, text = single_report
    assert out == run_dirs[0] / "report.html"  # the default output
    parsed = _parse(text)
    # capability, concentration, resources, demography, finance, deals network
    assert len(parsed.imgs) >= 6
    for img in parsed.imgs:
        assert img.get("alt"), "every figure has alternative text"
        px = _decode_png(img["src"])
        h, w = px.shape[:2]
        assert h >= 300 and w >= 500, (img["alt"], px.shape)
        # a figure, not a blank canvas: many pixels differ from the background
        assert (px[..., :3].std(axis=2) + np.abs(px[..., :3] - 1.0).sum(axis=2) > 0.1).mean() > 0.02, img["alt"]


def test_report_is_self_contained(single_report):
    _, text = single_report
    parsed = _parse(text)
    _no_external_urls(text, parsed)
    # in-page navigation only
    assert all(a.get("href", "#").startswith("#") for t, a in parsed.attrs if t == "a")


def test_report_summary_table_at_milestone_years(single_report, run_dirs):
    _, text = single_report
    table = _summary_table(_parse(text))
    # the run covers 2024-2027: milestone years 2024, 2025 and 2027, not 2026 nor 2030
    assert table[0] == ["metric", "unit", "2024", "2025", "2027"]
    rows = {r[0]: r[1:] for r in table[1:]}
    model = pd.read_parquet(run_dirs[0] / "model.parquet")
    dec = model.set_index("date")
    for label, col, fmt in (("Frontier capability, ece", "frontier_ece", "{:.2f}"),
                            ("HHI of installed compute (labs)", "hhi_compute", "{:,.0f}"),
                            ("Startups alive", "startups_alive", "{:,.0f}")):
        assert label in rows, sorted(rows)
        assert rows[label][1:] == [fmt.format(dec.loc[f"{y}-12", col]) for y in (2024, 2025, 2027)]
    # every headline metric of the model table has a row and no cell says nan
    assert len(table) - 1 == len(H.available(H.add_derived(model)))
    assert not any("nan" in c.lower() for r in table for c in r)


def test_report_shows_parameters_and_question(single_report, run_dirs):
    _, text = single_report
    manifest = json.loads((run_dirs[0] / "manifest.json").read_text())
    plain = " ".join(_parse(text).text)
    assert manifest["parameters"]["question"] in plain
    assert "Scenario parameters" in plain
    # every resolved parameter is listed with its value
    for key, value in (("scaling.law", manifest["parameters"]["scaling"]["law"]),
                       ("hardware.h100_price_usd", f"{manifest['parameters']['hardware']['h100_price_usd']:.6g}")):
        assert re.search(rf"<code>{re.escape(key)}</code></td><td[^>]*>{re.escape(str(value))}<", text), key
    assert len(re.findall(r"<code>[a-z_]+\.[^<]+</code>", text)) >= len(manifest["parameter_origin"])


def test_best_open_score_is_the_best_open_labs_score(run_dirs):
    # the model table has the best open model's ece only; the reader adds its score from the
    # open-weight labs' rows of agents.parquet (the same lab: ece and score both fall with loss)
    model = load_runs(run_dirs[0]).model.set_index("date")
    agents = pd.read_parquet(run_dirs[0] / "agents.parquet")
    labs = agents[(agents["agent_type"] == "lab") & (agents["open_weights"].astype(str) == "True")]
    best = labs.loc[labs.groupby("date")["model_ece"].idxmax()].set_index("date")
    np.testing.assert_allclose(best["model_ece"], model.loc[best.index, "best_open_ece"])
    np.testing.assert_allclose(best["model_score"], model.loc[best.index, "best_open_score"])
    closed_ahead = model["open_gap_ece"] > 1e-9
    assert closed_ahead.any()
    assert (model.loc[closed_ahead, "best_open_score"] < model.loc[closed_ahead, "frontier_score"]).all()


# =========================================================================================
# errors a user can cause
# =========================================================================================
def _listing(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


@pytest.mark.parametrize("command", ["report", "compare"])
def test_non_run_directory_exit_2_one_line_nothing_written(tmp_path, capsys, command, run_dirs, monkeypatch):
    bad = tmp_path / "not-a-run"
    bad.mkdir()
    (bad / "notes.txt").write_text("hello")
    monkeypatch.chdir(tmp_path)
    before = _listing(tmp_path)
    argv = ["report", str(bad)] if command == "report" else ["compare", str(run_dirs[0]), str(bad)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert str(bad) in err and "expected" in err and "model.parquet" in err
    assert _listing(tmp_path) == before  # no report.html, compare.html or temporary file
    assert not (run_dirs[0] / "compare.html").exists()


def test_missing_directory_and_bad_out(tmp_path, capsys, run_dirs):
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such directory" in err
    assert main(["report", str(run_dirs[0]), "--out", str(tmp_path / "missing" / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist; expected an existing directory" in err
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("command", ["report", "compare"])
@pytest.mark.parametrize("out,needle", [("afile/x.html", "afile is not a directory"),
                                        ("/proc/frontiersim-test.html", "cannot write in /proc"),
                                        ("", "--out '': is empty; expected an HTML file path")])
def test_out_that_cannot_be_written_is_one_line_before_reading(tmp_path, capsys, monkeypatch, run_dirs, command,
                                                              out, needle):
    import analysis.report as AR

    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("f")
    monkeypatch.setattr(AR, "load_runs", lambda *a, **k: pytest.fail("read the runs before refusing --out"))
    dirs = [str(run_dirs[0])] if command == "report" else [str(run_dirs[0]), str(run_dirs[1])]
    assert main([command, *dirs, "--workers", "1", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("frontiersim: error: ") and needle in err, err
    assert _listing(tmp_path) == ["afile"]


def test_scalars_only_ensemble_is_a_clear_error(tmp_path):
    (tmp_path / "runs").mkdir()
    pd.DataFrame({"run": [0], "seed": [1], "frontier_ece_2030": [30.0]}).to_parquet(tmp_path / "runs" / "part-00000.parquet")
    with pytest.raises(RunDirError) as e:
        load_runs(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "part-00000.parquet" in msg and "--scalars-only" in msg


# =========================================================================================
# comparison
# =========================================================================================
def test_compare_needs_at_least_two_directories(run_dirs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv, got in ((["compare", str(run_dirs[0])], f"got only {run_dirs[0]}"), (["compare"], "got none")):
        assert main(argv) == 2  # (argparse used to exit: 'required: DIR_B, DIR', DIR being optional)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "expected at least two run or ensemble directories" in err and got in err, err
        assert "DIR_B, DIR" not in err and "required" not in err
    assert list(tmp_path.iterdir()) == []  # no compare.html


def test_compare_two_runs(run_dirs, tmp_path, capsys):
    a, b = run_dirs
    out = tmp_path / "cmp.html"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    parsed = _parse(text)
    _no_external_urls(text, parsed)
    model_a = H.add_derived(pd.read_parquet(a / "model.parquet"))
    model_b = pd.read_parquet(b / "model.parquet").set_index("date")
    # one figure per headline metric, each decodes
    metrics = H.available(model_a)
    assert [i["alt"] for i in parsed.imgs] == [m.label for m in metrics]
    for img in parsed.imgs[:3]:
        assert _decode_png(img["src"]).shape[0] >= 300
    # both runs are the same scenario: labels fall back to the directory names
    assert "baseline (baseline-seed0)" in text and "baseline (baseline-seed1)" in text
    # a table per milestone year, with B's value and the difference B - A
    years = [t for t in parsed.tables if t and t[0][:3] == ["metric", "unit", "baseline (baseline-seed0)"]]
    assert len(years) == 3  # 2024, 2025, 2027
    row = next(r for r in years[-1] if r[0] == "Frontier capability, ece")
    va, vb = model_a.set_index("date").loc["2027-12", "frontier_ece"], model_b.loc["2027-12", "frontier_ece"]
    assert row[2] == f"{va:.2f}" and row[3] == f"{vb:.2f}"
    d = f"{vb - va:.2f}"
    assert row[4] in (d, "+" + d, d.lstrip("-"))
    assert row[5] == "\u2013"  # no relative difference for a log measure
    row = next(r for r in years[-1] if r[0] == "Startups alive")
    sa, sb = model_a.set_index("date").loc["2027-12", "startups_alive"], model_b.loc["2027-12", "startups_alive"]
    assert row[5] == (f"{100 * (sb - sa) / sa:+,.1f}%")


# =========================================================================================
# ensembles: both layouts read to the same long table; reports show medians and bands
# =========================================================================================
@pytest.fixture(scope="module")
def ensembles(run_dirs, tmp_path_factory):
    import shutil

    root = tmp_path_factory.mktemp("ens")
    sub = root / "subdirs"
    for i, d in enumerate(run_dirs):
        shutil.copytree(d, sub / f"seed{i}")
    parts = root / "parts"
    (parts / "runs").mkdir(parents=True)
    for i, d in enumerate(run_dirs):
        m = pd.read_parquet(d / "model.parquet")
        m.insert(0, "seed", i)
        m.insert(0, "run", i)
        m.to_parquet(parts / "runs" / f"part-{i:05d}.parquet")
    (parts / "manifest.json").write_text(json.dumps({"kind": "ensemble", "scenario": "baseline", "n_runs": 2,
                                                     "parameters": json.loads((run_dirs[0] / "manifest.json").read_text())["parameters"]}))
    return sub, parts


def test_ensemble_layouts_read_alike(ensembles, run_dirs):
    sub, parts = ensembles
    rs_sub, rs_parts = load_runs(sub), load_runs(parts)
    single = load_runs(run_dirs[0])
    assert single.kind == "run" and single.n_runs == 1
    for rs in (rs_sub, rs_parts):
        assert rs.kind == "ensemble" and rs.n_runs == 2 and rs.scenario == "baseline"
        assert list(rs.model.columns[:1]) == ["run"]
        assert len(rs.model) == 2 * len(single.model)
    cols = ["frontier_ece", "hhi_revenue", "startups_alive"]
    pd.testing.assert_frame_equal(rs_sub.model[cols].reset_index(drop=True), rs_parts.model[cols].reset_index(drop=True))
    # the band contains both runs and the median lies between them
    q = H.bands(rs_parts.model, cols)
    by_run = [g.set_index(pd.to_datetime(g["date"]))[cols] for _, g in rs_parts.model.groupby("run")]
    lo, hi = np.minimum(*[r.to_numpy() for r in by_run]), np.maximum(*[r.to_numpy() for r in by_run])
    assert (q[0.05].to_numpy() >= lo - 1e-9).all() and (q[0.95].to_numpy() <= hi + 1e-9).all()
    assert (q[0.5].to_numpy() == pytest.approx((lo + hi) / 2))


def test_ensemble_report_medians_and_bands(ensembles, tmp_path):
    from analysis.report import write_report

    _, parts = ensembles
    out = write_report(parts, tmp_path / "ens.html")
    text = out.read_text(encoding="utf-8")
    parsed = _parse(text)
    _no_external_urls(text, parsed)
    assert "Median across 2 runs" in text
    table = _summary_table(parsed)
    assert all(re.search(r"\[.+\u2013.+\]", c) for c in table[1][2:])  # median [p5 - p95] in each year
    assert len(parsed.imgs) >= 5
    for img in parsed.imgs:
        _decode_png(img["src"])


def test_plots_draw_bands_and_guideline_lines(ensembles):
    from matplotlib.collections import PolyCollection

    from analysis import plots as P

    sub, _ = ensembles
    df = H.add_derived(load_runs(sub).model)
    fig = P.capability(df, "baseline", 1000.0)
    assert any(isinstance(c, PolyCollection) for a in fig.axes for c in a.collections)  # 5-95% band
    fig = P.concentration(df.query("run == 'seed0'"))
    hhi_ax = fig.axes[0]
    levels = {round(float(line.get_ydata()[0])) for line in hhi_ax.lines if len(set(line.get_ydata())) == 1}
    assert {1500, 2500} <= levels
    assert not any(isinstance(c, PolyCollection) for c in hhi_ax.collections)  # one run: no band
    for a in fig.axes[:2]:
        assert a.get_xlabel() and a.get_ylabel() and a.get_title()


# =========================================================================================
# the deals network figure's aggregation
# =========================================================================================
def test_deals_aggregation_sums_parallel_edges_and_finds_circular_pairs():
    import networkx as nx

    from analysis.plots import aggregate_deals

    g = nx.MultiDiGraph()
    g.add_edge("supplier:inc", "lab:a", kind="equity_investment", amount_usd=10.0)
    g.add_edge("lab:a", "supplier:inc", kind="chip_sale", amount_usd=4.0)
    g.add_edge("lab:a", "supplier:inc", kind="chip_sale", amount_usd=5.0)
    g.add_edge("lab:a", "startup:1", kind="acquisition", amount_usd=0.0)
    g.add_edge("lab:a", "startup:2", kind="acquisition", amount_usd=0.0)
    g.add_edge("lab:b", "supplier:inc", kind="chip_sale", amount_usd=1.0)
    g.add_edge("ext:x", "lab:z", kind="equity_investment", amount_usd=99.0)  # a smaller component
    e, circular, merged = aggregate_deals(g)
    assert circular == [("supplier:inc", "lab:a")]
    assert merged == {"startup": 2}
    rows = {(r.src, r.dst, r.kind): (r.amount_usd, r.deals) for r in e.itertuples()}
    assert rows[("lab:a", "supplier:inc", "chip_sale")] == (9.0, 2)
    assert rows[("lab:a", "startups (2)", "acquisition")] == (0.0, 2)
    assert not any("lab:z" in k for k in rows)
    empty, none, _ = aggregate_deals(nx.MultiDiGraph())
    assert empty.empty and none == []


# =========================================================================================
# edge cases: no startups left, empty populations, runs without some columns
# =========================================================================================
def test_metrics_on_empty_populations_are_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in (hhi, cr_n, gini, effective_number, hhi_equivalent_number):
            assert np.isnan(fn(np.array([])))
        assert np.isnan(quantile_or_nan(np.array([]), 0.5))
        assert np.isnan(quantile_or_nan(np.array([]), [0.05, 0.5, 0.95])).all()


def test_summary_of_a_run_with_no_startups_left():
    months = pd.date_range("2024-01", "2025-12", freq="MS").strftime("%Y-%m")
    n = len(months)
    df = pd.DataFrame({"run": "r", "date": months, "frontier_ece": np.linspace(26, 27, n),
                       "median_ece": np.nan, "startups_alive": 0, "startups_entered": 0,
                       "hhi_revenue": np.nan, "revenue_usd": 1e9})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = H.add_derived(df)
        sf = __import__("analysis.report", fromlist=["summary_frame"]).summary_frame(d)
        q = H.bands(d, ["median_ece", "startups_alive"])
    assert sf.loc[("startups_alive", 2025), "p50"] == 0
    assert sf.loc[("frontier_ece", 2025), "p50"] == pytest.approx(27.0)
    assert q[0.5]["median_ece"].isna().all()
    # columns that hold no number are left out rather than shown as NaN
    assert "median_ece" not in sf.index.get_level_values(0)
    assert H.fmt_number(np.nan) == "\u2013" and H.fmt_number(0.0) == "0"


def test_report_command_keeps_matplotlib_out_of_run():
    # what 'frontiersim run' imports of this package: the command registration
    code = ("import argparse, sys, sim.cli, analysis.commands; "
            "analysis.commands.register(argparse.ArgumentParser().add_subparsers()); "
            "print(any(m == 'matplotlib' or m.startswith('matplotlib.') for m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


# =========================================================================================
# figures drawn in several processes
# =========================================================================================
def _png_chunks(png: bytes) -> list[tuple[str, bytes]]:
    """A PNG's chunks as (type, data), in file order."""
    import struct

    out, i = [], 8  # after the signature
    while i + 8 <= len(png):
        n, kind = struct.unpack(">I4s", png[i:i + 8])
        out.append((kind.decode("latin-1"), png[i + 8:i + 8 + n]))
        i += 12 + n
    return out


def _explain_mismatch(a: str, b: str, what: str, where: Path) -> str:
    """Why two report texts differ: the text outside the figures, or which images, with their
    differing PNG chunks (tEXt metadata, IHDR size, IDAT pixels); the PNGs are written to
    ``where`` to be looked at."""
    pa, pb = _parse(a), _parse(b)
    if len(pa.imgs) != len(pb.imgs):
        return f"{what}: {len(pa.imgs)} images against {len(pb.imgs)}"
    lines = []
    if re.sub(r'src="data:[^"]*"', "", a) != re.sub(r'src="data:[^"]*"', "", b):
        lines.append("the text outside the figures differs")
    where.mkdir(parents=True, exist_ok=True)
    for i, (x, y) in enumerate(zip(pa.imgs, pb.imgs)):
        if x["src"] == y["src"]:
            continue
        xa, ya = (base64.b64decode(d["src"].split(",", 1)[1]) for d in (x, y))
        for png, side in ((xa, "a"), (ya, "b")):
            (where / f"{what}-{i}-{side}.png").write_bytes(png)
        ca, cb = _png_chunks(xa), _png_chunks(ya)
        kinds = sorted({k for k, _ in ca} | {k for k, _ in cb})
        differ = [k for k in kinds if [d for t, d in ca if t == k] != [d for t, d in cb if t == k]]
        lines.append(f"image {i} ({x.get('alt')}): chunks {', '.join(differ)} differ "
                     f"({len(xa):,} against {len(ya):,} bytes)")
    return f"{what} (PNGs in {where}): " + "; ".join(lines)


def test_report_and_comparison_are_the_same_drawn_by_one_or_two_processes(run_dirs, single_report, tmp_path):
    from analysis.report import comparison_html, report_html

    def undated(text: str) -> str:
        return re.sub(r"Generated [^<]* by frontiersim", "Generated by frontiersim", text)

    rs = load_runs(run_dirs[0])
    one, two = undated(report_html(rs, workers=1)), undated(report_html(rs, workers=2))
    assert two == one, _explain_mismatch(one, two, "report", tmp_path)  # every PNG byte, in the same places
    assert len(_parse(one).imgs) == 6  # five figures and the deals network
    single = undated(single_report[1])
    assert single == one, _explain_mismatch(single, one, "written-report", tmp_path)
    sets = [rs, load_runs(run_dirs[1])]
    c1, c2 = undated(comparison_html(sets, workers=1)), undated(comparison_html(sets, workers=2))
    assert c2 == c1, _explain_mismatch(c1, c2, "comparison", tmp_path)


# =========================================================================================
# directories of unrelated runs, interrupted ensembles
# =========================================================================================
def _with_parameter(src: Path, dst: Path, key: str, value, scenario: str | None = None) -> Path:
    """A copy of run directory ``src`` whose manifest records another value of one parameter."""
    import shutil

    shutil.copytree(src, dst)
    m = json.loads((dst / "manifest.json").read_text())
    section, name = key.split(".")
    m["parameters"][section][name] = value
    if scenario:
        m["scenario"] = m["parameters"]["name"] = scenario
    (dst / "manifest.json").write_text(json.dumps(m))
    return dst


def test_report_refuses_a_directory_of_different_scenarios(run_dirs, tmp_path, capsys):
    import shutil

    d = tmp_path / "mixed"
    shutil.copytree(run_dirs[0], d / "b0")
    shutil.copytree(run_dirs[1], d / "b1")  # another seed of the same scenario: fine alone
    assert load_runs(d).n_runs == 2
    _with_parameter(run_dirs[0], d / "wall", "data.public_tokens", 1e14, scenario="data-wall")
    before = _listing(d)
    assert main(["report", str(d), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("frontiersim: error: ")
    assert "b0 (baseline) and wall (data-wall) differ in data.public_tokens" in err and "1e+14" in err
    assert "differ only in the seed" in err and "frontiersim compare" in err
    assert _listing(d) == before  # no report written


def test_report_refuses_a_directory_of_different_horizons(run_dirs, tmp_path, capsys):
    import shutil

    d = tmp_path / "horizons"
    shutil.copytree(run_dirs[0], d / "long")
    short = d / "short"
    shutil.copytree(run_dirs[1], short)
    m = pd.read_parquet(short / "model.parquet")
    m[m["date"] <= "2025-12"].to_parquet(short / "model.parquet")  # as a run with --end 2025-12
    assert main(["report", str(d), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "long and short differ in horizon (2024-01..2027-12 vs 2024-01..2025-12)" in err
    assert not (d / "report.html").exists()


def test_report_of_an_interrupted_ensemble_says_how_many_runs(ensembles, tmp_path):
    import shutil

    from analysis.report import write_report

    _, parts = ensembles
    d = tmp_path / "interrupted"
    shutil.copytree(parts, d)
    m = json.loads((d / "manifest.json").read_text())
    (d / "manifest.json").write_text(json.dumps({**m, "n_runs": 3}))  # one run never written
    rs = load_runs(d)
    assert rs.n_runs == 2 and rs.planned_runs == 3 and rs.runs_label == "2 of 3 runs"
    text = write_report(d, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Median across 2 of 3 runs" in text and "ensemble of 2 of 3 runs" in text
    assert "Incomplete ensemble: 2 of 3 runs." in text
    # a complete ensemble says neither
    text = write_report(parts, tmp_path / "c.html").read_text(encoding="utf-8")
    assert "Median across 2 runs" in text and "ensemble of 2 runs" in text and "Incomplete" not in text
