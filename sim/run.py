"""Run a scenario and write its outputs.

:func:`run_scenario` is the entry point with the shape exploratory-modelling tools expect: a
plain, picklable function of (scenario, overrides, seed) that returns the run's tables.
:func:`write_outputs` writes them atomically: into a temporary directory renamed into place, so
an error or an interruption never leaves a partial output directory.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scenarios.loader import load_scenario, resolved_with_origin
from scenarios.schema import Scenario

DEPENDENCIES = ("mesa", "numpy", "pandas", "pyarrow", "networkx", "matplotlib", "pydantic")
TABLES: tuple[str, ...] = ("model", "agents", "events", "deals")
#: the files of a run's output directory: an existing directory is replaced only when it holds
#: exactly these (an earlier run's outputs) or nothing
RUN_FILES: frozenset[str] = frozenset({"manifest.json", "model.parquet", "agents.parquet", "events.parquet",
                                       "deals.graphml"})
#: what else an earlier run's directory may hold and be replaced with: its report, where
#: ``frontiersim report DIR`` writes it by default (a report of outputs that are being replaced)
RUN_EXTRAS: frozenset[str] = frozenset({"report.html"})


@dataclass
class RunResult:
    """A run's tables; a table left out by ``tables=`` (see :func:`run_scenario`) is None."""

    scenario: Scenario
    seed: int
    model: pd.DataFrame
    agents: pd.DataFrame | None
    events: pd.DataFrame | None
    deals: pd.DataFrame | None
    origin: dict[str, str] = field(default_factory=dict)
    wall_time_s: float = 0.0
    final_state: dict[str, Any] = field(default_factory=dict)
    model_months: list[str] | None = None  # the months the model table holds, when not every month


def run_model(sc: Scenario, seed: int = 0, on_start=None, record_agents: bool = True,
              model_months: Collection[str] | None = None, on_month=None, check: bool = False):
    """Build and run an :class:`IndustryModel`; returns the finished model (released from Mesa's registry).

    ``on_start()`` is called once the model is built (its set-up validated), before the first month;
    ``on_month(model)`` after each simulated month (e.g. to show progress).
    ``record_agents=False`` skips the agent-level rows; ``model_months`` ('YYYY-MM' strings)
    records the model-level row of those months only (None: every month). The rest of the run is
    the same. ``check=True`` checks the laws of :mod:`sim.invariants` after every month (before
    ``on_month``).

    Raises:
        ValueError: a ``model_months`` entry that is not a 'YYYY-MM' month.
        InvariantError: with ``check``, the first month that breaks a law.
    """
    from sim.allocator import tune_allocator
    from sim.model import IndustryModel

    months = None if model_months is None else _month_indices(model_months)
    tune_allocator()  # keep freed array memory for the next month's arrays (see sim.allocator)
    m = IndustryModel(sc, seed=seed, record_agents=record_agents, model_months=months)
    if on_start is not None:
        on_start()
    if check:
        from sim.invariants import Monitor

        monitor = Monitor(m)
        user_month = on_month

        def on_month(model) -> None:
            monitor(model)
            if user_month is not None:
                user_month(model)
    try:
        if on_month is None:
            m.run()
        else:  # IndustryModel.run's loop, with the callback
            while m.month < m.end_month:
                m.step()
                on_month(m)
    finally:
        release_model(m)
    return m


def _month_indices(months: Collection[str]) -> list[int]:
    from scenarios.schema import MONTH_RE, month_index

    if isinstance(months, str):
        raise ValueError(f"model_months={months!r}: expected a collection of 'YYYY-MM' months")
    bad = next((x for x in months if not (isinstance(x, str) and MONTH_RE.match(x))), None)
    if bad is not None:
        raise ValueError(f"model_months: {bad!r} is not a month; expected 'YYYY-MM'")
    return [month_index(x) for x in months]


def release_model(m) -> None:
    """Drop Mesa's class-level reference to a finished model, so that it can be freed.

    Mesa < 3.4 numbers agents with a class-level counter keyed by model (``Agent._ids``), which
    keeps every model alive; Mesa >= 3.4 (Python >= 3.12) numbers them in the model and has no
    such counter, so there is nothing to drop.
    """
    from mesa.agent import Agent

    ids = getattr(Agent, "_ids", None)
    if ids is not None:
        ids.pop(m, None)


