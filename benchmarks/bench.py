#!/usr/bin/env python
"""frontiersim benchmark suite: how fast, how big, how well it scales (issue 5).

Usage::

    python benchmarks/bench.py [--quick] [--repeat N] [--out FILE.json] [--only SECTION,...]

Sections (see benchmarks/README.md for what each figure means):

* ``baseline``: the baseline scenario with default populations: the model run alone (in this
  process, after imports and scenario loading) and ``frontiersim run`` end to end (a subprocess,
  interpreter start and output writing included).
* ``scaling``: the baseline with ``startups.initial`` = 1k, 10k, 100k, each repetition in a fresh
  subprocess: time per simulated month, startup-steps per second, peak RSS, bytes of state per
  startup row.
* ``vectorized_vs_mesa``: one month of startup money, ``agents.startups.settle_month`` on a
  population against the same rules as one Mesa agent per startup (``mesa_reference.py``), in
  this process, from the same state and draws.
* ``ensemble``: baseline runs per second with 1 and 2 worker processes, through
  ``frontiersim ensemble`` when it is installed, else a ``ProcessPoolExecutor`` over
  ``sim.run.run_scenario``.
* ``instructions`` (only with ``--only instructions``; needs valgrind): CPU instructions of one
  baseline model run, and of the imports and scenario loading before it, counted by valgrind's
  cachegrind. Unlike a time, the count does not drift
  with the machine's load, so it compares two versions of the code to a fraction of a percent.

Every figure is the median of the repetitions, with their min and max. Targets are printed
beside the measurements and judged pass/miss only where the measurement matches the target's
conditions (horizon, size); a missed target never changes the exit status. The exit status is 1
only if a section could not be measured at all (an error, recorded in the JSON).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
GIB = 2**30
MIB = 2**20
SECTIONS = ("baseline", "scaling", "vectorized_vs_mesa", "ensemble")
OPTIONAL_SECTIONS = ("instructions",)
"""Sections run only when named in ``--only`` (they need tools the machine may lack)."""


@dataclass(frozen=True)
class Config:
    """What a mode measures. ``start``/``end`` is the simulated horizon of every model run."""

    mode: str
    repeat: int
    start: str
    end: str
    sizes: tuple[int, ...]  # startups.initial for the scaling section
    mesa_startups: int  # population of the vectorized-vs-Mesa comparison
    vectorized_calls: int  # settle_month calls per repetition
    mesa_steps: int  # Mesa model steps per repetition
    ensemble_runs: int  # runs per ensemble
    workers: tuple[int, ...]


FULL = Config("full", 3, "2024-01", "2040-12", (1_000, 10_000, 100_000), 10_000, 200, 5, 8, (1, 2))
QUICK = Config("quick", 1, "2024-01", "2026-12", (200, 1_000), 1_000, 50, 2, 2, (1, 2))
FULL_HORIZON = ("2024-01", "2040-12")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def stats(values: list[float]) -> dict:
    """Median, min and max of the repetitions (and the values themselves)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values),
            "values": list(values)}


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def frontiersim_cmd() -> list[str]:
    """The installed ``frontiersim`` console script beside this interpreter (else ``python -m sim.cli``)."""
    script = Path(sys.executable).parent / "frontiersim"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sim.cli"]


