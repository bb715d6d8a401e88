"""What the interactive dashboard does, apart from drawing its page (:mod:`sim.app`).

The dashboard runs scenarios and opens the outputs of earlier runs and ensembles, and shows them
with the report's own tables and figures. Everything here is plain Python, so that it can be
tested and used without a browser:

* :func:`simulate` runs a scenario month by month, reporting progress and stopping when asked;
  its result is the same, bit for bit, as ``frontiersim run`` with the same scenario, overrides
  and seed (the same :func:`sim.run.run_resolved`).
* :func:`simulate_ensemble` makes an ensemble with ``frontiersim ensemble``'s own machinery, in
  worker processes, into a directory (:func:`save_ensemble` copies it where the user wants it).
* :func:`runset_of` turns a finished run into the :class:`analysis.io.RunSet` that
  :func:`analysis.io.load_runs` would read back from its written outputs, so that a run made in
  the dashboard and a directory opened in it are shown, compared and reported by the same code.
* :data:`LEVERS` are the parameters the page offers as inputs; any other parameter is set with a
  ``KEY=VALUE`` line, as ``--set`` does.
"""

from __future__ import annotations

import functools
import math
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the parameters the dashboard shows as inputs, with a short label: the levers of the model's
#: questions (algorithmic progress, chips, data, power, demand, the startup population)
LEVERS: tuple[tuple[str, str], ...] = (
    ("algorithms.public_growth", "Algorithmic progress"),
    ("algorithms.diffusion_half_life_months", "Diffusion half-life of a lab's lead"),
    ("hardware.flops_per_dollar_growth", "Chip FLOP per dollar growth"),
    ("hardware.packaging_ceiling_h100e_per_month", "Chip packaging ceiling"),
    ("data.public_tokens", "Public text stock (2024)"),
    ("data.synthetic_enabled", "Synthetic data allowed"),
    ("power.carbon_price_usd_per_t", "Carbon price"),
    ("services.spend_2024_usd_per_year", "AI-services spend (2024)"),
    ("scaling.law", "Scaling law"),
    ("startups.initial", "Startups at the start"),
)


@dataclass(frozen=True)
class Lever:
    """A parameter the page shows as an input: its dotted key, label, unit, allowed values (as
    ODD 8 writes them), description and kind (``float``, ``int``, ``bool`` or ``choice``)."""

    key: str
    label: str
    unit: str
    allowed: str
    description: str
    kind: str
    choices: tuple[str, ...] = ()


@functools.lru_cache(maxsize=1)
def levers() -> tuple[Lever, ...]:
    """:data:`LEVERS` with what the scenario schema says of each."""
    from scenarios.provenance import field_range, iter_fields

    fields = dict(iter_fields())
    out = []
    for key, label in LEVERS:
        info = fields[key]
        ann = info.annotation
        if typing.get_origin(ann) is typing.Literal:
            kind, choices = "choice", tuple(str(a) for a in typing.get_args(ann))
        else:
            kind, choices = {bool: "bool", int: "int", float: "float"}[ann], ()
        unit = (info.json_schema_extra or {}).get("unit", "-")
        out.append(Lever(key, label, unit, field_range(key, info), info.description or "", kind, choices))
    return tuple(out)


def value_of(sc, key: str) -> Any:
    """The value of the dotted ``key`` (a parameter of a section, e.g. ``data.public_tokens``) in
    the scenario ``sc``."""
    return functools.reduce(getattr, key.split("."), sc)