def resolve_scenario(scenario: str | Scenario, overrides: list[str] | dict[str, Any] | None = None,
                     start: str | None = None, end: str | None = None, *,
                     from_cli: bool = False) -> tuple[Scenario, dict[str, str]]:
    """Load (or take) a scenario, apply overrides and the horizon; returns it with value origins.

    ``start`` and ``end`` apply after the overrides; an error they or an override cause names
    them as the caller wrote them: ``end='2030-12'`` and ``overrides['KEY']=VALUE`` (or
    ``override 'KEY=VALUE'`` for a string), this function's arguments, or ``--end 2030-12`` and
    ``--set KEY=VALUE`` with ``from_cli`` (the command line's options).

    A :class:`Scenario` object is checked again as a whole, always, so that a change made by
    assigning to one of its sections (``sc.labs["x"].region = ...``, which only the section's own
    field checks see) or to its tables (a lab added or a grid deleted) is the same one-line error
    as in a file, before any work; the scenario returned is a new, validated one. Its origins are
    those of :func:`scenarios.loader.override_scenario` (``scenario object`` for the values that
    differ from the schema default).

    Raises:
        ScenarioError: a one-line, user-facing description of what is wrong.
    """
    from scenarios.loader import override_scenario

    horizon = [(k, v, f"--{k} {v}" if from_cli else f"{k}={v!r}") for k, v in (("start", start), ("end", end)) if v]
    if isinstance(scenario, Scenario):
        return override_scenario(scenario, overrides, horizon, where=f"scenario object {scenario.name!r}",
                                 from_cli=from_cli)
    return load_scenario(scenario, overrides, horizon, from_cli=from_cli)


def _pairs(overrides):
    if not overrides:
        return []
    if isinstance(overrides, dict):
        return list(overrides.items())
    from scenarios.loader import _parse_value, _split

    return [(k, _parse_value(v)) for k, v in map(_split, overrides)]


def run_scenario(scenario: str | Scenario, overrides: list[str] | dict[str, Any] | None = None, seed: int = 0,
                 start: str | None = None, end: str | None = None, tables: Collection[str] | None = None,
                 model_months: Collection[str] | None = None, check: bool = False) -> RunResult:
    """Run one scenario with one seed and return its tables.

    Args:
        scenario: a named scenario, a path to a TOML file, or a validated :class:`Scenario`.
        overrides: ``["dotted.key=value", ...]`` or ``{"dotted.key": value}``.
        seed: the random seed; the same scenario and seed give identical tables.
        start, end: optional 'YYYY-MM' horizon overrides.
        tables: the tables to build, from :data:`TABLES` (None: all). ``model`` is always
            built; the others left out are None in the result, and leaving out ``agents`` also
            skips recording its rows each month (a baseline run then takes ~13% fewer
            instructions, as in ensembles). The simulation is the same whatever is left out.
        model_months: 'YYYY-MM' months whose row the model table gets (None: every month), for
            callers that read a few months only: scalar outcomes read Decembers
            (:func:`sim.experiment.evaluate`). The rows are those a full table has.
        check: check the laws of :mod:`sim.invariants` (money, chips, MW, data, finite outputs)
            after every month, and stop at the first month that breaks one.

    Raises:
        ScenarioError: a bad scenario or override (one line).
        ValueError: an unknown table name, or a ``model_months`` entry that is not a month.
        InvariantError: with ``check``, a month that breaks a law (a bug in frontiersim).
    """
    t0 = time.perf_counter()
    sc, origin = resolve_scenario(scenario, overrides, start, end)
    return run_resolved(sc, origin, seed, t0, tables=tables, model_months=model_months, check=check)


def check_tables(tables: Collection[str] | None) -> None:
    """Raise ValueError naming the first entry of ``tables`` that is not a table name."""
    if isinstance(tables, str):
        raise ValueError(f"tables={tables!r}: expected a collection of names from {', '.join(TABLES)}")
    for t in tables or ():
        if t not in TABLES:
            raise ValueError(f"tables: unknown table {t!r}; expected names from {', '.join(TABLES)}")


def run_resolved(sc: Scenario, origin: dict[str, str], seed: int, t0: float | None = None, on_start=None,
                 tables: Collection[str] | None = None, model_months: Collection[str] | None = None,
                 on_month=None, check: bool = False) -> RunResult:
    """Run an already validated scenario; ``tables``, ``model_months`` and ``check`` as for
    :func:`run_scenario`, ``on_start`` and ``on_month`` as for :func:`run_model`."""
    t0 = time.perf_counter() if t0 is None else t0
    from sim.model import deals_frame  # (imported by run_model in any case; inside the timing)
    from sim.record import agents_frame

    check_tables(tables)
    want = set(TABLES if tables is None else tables)
    m = run_model(sc, seed, on_start, record_agents="agents" in want, model_months=model_months, on_month=on_month,
                  check=check)

    def table(name: str, rows: list[dict], empty_columns: list[str] | None = None) -> pd.DataFrame | None:
        """The table from its rows if it was asked for (with ``empty_columns`` when it has none)."""
        if name not in want:
            return None
        return pd.DataFrame(columns=empty_columns) if not rows and empty_columns else pd.DataFrame(rows)

    res = RunResult(
        scenario=sc, seed=seed, model=pd.DataFrame(m.model_rows),
        agents=agents_frame(m.agent_rows) if "agents" in want else None,
        events=table("events", m.events, ["month", "event"]),
        deals=deals_frame(m.deals) if "deals" in want else None,
        origin=origin, wall_time_s=time.perf_counter() - t0,
        model_months=None if model_months is None else sorted(model_months),
    )
    res.final_state = {"ledger_total_usd": m.ledger.total()}
    return res


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("frontiersim",) + DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def manifest(res: RunResult, extra: dict | None = None) -> dict:
    return {
        "scenario": res.scenario.name,
        "seed": res.seed,
        "start": res.scenario.start,
        "end": res.scenario.end,
        "parameters": res.scenario.model_dump(mode="json"),
        "parameter_origin": {k: src for k, _, src in resolved_with_origin(res.scenario, res.origin)},
        "versions": versions(),
        "wall_time_s": round(res.wall_time_s, 4),
        "tables": ["model.parquet", "agents.parquet", "events.parquet", "deals.graphml"],
        **(extra or {}),
    }


