"""The data dictionary of a run's outputs: every column of the ``model``, ``agents``, ``events``
and deals tables and of ``deals.graphml``, with its unit and a one-line meaning.

This module is the one source: ``docs/OUTPUTS.md`` is generated from it
(``python -m analysis.columns > docs/OUTPUTS.md``), and ``tests/test_columns.py`` checks both
against the columns of real runs of every named scenario. A column that exists once per grid
region or per income item is documented once, as a pattern with ``<region>`` or ``<item>`` in
its name; :func:`expand` gives the names a run has.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    unit: str
    meaning: str


#: placeholders in pattern names, and what they stand for
REGION, ITEM = "<region>", "<item>"

# units used below (money is US dollars of 2024, MODEL.md 2)
PER_MONTH = "USD per month"
USD = "USD"  # a stock (a balance, a value) at the month's end, or a one-off amount
FRACTION = "fraction, 0-1"
HHI = "HHI, 0-10,000"
ECE = "log10 FLOP"
SCORE = "score, 0.25-1 by default"  # scaling.score_chance to 1
MONTH = "YYYY-MM"

# ---------------------------------------------------------------------------------------------
# model table (model.parquet), one row per month
# ---------------------------------------------------------------------------------------------
MODEL: tuple[Column, ...] = (
    Column("date", MONTH, "The month of the row."),
    Column("frontier_lab", "lab id", "The active lab whose deployed model has the highest `ece` (the frontier model)."),
    Column("frontier_train_flop", "FLOP", "Physical training compute of the frontier model."),
    Column("largest_run_flop", "FLOP", "Physical training compute of the largest model deployed by an active lab (runs in progress are not counted)."),
    Column("frontier_loss", "nats", "Loss of the frontier model (per token)."),
    Column("frontier_ece", ECE, "Capability of the frontier model as effective compute: log10 of the compute-optimal FLOP that reaches its loss."),
    Column("frontier_score", SCORE, "Capability of the frontier model as a bounded benchmark-like score."),
    Column("frontier_params", "parameters", "Physical parameter count of the frontier model, physical FLOP / (6 x tokens); algorithmic efficiency makes each worth A_i of 2024's (ODD 7.5)."),
    Column("frontier_tokens", "tokens", "Training tokens of the frontier model (repeated tokens counted each time)."),
    Column("median_ece", ECE, "Median `ece` over the deployed models of active labs and the model startups alive with a model. Model startups (about 90-260 in the seed-0 baseline, against 10 labs) decide it, and nearly all of them serve a fine-tune at the best open-weight `ece` minus `startups.model_startup_capability_lag` (an assumption, 1 decade) times a U(0.5, 1.5) draw, so it sits about 1 decade below `best_open_ece` (ODD 7.17)."),
    Column("p10_ece", ECE, "10th percentile of the same `ece` values; set the same way, about 1.4 decades below `best_open_ece` (ODD 7.17)."),
    Column("median_score", SCORE, "Median `score` over the same providers."),
    Column("median_ece_labs", ECE, "Median `ece` over the deployed models of active labs only (interpolated as `median_ece`): the typical firm that trains its own frontier models, which `startups.model_startup_capability_lag` does not set (ODD 7.17)."),
    Column("median_ece_by_revenue", ECE, "Revenue-weighted median `ece` over the same providers as `median_ece` and the model startups with a score that failed or were acquired this month (they sold this month), each weighted by its revenue this month (a lab by `revenue_usd` of its agents row, acquired apps included; a model startup by its own): the smallest `ece` whose providers, with all those below it, earn at least half the total. It is the capability of the model serving the median dollar of these providers' sales to end customers (the open-weight host and app startups are not counted); NaN when their revenue is 0 (ODD 7.17)."),
    Column("p10_score", SCORE, "10th percentile of the same scores."),
    Column("frontier_median_gap_ece", ECE, "`frontier_ece - median_ece`: in effect `open_gap_ece` plus about `startups.model_startup_capability_lag` (an assumption), because the median provider is a model startup serving a fine-tune of the best open model (ODD 7.17)."),
    Column("meek_loss", "nats", "Loss of the meek reference trainer: a fixed budget (`reference.meek_budget_usd`, $1,000) of rented compute at this month's price and public algorithms."),
    Column("meek_ece", ECE, "`ece` of the meek reference trainer."),
    Column("meek_score", SCORE, "`score` of the meek reference trainer."),
    Column("meek_gap_loss", "nats", "`meek_loss - frontier_loss`."),
    Column("meek_gap_ece", ECE, "`frontier_ece - meek_ece`."),
    Column("best_open_ece", ECE, "Highest `ece` of an open-weight model deployed by any lab (released weights stay available after their lab exits); NaN before the first."),
    Column("open_gap_ece", ECE, "`frontier_ece - best_open_ece`; NaN before the first open-weight model."),
    Column("hhi_compute", HHI, "HHI of compute held by labs (owned plus rented H100e; 0 for an exited lab)."),
    Column("cr4_compute", FRACTION, "Share of the four largest labs in the same compute."),
    Column("hhi_training", HHI, "HHI of training compute this month, over labs and the model startups alive with a model."),
    Column("cr4_training", FRACTION, "Share of the four largest in the same training compute."),
    Column("hhi_revenue", HHI, "HHI of sales to end customers this month: labs (API and acquired apps), the open-weight host, model and app startups alive or leaving this month (failed or acquired: each counts its month's sales as a seller of its own; apps at gross revenue)."),
    Column("cr4_revenue", FRACTION, "Share of the four largest sellers in the same revenue."),
    Column("hhi_supplier", HHI, "HHI of chip suppliers' production over the last 12 months."),
    Column("gini_compute", "Gini, 0-1", "Gini of compute over labs (owned plus rented H100e) and model startups alive (H100e rented this month, compute subsidy included); app startups use none."),
    Column("installed_h100e", "H100e", "Chips owned by labs and the cloud at the month's end (suppliers' inventory not included)."),
    Column("lab_h100e", "H100e", "Compute of active labs: owned plus rented from the cloud (rented chips are also in `cloud_h100e`, so `lab_h100e + cloud_h100e` exceeds `installed_h100e`)."),
    Column("cloud_h100e", "H100e", "Chips owned by the cloud pool at the month's end, including those rented out."),
    Column("produced_h100e", "H100e per month", "Chips produced by all suppliers this month."),
    Column("packaging_ceiling_h100e", "H100e per month", "Advanced-packaging limit on all suppliers' production this month."),
    Column("chip_price_usd", "USD per H100e", "Price of the incumbent supplier's current product (the first supplier's if no supplier is `incumbent`)."),
    Column("rental_price_usd_per_h100e_hr", "USD per H100e-hour", "Cloud rental price this month."),
    Column("stranded_h100e", "H100e", "Chips owned by labs and the cloud that had no power this month."),
    Column("mw_used_total", "MW", "Power drawn by AI data centres this month (average load, grid and on-site), summed over regions."),
    Column("mw_capacity_total", "MW", "Grid capacity for data centres plus on-site generation, summed over regions."),
    Column("public_tokens", "tokens", "Usable public human text: the stock after opt-out."),
    Column("licensable_tokens_left", "tokens", "Proprietary tokens still available to license."),
    Column("synthetic_share", FRACTION, "Synthetic share of the tokens the frontier model trained on (of its distinct tokens; repetition repeats all alike). Synthetic tokens are those kept after filtering, `scaling.synthetic_quality` (0.3) of those generated, so this is a share of training tokens, not of generated ones. The collapse threshold and the cap `data.synthetic_max_share` apply to this share (ODD 7.7)."),
    Column("frontier_data_constrained", "flag", "True when the frontier model's run repeated data or trained on more tokens than its lab's unique-equivalent tokens (ODD 4.11)."),
    Column("A_pub", "multiplier", "Public algorithmic efficiency (compute multiplier), 1 at the calibration month (2024-01)."),
    Column("startups_alive", "count", "Startups alive at the month's end."),
    Column("startups_alive_app", "count", "App startups alive at the month's end."),
    Column("startups_alive_model", "count", "Model startups alive at the month's end."),
    Column("startups_entered", "count per month", "Startups founded this month (the seed budget over the seed round size, a Poisson draw)."),
    Column("startups_failed", "count per month", "Startups that failed this month."),
    Column("startups_acquired", "count per month", "Startups acquired by labs this month."),
    Column("services_spend_usd", PER_MONTH, "End customers' spending on AI services this month (direct API use and apps)."),
    Column("revenue_usd", PER_MONTH, "Sales to end customers this month, over the sellers `hhi_revenue` counts."),
    Column("lab_revenue_usd", PER_MONTH, "Labs' revenue this month: API sales to end customers plus the revenue of the apps they acquired (API fees from app startups are not counted)."),
    Column("unserved_usd", PER_MONTH, "Direct spending this month that no provider had the capacity to serve."),
    Column("capex_usd", PER_MONTH, "Labs' and the cloud's spending this month on chips, servers and data-centre facilities."),
    Column("venture_usd", PER_MONTH, "Venture money into startups this month: seed and follow-on rounds (labs' equity rounds are not counted)."),
    Column("parent_capex_usd_per_year", "USD per year", "Parent companies' AI capex, as a yearly rate at this month's level and sentiment; parent-funded labs and the cloud draw monthly shares of it."),
    Column("sentiment", "index, 1 = neutral", "Investor sentiment at the month's end: multiplies valuations, and venture money and parent capex scale with a power of it; mean-reverts to 1 and starts at `finance.sentiment_start` (1)."),
    Column("circular_deal_share", FRACTION, "Money a supplier or the cloud invested in a lab that came back to it as chip purchases or rentals, over all lab funding (parent and equity); cumulative since the start."),
    Column("labs_active", "count", "Labs that have not exited."),
    Column(f"mw_used_{REGION}", "MW", "Power drawn by data centres in the region this month (average load, grid and on-site)."),
    Column(f"mw_capacity_{REGION}", "MW", "Grid capacity for data centres plus on-site generation in the region (the agents table's grid `capacity_mw` excludes on-site)."),
    Column(f"mw_onsite_{REGION}", "MW", "On-site (behind-the-meter) generation of all owners in the region."),
    Column(f"mw_committed_{REGION}", "MW", "Grid MW committed: held by labs and the cloud plus loads outside the model."),
    Column(f"mw_queued_{REGION}", "MW", "Grid MW requested and waiting in the interconnection queue (on-site requests not included)."),
    Column(f"price_usd_per_mwh_{REGION}", "USD per MWh", "Electricity price in the region this month."),
    Column(f"moratorium_{REGION}", "flag", "True while the region accepts no new power requests."),
    Column(f"lab_h100e_{REGION}", "H100e", "Owned plus rented compute of the labs whose home region it is (chips have no location: ODD 2.1)."),
)

#: the model table of the meek-limit mode (`meek_limit.enabled`), which replaces the market model
MEEK_MODEL: tuple[Column, ...] = (
    Column("date", MONTH, "The month of the row."),
    Column("t_years", "years", "Time since the start month."),
    Column("frontier_budget_usd", USD, "Training budget of the growing trainer this month (`start_budget_usd` times `budget_growth` per year): a budget per model, not a monthly flow."),
    Column("meek_budget_usd", USD, "Training budget of the fixed trainer (`start_budget_usd`)."),
    Column("frontier_train_flop", "FLOP", "Compute the growing budget buys this month (not a lab's physical FLOP, as in the market model's table)."),
    Column("meek_train_flop", "FLOP", "Compute the fixed budget buys this month."),
    Column("frontier_loss", "nats", "Loss of the growing trainer."),
    Column("meek_loss", "nats", "Loss of the fixed trainer."),
    Column("meek_gap_loss", "nats", "`meek_loss - frontier_loss`: the loss gap the Meek paper studies."),
    Column("frontier_ece", ECE, "`ece` of the growing trainer."),
    Column("meek_ece", ECE, "`ece` of the fixed trainer."),
    Column("meek_gap_ece", ECE, "`frontier_ece - meek_ece`."),
    Column("A_pub", "multiplier", "Shared algorithmic efficiency, 1 at the start, times `algorithmic_growth` per year."),
    Column("flop_per_usd", "FLOP per USD", "Compute a dollar of rented hardware buys this month (hardware progress only)."),
)

# ---------------------------------------------------------------------------------------------
# agents table (agents.parquet): one row per lab, supplier, grid, the cloud and startup kind a month
# ---------------------------------------------------------------------------------------------
AGENT_KEYS: tuple[Column, ...] = (
    Column("date", MONTH, "The month of the row."),
    Column("agent_type", "text", "`lab`, `supplier`, `grid`, `cloud` or `startups`."),
    Column("agent_id", "id", "The scenario's id of the lab, supplier or grid region; `cloud`; `app` or `model` for the two startup rows."),
)

_INCOME = Column(f"income_{ITEM}", PER_MONTH, "What the owner paid or received this month under one item (all positive; see the items below).")

AGENTS: dict[str, tuple[Column, ...]] = {
    "lab": (
        Column("region", "region id", "The lab's home region."),
        Column("active", "flag", "False once the lab has exited."),
        Column("cash_usd", USD, "Balance of the lab's account at the month's end."),
        Column("fleet_h100e", "H100e", "Chips the lab owns at the month's end."),
        Column("energized_h100e", "H100e", "Owned chips with power this month (counted before the month's retirements: can exceed `fleet_h100e`, ODD 2.3)."),
        Column("stranded_h100e", "H100e", "Owned chips without power this month."),
        Column("rented_h100e", "H100e", "Chips rented from the cloud this month."),
        Column("mw_held", "MW", "Grid and on-site MW the lab holds over all regions."),
        Column("mw_used", "MW", "Power the lab drew this month (average load)."),
        Column("book_value_usd", USD, "Book value of the lab's fleet at the month's end."),
        Column("depreciation_usd", PER_MONTH, "Depreciation of the fleet this month (not a cash flow)."),
        Column("A", "multiplier", "The lab's algorithmic efficiency (compute multiplier; `A_pub` = 1 at the calibration month)."),
        Column("licensed_tokens", "tokens", "Proprietary tokens the lab holds under licence (its starting stock plus what it licensed since)."),
        Column("synthetic_tokens", "tokens", "Synthetic tokens the lab has generated so far (before filtering: `scaling.synthetic_quality` of them are kept and trained on)."),
        Column("synthetic_flop", "FLOP", "Compute the lab spent generating synthetic tokens this month (2 x active parameters per token; zero once its stock covers what its next run can use, ODD 7.7)."),
        Column("model_flop", "FLOP", "Physical training compute of the lab's deployed model (NaN before it has one)."),
        Column("model_params", "parameters", "Physical parameter count of the deployed model, physical FLOP / (6 x tokens) (ODD 7.5)."),
        Column("model_tokens", "tokens", "Training tokens of the deployed model."),
        Column("model_loss", "nats", "Loss of the deployed model."),
        Column("model_ece", ECE, "`ece` of the deployed model."),
        Column("model_score", SCORE, "`score` of the deployed model."),
        Column("open_weights", "flag", "True when the deployed model's weights are open."),
        Column("training", "flag", "True when a training run is in progress at the month's end."),
        Column("run_flop_so_far", "FLOP", "Physical FLOP of the run in progress so far (0 when none)."),
        Column("revenue_usd", PER_MONTH, "API revenue from end customers plus the revenue of acquired apps this month."),
        Column("valuation_usd", USD, "The lab's valuation this month: a multiple of annualized revenue plus a value of capability, times sentiment (ODD 7.16)."),
        Column("price_usd_per_mtoken", "USD per million tokens", "The lab's API price this month."),
        Column("unpaid_usd", USD, "Bills owed at the month's end, carried into the next; in an equity lab's exit month, the bills written off."),
        _INCOME,
    ),
    "supplier": (
        Column("cash_usd", USD, "Balance of the supplier's account at the month's end."),
        Column("capacity_h100e", "H100e per month", "Production capacity this month."),
        Column("produced_h100e", "H100e per month", "Chips produced this month."),
        Column("delivered_h100e", "H100e per month", "Chips delivered to buyers this month."),
        Column("inventory_h100e", "H100e", "Chips produced and not yet sold, at the month's end."),
        Column("backlog_h100e", "H100e", "Chips ordered and not yet delivered, at the month's end."),
        Column("price_usd", "USD per H100e", "Price of the supplier's current product."),
        Column("unit_cost_usd", "USD per H100e", "Unit cost of the current product."),
        Column("markup", "fraction", "Markup over unit cost: `price_usd = unit_cost_usd * (1 + markup)`."),
        Column("sales_usd", PER_MONTH, "Chip sales this month (servers not included)."),
    ),
    "grid": (
        Column("cash_usd", USD, "Balance of the grid region's account at the month's end (energy bills received, cumulative)."),
        Column("capacity_mw", "MW", "Grid capacity available to data centres, without on-site generation (the model table's `mw_capacity_<region>` includes it)."),
        Column("committed_mw", "MW", "Grid MW held by labs and the cloud plus loads outside the model."),
        Column("used_mw", "MW", "Power drawn by data centres in the region this month (average load, grid and on-site)."),
        Column("queued_mw", "MW", "Grid MW waiting in the interconnection queue."),
        Column("withdrawn_mw", "MW", "Grid MW withdrawn from the interconnection queue this month by labs and the cloud whose plans no longer need them (newest requests first)."),
        Column("onsite_mw", "MW", "On-site generation of all owners in the region."),
        Column("price_usd_per_mwh", "USD per MWh", "Electricity price this month."),
        Column("moratorium", "flag", "True while the region accepts no new power requests."),
    ),
    "cloud": (
        Column("cash_usd", USD, "Balance of the cloud pool's account at the month's end."),
        Column("fleet_h100e", "H100e", "Chips the cloud owns at the month's end."),
        Column("energized_h100e", "H100e", "Owned chips with power this month."),
        Column("stranded_h100e", "H100e", "Owned chips without power this month."),
        Column("rented_h100e", "H100e", "Chips rented out this month (to labs, model startups and outside users)."),
        Column("mw_held", "MW", "Grid and on-site MW the cloud holds over all regions."),
        Column("rental_price_usd_per_h100e_hr", "USD per H100e-hour", "Rental price this month."),
        Column("unpaid_usd", USD, "Bills owed at the month's end, carried into the next."),
        _INCOME,
    ),
    "startups": (
        Column("count", "count", "Startups of this kind alive at the month's end."),
        Column("cash_usd", USD, "Their cash in total at the month's end."),
        Column("cash_p10_usd", USD, "10th percentile of their cash (NaN when none is alive)."),
        Column("cash_p50_usd", USD, "Median of their cash."),
        Column("cash_p90_usd", USD, "90th percentile of their cash."),
        Column("revenue_usd", PER_MONTH, "Their revenue this month in total, that of the startups of this kind that failed or were acquired this month included (`count` and cash are of those alive)."),
        Column("model_ece_p50", ECE, "Median `ece` of the model startups alive (NaN in the `app` row)."),
    ),
}

#: the items of the `income_<item>` columns, per agent type: amounts are positive, whether paid or received
INCOME_ITEMS: dict[str, dict[str, str]] = {
    "lab": {
        "revenue": "received: API revenue from end customers and the revenue of acquired apps",
        "api_fees": "received: fees app startups paid for the lab's API",
        "funding": "received: parent funding, equity rounds, and the cash of startups it acquired",
        "capex": "paid: chips, servers and data-centre facilities",
        "energy": "paid: electricity",
        "opex": "paid: staff and other operating costs",
        "rent": "paid: compute rented from the cloud",
        "licences": "paid: data licences",
        "acquisitions": "paid: acquisition prices, without the acquired startups' cash",
    },
    "cloud": {
        "rent": "received: rentals from labs, model startups (with any compute subsidy) and outside users, and open-weight hosting revenue",
        "funding": "received: parent top-ups",
        "capex": "paid: chips, servers and data-centre facilities",
        "energy": "paid: electricity",
        "investments": "paid: equity investments in labs with a cloud partnership (the `equity_investment` deals from `cloud`)",
    },
}

# ---------------------------------------------------------------------------------------------
# events table (events.parquet): one row per event
# ---------------------------------------------------------------------------------------------
EVENT_KEYS: tuple[Column, ...] = (
    Column("month", MONTH, "The month of the event (the model and agents tables call it `date`)."),
    Column("event", "text", "The event kind: one of the sections below."),
)

_POLICY_FIELDS = (
    Column("kind", "text", "The scenario event's kind (`compute_cap`, `export_control`, ...; ODD 7.19)."),
    Column("supplier", "supplier id", "The supplier concerned; empty for all or none."),
    Column("region", "region id", "The region concerned; empty for all or none."),
    Column("value", "depends on kind", "The scenario event's `value`, as written in the scenario (e.g. FLOP per run for `compute_cap`, USD per year for `compute_subsidy`, a factor for `venture_shock`; ODD 7.19)."),
    Column("note", "text", "The scenario event's note."),
)

#: event kind -> (what it records, its fields besides month and event)
EVENTS: dict[str, tuple[str, tuple[Column, ...]]] = {
    "training_run_finished": ("A lab's training run ended and its model was deployed.", (
        Column("lab", "lab id", "The lab."),
        Column("flop", "FLOP", "Physical training compute of the model."),
        Column("loss", "nats", "Loss of the model."),
        Column("ece", ECE, "`ece` of the model."),
        Column("score", SCORE, "`score` of the model."),
        Column("params", "parameters", "Physical parameter count (ODD 7.5)."),
        Column("tokens", "tokens", "Training tokens (repeated tokens counted each time)."),
        Column("open_weights", "flag", "True when the weights are released (an `open_weight_release` follows)."),
    )),
    "open_weight_release": ("A finished run's weights were released; the public algorithms rise to the run's.", (
        Column("lab", "lab id", "The lab."),
        Column("ece", ECE, "`ece` of the released model."),
        Column("A", "multiplier", "Algorithmic efficiency the model was trained with (`A_pub` = 1 at the calibration month)."),
    )),
    "funding_round": ("An equity-funded lab raised a round.", (
        Column("lab", "lab id", "The lab."),
        Column("amount", USD, "Size of the round (one-off)."),
        Column("strategic", USD, "Part of it paid by the cloud and suppliers (one-off)."),
        Column("valuation", USD, "The lab's valuation this month (before the round)."),
    )),
    "acquisitions": ("Labs acquired startups this month (one row per month with any).", (
        Column("count", "count", "Startups acquired this month."),
        Column("price", USD, "Acquisition prices paid this month in total, without the acquired startups' cash (the `acquisition` deals include it)."),
    )),
    "lab_exit": ("An equity-funded lab's cash ran out and it left; its chips and MW pass to the cloud.", (
        Column("lab", "lab id", "The lab."),
        Column("h100e", "H100e", "Chips passed to the cloud."),
        Column("unpaid_usd", USD, "Bills written off (one-off)."),
    )),
    "policy": ("A scenario event switched on (`events` in the scenario).", _POLICY_FIELDS),
    "policy_off": ("A scenario event switched off: its `months` ran out, or it has `active = false`.", _POLICY_FIELDS),
}

# ---------------------------------------------------------------------------------------------
# deals: RunResult.deals (one row per deal) and deals.graphml (one edge per deal)
# ---------------------------------------------------------------------------------------------
DEAL_KEYS: tuple[Column, ...] = (
    Column("month", MONTH, "The month of the deal (the model and agents tables call it `date`)."),
    Column("src", "account", "The payer's account: `lab:<id>`, `supplier:<id>`, `cloud`, `ext:<name>`."),
    Column("dst", "account", "The payee's account, as `src`, or `startup:<id>`."),
    Column("kind", "text", "The deal kind: one of those below."),
    Column("amount_usd", USD, "Money paid (one-off, in that month)."),
)

#: deal kind -> (payer -> payee and what is paid, its columns besides the keys)
DEALS: dict[str, tuple[str, tuple[Column, ...]]] = {
    "chip_sale": ("A lab or the cloud pays a supplier for chips delivered (servers not included).", (
        Column("h100e", "H100e", "Chips delivered."),
    )),
    "cloud_rental": ("A lab pays the cloud the month's rent (startups' rentals are not deals).", (
        Column("h100e", "H100e", "Chips rented this month."),
    )),
    "equity_investment": ("The cloud, a supplier or outside investors (`ext:investors`) pay into a lab's funding round.", ()),
    "data_licence": ("A lab pays data owners (`ext:data_owners`) for a licence.", (
        Column("tokens", "tokens", "Tokens licensed."),
    )),
    "acquisition": ("A lab buys a startup: the price, `acquisition_price_multiple` times a year of revenue, plus the startup's cash.", (
        Column("startup", "startup id", "The startup's id (a float in the table when other kinds leave it empty)."),
    )),
}

GRAPHML_NODES: tuple[Column, ...] = (
    Column("id", "account", "The account, as `src` and `dst`."),
    Column("type", "text", "Its part before `:`: `lab`, `supplier`, `cloud`, `startup` or `ext`."),
)
GRAPHML_EDGES: tuple[Column, ...] = (
    Column("source", "account", "The payer (`src`)."),
    Column("target", "account", "The payee (`dst`)."),
    Column("kind", "text", "The deal kind."),
    Column("month", MONTH, "The month of the deal."),
    Column("amount_usd", USD, "Money paid."),
)


def expand(columns: tuple[Column, ...], regions=(), items=()) -> list[str]:
    """The column names ``columns`` give a run with these grid ``regions`` and income ``items``."""
    out = []
    for c in columns:
        if REGION in c.name:
            out += [c.name.replace(REGION, r) for r in regions]
        elif ITEM in c.name:
            out += [c.name.replace(ITEM, i) for i in items]
        else:
            out.append(c.name)
    return out


def _table(columns: tuple[Column, ...]) -> list[str]:
    return ["| column | unit | meaning |", "|---|---|---|"] + [
        f"| `{c.name}` | {c.unit} | {c.meaning} |" for c in columns]


INTRO = """\
# Output columns

