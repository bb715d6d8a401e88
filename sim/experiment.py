"""The model as a function: parameters and a seed in, named outcomes out.

:func:`evaluate` has the shape exploratory-modelling tools expect (EMA Workbench, SALib, a
hand-written loop): a plain module-level function, picklable by reference, with no state between
calls. It runs one scenario with one seed and returns a dict of

* scalars at milestone years, named ``COLUMN_YEAR`` (e.g. ``hhi_revenue_2035``): the value of a
  column of the model table in December of that year. Only years whose December lies inside the
  run's horizon are returned.
* time series: ``COLUMN`` (e.g. ``hhi_revenue``) gives the monthly values as a 1-D numpy array
  (EMA Workbench's ``ArrayOutcome``), and ``model``, ``agents``, ``events``, ``deals`` give the
  run's tables as DataFrames.

* ``scalars``: every documented scalar, :data:`OUTCOME_COLUMNS` x the milestone years inside the
  horizon (for the columns the run's table has).

Without ``outcomes`` it returns ``scalars`` and the ``model`` table. See docs/EXPERIMENTS.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.run import TABLES  # the tables a run can return (re-exported)

#: Years at which scalar outcomes are taken (December of each); only those inside a run's horizon.
MILESTONE_YEARS: tuple[int, ...] = (2024, 2025, 2027, 2030, 2035, 2040) + tuple(range(2045, 2101, 5))

#: The documented scalar outcomes: model-table column -> meaning [unit]. Any other numeric column
#: of the model table can be asked for by name too (``mw_used_us_east_2030``).
OUTCOME_COLUMNS: dict[str, str] = {
    "frontier_ece": "effective compute of the best deployed model [log10 FLOP-equivalent]",
    "frontier_score": "benchmark score of the best deployed model [0-1]",
    "frontier_train_flop": "physical training compute of the frontier model [FLOP]",
    "frontier_median_gap_ece": "frontier ece minus the median ece of active labs and model startups [decades]",
    "median_ece_labs": "median effective compute of active labs' deployed models [log10 FLOP-equivalent]",
    "median_ece_by_revenue": "effective compute of the model serving the median dollar of providers' revenue [log10 FLOP-equivalent]",
    "open_gap_ece": "frontier ece minus the best open-weight ece [decades]",
    "meek_gap_ece": "frontier ece minus the $1,000 reference trainer's ece [decades]",
    "meek_gap_loss": "loss of the $1,000 reference trainer minus the frontier loss [nats/token]",
    "hhi_revenue": "Herfindahl index of model-provider revenue [0-10,000]",
    "hhi_compute": "Herfindahl index of installed compute across labs [0-10,000]",
    "cr4_revenue": "revenue share of the four largest providers [fraction]",
    "installed_h100e": "chips installed at labs and the cloud [H100-equivalents]",
    "mw_used_total": "power drawn by AI compute [MW]",
    "chip_price_usd": "incumbent GPU price [USD per H100e]",
    "rental_price_usd_per_h100e_hr": "cloud rental price [USD per H100e-hour]",
    "revenue_usd": "AI services revenue in the month [USD/month]",
    "startups_alive": "startups alive [count]",
    "labs_active": "frontier labs still active [count]",
    "sentiment": "investor sentiment [index, 1 = neutral]",
}

#: Outcomes summarised by ``frontiersim ensemble`` (those present in the run's table).
HEADLINE_COLUMNS: tuple[str, ...] = ("frontier_ece", "frontier_median_gap_ece", "hhi_revenue", "installed_h100e",
                                     "startups_alive", "meek_gap_ece")

#: Outcomes analysed by ``frontiersim sensitivity`` unless ``--outcomes`` says otherwise.
DEFAULT_SENSITIVITY_OUTCOMES: tuple[str, ...] = ("hhi_revenue_2035", "frontier_median_gap_ece_2035")

_SCALAR_RE = re.compile(r"^(?P<col>[A-Za-z0-9_]+?)_(?P<year>\d{4})$")


def parse_outcome(name: str) -> tuple[str, int | None]:
    """Split an outcome name into (column or table, year); year is None for a series or a table."""
    m = _SCALAR_RE.match(name)
    if m and name not in TABLES:
        return m["col"], int(m["year"])
    return name, None


def horizon_years(start: str, end: str) -> list[int]:
    """Milestone years whose December lies within ``start``..``end`` (both 'YYYY-MM')."""
    return [y for y in MILESTONE_YEARS if start <= f"{y}-12" <= end]


def default_outcomes(columns, start: str, end: str) -> list[str]:
    """The documented scalar outcomes for a table with these columns and this horizon."""
    years = horizon_years(start, end)
    return [f"{c}_{y}" for c in OUTCOME_COLUMNS if c in columns for y in years]


def december_rows(model_df: pd.DataFrame) -> pd.DataFrame:
    """The model table's December rows, indexed by year."""
    dec = model_df[model_df["date"].str.endswith("-12")]
    return dec.set_index(dec["date"].str[:4].astype(int))


