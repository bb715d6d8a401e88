"""The benchmark suite keeps working: quick mode measures every section, targets never fail a run,
and the Mesa reference it compares against runs the same rules as the vectorized startup month."""

from __future__ import annotations

import importlib.util
import json
import numbers
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.startups import ACQUIRED, ALIVE, settle_month

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    """Import a module from benchmarks/ (a folder of scripts, not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _numbers(obj, path=""):
    """Every numeric leaf of a JSON value, with its path."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(obj, numbers.Number) and not isinstance(obj, bool):
        yield path, obj


@pytest.mark.slow
def test_quick_benchmark_measures_every_section_with_positive_numbers(tmp_path):
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, str(BENCH / "bench.py"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(out.read_text())
    for section in ("baseline", "scaling", "vectorized_vs_mesa", "ensemble"):
        assert section in res and "error" not in res[section], res.get(section)
        leaves = list(_numbers(res[section]))
        assert leaves, section
        # kernel time and page faults of a short run may round to zero; every other figure is positive
        may_be_zero = (".system_s", ".minor_faults")
        bad = [(k, v) for k, v in leaves
               if not (np.isfinite(v) and (v > 0 or (v == 0 and any(m in k for m in may_be_zero))))]
        assert not bad, f"{section}: non-positive figures {bad}"
    assert all(isinstance(x["allocator_tuned"], bool) for x in res["scaling"]["sizes"])
    assert len(res["scaling"]["sizes"]) >= 2 and res["scaling"]["growth"]["time_ratio"] > 0
    assert [x["workers"] for x in res["ensemble"]["by_workers"]] == [1, 2]
    assert res["ensemble"]["scalars_only"]["workers"] == 2  # and its figures are positive (above)
    assert [x["workers"] for x in res["baseline"]["report_s"]] == [1, 2]
    assert res["vectorized_vs_mesa"]["reference_matches"] is True
    # every target is reported; quick mode does not meet their conditions, so none is judged
    assert {t["id"] for t in res["targets"]} == {t[0] for t in _load("bench").TARGETS}
    assert all(t["status"] == "n/a" for t in res["targets"])
    assert "median" in p.stdout and "target" in p.stdout


def _full_results(model_s: float, speedup: float) -> dict:
    st = lambda v: {"median": v, "min": v, "max": v, "n": 1, "values": [v]}  # noqa: E731
    size = lambda n, s: {"startups_initial": n, "model_s": st(s), "peak_rss_bytes": st(2e9)}  # noqa: E731
    return {
        "baseline": {"start": "2024-01", "end": "2040-12", "model_s": st(model_s), "end_to_end_s": st(2.0)},
        "scaling": {"start": "2024-01", "end": "2040-12", "sizes": [size(10_000, 1.0), size(100_000, 20.0)]},
        "vectorized_vs_mesa": {"startups": 10_000, "speedup": st(speedup)},
        "ensemble": {"error": "RuntimeError: no pool"},
    }


def test_targets_are_judged_only_under_their_conditions_and_a_miss_is_reported_not_raised():
    bench = _load("bench")
    t = {x["id"]: x for x in bench.judge(_full_results(model_s=0.4, speedup=30.0))}
    assert t["baseline_model_s"]["status"] == "pass" and t["baseline_end_to_end_s"]["status"] == "pass"
    assert t["vectorized_speedup_10k"]["status"] == "miss"
    assert t["startups_100k_model_s"]["status"] == "miss" and t["startups_100k_peak_rss_bytes"]["status"] == "miss"
    assert t["growth_10k_100k"]["measured"] == pytest.approx(20.0) and t["growth_10k_100k"]["status"] == "miss"
    assert t["ensemble_runs_per_s_2_workers"]["status"] == "n/a"  # the section failed: nothing to judge
    short = _full_results(model_s=0.1, speedup=100.0)
    short["baseline"]["end"] = "2026-12"
    short["vectorized_vs_mesa"]["startups"] = 1_000
    t = {x["id"]: x for x in bench.judge(short)}
    assert t["baseline_model_s"]["status"] == "n/a" and t["vectorized_speedup_10k"]["status"] == "n/a"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mesa_reference_settles_the_same_month_as_the_vectorized_phase(seed):
    ref = _load("mesa_reference")
    s, kw = ref.sample_month(2_000, seed=seed)
    # frequent acquisitions, and labs whose cash is about twice the bids they can expect, so that
    # some labs buy and others (bid for more than half their cash) refuse
    kw.update(acq_rate=0.3, lab_cash=np.full(len(kw["lab_cash"]), 1e15))
    unlimited = settle_month({k: v.copy() for k, v in s.items()}, **kw)
    bids_usd = unlimited["acq_price_by_lab"].sum() + unlimited["acq_cash_by_lab"].sum()
    kw["lab_cash"] = np.full(len(kw["lab_cash"]), 2.0 * bids_usd / (~kw["lab_blocked"]).sum())
    vec = {k: v.copy() for k, v in s.items()}
    out = settle_month(vec, **kw)
    model = ref.StartupMarket(s, len(kw["provider_weight"]), rng=seed)
    model.set_month(**kw)
    model.step()
    state, flows = model.state(), model.flows()
    model.release()
    for k in ref.STATE:
        np.testing.assert_allclose(state[k], vec[k], rtol=1e-9, atol=1e-6, err_msg=k)
    for k, v in flows.items():
        if k in ("failed", "acquired"):
            np.testing.assert_array_equal(v, out[k], err_msg=k)
        else:
            np.testing.assert_allclose(v, out[k], rtol=1e-9, atol=1e-6, err_msg=k)
    # the month exercises every rule: rounds, failures, acquisitions, refused bids, acquired apps' revenue
    bid = (s["status"] == ALIVE) & ~out["failed"] & (kw["u_acq"] < kw["acq_rate"] * kw["sentiment"])
    assert out["acquired"].any() and (bid & ~out["acquired"]).any()
    assert out["failed"].any() and (out["follow_on"] > 0).any()
    assert (s["status"] == ACQUIRED).any() and out["acq_revenue_by_lab"].sum() > 0


# ----- instruction counts (valgrind) ------------------------------------------------------------
VALGRIND_STDERR = """==4242== Cachegrind, a cache and branch-prediction profiler
==4242== Command: python bench.py
==4242==
==4242== I   refs:      4,251,123,784
"""


def test_valgrind_instruction_count_is_parsed_and_its_absence_is_an_error():
    bench = _load("bench")
    assert bench.parse_valgrind_instructions(VALGRIND_STDERR) == 4_251_123_784
    with pytest.raises(RuntimeError, match="I refs"):
        bench.parse_valgrind_instructions("==1== Memcheck, a memory error detector\n")


FAKE_VALGRIND = """#!/bin/sh
# stands in for valgrind: runs the command after the options, then reports a count that says
# whether the child made the model run (its last argument)
while [ "${1#--}" != "$1" ]; do shift; done
"$@" || exit $?
for last; do :; done
if [ "$last" = "1" ]; then n="5,000,000"; else n="2,000,000"; fi
echo "==99== I   refs:      $n" >&2
"""


def _bench_instructions(tmp_path, path_dirs: list[str]):
    env = {**os.environ, "PATH": ":".join(path_dirs)}
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, str(BENCH / "bench.py"), "--quick", "--only", "instructions", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=env)
    return p, (json.loads(out.read_text()) if out.exists() else None)