What every column of a run's outputs holds, and in what unit. A run directory holds
`model.parquet`, `agents.parquet`, `events.parquet`, `deals.graphml` and `manifest.json`; from
Python, `sim.run.run_scenario` returns the same tables as `res.model`, `res.agents`,
`res.events` and `res.deals` (the deals as a table, with columns the GraphML file leaves out).
How the quantities are computed is in `docs/ODD.md` (section 4.11 and the submodels of section 7).

This file is generated from `analysis/columns.py` (`python -m analysis.columns > docs/OUTPUTS.md`);
`tests/test_columns.py` checks that it matches the columns of real runs of every named scenario.

Conventions:

* Money is in US dollars of 2024. **USD per month** is a flow during the month of the row;
  **USD per year** is a yearly rate (only `parent_capex_usd_per_year`); plain **USD** is a stock at
  the month's end (a balance, a book value, a valuation) or, in events and deals, a one-off amount.
  The headline tables and report multiply monthly flows by 12 where they show yearly figures.
* Chips are counted in **H100e** (H100-equivalents of peak throughput, ODD 2.1). A chip count
  without "per month" is a stock at the month's end; counts of energized, stranded and rented
  chips are this month's.
* **MW** is capacity, or for `used` columns the average load drawn during the month.
* **FLOP** is physical training compute; **`ece`** (log10 FLOP) is capability as effective compute:
  log10 of the compute-optimal FLOP that reaches the same loss (ODD 7.4); **`score`**
  runs from `scaling.score_chance` (0.25 by default) to 1; losses are in **nats** per token.
