"""`frontiersim run`: outputs a user relies on, and one-line errors that leave nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys

import networkx as nx
import pandas as pd
import pytest

from sim.cli import main


def test_run_writes_all_tables_and_manifest(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["run", "baseline", "--seed", "4", "--end", "2025-06", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "frontier FLOP" in printed and "2024" in printed and str(out) in printed
    m = pd.read_parquet(out / "model.parquet")
    assert list(m["date"][:2]) == ["2024-01", "2024-02"] and m["date"].iloc[-1] == "2025-06"
    assert len(m) == 18
    a = pd.read_parquet(out / "agents.parquet")
    assert set(a["agent_type"]) == {"lab", "supplier", "grid", "cloud", "startups"}
    ev = pd.read_parquet(out / "events.parquet")
    assert "training_run_finished" in set(ev["event"])
    g = nx.read_graphml(out / "deals.graphml")
    assert g.number_of_edges() > 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["seed"] == 4 and man["scenario"] == "baseline" and man["end"] == "2025-06"
    assert man["versions"]["mesa"] != "not installed" and man["wall_time_s"] > 0
    assert man["parameters"]["hardware"]["h100_price_usd"] == 27500
    assert man["parameter_origin"]["end"] == "override"
    assert not list(tmp_path.glob(".b.tmp-*"))  # no temporary directory left behind


def test_set_override_reaches_the_model(tmp_path):
    out = tmp_path / "o"
    assert main(["run", "baseline", "--end", "2024-03", "--out", str(out),
                 "--set", "hardware.h100_price_usd=30000"]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["parameters"]["hardware"]["h100_price_usd"] == 30000
    assert pd.read_parquet(out / "model.parquet")["chip_price_usd"].iloc[0] == pytest.approx(30000)


@pytest.mark.parametrize("argv,needle", [
    (["run", "no-such-scenario"], "no such scenario"),
    (["run", "baseline", "--seed", "abc"], "invalid int value"),
    (["run", "baseline", "--end", "2040-13"], "YYYY-MM"),
    (["run", "baseline", "--set", "hardware.no_such_field=3"], "unknown field"),
    (["run", "baseline", "--set", "hardware.h100_price_usd=-5"], "hardware.h100_price_usd"),
    (["run", "baseline", "--end", "2023-01"], "before start"),
])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, argv, needle):
    out = tmp_path / "x"
    p = subprocess.run([sys.executable, "-m", "sim.cli", *argv, "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 2
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert needle in lines[0]
    assert not out.exists()
    assert not list(tmp_path.iterdir())


def test_unreadable_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("this is [not toml")
    out = tmp_path / "x"
    p = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(bad), "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "bad.toml" in p.stderr and "TOML" in p.stderr
    assert not out.exists()


def test_failed_run_leaves_previous_output_intact(tmp_path, monkeypatch):
    """An exception while writing never replaces or corrupts an existing output directory."""
    from sim import run as R

    out = tmp_path / "keep"
    assert main(["run", "baseline", "--end", "2024-02", "--out", str(out)]) == 0
    before = (out / "model.parquet").read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("sim.deals.write_graphml", boom)
    res = R.run_scenario("baseline", end="2024-03")
    with pytest.raises(RuntimeError):
        R.write_outputs(res, out)
    assert (out / "model.parquet").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep"]