def scalar_outcomes(model_df: pd.DataFrame, names: list[str], horizon: tuple[str, str] | None = None) -> dict[str, float]:
    """Values of ``COLUMN_YEAR`` outcomes read from a model table.

    ``horizon``: the run's first and last month, when the table holds some months only (see
    ``model_months`` of :func:`sim.run.run_scenario`); by default the table's own first and last.

    Raises:
        ValueError: an unknown column or a year without its December in the run.
    """
    has_rows = "date" in model_df.columns and len(model_df)
    first, last = horizon or ((model_df["date"].iloc[0], model_df["date"].iloc[-1]) if has_rows else ("", ""))
    dec = december_rows(model_df) if has_rows else pd.DataFrame()
    out: dict[str, float] = {}
    for name in names:
        col, year = parse_outcome(name)
        if year is not None and horizon is not None and not first <= f"{year:04d}-12" <= last:
            raise ValueError(f"outcome {name!r}: {year}-12 is outside the run ({first}..{last}); "
                             f"expected a year whose December is inside it")
        if year is None or col not in model_df.columns:
            raise ValueError(f"unknown outcome {name!r}: expected COLUMN_YEAR with a column of the model table, "
                             f"e.g. {next(iter(OUTCOME_COLUMNS))}_2030")
        if year not in dec.index:
            raise ValueError(f"outcome {name!r}: {year}-12 is outside the run ({first}..{last}); "
                             f"expected a year whose December is inside it")
        out[name] = plain_value(dec.at[year, col])
    return out


def check_outcomes(scenario, names: list[str], scalar: bool = False) -> None:
    """Check outcome names against a resolved scenario before running it (runs its first month
    to learn the model table's columns).

    ``scalar=True`` accepts only scalar outcomes, ``COLUMN_YEAR`` with a numeric column (what
    ensembles record per run and sensitivity analyses analyse); otherwise tables, ``scalars`` and
    monthly series (``COLUMN``) are accepted too, as :func:`evaluate` returns them.

    Raises:
        ValueError: one line naming the outcome and what was expected.
    """
    columns = None
    years = horizon_years(scenario.start, scenario.end)
    example = f"e.g. hhi_revenue_{years[-1]}" if years else f"a year whose December is in {scenario.start}..{scenario.end}"
    for name in names:
        col, year = parse_outcome(name)
        if scalar and year is None:
            raise ValueError(f"{name!r} is not a scalar outcome; expected COLUMN_YEAR, a numeric column of the model "
                             f"table and a year whose December is inside {scenario.start}..{scenario.end}, "
                             f"{example} (documented columns: {', '.join(OUTCOME_COLUMNS)})")
        if year is None and (name in TABLES or name == "scalars"):
            continue
        if year is not None and not scenario.start <= f"{year}-12" <= scenario.end:
            raise ValueError(f"outcome {name!r}: {year}-12 is outside the horizon {scenario.start}..{scenario.end}; "
                             f"expected a year whose December is inside it")
        if columns is None:
            from sim.run import run_scenario

            columns = run_scenario(scenario, {"events": [], "end": scenario.start}, tables=("model",)).model.dtypes
        if col not in columns:
            known = [c for c in OUTCOME_COLUMNS if c in columns]
            raise ValueError(f"unknown outcome {name!r}: {col!r} is not a column of this scenario's model table; "
                             f"expected COLUMN_YEAR{'' if scalar else ' or COLUMN'}, e.g. with {', '.join(known[:6])}")
        if scalar and not (pd.api.types.is_numeric_dtype(columns[col]) or pd.api.types.is_bool_dtype(columns[col])):
            raise ValueError(f"outcome {name!r}: {col!r} is a text column, not a number; expected COLUMN_YEAR with a "
                             f"numeric column, {example}")


def plain_value(v: Any) -> Any:
    """A numpy scalar as the Python number it holds (bools as 0/1 so that statistics apply)."""
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, np.generic):
        return v.item()
    return v