* **HHI** is on the 0-10,000 scale; **CR4**, shares and the Gini are fractions from 0 to 1.
* A **flag** is a boolean. Missing values are NaN (or null in the Parquet files).
* A name with `<region>` stands for one column per grid region of the scenario (its `grids` ids,
  e.g. `mw_used_us_east`); `income_<item>` for one column per income item listed under the table.
* Naming: the model and agents tables call the month `date`; events and deals call it `month`.
  Both hold `YYYY-MM` text. Some money columns say their unit in their name (`_usd`,
  `_usd_per_year`); the money fields of events (`amount`, `strategic`, `valuation`, `price`) do
  not: they are USD.
"""


def markdown() -> str:
    """docs/OUTPUTS.md."""
    out = [INTRO]
    out += ["## `model` table (`model.parquet`)", "",
            "One row per month. Flags (moratoria, the data constraint) are booleans.", ""]
    out += _table(MODEL) + [""]
    out += ["### `model` table in the meek-limit mode", "",
            "With `meek_limit.enabled` (`scenarios/data/meek-limit.toml`) the market model is replaced by",
            "two analytic trainers (ODD 7.21) and the model table has these columns instead; the agents,",
            "events and deals tables are empty.", ""]
    out += _table(MEEK_MODEL) + [""]
    out += ["## `agents` table (`agents.parquet`)", "",
            "One row per lab, supplier, grid region, the cloud pool and each startup kind (`app`, `model`)",
            "a month. Every row has the key columns; the others depend on `agent_type` and are empty in",
            "the rows of the other types.", ""]
    out += _table(AGENT_KEYS) + [""]
    for kind, cols in AGENTS.items():
        out += [f"### `agent_type` = `{kind}`", ""] + _table(cols) + [""]
        if kind in INCOME_ITEMS:
            out += [f"Income items of the `{kind}` rows (`income_<item>`):", ""]
            out += [f"* `{item}`: {meaning}" for item, meaning in INCOME_ITEMS[kind].items()] + [""]
    out += ["## `events` table (`events.parquet`)", "",
            "One row per event. Every row has `month` and `event`; the other fields depend on the kind",
            "and are empty in the rows of other kinds (in the Parquet file, fields that mix types are",
            "stored as text).", ""]
    out += _table(EVENT_KEYS) + [""]
    for kind, (what, fields) in EVENTS.items():
        out += [f"### `{kind}`", "", what, ""] + _table(fields) + [""]
    out += ["## Deals (`res.deals`, `deals.graphml`)", "",
            "One row per deal, from payer to payee in the direction money flows (ODD 7.22). The last",
            "columns depend on the kind and are empty for other kinds.", ""]
    out += _table(DEAL_KEYS) + [""]
    for kind, (what, cols) in DEALS.items():
        out += [f"### `{kind}`", "", what, ""]
        out += (_table(cols) if cols else ["No other columns."]) + [""]
    out += ["### `deals.graphml`", "",
            "The same deals as a directed multigraph. It carries the key columns only: the `h100e`,",
            "`tokens` and `startup` columns are in `res.deals`, not in the file.", "",
            "Node attributes:", ""] + _table(GRAPHML_NODES) + ["", "Edge attributes:", ""] + _table(GRAPHML_EDGES)
    out += ["", MANIFEST.rstrip("\n")]
    return "\n".join(out) + "\n"


MANIFEST = """\
## `manifest.json`

The run's `scenario` name, `seed`, `start` and `end`, every resolved parameter (`parameters`, the
scenario as nested tables), `parameter_origin`, the `versions` of Python and the packages, the
`wall_time_s` and the `tables` written. `parameter_origin` says where each parameter's value came
from, one entry per dotted key (`labs.hyper_a.region`; a list of tables per item, `events.0.value`):

* `default`: the schema default (`scenarios/schema.py`), which nothing set;
* `file`: set in the scenario file that was run; `parent:NAME`: inherited from the scenario NAME
  it `extends` (directly or further up);
* `override`: set by an override (`--set`, `--start`, `--end`; from Python the `overrides`,
  `start` and `end` arguments); a list overridden as a whole is one entry (`events`);
* `scenario object`: the run was given a `Scenario` object (from Python), not a scenario name or
  file, and the value differs from the schema default. An object does not remember the files it
  was loaded from or the assignments made to it since, so its values are named after the object,
  whoever set them; those equal to the schema default are `default`.
"""


if __name__ == "__main__":
    print(markdown(), end="")
