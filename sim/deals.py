"""The deals network: every chip sale, investment, cloud rental, acquisition and data licence as
an edge (payer -> payee, with month and amount) of a networkx multi-digraph, written as GraphML."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import networkx as nx
# networkx itself is imported where a graph is built: writing a run's deals (write_graphml)
# streams GraphML as text, so a run never loads it (~0.2 s; see sim/mesa_import.py)


def node_type(key: str) -> str:
    return key.split(":", 1)[0] if ":" in key else key


def build_graph(deals: pd.DataFrame) -> nx.MultiDiGraph:
    import networkx as nx

    g = nx.MultiDiGraph()
    if deals is None or deals.empty:
        return g
    g.add_nodes_from((node, {"type": node_type(node)}) for node in pd.unique(pd.concat([deals["src"], deals["dst"]])))
    # the same edges, keys and attribute order as one add_edge per row, without the per-row overhead
    g.add_edges_from((s, d, {"kind": k, "month": str(m), "amount_usd": float(a)}) for s, d, k, m, a in zip(
        deals["src"].tolist(), deals["dst"].tolist(), deals["kind"].tolist(), deals["month"].tolist(), deals["amount_usd"].tolist()))
    return g


def circular_pairs(g: nx.MultiDiGraph) -> list[tuple[str, str]]:
    """(investor, lab) pairs where the investor funded the lab and the lab paid the investor back."""
    out = []
    for u, v, d in g.edges(data=True):
        if d.get("kind") == "equity_investment" and node_type(u) in ("supplier", "cloud") and g.has_edge(v, u):
            out.append((u, v))
    return sorted(set(out))


_GRAPHML_ROOT = ('<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                 'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">')


def write_graphml(deals: pd.DataFrame, path: Path) -> None:
    """Write the deals graph as GraphML: byte for byte what ``nx.write_graphml(build_graph(deals))``
    writes (node ``type``, edge ``kind``, ``month``, ``amount_usd``; pretty-printed, UTF-8),
    streamed as text instead of through a networkx graph and an ElementTree of every edge.

    The order is the graph's: nodes as first seen (payers, then payees), and the edges of each
    payer grouped by payee in the order each payee was first paid, keyed 0, 1, ... per pair.
    """
    try:  # ElementTree's own escaping, as nx.write_graphml uses (private names: fall back if gone)
        from xml.etree.ElementTree import _escape_attrib as ea, _escape_cdata as ec
    except ImportError:
        ea = ec = None
    if ea is None or deals is None or deals.empty or str(path).endswith((".gz", ".bz2")):
        import networkx as nx

        nx.write_graphml(build_graph(deals), path)
        return

    # nodes as first seen (payers, then payees), and each row's payer and payee as node numbers
    n = len(deals)
    codes, nodes = pd.factorize(pd.concat([deals["src"], deals["dst"]], ignore_index=True), use_na_sentinel=False)
    src, dst, nodes = codes[:n], codes[n:], nodes.tolist()
    # the edges in the graph's order: by payer, then by payee in the order first paid (pairs
    # numbered as first seen), then as in the table (lexsort is stable); keyed 0, 1, ... per pair
    pair, _ = pd.factorize(src.astype(np.int64) * len(nodes) + dst)
    key = pd.Series(pair).groupby(pair).cumcount().to_numpy()
    order = np.lexsort((pair, src))
    # the few kinds and months are escaped once each
    kinds, kind_names = pd.factorize(deals["kind"], use_na_sentinel=False)
    months, month_names = pd.factorize(deals["month"], use_na_sentinel=False)
    kind_text = [ec(str(k)) for k in kind_names]
    month_text = [ec(str(m)) for m in month_names]
    ids = [ea(str(node)) for node in nodes]
    out = ["<?xml version='1.0' encoding='utf-8'?>\n", _GRAPHML_ROOT, "\n",
           '  <key id="d3" for="edge" attr.name="amount_usd" attr.type="double" />\n',
           '  <key id="d2" for="edge" attr.name="month" attr.type="string" />\n',
           '  <key id="d1" for="edge" attr.name="kind" attr.type="string" />\n',
           '  <key id="d0" for="node" attr.name="type" attr.type="string" />\n',
           '  <graph edgedefault="directed">\n']
    out += [f'    <node id="{i}">\n      <data key="d0">{ec(node_type(node))}</data>\n    </node>\n'
            for i, node in zip(ids, nodes)]
    out += [f'    <edge source="{ids[u]}" target="{ids[v]}" id="{k}">\n      <data key="d1">{kind_text[kd]}</data>\n'
            f'      <data key="d2">{month_text[mo]}</data>\n      <data key="d3">{a!r}</data>\n    </edge>\n'
            for u, v, k, kd, mo, a in zip(src[order].tolist(), dst[order].tolist(), key[order].tolist(),
                                          kinds[order].tolist(), months[order].tolist(),
                                          deals["amount_usd"].to_numpy(dtype=float)[order].tolist())]
    out.append("  </graph>\n</graphml>\n")
    with open(path, "wb") as fh:
        fh.write("".join(out).encode("utf-8", "xmlcharrefreplace"))