def plain_overrides(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Overrides with numpy scalars turned into the Python values they hold (samplers hand out
    numpy types). Flags stay True/False: unlike :func:`plain_value`, which makes them 0/1 for
    statistics, as the schema takes a flag only as true or false."""
    return {str(k): v.item() if isinstance(v, np.generic) else v for k, v in (overrides or {}).items()}


def months_read(outcomes: list[str] | None) -> list[str] | None:
    """The model-table months (Decembers, 'YYYY-12') that these outcomes read, or None when they
    read every month (the ``model`` table itself or a time series; also the default outcomes,
    which include the table). ``scalars`` reads the Decembers of :data:`MILESTONE_YEARS`."""
    if outcomes is None:
        return None
    years: set[int] = set()
    for name in outcomes:
        _, year = parse_outcome(name)
        if name == "scalars":
            years.update(MILESTONE_YEARS)
        elif name in TABLES[1:]:
            continue  # a table other than the model's is recorded in full either way
        elif year is None:  # the model table, or a column's monthly series
            return None
        else:
            years.add(year)
    return [f"{y:04d}-12" for y in sorted(years)]


def evaluate(scenario, overrides: dict[str, Any] | None = None, seed: int = 0, end: str | None = None,
             outcomes: list[str] | None = None, check: bool = False) -> dict[str, Any]:
    """Run one scenario with one seed and return named outcomes.

    Args:
        scenario: a named scenario ('baseline'), a path to a TOML file, or a validated
            :class:`~scenarios.schema.Scenario`.
        overrides: ``{"dotted.key": value}``, as for ``--set`` (e.g. ``{"start": "2025-01"}``).
        seed: the master seed of the run; the same inputs and seed give the same outcomes.
        end: optional last month, 'YYYY-MM'.
        outcomes: names to return (see the module docstring); None gives every documented
            scalar inside the horizon and the ``model`` table.
        check: check the laws of :mod:`sim.invariants` after every month (InvariantError at the
            first month that breaks one).

    Returns:
        ``{name: value}``: floats/ints for scalars, numpy arrays for series, DataFrames for tables.

    Raises:
        ScenarioError: a bad scenario or override (one line).
        ValueError: an unknown outcome name.
    """
    from sim.run import run_scenario

    # only the tables asked for are built (the model table always is: scalars come from it), and
    # when only scalars are asked for, only the model rows of the Decembers they read
    tables = ["model"] + [t for t in TABLES[1:] if outcomes is not None and t in outcomes]
    res = run_scenario(scenario, plain_overrides(overrides), seed=int(seed), end=end, tables=tables,
                       model_months=months_read(outcomes), check=check)
    model = res.model
    horizon = (res.scenario.start, res.scenario.end)
    if outcomes is None:
        names = default_outcomes(model.columns, *horizon)
        return {**scalar_outcomes(model, names, horizon), "model": model}
    out: dict[str, Any] = {}
    for name in outcomes:
        if name == "scalars":
            out.update(scalar_outcomes(model, default_outcomes(model.columns, *horizon), horizon))
        elif name in TABLES:
            out[name] = getattr(res, name)
        elif name in model.columns:
            out[name] = model[name].to_numpy()
        else:
            out.update(scalar_outcomes(model, [name], horizon))
    return out


@dataclass(frozen=True)
class ScenarioFunction:
    """:func:`evaluate` with the scenario fixed and parameters as keyword arguments: the shape of
    EMA Workbench's ``Model(name, function=...)``, which calls ``function(**experiment)``.

    Keyword names are dotted scenario keys; ``__`` may stand for ``.`` where a tool wants Python
    identifiers (``grids__us_east__buildout_mw_per_year``). ``seed`` may be passed as a keyword
    too. Picklable, so multiprocessing evaluators can ship it.

    Attributes:
        scenario: a named scenario or a TOML path.
        end: optional last month, 'YYYY-MM'.
        outcomes: names to return (default: every documented scalar inside the horizon).
        seed: the seed when the call gives none.
    """

    scenario: str
    end: str | None = None
    outcomes: tuple[str, ...] = ("scalars",)
    seed: int = 0

    def __call__(self, seed: int | None = None, **params: Any) -> dict[str, Any]:
        overrides = {k.replace("__", "."): v for k, v in params.items()}
        return evaluate(self.scenario, overrides, self.seed if seed is None else seed, self.end, list(self.outcomes))
