"""Read what runs wrote: one run directory or an ensemble directory, as one long table.

Everything here reads files only (Parquet, JSON, GraphML); nothing imports the model. The
layouts understood by :func:`load_runs`:

* a **run** directory, as written by ``frontiersim run``: ``model.parquet`` (one row per month),
  ``manifest.json``, and optionally ``agents.parquet``, ``events.parquet``, ``deals.graphml``;
* an **ensemble** directory holding either ``runs/part-*.parquet`` (model rows of many runs,
  told apart by a ``run`` column, or by ``run_id``/``replicate``/``seed``, or else one run per
  file) with an optional ``manifest.json`` at the top; or subdirectories that are run
  directories (``*/model.parquet`` or ``runs/*/model.parquet``), one run each; these must be
  runs of one scenario and horizon that differ only in the seed.

Anything else is a :class:`RunDirError`: a one-line message naming the directory and what was
expected, which the command line prints without a traceback (exit status 2).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.cli import UserError

__all__ = ["RunDirError", "RunSet", "load_runs", "load_deals", "load_events", "month_index", "run_table"]

EXPECTED = ("expected a run directory (model.parquet) or an ensemble directory "
            "(runs/part-*.parquet, or subdirectories containing model.parquet)")

#: columns that tell the runs of a part file apart, in order of preference
RUN_ID_COLUMNS = ("run", "run_id", "replicate", "seed")


class RunDirError(UserError):
    """A directory that cannot be read as a run or an ensemble (one line, exit status 2)."""


@dataclass
class RunSet:
    """The model rows of one or more runs, and what their manifests say.

    Attributes:
        path: the directory that was read.
        kind: ``"run"`` or ``"ensemble"``.
        model: long table of model rows (one row per run and month) with a ``run`` column
            (str) first; ``date`` is the month as ``YYYY-MM``.
        manifest: the directory's own ``manifest.json`` (for an ensemble without one, the
            first run's manifest; ``{}`` when there is none).
        manifests: each run's manifest by run id, where runs have their own.
        run_dirs: each run's directory by run id, where runs have their own directory (for
            the deals network, agents and events tables).
        run_overrides: parameter values particular to each run (a sweep's or sensitivity
            design's points), from the parts' metadata; empty for replicates.
    """

    path: Path
    kind: str
    model: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_dirs: dict[str, Path] = field(default_factory=dict)
    run_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def runs(self) -> list[str]:
        """Run ids in the order they were read."""
        return list(pd.unique(self.model["run"]))

    @property
    def n_runs(self) -> int:
        return int(self.model["run"].nunique())

    @property
    def planned_runs(self) -> int:
        """The runs an ensemble's manifest plans (``n_runs``); more than :attr:`n_runs` when the
        ensemble was interrupted before all its runs were written."""
        planned = self.manifest.get("n_runs") if self.kind == "ensemble" else None
        return max(planned, self.n_runs) if isinstance(planned, int) and not isinstance(planned, bool) else self.n_runs

    @property
    def runs_label(self) -> str:
        """'10 runs', or '9 of 10 runs' for an interrupted ensemble."""
        n = self.n_runs
        return f"{n} of {self.planned_runs} runs" if self.planned_runs > n else f"{n} run{'' if n == 1 else 's'}"

    @property
    def scenario(self) -> str:
        """Scenario name from the manifest(s), else the directory name."""
        names = {m.get("scenario") for m in self.manifests.values() if m.get("scenario")}
        if self.manifest.get("scenario"):
            return str(self.manifest["scenario"])
        if len(names) == 1:
            return str(names.pop())
        if "scenario" in self.model.columns and self.model["scenario"].nunique() == 1:
            return str(self.model["scenario"].iloc[0])
        return self.path.name

    def _manifest_entry(self, key: str) -> dict:
        """``key`` from the directory manifest, else from the first run manifest that has it."""
        for m in (self.manifest, *self.manifests.values()):
            if m.get(key):
                return m[key]
        return {}

    @property
    def parameters(self) -> dict[str, Any]:
        """Resolved scenario parameters (directory manifest, else the first run's)."""
        return self._manifest_entry("parameters")

    @property
    def parameter_origin(self) -> dict[str, str]:
        return self._manifest_entry("parameter_origin")

    @property
    def design(self) -> str:
        """'run', or the ensemble's kind from its manifest ('ensemble', 'sweep', 'sensitivity')."""
        return "run" if self.kind == "run" else str(self.manifest.get("kind") or "ensemble")

    def first_run_dir(self) -> Path | None:
        """The directory of the first run that has one (for the deals network)."""
        for r in self.runs:
            if r in self.run_dirs:
                return self.run_dirs[r]
        return None


def month_index(dates: pd.Series) -> pd.Series:
    """``YYYY-MM`` strings (or timestamps) as month-start timestamps."""
    if pd.api.types.is_datetime64_any_dtype(dates):
        return dates
    return pd.to_datetime(dates.astype(str).str[:7], format="%Y-%m")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as e:
        raise RunDirError(f"{path}: cannot read manifest ({e.__class__.__name__}: {e}); expected a JSON object") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: expected a JSON object in the manifest")
    return data


def _read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path, columns=columns)
    except Exception as e:  # pyarrow raises several error types for unreadable files
        msg = str(e).splitlines()[0] if str(e) else e.__class__.__name__
        raise RunDirError(f"{path}: cannot read Parquet file ({msg})") from None
    return df


def _model_table(path: Path) -> pd.DataFrame:
    df = _read_parquet(path)
    if "date" not in df.columns:
        raise RunDirError(f"{path}: expected a model table with a 'date' column (YYYY-MM)")
    if df.empty:
        raise RunDirError(f"{path}: the model table has no rows; expected one row per simulated month")
    df = df.copy()
    df["date"] = df["date"].astype(str).str[:7]
    return df


_AGENT_COLUMNS = ["date", "agent_type", "model_score", "open_weights"]


def _as_bool(s: pd.Series) -> pd.Series:
    """Booleans stored as bool, 0/1 or text ('True'/'False': mixed agent columns are written as
    strings) as a plain boolean series; missing values are False."""
    if pd.api.types.is_bool_dtype(s):
        return s.fillna(False).astype(bool)
    text = s.astype(object).map(lambda v: str(v).strip().lower() if v is not None and v == v else "")
    return text.isin(("true", "1", "1.0", "yes"))


def _best_open_score(agents: pd.DataFrame, by: list[str]) -> pd.Series:
    """Best open-weight model's score per month (and run), from the lab rows of an agents table.

    The model table records the best open model's ``ece`` only; ``score`` and ``ece`` are both
    monotone in loss, so the lab with the best open ``ece`` also has the best open ``score``.
    """
    a = agents[(agents["agent_type"] == "lab") & _as_bool(agents["open_weights"])]
    a = a.assign(date=a["date"].astype(str).str[:7])
    return a.groupby(by)["model_score"].max()


def _read_agents(path: Path, extra: list[str] = ()) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path, columns=list(extra) + _AGENT_COLUMNS)
    except Exception:  # older runs without these columns: leave the line out
        return None