def run_child(args: list[str]) -> dict:
    """Run this script as a fresh subprocess in a child mode; returns the JSON it prints last."""
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_child", *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"child {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def timed_subprocess(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    return wall


def months_between(start: str, end: str) -> int:
    (y0, m0), (y1, m1) = (map(int, start.split("-")), map(int, end.split("-")))
    return (y1 - y0) * 12 + (m1 - m0) + 1


# =========================================================================================
# sections
# =========================================================================================
def bench_baseline(cfg: Config) -> dict:
    """The baseline with default populations: the model run alone, and ``frontiersim run`` end to end."""
    import sim.model  # noqa: F401  (imported before timing: the figure is model time after imports)
    import sim.record  # noqa: F401
    from sim.run import resolve_scenario, run_model

    sc, _ = resolve_scenario("baseline", None, cfg.start, cfg.end)
    model_s = []
    for r in range(cfg.repeat):
        t0 = time.perf_counter()
        run_model(sc, seed=0)
        model_s.append(time.perf_counter() - t0)
        log(f"baseline model run {r + 1}/{cfg.repeat}: {model_s[-1]:.3f} s")
    e2e_s = []
    report_s: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="frontiersim-bench-") as tmp:
        for r in range(cfg.repeat):
            cmd = frontiersim_cmd() + ["run", "baseline", "--start", cfg.start, "--end", cfg.end, "--out", f"{tmp}/run{r}"]
            e2e_s.append(timed_subprocess(cmd))
            log(f"baseline end to end {r + 1}/{cfg.repeat}: {e2e_s[-1]:.3f} s")
        # the rest of the README's main job: the run's HTML report, its figures drawn by one
        # process and by the most workers the ensemble section uses (interleaved, on the same
        # run); left out for a frontiersim without 'report --workers'
        help_text = subprocess.run(frontiersim_cmd() + ["report", "--help"], capture_output=True, text=True).stdout
        for r in range(cfg.repeat if "--workers" in help_text else 0):
            for k in sorted({1, max(cfg.workers)}):
                cmd = frontiersim_cmd() + ["report", f"{tmp}/run{r}", "--out", f"{tmp}/report.html", "--workers", str(k)]
                report_s.setdefault(k, []).append(timed_subprocess(cmd))
                log(f"baseline report, {k} worker(s) {r + 1}/{cfg.repeat}: {report_s[k][-1]:.3f} s")
    return {"start": cfg.start, "end": cfg.end, "months": months_between(cfg.start, cfg.end),
            "startups_initial": sc.startups.initial, "model_s": stats(model_s), "end_to_end_s": stats(e2e_s),
            "report_s": [{"workers": k, "wall_s": stats(v)} for k, v in report_s.items()]}


def child_scaling(n: int, start: str, end: str) -> dict:
    """In a fresh process: one baseline run with ``n`` initial startups; time, startup-steps, memory."""
    import pandas as pd

    import sim.model  # noqa: F401
    import sim.record  # noqa: F401
    from sim.allocator import tune_allocator
    from sim.run import resolve_scenario, run_model

    sc, _ = resolve_scenario("baseline", {"startups.initial": n}, start, end)
    rss_before = peak_rss_bytes()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    m = run_model(sc, seed=0)
    model_s = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    alive = pd.DataFrame(m.model_rows)["startups_alive"]
    st = m.startups
    return {"startups_initial": n, "model_s": model_s, "months": len(alive), "startup_steps": int(alive.sum()),
            "rows": int(st.n), "alive_end": int(alive.iloc[-1]), "state_bytes": int(st.state_bytes()),
            "peak_rss_bytes": peak_rss_bytes(), "rss_before_run_bytes": rss_before,
            # CPU time in the kernel (page faults, mostly) and minor page faults during the run
            "system_s": ru1.ru_stime - ru0.ru_stime, "minor_faults": ru1.ru_minflt - ru0.ru_minflt,
            "allocator_tuned": tune_allocator()}


def bench_scaling(cfg: Config) -> dict:
    """Each size and repetition in a fresh subprocess, so that peak RSS is that run's alone."""
    sizes = []
    for n in cfg.sizes:
        reps = []
        for r in range(cfg.repeat):
            reps.append(run_child(["scaling", str(n), cfg.start, cfg.end]))
            log(f"scaling {n:,} startups {r + 1}/{cfg.repeat}: {reps[-1]['model_s']:.3f} s, "
                f"peak RSS {reps[-1]['peak_rss_bytes'] / MIB:.0f} MiB")
        last = reps[-1]
        sizes.append({
            "startups_initial": n, "months": last["months"],
            "model_s": stats([x["model_s"] for x in reps]),
            "s_per_month": stats([x["model_s"] / x["months"] for x in reps]),
            "startup_steps": last["startup_steps"],
            "startup_steps_per_s": stats([x["startup_steps"] / x["model_s"] for x in reps]),
            "peak_rss_bytes": stats([x["peak_rss_bytes"] for x in reps]),
            "rss_before_run_bytes": stats([x["rss_before_run_bytes"] for x in reps]),
            "system_s": stats([x["system_s"] for x in reps]),
            "minor_faults": stats([x["minor_faults"] for x in reps]),
            "allocator_tuned": last["allocator_tuned"],
            "state_bytes": last["state_bytes"], "rows_end": last["rows"], "alive_end": last["alive_end"],
            "bytes_per_startup": last["state_bytes"] / max(last["rows"], 1),
        })
    out = {"start": cfg.start, "end": cfg.end, "sizes": sizes}
    if len(sizes) >= 2:
        a, b = sizes[-2], sizes[-1]
        out["growth"] = {"from_startups": a["startups_initial"], "to_startups": b["startups_initial"],
                         "size_ratio": b["startups_initial"] / a["startups_initial"],
                         "time_ratio": b["model_s"]["median"] / a["model_s"]["median"]}
    return out


def bench_vectorized_vs_mesa(cfg: Config) -> dict:
    """One month of startup money: settle_month on arrays vs the Mesa reference, same state and draws."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    from mesa_reference import STATE, StartupMarket, sample_month

    from agents.startups import ALIVE, settle_month

    n = cfg.mesa_startups
    s0, kw = sample_month(n)
    n_labs = len(kw["provider_weight"])

    def fresh() -> dict:
        return {k: v.copy() for k, v in s0.items()}

    # the two compute the same month (also a warm-up for both)
    vec = fresh()
    out_v = settle_month(vec, **kw)
    model = StartupMarket(s0, n_labs, rng=0)
    model.set_month(**kw)
    model.step()
    st, fl = model.state(), model.flows()
    matches = all(np.allclose(vec[k], st[k], rtol=1e-9, atol=1e-6) for k in STATE) and all(
        np.array_equal(out_v[k], fl[k]) if k in ("failed", "acquired") else np.allclose(out_v[k], fl[k], rtol=1e-9, atol=1e-6)
        for k in fl)
    vec_s, mesa_s, speedup = [], [], []
    for r in range(cfg.repeat):
        total = 0.0
        for _ in range(cfg.vectorized_calls):
            s = fresh()  # the same month each call: copy the state outside the timing
            t0 = time.perf_counter()
            settle_month(s, **kw)
            total += time.perf_counter() - t0
        vec_s.append(total / cfg.vectorized_calls)
        total = 0.0
        for _ in range(cfg.mesa_steps):
            model.load(s0)  # back to the same state, outside the timing
            t0 = time.perf_counter()
            model.step()
            total += time.perf_counter() - t0
        mesa_s.append(total / cfg.mesa_steps)
        speedup.append(mesa_s[-1] / vec_s[-1])
        log(f"vectorized vs Mesa {r + 1}/{cfg.repeat}: {vec_s[-1] * 1e3:.3f} ms vs {mesa_s[-1] * 1e3:.1f} ms ({speedup[-1]:.0f}x)")
    model.release()
    return {"startups": n, "rows_alive": int((s0["status"] == ALIVE).sum()), "labs": n_labs,
            "vectorized_calls": cfg.vectorized_calls, "mesa_steps": cfg.mesa_steps, "reference_matches": bool(matches),
            "vectorized_s_per_month": stats(vec_s), "mesa_s_per_month": stats(mesa_s), "speedup": stats(speedup),
            "vectorized_startups_per_s": stats([n / x for x in vec_s]), "mesa_startups_per_s": stats([n / x for x in mesa_s])}


def _ensemble_cli(cfg: Config) -> tuple[list[str] | None, bool]:
    """The ``frontiersim ensemble`` command prefix if it is installed and can run this horizon,
    and whether it has ``--scalars-only``."""
    try:
        p = subprocess.run(frontiersim_cmd() + ["ensemble", "--help"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None, False
    if p.returncode != 0 or "--runs" not in p.stdout or "--workers" not in p.stdout:
        return None, False
    cmd = frontiersim_cmd() + ["ensemble", "baseline"]
    for flag, value, default in (("--start", cfg.start, FULL_HORIZON[0]), ("--end", cfg.end, FULL_HORIZON[1])):
        if f"{flag} " in p.stdout or f"{flag}=" in p.stdout or f"{flag}\n" in p.stdout:
            cmd += [flag, value]
        elif value != default:
            return None, False
    return cmd, "--scalars-only" in p.stdout


def _pool_run(seed: int, start: str, end: str):
    from sim.run import run_scenario

    return run_scenario("baseline", None, seed=seed, start=start, end=end, tables=("model",)).model


def child_ensemble(runs: int, workers: int, start: str, end: str) -> dict:
    """In a fresh process: ``runs`` baseline seeds over a process pool of ``workers``."""
    from concurrent.futures import ProcessPoolExecutor

    import sim.run  # noqa: F401  (workers forked from here start with the model imported)

    with ProcessPoolExecutor(max_workers=workers) as pool:
        tables = list(pool.map(_pool_run, range(runs), [start] * runs, [end] * runs))
    return {"runs": len(tables), "months": len(tables[0])}


def _part_walls(out: str) -> list[float]:
    """The wall time of each run of a finished ``frontiersim ensemble`` directory, from its parts."""
    try:
        from sim.ensemble import part_paths, read_part_meta

        return [float(read_part_meta(p)["wall_time_s"]) for p in part_paths(out)]
    except (ImportError, OSError, KeyError, ValueError):
        return []


def bench_ensemble(cfg: Config) -> dict:
    """Wall time of an ensemble of baseline runs (fresh process: interpreter start, pool, runs),
    keeping each run's monthly table; and, with the most workers, of one that keeps the scalar
    outcomes only (``--scalars-only``: the runs record the model rows of the Decembers they read)."""
    cli, has_scalars_only = _ensemble_cli(cfg)
    method = "frontiersim ensemble" if cli else "ProcessPoolExecutor over sim.run.run_scenario"
    log(f"ensemble via {method}")
    by_workers = []
    variants = [(k, False) for k in cfg.workers] + ([(max(cfg.workers), True)] if cli and has_scalars_only else [])
    with tempfile.TemporaryDirectory(prefix="frontiersim-bench-") as tmp:
        for k, scalars_only in variants:
            walls, run_walls = [], []
            flags = ["--scalars-only"] if scalars_only else []
            for r in range(cfg.repeat):
                out = f"{tmp}/ens-w{k}{'-s' if scalars_only else ''}-r{r}"
                if cli:
                    cmd = cli + ["--runs", str(cfg.ensemble_runs), "--workers", str(k), "--out", out] + flags
                else:
                    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", "ensemble", str(cfg.ensemble_runs),
                           str(k), cfg.start, cfg.end]
                walls.append(timed_subprocess(cmd))
                run_walls += _part_walls(out) if cli else []
                log(f"ensemble {cfg.ensemble_runs} runs, {k} worker(s){' '.join([''] + flags)} {r + 1}/{cfg.repeat}: "
                    f"{walls[-1]:.2f} s")
            entry = {"workers": k, "wall_s": stats(walls), "runs_per_s": stats([cfg.ensemble_runs / w for w in walls])}
            if run_walls:
                # each run's own time in its worker (from the parts' metadata); k workers busy with
                # runs of that length finish k / run time runs per second once start-up is paid,
                # which is what an ensemble of thousands of runs approaches
                entry["run_s"] = stats(run_walls)
                entry["steady_runs_per_s"] = k / statistics.median(run_walls)
            if scalars_only:
                scalars = entry
            else:
                by_workers.append(entry)
    out = {"method": method, "start": cfg.start, "end": cfg.end, "runs": cfg.ensemble_runs, "by_workers": by_workers}
    if cli and has_scalars_only:
        out["scalars_only"] = scalars
    return out


# =========================================================================================
# targets
# =========================================================================================
def parse_valgrind_instructions(stderr: str) -> int:
    """The total instruction count ("I refs") from valgrind cachegrind's summary on stderr."""
    for line in stderr.splitlines():
        body = line.split("==", 2)[-1]  # lines look like "==1234== I   refs:      4,251,123,784"
        key, _, value = body.partition(":")
        if key.split() == ["I", "refs"]:
            return int(value.strip().replace(",", ""))
    raise RuntimeError(f"no 'I refs' line in valgrind's output: {stderr.strip()[-500:]}")


def child_instructions(start: str, end: str, run: bool) -> dict:
    """In a fresh process (under valgrind): imports and the scenario, then one model run if ``run``."""
    import sim.model  # noqa: F401  (the same imports with and without the run)
    import sim.record  # noqa: F401
    from sim.run import resolve_scenario, run_model

    sc, _ = resolve_scenario("baseline", None, start, end)
    if run:
        run_model(sc, seed=0)
    return {"ran": run}


def bench_instructions(cfg: Config) -> dict:
    """Instructions of one baseline model run: (imports + scenario + run) - (imports + scenario),
    each counted by ``valgrind --tool=cachegrind --cache-sim=no`` in a fresh process; the two
    processes run side by side (counts do not depend on the load)."""
    import shutil

    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind not found on PATH; install it (e.g. apt install valgrind) to count instructions")
    # string hashing is randomized per process; fixing the seed makes the two processes' set and
    # dict layouts, and so their counts, comparable
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    procs = []
    for run in (1, 0):
        cmd = [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", sys.executable,
               str(Path(__file__).resolve()), "--_child", "instructions", cfg.start, cfg.end, str(run)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    counts = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"valgrind child exited {proc.returncode}: {err.strip()[-2000:]}")
        counts.append(parse_valgrind_instructions(err))
    with_run, without = counts
    months = months_between(cfg.start, cfg.end)
    log(f"instructions: {with_run:,} with the run, {without:,} without")
    return {"start": cfg.start, "end": cfg.end, "months": months, "instructions_with_run": with_run,
            "instructions_without_run": without, "run_instructions": with_run - without,
            "instructions_per_month": (with_run - without) / months}


def _size(res: dict, n: int) -> dict | None:
    sc = res.get("scaling") or {}
    if "error" in sc or (sc.get("start"), sc.get("end")) != FULL_HORIZON:
        return None
    return next((x for x in sc.get("sizes", []) if x["startups_initial"] == n), None)


def _full_horizon(section: dict | None) -> dict | None:
    if not section or "error" in section or (section.get("start"), section.get("end")) != FULL_HORIZON:
        return None
    return section


def _growth(res: dict) -> float | None:
    a, b = _size(res, 10_000), _size(res, 100_000)
    return b["model_s"]["median"] / a["model_s"]["median"] if a and b else None


def _speedup(res: dict) -> float | None:
    v = res.get("vectorized_vs_mesa") or {}
    return v["speedup"]["median"] if v.get("startups") == 10_000 and "speedup" in v else None


def _ensemble(res: dict, k: int) -> float | None:
    e = _full_horizon(res.get("ensemble"))
    row = next((x for x in (e or {}).get("by_workers", []) if x["workers"] == k), None)
    return row["runs_per_s"]["median"] if row else None


_FULL = "horizon 2024-01..2040-12"
# (id, figure, op, target, unit, conditions, measured(results): None when the run does not meet the conditions)
TARGETS = [
    ("baseline_model_s", "baseline model run", "<=", 0.5, "s", _FULL,
     lambda r: (_full_horizon(r.get("baseline")) or {}).get("model_s", {}).get("median")),
    ("baseline_end_to_end_s", "baseline end to end (frontiersim run)", "<=", 3.0, "s", _FULL,
     lambda r: (_full_horizon(r.get("baseline")) or {}).get("end_to_end_s", {}).get("median")),
    ("startups_100k_model_s", "100k startups, model run", "<=", 5.0, "s", f"{_FULL}, startups.initial=100000",
     lambda r: (_size(r, 100_000) or {}).get("model_s", {}).get("median")),
    ("startups_100k_peak_rss_bytes", "100k startups, peak RSS", "<=", float(GIB), "B", f"{_FULL}, startups.initial=100000",
     lambda r: (_size(r, 100_000) or {}).get("peak_rss_bytes", {}).get("median")),
    ("growth_10k_100k", "model time 100k / 10k startups", "<=", 12.0, "x", f"{_FULL}, sizes 10000 and 100000", _growth),
    ("vectorized_speedup_10k", "Mesa reference time / settle_month time", ">=", 50.0, "x", "10000 startups", _speedup),
    ("ensemble_runs_per_s_2_workers", "baseline runs/s with 2 workers", ">=", 5.0, "runs/s", f"{_FULL}, 2 workers",
     lambda r: _ensemble(r, 2)),
]


def judge(results: dict) -> list[dict]:
    """Each target's measurement and status: pass, miss, or n/a when the run does not meet its conditions."""
    out = []
    for tid, what, op, target, unit, conditions, measure in TARGETS:
        try:
            value = measure(results)
        except (KeyError, TypeError, ZeroDivisionError):
            value = None
        if value is None:
            status = "n/a"
        else:
            status = "pass" if (value <= target if op == "<=" else value >= target) else "miss"
        out.append({"id": tid, "figure": what, "conditions": conditions, "measured": value, "op": op, "target": target,
                    "unit": unit, "status": status})
    return out


# =========================================================================================
# report
# =========================================================================================
def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "s":
        if abs(v) >= 1:
            return f"{v:.2f} s"
        return f"{v * 1e3:.2f} ms" if abs(v) >= 1e-3 else f"{v * 1e6:.1f} us"
    if unit == "B":
        if v >= GIB:
            return f"{v / GIB:.2f} GiB"
        return f"{v / MIB:.0f} MiB" if v >= MIB else f"{v:.1f} B"
    if unit == "/s":
        for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if v >= scale:
                return f"{v / scale:.2f} {suffix}/s"
        return f"{v:.1f} /s"
    if unit == "x":
        return f"{v:.1f}x"
    if unit == "count":
        return f"{v:,.0f}"
    return f"{v:.2f} {unit}"


def fmt_target(v: float, unit: str) -> str:
    if unit == "B":
        return f"{v / GIB:g} GiB" if v >= GIB else f"{v / MIB:g} MiB"
    return f"{v:g}x" if unit == "x" else f"{v:g} {unit}"


def table(results: dict) -> str:
    targets = {t["id"]: t for t in results["targets"]}
    rows: list[tuple[str, str, str, str, str]] = []

    def add(figure: str, st: dict | float | None, unit: str, target_id: str | None = None) -> None:
        if isinstance(st, dict):
            med, rng = fmt(st["median"], unit), f"[{fmt(st['min'], unit)} .. {fmt(st['max'], unit)}]"
            if st["n"] == 1:
                rng = ""
        else:
            med, rng = fmt(st, unit), ""
        t = targets.get(target_id) if target_id else None
        tgt = f"{t['op']} {fmt_target(t['target'], t['unit'])}" if t else ""
        rows.append((figure, med, rng, tgt, t["status"] if t else ""))

    def section(title: str, key: str) -> dict | None:
        rows.append((f"-- {title}", "", "", "", ""))
        sec = results.get(key)
        if sec is None:
            rows.append(("   (not run)", "", "", "", ""))
        elif "error" in sec:
            rows.append((f"   ERROR: {sec['error'][:90]}", "", "", "", ""))
            return None
        return sec

    if b := section("baseline", "baseline"):
        h = f"{b['start']}..{b['end']}"
        add(f"model run {h} ({b['startups_initial']:,} startups)", b["model_s"], "s", "baseline_model_s")
        add("frontiersim run end to end", b["end_to_end_s"], "s", "baseline_end_to_end_s")
        for x in b.get("report_s", []):
            k = x["workers"]
            add(f"frontiersim report of that run, {k} worker{'s' if k > 1 else ''}", x["wall_s"], "s")
    if sc := section("scaling in startups", "scaling"):
        for x in sc["sizes"]:
            n = x["startups_initial"]
            big = n == 100_000
            add(f"{n:>7,} startups {sc['start']}..{sc['end']}: model run", x["model_s"], "s", "startups_100k_model_s" if big else None)
            add(f"{n:>7,}   time per month", x["s_per_month"], "s")
            add(f"{n:>7,}   startup-steps per s", x["startup_steps_per_s"], "/s")
            add(f"{n:>7,}   peak RSS", x["peak_rss_bytes"], "B", "startups_100k_peak_rss_bytes" if big else None)
            if "system_s" in x:  # results written before these were measured lack them
                add(f"{n:>7,}   of the run: system (kernel) CPU time", x["system_s"], "s")
                add(f"{n:>7,}   of the run: minor page faults", x["minor_faults"], "count")
            add(f"{n:>7,}   state per startup row ({x['rows_end']:,} rows)", x["bytes_per_startup"], "B")
        if g := sc.get("growth"):
            tid = "growth_10k_100k" if (g["from_startups"], g["to_startups"]) == (10_000, 100_000) else None
            add(f"time growth {g['from_startups']:,} -> {g['to_startups']:,} startups ({g['size_ratio']:.0f}x size)",
                g["time_ratio"], "x", tid)
    if v := section("startup month: vectorized vs Mesa reference", "vectorized_vs_mesa"):
        n = v["startups"]
        add(f"settle_month, {n:,} startups", v["vectorized_s_per_month"], "s")
        add(f"Mesa reference (shuffle_do), {n:,} agents", v["mesa_s_per_month"], "s")
        add(f"speedup (same month, results {'match' if v['reference_matches'] else 'DIFFER'})", v["speedup"], "x",
            "vectorized_speedup_10k" if n == 10_000 else None)
    if "instructions" in results and (i := section("instructions (valgrind cachegrind)", "instructions")):
        add(f"baseline model run {i['start']}..{i['end']}: instructions", i["run_instructions"], "count")
        add("instructions per simulated month", i["instructions_per_month"], "count")
        add("imports and scenario (a run's start-up): instructions", i["instructions_without_run"], "count")
    method = (results.get("ensemble") or {}).get("method")
    if e := section(f"ensemble ({method})" if method else "ensemble", "ensemble"):
        for x in e["by_workers"]:
            k = x["workers"]
            add(f"{e['runs']} baseline runs {e['start']}..{e['end']}, {k} worker{'s' if k > 1 else ''}: runs/s",
                x["runs_per_s"], "runs/s", "ensemble_runs_per_s_2_workers" if k == 2 else None)
            if "run_s" in x:
                add(f"{k} worker{'s' if k > 1 else ''}: one run in a worker", x["run_s"], "s")
                add(f"{k} worker{'s' if k > 1 else ''}: runs/s once started ({k} / median run)", x["steady_runs_per_s"], "runs/s")
        if x := e.get("scalars_only"):
            k = x["workers"]
            add(f"the same, {k} worker{'s' if k > 1 else ''}, --scalars-only: runs/s", x["runs_per_s"], "runs/s")
            if "run_s" in x:
                add("--scalars-only: one run in a worker", x["run_s"], "s")
                add(f"--scalars-only: runs/s once started ({k} / median run)", x["steady_runs_per_s"], "runs/s")
    head = ("figure", "median", "[min .. max]", "target", "status")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    lines = ["  ".join(c.ljust(w) if i in (0, 2, 3) else c.rjust(w) if i == 1 else c for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in [head] + rows]
    lines.insert(1, "-" * len(lines[0]))
    m = results["meta"]
    title = (f"frontiersim benchmarks: {m['mode']} mode, {m['repeat']} repetition(s), median [min .. max]; "
             f"{m['git']} on {m['cpus']} CPUs, Python {m['python']}, numpy {m['numpy']}, mesa {m['mesa']}\n"
             f"load average (1/5/15 min) at start {m.get('loadavg_start')}, at end {m.get('loadavg_end')}; "
             f"benchmark wall time {m.get('bench_wall_s', 0):.0f} s")
    counts = {s: sum(t["status"] == s for t in results["targets"]) for s in ("pass", "miss", "n/a")}
    foot = f"targets: {counts['pass']} pass, {counts['miss']} miss, {counts['n/a']} n/a (timings never fail the run)"
    return "\n".join([title, ""] + lines + ["", foot])


def meta(cfg: Config) -> dict:
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    except OSError:
        git = ""
    return {"timestamp": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "mode": cfg.mode,
            "repeat": cfg.repeat, "config": asdict(cfg), "argv": sys.argv[1:], "git": git or "unknown",
            "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "numpy": version("numpy"), "mesa": version("mesa"), "frontiersim": version("frontiersim"),
            "loadavg_start": _loadavg()}


def _loadavg() -> list[float] | None:
    """1, 5 and 15-minute load averages: other work on the machine inflates wall-clock figures."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="frontiersim benchmark suite (see benchmarks/README.md)")
    p.add_argument("--quick", action="store_true", help="small sizes, short horizon, one repetition (under a minute)")
    p.add_argument("--repeat", type=int, help="repetitions per figure (default 3, quick 1)")
    p.add_argument("--out", help="JSON file to write (default benchmarks/results/bench-<timestamp>.json)")
    p.add_argument("--only", help=f"comma-separated sections to run, of {', '.join(SECTIONS + OPTIONAL_SECTIONS)} "
                                  f"(default: all but {', '.join(OPTIONAL_SECTIONS)})")
    p.add_argument("--_child", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a._child:
        kind, *rest = a._child
        if kind == "scaling":
            print(json.dumps(child_scaling(int(rest[0]), rest[1], rest[2])))
        elif kind == "ensemble":
            print(json.dumps(child_ensemble(int(rest[0]), int(rest[1]), rest[2], rest[3])))
        elif kind == "instructions":
            print(json.dumps(child_instructions(rest[0], rest[1], rest[2] == "1")))
        else:
            p.error(f"unknown child mode {kind!r}")
        return 0
    cfg = QUICK if a.quick else FULL
    if a.repeat is not None:
        if a.repeat < 1:
            p.error(f"--repeat: expected at least 1, got {a.repeat}")
        cfg = Config(**{**asdict(cfg), "repeat": a.repeat})
    only = SECTIONS if not a.only else tuple(x.strip() for x in a.only.split(","))
    unknown = [x for x in only if x not in SECTIONS + OPTIONAL_SECTIONS]
    if unknown:
        p.error(f"--only: unknown section {unknown[0]!r}; expected some of {', '.join(SECTIONS + OPTIONAL_SECTIONS)}")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(a.out) if a.out else HERE / "results" / f"bench-{stamp}.json"
    results: dict = {"meta": meta(cfg)}
    runners = {"baseline": bench_baseline, "scaling": bench_scaling, "vectorized_vs_mesa": bench_vectorized_vs_mesa,
               "ensemble": bench_ensemble, "instructions": bench_instructions}
    failed = False
    t_all = time.perf_counter()
    for name in SECTIONS + OPTIONAL_SECTIONS:
        if name not in only:
            continue
        log(f"section {name} ({cfg.mode})")
        t0 = time.perf_counter()
        try:
            results[name] = runners[name](cfg)
        except Exception as e:  # a section that cannot be measured is recorded, the others still run
            traceback.print_exc()
            results[name] = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
            failed = True
        log(f"section {name} took {time.perf_counter() - t0:.1f} s")
    results["meta"]["bench_wall_s"] = time.perf_counter() - t_all
    results["meta"]["loadavg_end"] = _loadavg()
    results["targets"] = judge(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nresults written to {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
