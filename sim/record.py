"""One row of model-level metrics and the agent-level rows for the month just simulated."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from agents.lab import held_mw_by_owner
from agents.startups import ALIVE, APP, MODEL
from analysis import metrics as M
from scenarios.schema import index_month
from sim import scaling as S


def meek_reference(model) -> tuple[float, float, float]:
    """Loss, ece and score of the fixed-budget reference trainer ($1,000 of rented compute by
    default, public algorithms). As in Gundlach et al. 2025 its data never bind by default; with
    ``reference.meek_data_unconstrained`` false it trains on the usable public text only."""
    sc = model.sc
    flop = sc.reference.meek_budget_usd / model.rental_price * sc.hardware.h100_flops * sc.scaling.mfu * 3600
    if sc.reference.meek_data_unconstrained:
        L = float(model.law.loss_optimal(flop * model.algos.A_pub))
    else:
        L = float(S.allocate_effective(model.law, flop, model.algos.A_pub, model.data.usable_public_tokens,
                                       sc.scaling.r_star, sc.scaling.r_star_params)[3][0])
    return L, float(model.law.ece(L)), float(S.score(L, sc.scaling.score_chance, sc.scaling.score_k, sc.scaling.score_x0))


def _head_and_tail(head: list, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A float array of ``len(head) + n`` values that starts with ``head``, and a view of its last
    ``n`` values to fill in place: ``np.concatenate([head, tail])`` without copying the tail."""
    out = np.empty(len(head) + n)
    out[: len(head)] = head
    return out, out[len(head):]


#: the frontier model's fields when no lab is active (every lab has left)
_NO_MODEL = SimpleNamespace(flop_phys=np.nan, loss=np.nan, ece=np.nan, score=np.nan, params=np.nan, tokens=np.nan,
                            synthetic_share=np.nan, data_constrained=False)