def test_instruction_section_subtracts_the_imports_and_reports_per_month(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "valgrind").write_text(FAKE_VALGRIND)
    (fake / "valgrind").chmod(0o755)
    p, res = _bench_instructions(tmp_path, [str(fake), "/usr/bin", "/bin"])
    assert p.returncode == 0, p.stderr[-3000:]
    i = res["instructions"]
    assert (i["instructions_with_run"], i["instructions_without_run"]) == (5_000_000, 2_000_000)
    assert i["run_instructions"] == 3_000_000 and i["months"] == 36
    assert i["instructions_per_month"] == pytest.approx(3_000_000 / 36)
    assert "3,000,000" in p.stdout
    # and the start-up a run pays before it (imports and the scenario), which end to end includes
    assert any("imports and scenario" in line and "2,000,000" in line for line in p.stdout.splitlines())
    assert set(res) >= {"meta", "targets", "instructions"} and "baseline" not in res  # optional: only when asked


def test_instruction_section_without_valgrind_fails_with_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    p, res = _bench_instructions(tmp_path, [str(empty)])
    assert p.returncode == 1
    assert "valgrind not found" in res["instructions"]["error"]
    assert "valgrind not found" in p.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_count_of_a_short_run_with_real_valgrind(tmp_path):
    p, res = _bench_instructions(tmp_path, os.environ["PATH"].split(":"))
    assert p.returncode == 0, p.stderr[-3000:]
    i = res["instructions"]
    # a 36-month run costs hundreds of millions of instructions, and less than the imports before it
    assert 1e8 < i["run_instructions"] < i["instructions_without_run"]


