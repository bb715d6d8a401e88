"""The data dictionary (analysis/columns.py, docs/OUTPUTS.md) documents exactly the columns that
runs of the named scenarios write: every column a run writes is documented, and every documented
column, event kind and deal kind occurs in some run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from analysis import columns as C
from scenarios.loader import named_scenarios
from sim.deals import write_graphml

ROOT = Path(__file__).resolve().parents[1]

#: each named scenario's horizon: short, but long enough for the rarer outputs (seed 0): a lab
#: exit (backcast, 2020-03), a policy switching off (bubble-burst, 2028-01), a data licence
#: (data-wall, 2029-02) and each scenario's events (2025-01, 2026-01)
HORIZON = {
    "backcast": "2020-06", "baseline": "2025-06", "bubble-burst": "2028-01", "compute-cap": "2026-01",
    "data-wall": "2029-02", "efficiency-shock": "2025-01", "energy-crunch": "2025-06",
    "export-controls": "2025-01", "meek-limit": "2025-06", "open-weights": "2025-01",
}


@pytest.fixture(scope="module")
def runs(run_cached):
    return {name: run_cached(name, 0, end) for name, end in HORIZON.items()}


def present(df, key: str) -> dict[str, set[str]]:
    """For each value of column ``key``: the columns its rows fill (not all empty)."""
    return {k: set(g.dropna(axis=1, how="all").columns) for k, g in df.groupby(key)}


def test_every_named_scenario_is_checked():
    assert set(HORIZON) == set(named_scenarios())


def test_outputs_md_is_what_the_dictionary_generates():
    text = (ROOT / "docs/OUTPUTS.md").read_text(encoding="utf-8")
    assert text == C.markdown(), "docs/OUTPUTS.md is stale: run python -m analysis.columns > docs/OUTPUTS.md"


def test_model_columns_are_the_documented_ones(runs):
    for name, res in runs.items():
        doc = C.MEEK_MODEL if res.scenario.meek_limit.enabled else C.MODEL
        expected = C.expand(doc, regions=list(res.scenario.grids))
        assert sorted(res.model.columns) == sorted(expected), name


def test_agent_columns_are_the_documented_ones(runs):
    keys = C.expand(C.AGENT_KEYS)
    seen: dict[str, set[str]] = {}
    for name, res in runs.items():
        if res.scenario.meek_limit.enabled:
            assert res.agents.empty, name
            continue
        for kind, cols in present(res.agents, "agent_type").items():
            assert kind in C.AGENTS, f"{name}: undocumented agent type {kind!r}"
            doc = set(keys + C.expand(C.AGENTS[kind], items=C.INCOME_ITEMS.get(kind, ())))
            assert cols <= doc, f"{name}, {kind} rows: undocumented columns {sorted(cols - doc)}"
            seen.setdefault(kind, set()).update(cols)
    for kind, cols in C.AGENTS.items():
        doc = set(keys + C.expand(cols, items=C.INCOME_ITEMS.get(kind, ())))
        assert doc - seen.get(kind, set()) == set(), f"{kind} rows: documented columns no run fills"


@pytest.mark.parametrize("table, keys, kinds, key", [
    ("events", C.EVENT_KEYS, C.EVENTS, "event"), ("deals", C.DEAL_KEYS, C.DEALS, "kind")])
def test_event_and_deal_kinds_and_fields_are_the_documented_ones(runs, table, keys, kinds, key):
    seen: dict[str, set[str]] = {}
    for name, res in runs.items():
        df = getattr(res, table)
        assert set(C.expand(keys)) <= set(df.columns), name
        for kind, cols in present(df, key).items():
            assert kind in kinds, f"{name}: undocumented {table} kind {kind!r}"
            doc = set(C.expand(keys + kinds[kind][1]))
            assert cols <= doc, f"{name}, {kind}: undocumented fields {sorted(cols - doc)}"
            seen.setdefault(kind, set()).update(cols)
    for kind, (_, fields) in kinds.items():
        assert set(C.expand(keys + fields)) == seen.get(kind, set()), f"{table} {kind}: documented but never written"


def test_graphml_attributes_are_the_documented_ones(runs, tmp_path):
    path = tmp_path / "deals.graphml"
    write_graphml(runs["baseline"].deals, path)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    root = ET.parse(path).getroot()
    attrs = {f: {k.get("attr.name") for k in root.findall("g:key", ns) if k.get("for") == f} for f in ("node", "edge")}
    edge = root.find("g:graph/g:edge", ns)
    assert {"id"} | attrs["node"] == set(C.expand(C.GRAPHML_NODES))
    assert {"source", "target"} | attrs["edge"] == set(C.expand(C.GRAPHML_EDGES))
    assert {"source", "target"} <= set(edge.keys())
