"""The deals network's GraphML file is exactly what networkx writes for the same graph."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest

from sim.deals import build_graph, write_graphml


def _nx_bytes(deals: pd.DataFrame, path) -> bytes:
    nx.write_graphml(build_graph(deals), path)
    return path.read_bytes()


def test_graphml_is_byte_for_byte_networkx_on_a_run(run_cached, tmp_path):
    deals = run_cached("baseline", 0, "2027-12").deals
    assert len(deals) > 100 and deals.duplicated(["src", "dst"]).any()  # repeated pairs get keys 0, 1, ...
    write_graphml(deals, tmp_path / "ours.graphml")
    assert (tmp_path / "ours.graphml").read_bytes() == _nx_bytes(deals, tmp_path / "nx.graphml")


@pytest.mark.parametrize("as_arrow", [False, True])
def test_graphml_escapes_and_orders_like_networkx(tmp_path, as_arrow):
    # payees paid before they pay, a pair paid twice with another pair in between, markup
    # characters and non-ASCII in names and kinds, amounts that print in exponent form
    deals = pd.DataFrame({
        "month": ["2024-01", "2024-01", "2024-02", "2024-02", "2024-03", "2024-03"],
        "src": ["lab:a&b", "cloud", "lab:a&b", "supplier:\"x\"", "lab:a&b", "startup:7"],
        "dst": ["cloud", "supplier:\"x\"", "grid:<eu>", "lab:a&b", "cloud", "lab:é"],
        "kind": ["rental", "chip_purchase", "energy<>", "equity_investment", "rental", "acquisition"],
        "amount_usd": [1.5e9, 2.0, 1e-7, 3.25e21, 0.1 + 0.2, 7.0],
    })
    if as_arrow:
        deals = deals.astype({c: "string[pyarrow]" for c in ("month", "src", "dst", "kind")})
    write_graphml(deals, tmp_path / "ours.graphml")
    assert (tmp_path / "ours.graphml").read_bytes() == _nx_bytes(deals, tmp_path / "nx.graphml")
    g = nx.read_graphml(tmp_path / "ours.graphml")
    assert g.number_of_edges() == len(deals) and g.nodes["lab:é"]["type"] == "lab"


def test_acquisitions_held_as_columns_give_the_table_of_rows(monkeypatch, tmp_path):
    """With many startups a month's acquisitions are kept as columns (DealColumns) instead of a
    dict per deal. The deals table and its GraphML are exactly those of the same deals as rows."""
    import sim.model as model_module
    from sim.model import DealColumns
    from sim.run import run_model, run_scenario

    args = ("baseline", {"startups.initial": 20_000})
    kw = dict(seed=2, end="2026-06", tables=("model", "deals"))
    as_columns = run_scenario(*args, **kw).deals
    monkeypatch.setattr(model_module, "DEAL_COLUMNS_MIN", 10**9)
    as_rows = run_scenario(*args, **kw).deals
    monkeypatch.undo()
    pd.testing.assert_frame_equal(as_columns, as_rows, check_exact=True)
    assert (as_rows["kind"] == "acquisition").sum() > 1_000 and as_rows["startup"].notna().any()
    write_graphml(as_columns, tmp_path / "a.graphml")
    write_graphml(as_rows, tmp_path / "b.graphml")
    assert (tmp_path / "a.graphml").read_bytes() == (tmp_path / "b.graphml").read_bytes()
    # the run held its later months' acquisitions as columns (34-57 a month in 2024, 76-100 from
    # late 2025), its earlier ones as rows
    from sim.run import resolve_scenario

    m = run_model(resolve_scenario(*args, None, kw["end"])[0], seed=2)
    blocks = [d for d in m.deals if isinstance(d, DealColumns)]
    assert 3 <= len(blocks) < 30 and all(len(b) >= model_module.DEAL_COLUMNS_MIN for b in blocks)
    assert sum(1 for d in m.deals if isinstance(d, dict) and d["kind"] == "acquisition") > 500
    only_blocks = model_module.deals_frame(blocks)
    assert list(only_blocks.columns) == ["month", "src", "dst", "kind", "amount_usd", "startup"]
    assert only_blocks["startup"].dtype == "int64" and len(only_blocks) == sum(len(b) for b in blocks)
    assert list(model_module.deals_frame([]).columns) == model_module.DEAL_COLUMNS