# ----- equivalence.py: do two ensembles come from the same model? ------------------------------


def test_holm_adjustment():
    eq = _load("equivalence")
    # sorted 0.005, 0.01, 0.03, 0.04: x4, x3, x2, x1, each at least the one before
    assert eq.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert eq.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def _outcomes(rng, n, shift=0.0, const=3.0):
    import pandas as pd

    return pd.DataFrame({"run": range(n), "x_2030": rng.normal(10 + shift, 2.0, n), "y_2030": rng.exponential(1.0, n),
                         "k_2030": rng.integers(0, 5, n), "c_2030": np.full(n, const), "label": "a"})


def test_equivalence_flags_a_shift_and_passes_the_same_law():
    eq = _load("equivalence")
    rng = np.random.default_rng(3)
    ref = _outcomes(rng, 200)
    same = eq.compare(ref, _outcomes(rng, 200))
    assert set(same["outcome"]) == {"x_2030", "y_2030", "k_2030", "c_2030"} and not same["differs"].any()
    shifted = eq.compare(ref, _outcomes(rng, 200, shift=1.0)).set_index("outcome")  # half a standard deviation
    assert shifted.loc["x_2030", "differs"] and not shifted.drop("x_2030")["differs"].any()
    assert shifted.loc["x_2030", "std_diff"] == pytest.approx(0.5, abs=0.2)
    moved_const = eq.compare(ref, _outcomes(rng, 200, const=4.0)).set_index("outcome")
    assert moved_const.loc["c_2030", "differs"] and moved_const.loc["c_2030", "std_diff"] == np.inf
    # the caught shift shrinks with more runs and grows with more outcomes to test
    assert eq.detectable_shift(800, 800, 10, 0.01) < eq.detectable_shift(200, 200, 10, 0.01) < eq.detectable_shift(200, 200, 100, 0.01)


def test_equivalence_false_alarms_stay_within_the_level():
    """Forty pairs of samples from the same law, at a family-wise level of 0.1: a few false
    alarms at most (expected about four; more than twelve has probability below 1e-4)."""
    eq = _load("equivalence")
    rng = np.random.default_rng(11)
    alarms = sum(bool(eq.compare(_outcomes(rng, 60), _outcomes(rng, 60), alpha=0.1)["differs"].any()) for _ in range(40))
    assert alarms <= 12


def test_equivalence_command_on_two_ensembles(tmp_path, capsys):
    from sim.ensemble import ensemble_plan, execute

    eq = _load("equivalence")
    for name, seed in (("a", 1), ("b", 2)):
        execute(ensemble_plan("baseline", 6, master_seed=seed, end="2024-12", keep_model=False), tmp_path / name,
                workers=1, progress=False)
    assert eq.main([str(tmp_path / "a"), str(tmp_path / "b"), "--json", str(tmp_path / "eq.json")]) == 0
    out = capsys.readouterr().out
    assert "frontier_ece_2024" in out and "No outcome differs." in out
    assert json.loads((tmp_path / "eq.json").read_text())["outcomes"]
    # the same seeds in both: not independent samples
    assert eq.main([str(tmp_path / "a"), str(tmp_path / "a")]) == 2
    assert "use different --seed values" in capsys.readouterr().err
    # not an ensemble directory: one line, exit 2
    assert eq.main([str(tmp_path / "a"), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert "missing: not an ensemble directory" in err and "\n" not in err
    assert eq.main([str(tmp_path / "a"), str(tmp_path / "b"), "--alpha", "2"]) == 2