def _part_meta(path: Path) -> dict[str, Any]:
    """The run metadata an ensemble stores in a part's Parquet key-value metadata, if any."""
    try:
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        return json.loads(meta.get(b"frontiersim", b"{}"))
    except Exception:
        return {}


def _read_run_dir(d: Path, run_id: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    df = _model_table(d / "model.parquet")
    manifest = _read_json(d / "manifest.json") if (d / "manifest.json").is_file() else {}
    return _run_rows(df, run_id, lambda: _read_agents(d / "agents.parquet")), manifest


def _run_rows(df: pd.DataFrame, run_id: str, agents) -> pd.DataFrame:
    """One run's model table (``date`` as ``YYYY-MM``) with the columns :func:`load_runs` adds: the
    best open model's ``score`` from the agents table (``agents()`` returns it, or None), where the
    model table has only its ``ece``, and a ``run`` column first. ``df`` is changed in place."""
    if "best_open_score" not in df.columns and "best_open_ece" in df.columns:
        a = agents()
        if a is not None:
            df["best_open_score"] = df["date"].map(_best_open_score(a, ["date"])).astype(float)
    df.insert(0, "run", run_id)
    return df


def run_table(model: pd.DataFrame, agents: pd.DataFrame | None, run_id: str) -> pd.DataFrame:
    """The long model table :func:`load_runs` reads from a run directory, made from a run's tables
    in memory (``sim.run.RunResult.model`` and ``.agents``) instead: the same rows and columns as
    reading them back from the files ``frontiersim run`` writes, with ``run`` equal to ``run_id``."""
    if "date" not in model.columns or model.empty:
        raise ValueError("run_table: expected a model table with a 'date' column and one row per month")
    df = model.copy()
    df["date"] = df["date"].astype(str).str[:7]
    have = None if agents is None else [c for c in _AGENT_COLUMNS if c in agents.columns]
    return _run_rows(df, run_id, lambda: agents[have] if have == _AGENT_COLUMNS else None)


def _natural_key(s: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _split_part(df: pd.DataFrame, stem: str) -> pd.DataFrame:
    """Give every row of a part file a string ``run`` id."""
    df = df.copy()
    for c in RUN_ID_COLUMNS:
        if c in df.columns:
            ids = df[c].astype(str)
            if c != "run":
                ids = c + "-" + ids
            df = df.drop(columns=["run"], errors="ignore")
            df.insert(0, "run", ids)
            return df
    df.insert(0, "run", stem)
    return df


def load_runs(path: str | Path) -> RunSet:
    """Read a run directory or an ensemble directory.

    Args:
        path: a directory written by ``frontiersim run`` or by an ensemble.

    Returns:
        A :class:`RunSet` whose ``model`` holds every run's monthly rows with a ``run`` column.

    Raises:
        RunDirError: the path is not a directory, or holds neither a run nor an ensemble, or a
            table in it cannot be read (one line naming the file and what was expected).
    """
    p = Path(path)
    if not p.exists():
        raise RunDirError(f"{p}: no such directory; {EXPECTED}")
    if not p.is_dir():
        raise RunDirError(f"{p}: not a directory; {EXPECTED}")
    if (p / "model.parquet").is_file():
        df, manifest = _read_run_dir(p, p.resolve().name)
        run = str(df["run"].iloc[0]) if len(df) else p.name
        return RunSet(p, "run", df, manifest, {run: manifest}, {run: p})

    top = _read_json(p / "manifest.json") if (p / "manifest.json").is_file() else {}
    parts = sorted((p / "runs").glob("part-*.parquet"), key=lambda q: _natural_key(q.name))
    if parts:
        return _read_parts(p, parts, top)

    subdirs = [q.parent for pattern in ("*/model.parquet", "runs/*/model.parquet") for q in p.glob(pattern)]
    subdirs = sorted({q for q in subdirs if q.is_dir()}, key=lambda q: _natural_key(str(q.relative_to(p))))
    if subdirs:
        frames, manifests, dirs = [], {}, {}
        for q in subdirs:
            rid = str(q.relative_to(p))
            df, m = _read_run_dir(q, rid)
            frames.append(df)
            manifests[rid], dirs[rid] = m, q
        _check_replicates(p, frames, manifests)
        df = pd.concat(frames, ignore_index=True)
        return RunSet(p, "ensemble", df, top or next(iter(manifests.values())), manifests, dirs)

    raise RunDirError(f"{p}: not a run or ensemble directory; {EXPECTED}")


def _check_replicates(p: Path, frames: list[pd.DataFrame], manifests: dict[str, dict[str, Any]]) -> None:
    """Refuse run directories that are not replicates of one scenario: their medians would pool
    different scenarios, and years only some runs reach would come from those runs alone.

    Raises:
        RunDirError: one line naming the first two runs that differ and the first difference
            (the horizon, then a resolved parameter; the seed may differ).
    """
    ids = list(manifests)
    spans = {rid: (df["date"].min(), df["date"].max()) for rid, df in zip(ids, frames)}
    flat = {rid: _flatten(m["parameters"]) for rid, m in manifests.items() if isinstance(m.get("parameters"), dict)}
    first = ids[0]
    diff = None
    for rid in ids[1:]:
        if spans[rid] != spans[first]:
            diff = (first, rid, "horizon", "..".join(spans[first]), "..".join(spans[rid]))
            break
    if diff is None and len(flat) > 1:
        ref, *others = flat
        ignore = {"name", "question", "extends"}  # a scenario's name differs with any parameter; say which one
        for rid in others:
            keys = [k for k in {**flat[ref], **flat[rid]} if k not in ignore] + ["name"]
            k = next((k for k in keys if flat[ref].get(k) != flat[rid].get(k)), None)
            if k is not None:
                diff = (ref, rid, k, _show(flat[ref].get(k, "unset")), _show(flat[rid].get(k, "unset")))
                break
    if diff is not None:
        a, b, what, va, vb = diff
        names = {r: manifests[r].get("scenario") for r in (a, b)}
        label = {r: f"{r} ({names[r]})" if names[a] != names[b] else r for r in (a, b)}
        raise RunDirError(f"{p}: holds runs of different scenarios or horizons: {label[a]} and {label[b]} differ in "
                          f"{what} ({va} vs {vb}); expected runs that differ only in the seed (to set different "
                          "scenarios side by side, use 'frontiersim compare DIR_A DIR_B ...')")


def _show(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def _flatten(params: Any, prefix: str = "") -> dict[str, Any]:
    """Nested parameters as ``{dotted.key: value}``."""
    if isinstance(params, dict):
        out: dict[str, Any] = {}
        for k, v in params.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: params}


def _read_parts(p: Path, parts: list[Path], top: dict[str, Any]) -> RunSet:
    frames, overrides = [], {}
    for q in parts:
        raw = _read_parquet(q)
        if "date" not in raw.columns:
            raise RunDirError(f"{q}: holds no monthly model rows (an ensemble run with --scalars-only?); "
                              "expected model rows with a 'date' column: rerun the ensemble without --scalars-only")
        raw["date"] = raw["date"].astype(str).str[:7]
        df = _split_part(raw, q.stem)
        meta = _part_meta(q)
        if meta.get("overrides"):
            for r in pd.unique(df["run"]):
                overrides[str(r)] = meta["overrides"]
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    if "best_open_score" not in df.columns and "best_open_ece" in df.columns:
        agent_parts = sorted((p / "agents").glob("part-*.parquet"), key=lambda q: _natural_key(q.name))
        tables = [a for a in (_read_agents(q, ["run"]) for q in agent_parts) if a is not None]
        if tables:
            a = pd.concat(tables, ignore_index=True).assign(run=lambda x: x["run"].astype(str))
            best = _best_open_score(a, ["run", "date"])
            key = pd.MultiIndex.from_arrays([df["run"], df["date"]])
            df["best_open_score"] = best.reindex(key).to_numpy(dtype=float)
    return RunSet(p, "ensemble", df, top, run_overrides=overrides)


def load_deals(run_dir: Path):
    """The deals network of one run (``networkx.MultiDiGraph``), or None when not written."""
    f = Path(run_dir) / "deals.graphml"
    if not f.is_file():
        return None
    import networkx as nx

    try:
        return nx.read_graphml(f)
    except Exception as e:
        raise RunDirError(f"{f}: cannot read GraphML ({e.__class__.__name__}); expected the deals network") from None


def load_events(run_dir: Path) -> pd.DataFrame | None:
    """The events table of one run, or None when not written."""
    f = Path(run_dir) / "events.parquet"
    return _read_parquet(f) if f.is_file() else None