def startup_rows(st) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (ascending) of the startups alive, and of the app and the model startups among them.

    The records gather startup subsets by row with ``take`` (cheaper than boolean indexing, the
    same values); :meth:`IndustryModel.record` finds the rows once for both kinds of record.
    The startups alive are found from a mask over all rows; the model startups among them from
    the population's rows of model startups (:meth:`StartupPopulation.model_rows`, a few
    percent of the rows), and the apps from the mask with those rows cleared: two passes over
    all rows (a comparison and a ``flatnonzero``) fewer than three masks over the kinds.
    """
    alive = st.status == ALIVE
    models = st.model_rows()
    rows_model = models[alive[models]]
    rows_alive = np.flatnonzero(alive)
    alive[rows_model] = False  # now the apps alive
    return rows_alive, np.flatnonzero(alive), rows_model


def model_row(m, st_rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> dict:
    """The month's model-level metrics; ``st_rows`` as :func:`startup_rows` returns them."""
    sc = m.sc
    labs = m.labs
    active = [l for l in labs if l.active and l.deployed]
    st = m.startups
    rows_alive, rows_app, rows_model = startup_rows(st) if st_rows is None else st_rows
    rows_ms = rows_model[np.isfinite(st.score.take(rows_model))]  # the model startups alive with a score
    # the frontier: the most capable model of an active lab (none once every lab has left: the
    # frontier columns are then NaN and frontier_lab is empty)
    front = max(active, key=lambda l: l.deployed.ece) if active else None
    dep = front.deployed if front is not None else _NO_MODEL
    lab_ece = np.array([l.deployed.ece for l in active])
    ece_all = np.concatenate([lab_ece, st.ece.take(rows_ms)])
    # the startups that left this month (failed, acquired) sold this month, and the model
    # startups among them rented compute and trained this month (before the services market
    # settled their exit): the revenue, training and compute metrics count them with the firms
    # alive (their rows may be gone: st.exits keeps them)
    ex = st.exits
    ex_rev = ex["revenue"]
    ex_model = ex["kind"] == MODEL
    ex_m = np.flatnonzero(ex_model)  # model startups
    ex_ms = np.flatnonzero(ex_model & np.isfinite(ex["score"]))  # model startups with a score
    # the capability serving the median dollar: each provider weighted by its month's revenue,
    # the model startups that left this month included (before the quantiles below may reorder
    # ece_all in place)
    median_ece_by_revenue = M.weighted_quantile_or_nan(
        np.concatenate([ece_all, ex["ece"].take(ex_ms)]),
        np.concatenate([[l.revenue_usd_month for l in active], st.revenue.take(rows_ms), ex_rev.take(ex_ms)]), 0.5)
    score_all = np.concatenate([[l.deployed.score for l in active], st.score.take(rows_ms)])
    q_ece = M.quantile_or_nan(ece_all, (0.1, 0.5), overwrite_input=True)  # (our own arrays)
    q_score = M.quantile_or_nan(score_all, (0.1, 0.5), overwrite_input=True)
    meek_L, meek_ece, meek_score = meek_reference(m)
    opens = [l.deployed for l in labs if l.deployed and l.deployed.open_weights]
    best_open_ece = max((d.ece for d in opens), default=np.nan)
    lab_compute = np.array([l.fleet.total_h100e + l.rented_h100e if l.active else 0.0 for l in labs])
    # compute of the model startups alive and of those that left this month (the rows the Gini
    # uses), element-wise as over all rows
    st_compute_model = (np.concatenate([st.rent_usd.take(rows_model), ex["rent_usd"].take(ex_m)])
                        * m.startup_rent_fraction) / (m.rental_price * 730.5)
    # training FLOP and sales, over the firms that can have any: every other startup row would
    # add a zero, which changes no HHI, CR4 or total (only the rounding of their last bits).
    # Training: the labs', then the model startups alive or leaving this month with a score: half
    # their rented compute, USD / price * h100_flops * mfu * 3600 (computed in place)
    train_all, st_train = _head_and_tail([l.training_flop_month for l in labs], rows_ms.size + ex_ms.size)
    # (mode="clip": numpy buffers a take into ``out`` in its default mode, which checks the rows;
    # they are valid, so clipping changes none)
    st.rent_usd.take(rows_ms, out=st_train[: rows_ms.size], mode="clip")
    st_train[rows_ms.size:] = ex["rent_usd"].take(ex_ms)
    st_train *= 0.5
    st_train *= m.startup_rent_fraction
    st_train /= m.rental_price
    st_train *= sc.hardware.h100_flops
    st_train *= sc.scaling.mfu
    st_train *= 3600
    # sellers to end customers: labs (direct API and acquired apps), the open-weight host, model
    # startups and app startups alive or leaving this month (gross of the API fees they pay on,
    # which are intermediate sales), each a seller of its own
    rev, st_rev = _head_and_tail([l.revenue_usd_month for l in labs] + [m.open_host_revenue],
                                 rows_alive.size + ex_rev.size)
    st.revenue.take(rows_alive, out=st_rev[: rows_alive.size], mode="clip")
    st_rev[rows_alive.size:] = ex_rev
    n_alive = rows_alive.size
    n_alive_model = rows_model.size
    produced = np.array([s.produced_this_month for s in m.suppliers])
    cloud = m.cloud
    installed = sum(l.fleet.total_h100e for l in labs) + cloud.fleet.total_h100e
    stranded = sum(l.stranded_h100e for l in labs) + cloud.stranded_h100e
    capex = sum(l.income["capex"] for l in labs) + cloud.income["capex"]
    incumbent = next((s for s in m.suppliers if s.p.kind == "incumbent"), m.suppliers[0])
    # each with one check and one sum (the arrays are our own: the HHI overwrites them)
    hhi_training, cr4_training, _ = M.hhi_cr_n_total(train_all, 4)
    hhi_revenue, cr4_revenue, revenue_usd = M.hhi_cr_n_total(rev, 4)
    hhi_compute, cr4_compute, lab_h100e = M.hhi_cr_n_total(lab_compute.copy(), 4)  # (the Gini reads it below)
    row = {
        "date": index_month(m.month),
        "frontier_lab": front.lid if front is not None else "",
        "frontier_train_flop": dep.flop_phys,
        "largest_run_flop": max((l.deployed.flop_phys for l in active), default=np.nan),
        "frontier_loss": dep.loss, "frontier_ece": dep.ece, "frontier_score": dep.score,
        "frontier_params": dep.params, "frontier_tokens": dep.tokens,
        "median_ece": q_ece[1], "p10_ece": q_ece[0], "median_score": q_score[1], "p10_score": q_score[0],
        "median_ece_labs": M.quantile_or_nan(lab_ece, 0.5), "median_ece_by_revenue": median_ece_by_revenue,
        "frontier_median_gap_ece": dep.ece - q_ece[1],
        "meek_loss": meek_L, "meek_ece": meek_ece, "meek_score": meek_score,
        "meek_gap_loss": meek_L - dep.loss, "meek_gap_ece": dep.ece - meek_ece,
        "best_open_ece": best_open_ece, "open_gap_ece": dep.ece - best_open_ece if opens else np.nan,
        "hhi_compute": hhi_compute, "cr4_compute": cr4_compute,
        "hhi_training": hhi_training, "cr4_training": cr4_training,
        "hhi_revenue": hhi_revenue, "cr4_revenue": cr4_revenue,
        # (an array takes the metrics' short path, a list the general one: the same bits)
        "hhi_supplier": M.hhi(np.array([sum(s.produced_last_year) for s in m.suppliers], dtype=float)),
        # over the firms that use compute: labs and model startups, alive or leaving this month
        # (app startups rent none)
        "gini_compute": M.gini(np.concatenate([lab_compute, st_compute_model])),
        "installed_h100e": installed, "lab_h100e": lab_h100e, "cloud_h100e": cloud.fleet.total_h100e,
        "produced_h100e": float(produced.sum()), "packaging_ceiling_h100e": m.packaging_ceiling,
        "chip_price_usd": incumbent.price_usd, "rental_price_usd_per_h100e_hr": m.rental_price,
        "stranded_h100e": stranded,
        "mw_used_total": sum(g.used_mw for g in m.grids),
        "mw_capacity_total": sum(g.capacity_mw + g.onsite_total_mw for g in m.grids),
        "public_tokens": m.data.usable_public_tokens, "licensable_tokens_left": m.data.licensable_tokens,
        "synthetic_share": dep.synthetic_share, "frontier_data_constrained": dep.data_constrained,
        "A_pub": m.algos.A_pub,
        "startups_alive": n_alive, "startups_alive_app": rows_app.size,
        "startups_alive_model": n_alive_model,
        "startups_entered": m.startups_entered_month, "startups_failed": m.startups_failed_month,
        "startups_acquired": m.startups_acquired_month,
        "services_spend_usd": m.services_spend_month, "revenue_usd": revenue_usd,
        "lab_revenue_usd": float(sum(l.revenue_usd_month for l in labs)), "unserved_usd": m.unserved_usd,
        "capex_usd": capex, "venture_usd": m.venture_month_usd + m.ledger.flows(kind="seed_round"),
        "parent_capex_usd_per_year": m.parent_capex_usd_per_year(),
        "sentiment": m.sentiment,
        "circular_deal_share": m.circular_share(),
        "labs_active": sum(1 for l in labs if l.active),
    }
    for g in m.grids:
        row[f"mw_used_{g.rid}"] = g.used_mw
        row[f"mw_capacity_{g.rid}"] = g.capacity_mw + g.onsite_total_mw  # grid plus on-site generation
        row[f"mw_onsite_{g.rid}"] = g.onsite_total_mw
        row[f"mw_committed_{g.rid}"] = g.committed_mw
        row[f"mw_queued_{g.rid}"] = g.queued_mw
        row[f"price_usd_per_mwh_{g.rid}"] = g.price_usd_per_mwh
        row[f"moratorium_{g.rid}"] = bool(g.moratorium)
    region_h = {g.rid: 0.0 for g in m.grids}
    for l in labs:
        region_h[l.region] += l.fleet.total_h100e + l.rented_h100e
    for r, v in region_h.items():
        row[f"lab_h100e_{r}"] = v
    return row


