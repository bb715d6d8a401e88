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