def _clean_for_parquet(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c, dtype in df.dtypes.items():
        if dtype == object:
            vals = df[c].dropna().tolist()  # (plain loops over the objects: cheaper than Series.map)
            if vals and all(isinstance(v, (bool, np.bool_)) for v in vals):
                df[c] = df[c].astype("boolean")  # a flag that only some agent types carry
                continue
            # mixed columns (events carry different fields) are stored as strings
            if not all(isinstance(v, str) for v in vals):
                df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return df


def output_dir_problem(out_dir: str | Path) -> str | None:
    """What stops writing a run's outputs into ``out_dir``, as a phrase (None when nothing does).

    ``out_dir`` may be new, an empty directory, or an earlier run's output directory (exactly
    :data:`RUN_FILES`, perhaps with its report, :data:`RUN_EXTRAS`), which is replaced; any other
    existing directory is refused, as replacing it would delete files no run wrote.
    """
    from sim.paths import dir_path_problem, encloses_cwd, write_problem

    out = Path(out_dir)
    problem = dir_path_problem(out_dir)
    if problem:
        return problem
    if out.exists():
        if encloses_cwd(out):
            return "is the current directory or contains it; expected a directory of its own for the run"
        names = sorted(os.listdir(out))
        if names and set(names) - RUN_EXTRAS != RUN_FILES:
            foreign = [n for n in names if n not in RUN_FILES | RUN_EXTRAS]
            what = (f"it holds {foreign[0]}, which no run writes" if foreign else
                    f"it lacks {', '.join(sorted(RUN_FILES - set(names)))}")
            return (f"is a directory that is not an earlier run's outputs ({what}); expected a new or empty "
                    f"directory, or one written by 'frontiersim run' (replaced)")
    return write_problem(out)


def check_output_dir(out_dir: str | Path) -> None:
    """Raise ValueError when :func:`output_dir_problem` finds one (nothing is written)."""
    problem = output_dir_problem(out_dir)
    if problem:
        raise ValueError(f"output directory {out_dir}: {problem}")


def write_outputs(res: RunResult, out_dir: str | Path, extra_manifest: dict | None = None) -> Path:
    """Write the run's tables into ``out_dir`` atomically (temp dir, then rename).

    ``out_dir`` is created, or replaced if it is empty or holds an earlier run's outputs (see
    :func:`output_dir_problem`).

    Raises:
        ValueError: the run was made without one of the tables (``tables=``), or ``out_dir``
            cannot take the outputs (another directory's files, a file, no write access);
            nothing is written.
        OSError: writing failed part-way; the outputs are not written and an existing
            ``out_dir`` is unchanged.
    """
    missing = [t for t in TABLES if getattr(res, t) is None]
    if missing:
        raise ValueError(f"cannot write outputs: the run was made without the {', '.join(missing)} table(s); "
                         "run it with tables=None")
    if res.model_months is not None:
        raise ValueError("cannot write outputs: the run recorded the model table of some months only "
                         "(model_months=); run it with model_months=None")
    from sim.paths import write_dir_atomic

    check_output_dir(out_dir)

    def fill(tmp: Path) -> None:
        res.model.to_parquet(tmp / "model.parquet", index=False)
        _clean_for_parquet(res.agents).to_parquet(tmp / "agents.parquet", index=False)
        _clean_for_parquet(res.events).to_parquet(tmp / "events.parquet", index=False)
        from sim.deals import write_graphml

        write_graphml(res.deals, tmp / "deals.graphml")
        with open(tmp / "manifest.json", "w") as fh:
            json.dump(manifest(res, extra_manifest), fh, indent=2, default=str)

    return write_dir_atomic(out_dir, fill)