def format_value(v: Any) -> str:
    """A parameter value as a ``--set`` line writes it (``300000000000000.0``, ``1.35``, ``true``,
    ``hoffmann``); a float is written in full (its ``repr``), so that the line gives it back exactly."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def short_number(v: float) -> str:
    """The shortest text that reads back as exactly ``v``: ``3e+14``, ``1.35``, ``2.5e+10``; whole
    numbers below ten million in full (``300000``, ``12``, ``0``)."""
    if v.is_integer() and abs(v) < 1e7:
        return str(int(v))
    for digits in range(1, 18):
        text = f"{v:.{digits}g}"
        if float(text) == v:
            return text
    return repr(v)


def override_lines(text: str) -> list[str]:
    """The ``KEY=VALUE`` lines of a text box (blank lines and ``#`` comments skipped), checked
    for their shape only; the loader checks keys and values.

    Raises:
        ScenarioError: a line that is not ``KEY=VALUE`` (one line, naming it).
    """
    from scenarios.loader import ScenarioError

    out = []
    for i, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ScenarioError(f"overrides, line {i}: {line!r}: expected KEY=VALUE, e.g. data.public_tokens=1e14")
        out.append(f"{key.strip()}={value.strip()}")
    return out


class Cancelled(Exception):
    """A run stopped at the user's request (nothing of it is kept)."""


@dataclass(frozen=True)
class Progress:
    """Where a run is: the month just simulated (``YYYY-MM``), months done and in all, seconds
    since the start, and a few numbers of that month (NaN where the month has none)."""

    date: str
    done: int
    total: int
    elapsed_s: float
    frontier_ece: float = math.nan
    hhi_revenue: float = math.nan
    installed_h100e: float = math.nan
    startups_alive: float = math.nan
    # of an ensemble: its runs and those written (the date and numbers are then those of the last
    # run written, in its last month)
    runs: int = 1
    runs_done: int | None = None

    @property
    def fraction(self) -> float:
        """The share of the work done: of a run's months, or of an ensemble's runs."""
        if self.runs_done is not None:
            return self.runs_done / self.runs
        return self.done / self.total if self.total else 1.0

    def line(self) -> str:
        """'2031-04, month 88 of 204: frontier ece 30.12, HHI of revenue 712, ...'; for an
        ensemble '3 of 20 runs done; the last to 2040-12: frontier ece 33.70, ...'."""
        if self.runs_done is not None:
            parts = [f"{self.runs_done} of {self.runs} runs done" + (f"; the last to {self.date}" if self.date else "")]
        else:
            parts = [f"{self.date}, month {self.done} of {self.total}"]
        nums = []
        if math.isfinite(self.frontier_ece):
            nums.append(f"frontier ece {self.frontier_ece:.2f}")
        if math.isfinite(self.hhi_revenue):
            nums.append(f"HHI of revenue {self.hhi_revenue:,.0f}")
        if math.isfinite(self.installed_h100e):
            nums.append(f"{self.installed_h100e / 1e6:,.1f}M H100e installed")
        if math.isfinite(self.startups_alive):
            nums.append(f"{self.startups_alive:,.0f} startups")
        return parts[0] + (": " + ", ".join(nums) if nums else "")


def _number(row: dict, key: str) -> float:
    try:
        return float(row.get(key, math.nan))
    except (TypeError, ValueError):
        return math.nan


def simulate(scenario, overrides: list[str] | None = None, seed: int = 0, start: str | None = None,
             end: str | None = None, check: bool = False, on_progress: Callable[[Progress], bool | None] | None = None,
             interval_s: float = 0.25):
    """Run a scenario as ``frontiersim run`` does, reporting progress; returns its
    :class:`sim.run.RunResult`.

    ``on_progress(progress)`` is called after the first month, then at most every ``interval_s``
    seconds, and after the last month; when it returns False the run stops and :class:`Cancelled`
    is raised. The run's tables are those of :func:`sim.run.run_resolved` with the same
    arguments, whatever the callback does.

    Raises:
        ScenarioError: a bad scenario, override or horizon, or a set-up the model refuses.
        sim.cli.UserError: a startup population beyond memory, or with ``check`` a month that
            breaks a law of :mod:`sim.invariants`.
        Cancelled: ``on_progress`` returned False.
        (The messages are one line each.)
    """
    from scenarios.loader import scenario_path
    from sim.cli import run_error
    from sim.errors import InvariantError, PopulationError
    from sim.model import SetupError
    from sim.run import resolve_scenario, run_resolved

    t0 = time.perf_counter()
    sc, origin = resolve_scenario(scenario, overrides or [], start, end)
    last = [-math.inf]

    def on_month(m) -> None:
        if on_progress is None:
            return
        done, total = m.month - m.start_month + 1, m.end_month - m.start_month + 1
        now = time.perf_counter()
        if done > 1 and done < total and now - last[0] < interval_s:
            return
        last[0] = now
        row = m.model_rows[-1] if m.model_rows else {}
        p = Progress(str(row.get("date", "")), done, total, now - t0, _number(row, "frontier_ece"),
                     _number(row, "hhi_revenue"), _number(row, "installed_h100e"), _number(row, "startups_alive"))
        if on_progress(p) is False:
            raise Cancelled(f"stopped at {p.date} (month {done} of {total})")

    try:
        return run_resolved(sc, origin, seed, t0, on_month=on_month, check=check)
    except (SetupError, PopulationError, InvariantError) as e:
        where = scenario_path(scenario) if isinstance(scenario, str) else f"scenario object {sc.name!r}"
        raise run_error(e, sc.name, seed, origin, where) from None


def default_workers(runs: int) -> int:
    """Worker processes for an ensemble of ``runs`` made in the page: one per CPU, at most one per
    run (as ``frontiersim ensemble`` takes them)."""
    import os

    return max(1, min(os.cpu_count() or 1, runs))


def _last_row(part: bytes) -> dict:
    """The last model row of a run's Parquet part (its final month, for the progress line)."""
    import io

    import pyarrow.parquet as pq

    t = pq.read_table(io.BytesIO(part))
    return t.slice(t.num_rows - 1).to_pylist()[0] if t.num_rows else {}


def simulate_ensemble(scenario, overrides: list[str] | None = None, runs: int = 2, master_seed: int = 0,
                      start: str | None = None, end: str | None = None, check: bool = False,
                      on_progress: Callable[[Progress], bool | None] | None = None, out: str | Path | None = None,
                      workers: int | None = None):
    """Replicates of a scenario, made and written as ``frontiersim ensemble --runs RUNS --seed
    MASTER_SEED --set ... --out OUT`` makes them (``start`` as ``--set start=START``): run ``i`` has
    seed ``sim.ensemble.replicate_seeds(master_seed, runs)[i]``, and ``OUT`` holds the runs' parts,
    the manifest, ``outcomes.csv`` and ``summary.csv``, so that ``frontiersim ensemble`` can extend
    it. ``out`` None: a new temporary directory (removed when this process exits; see
    :func:`save_ensemble`). ``workers`` processes make the runs (default :func:`default_workers`).

    Returns:
        ``(runset, directory)``: the ensemble as :func:`analysis.io.load_runs` reads it from the
        directory, and the directory.

    ``on_progress(progress)`` is called after each run is written (:attr:`Progress.runs_done`
    set, the other numbers those of that run's last month) and asked about four times a second
    while runs are in flight; when it returns False, the runs in flight are abandoned,
    :class:`Cancelled` is raised and a temporary directory is removed.

    Raises:
        ScenarioError: a bad scenario, override or horizon. sim.cli.UserError: a run the model
            cannot start, whose startup population outgrows memory or, with ``check``, that breaks
            a law (one line naming the run and its seed; sim.ensemble.EnsembleError: ``out``
            cannot take the ensemble). ValueError: ``runs`` below 1.
    """
    import shutil
    import tempfile

    from analysis.io import load_runs
    from sim.cli import runs_error
    from sim.ensemble import ensemble_plan, execute, write_summaries
    from sim.errors import InvariantError, PopulationError

    if runs < 1:
        raise ValueError(f"runs={runs}: expected at least 1")
    t0 = time.perf_counter()
    sets = list(overrides or []) + ([f"start={start}"] if start else [])
    plan = ensemble_plan(scenario, runs, master_seed, sets, end=end)  # (a bad scenario, override or month: one line)
    plan.check = check
    temporary = out is None
    where = Path(tempfile.mkdtemp(prefix="frontiersim-dashboard-")) if temporary else Path(out)
    if temporary:
        _remove_at_exit(where)
    last: list[Progress] = [Progress("", 0, runs, 0.0, runs_done=0, runs=runs)]

    def on_part(result, done: int) -> None:
        row = _last_row(result.part)
        last[0] = Progress(str(row.get("date", "")), done, runs, time.perf_counter() - t0, _number(row, "frontier_ece"),
                           _number(row, "hhi_revenue"), _number(row, "installed_h100e"), _number(row, "startups_alive"),
                           runs=runs, runs_done=done)
        if on_progress is not None:
            on_progress(last[0])

    def stop() -> bool:
        return on_progress is not None and on_progress(last[0]) is False

    try:
        try:
            stats = execute(plan, where, workers or default_workers(runs), progress=False, on_part=on_part, stop=stop)
        except (PopulationError, InvariantError) as e:
            raise runs_error(e, kept=not temporary) from None
        if stats.stopped_early:
            raise Cancelled(f"stopped after {stats.computed} of {runs} runs")
        write_summaries(where, plan.n)
        return load_runs(where), where
    except BaseException:
        if temporary:
            shutil.rmtree(where, ignore_errors=True)
        raise


_temporary_dirs: list[Path] = []


def _remove_at_exit(path: Path) -> None:
    """Remove ``path`` (a temporary directory this process made) when the process exits."""
    import atexit
    import shutil

    if not _temporary_dirs:
        atexit.register(lambda: [shutil.rmtree(p, ignore_errors=True) for p in _temporary_dirs])
    _temporary_dirs.append(path)


def save_ensemble(source: str | Path, target: str | Path) -> Path:
    """Copy an ensemble directory made in the page (:func:`simulate_ensemble`) to ``target``, a
    new or empty directory, all or nothing (:func:`sim.paths.write_dir_atomic`).

    Raises:
        ValueError: ``target`` exists and is not an empty directory, or cannot be written (one
            line; nothing is written then).
    """
    import shutil

    from sim.paths import dir_path_problem, write_dir_atomic, write_problem

    target = Path(target)
    problem = dir_path_problem(target)
    if problem is None and target.exists() and any(target.iterdir()):
        problem = "is a directory that is not empty; expected a new or empty directory for the ensemble"
    problem = problem or write_problem(target)
    if problem:
        raise ValueError(f"output directory {target}: {problem}")
    write_dir_atomic(target, lambda tmp: shutil.copytree(source, tmp, dirs_exist_ok=True,
                                                           ignore=shutil.ignore_patterns(".lock")))
    return target


def runset_of(res, label: str):
    """A finished run (:class:`sim.run.RunResult`) as the :class:`analysis.io.RunSet` that
    :func:`analysis.io.load_runs` reads from the directory ``frontiersim run`` writes for it: the
    same model rows, with ``run`` equal to ``label``, and its manifest."""
    from analysis.io import RunSet, run_table
    from sim.run import manifest

    man = manifest(res)
    return RunSet(Path(label), "run", run_table(res.model, res.agents, label), man, {label: man}, {})


def run_label(scenario: str, seed: int, overrides: list[str], taken, runs: int = 1) -> str:
    """A short name for a run, unique among ``taken``: 'baseline, seed 0', 'data-wall, seed 2, 3
    changes', 'baseline, 20 runs from seed 0', then ' (2)', ' (3)' ... for repeats."""
    which = f"seed {seed}" if runs == 1 else f"{runs} runs from seed {seed}"
    base = f"{scenario}, {which}" + (f", {len(overrides)} change{'s' if len(overrides) > 1 else ''}" if overrides else "")
    return unique_label(base, taken)


def unique_label(base: str, taken) -> str:
    """``base``, or ``base (2)``, ``base (3)`` ... whichever ``taken`` does not hold."""
    label, k = base, 2
    while label in taken:
        label, k = f"{base} ({k})", k + 1
    return label


def open_label(rs, taken) -> str:
    """A name for an opened directory: its scenario and the directory's name."""
    what = rs.scenario if rs.kind == "run" else f"{rs.scenario}, {rs.design} of {rs.runs_label}"
    return unique_label(f"{what} [{rs.path.name}]", taken)


def describe(rs) -> str:
    """One line on what a RunSet holds: kind, runs, period."""
    df = rs.model
    kind = "one run" if rs.kind == "run" else f"{rs.design} of {rs.runs_label}"
    return f"{rs.scenario}: {kind}, {df['date'].min()} to {df['date'].max()} ({df['date'].nunique()} months)"
