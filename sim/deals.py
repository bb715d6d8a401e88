"""The deals network: every chip sale, investment, cloud rental, acquisition and data licence as
an edge (payer -> payee, with month and amount) of a networkx multi-digraph, written as GraphML."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pandas as pd


def node_type(key: str) -> str:
    return key.split(":", 1)[0] if ":" in key else key


def build_graph(deals: pd.DataFrame) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    if deals is None or deals.empty:
        return g
    for node in pd.unique(pd.concat([deals["src"], deals["dst"]])):
        g.add_node(node, type=node_type(node))
    for row in deals.itertuples(index=False):
        g.add_edge(row.src, row.dst, kind=row.kind, month=str(row.month), amount_usd=float(row.amount_usd))
    return g


def circular_pairs(g: nx.MultiDiGraph) -> list[tuple[str, str]]:
    """(investor, lab) pairs where the investor funded the lab and the lab paid the investor back."""
    out = []
    for u, v, d in g.edges(data=True):
        if d.get("kind") == "equity_investment" and node_type(u) in ("supplier", "cloud") and g.has_edge(v, u):
            out.append((u, v))
    return sorted(set(out))


def write_graphml(deals: pd.DataFrame, path: Path) -> None:
    nx.write_graphml(build_graph(deals), path)