#: the columns of each agent type's rows (labs and the cloud then have one per income item)
LAB_COLUMNS = (
    "date", "agent_type", "agent_id", "region", "active", "cash_usd", "fleet_h100e", "energized_h100e",
    "stranded_h100e", "rented_h100e", "mw_held", "mw_used", "book_value_usd", "depreciation_usd", "A",
    "licensed_tokens", "synthetic_tokens", "synthetic_flop", "model_flop", "model_params", "model_tokens", "model_loss",
    "model_ece", "model_score", "open_weights", "training", "run_flop_so_far", "revenue_usd", "valuation_usd",
    "price_usd_per_mtoken", "unpaid_usd",
)
SUPPLIER_COLUMNS = (
    "date", "agent_type", "agent_id", "cash_usd", "capacity_h100e", "produced_h100e", "delivered_h100e",
    "inventory_h100e", "backlog_h100e", "price_usd", "unit_cost_usd", "markup", "sales_usd",
)
GRID_COLUMNS = (
    "date", "agent_type", "agent_id", "cash_usd", "capacity_mw", "committed_mw", "used_mw", "queued_mw",
    "withdrawn_mw", "onsite_mw", "price_usd_per_mwh", "moratorium",
)
CLOUD_COLUMNS = (
    "date", "agent_type", "agent_id", "cash_usd", "fleet_h100e", "energized_h100e", "stranded_h100e",
    "rented_h100e", "mw_held", "rental_price_usd_per_h100e_hr", "unpaid_usd",
)
STARTUP_COLUMNS = (
    "date", "agent_type", "agent_id", "count", "cash_usd", "cash_p10_usd", "cash_p50_usd", "cash_p90_usd",
    "revenue_usd", "model_ece_p50",
)
_with_income_columns: dict[tuple, tuple] = {}


def _columns_with_income(head: tuple, income: dict) -> tuple:
    """``head`` and a column ``income_<item>`` per income item (items can be added during a run)."""
    key = (id(head), *income)  # (head is one of the constant tuples above)
    cols = _with_income_columns.get(key)
    if cols is None:
        cols = _with_income_columns[key] = head + tuple(f"income_{k}" for k in income)
    return cols


def agent_rows(m, st_rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> list[tuple[tuple, tuple]]:
    """The month's rows of every lab, supplier, grid, the cloud and the two kinds of startup, each
    as a pair (columns, values) (``dict(zip(*row))`` is the row as a dict; :func:`agents_frame`
    makes the table); ``st_rows`` as :func:`startup_rows` returns them."""
    date = index_month(m.month)
    rows = []
    held = held_mw_by_owner(m.grids)
    nan = np.nan
    for l in m.labs:
        d = l.deployed
        run = l.run
        rows.append((_columns_with_income(LAB_COLUMNS, l.income), (
            date, "lab", l.lid, l.region, l.active, l.cash, l.fleet.total_h100e, l.energized_h100e,
            l.stranded_h100e, l.rented_h100e, held[l.owner_index], l.used_mw, l.fleet.book_value_usd,
            l.depreciation_usd, l.A, l.licensed_tokens, l.synthetic_tokens, l.synthetic_flop,
            *((d.flop_phys, d.params, d.tokens, d.loss, d.ece, d.score, bool(d.open_weights)) if d else
              (nan, nan, nan, nan, nan, nan, False)),
            run is not None, run.flop_phys if run else 0.0, l.revenue_usd_month, l.valuation_usd,
            l.price_usd_per_token * 1e6, l.unpaid_usd, *l.income.values(),
        )))
    for s in m.suppliers:
        rows.append((SUPPLIER_COLUMNS, (
            date, "supplier", s.sid, m.ledger.balance(s.account), s.capacity_h100e, s.produced_this_month,
            s.delivered_this_month, s.inventory_h100e, float(m.backlog[s.index].sum()), s.price_usd,
            s.unit_cost_usd, s.markup, s.sales_usd_this_month,
        )))
    for g in m.grids:
        rows.append((GRID_COLUMNS, (
            date, "grid", g.rid, m.ledger.balance(g.account), g.capacity_mw, g.committed_mw, g.used_mw,
            g.queued_mw, float(g.withdrawn_this_month.sum()), g.onsite_total_mw, g.price_usd_per_mwh, bool(g.moratorium),
        )))
    c = m.cloud
    rows.append((_columns_with_income(CLOUD_COLUMNS, c.income), (
        date, "cloud", "cloud", c.cash, c.fleet.total_h100e, c.energized_h100e, c.stranded_h100e,
        c.rented_h100e, held[c.owner_index], m.rental_price, c.unpaid_usd, *c.income.values(),
    )))
    st = m.startups
    _, rows_app, rows_model = startup_rows(st) if st_rows is None else st_rows
    ex = st.exits
    for kind, name, sel in ((APP, "app", rows_app), (MODEL, "model", rows_model)):
        cash = st.cash.take(sel)
        cash_usd = float(cash.sum())  # before the quantiles reorder our copy in place
        q = M.quantile_or_nan(cash, (0.1, 0.5, 0.9), overwrite_input=True)
        # the revenue of those alive and of those that left this month (as the model row's)
        revenue = float(st.revenue.take(sel).sum() + ex["revenue"][ex["kind"] == kind].sum())
        ece_p50 = nan
        if kind == MODEL:  # over the startups with a model (NaN ece: none yet), dropped here: the
            ece = st.ece.take(sel)  # quantile's short path sorts once (the general one sorts again)
            ece_p50 = M.quantile_or_nan(ece[~np.isnan(ece)], 0.5, overwrite_input=True)
        rows.append((STARTUP_COLUMNS, (
            date, "startups", name, sel.size, cash_usd, q[0], q[1], q[2], revenue, ece_p50,
        )))
    return rows


_FLOATS = frozenset({float, np.float64})


def agents_frame(rows: list[tuple[tuple, tuple]]) -> pd.DataFrame:
    """The agents table of :func:`agent_rows`' rows: what ``pd.DataFrame`` makes of the rows as
    dicts (columns in order of first appearance, NaN where a row lacks one; the same dtypes and
    values), built by columns, without pandas inferring most columns' types object by object.

    Rows that share their columns (each agent type's) are transposed together. A column of floats
    only (NaN filling the rows without it) is a float64 array, as pandas would infer; any other
    column (names, flags, counts) is a list of the same objects, for pandas' own inference.
    """
    if not rows:
        return pd.DataFrame([])
    groups: dict[tuple, tuple[list, list]] = {}  # columns -> (row numbers, rows' values)
    for i, (cols, vals) in enumerate(rows):
        g = groups.get(cols)
        if g is None:
            g = groups[cols] = ([], [])
        g[0].append(i)
        g[1].append(vals)
    pieces: dict[str, list] = {}  # column -> (row numbers, values) of each group that has it
    for cols, (at, vals) in groups.items():
        at = np.array(at)
        for c, v in zip(cols, zip(*vals)):
            pieces.setdefault(c, []).append((at, v))
    n = len(rows)
    columns: dict[str, np.ndarray | list] = {}
    for c, ps in pieces.items():
        floats = all(_FLOATS.issuperset(map(type, v)) for _, v in ps)
        col = np.full(n, np.nan, dtype=None if floats else object)
        for at, v in ps:
            col[at] = v  # (into an object array, the objects themselves)
        columns[c] = col if floats else col.tolist()
    return pd.DataFrame(columns)
