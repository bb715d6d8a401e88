"""The allocator setting (sim.allocator) changes when memory goes back to the system, never a result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError, AttributeError):
        return False


GLIBC = _glibc()

# one run with enough startups that its per-startup arrays (about 25k rows, 200 KB each) are
# above glibc's default mmap threshold, i.e. allocated differently with and without the setting
CHILD = """
import hashlib, json, sys
from sim.allocator import tune_allocator
from sim.run import run_scenario
res = run_scenario("baseline", {"startups.initial": 20000}, seed=3, end="2025-06")
digest = {name: hashlib.sha256(getattr(res, name).to_csv(index=False).encode()).hexdigest()
          for name in ("model", "agents", "events", "deals")}
print(json.dumps({"tuned": tune_allocator(), "digest": digest}))
"""


def _clean_env() -> dict:
    """This environment without the variables that decide whether the setting applies."""
    return {k: v for k, v in os.environ.items()
            if k not in ("FRONTIERSIM_MALLOC_TUNING", "GLIBC_TUNABLES") and not k.startswith("MALLOC_")}


def _child(env_value: str | None) -> dict:
    env = _clean_env()
    if env_value is not None:
        env["FRONTIERSIM_MALLOC_TUNING"] = env_value
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_allocator_setting_is_on_by_default_off_by_switch_and_leaves_every_table_unchanged():
    on, off = _child(None), _child("0")
    assert off["tuned"] is False  # the switch turns it off
    assert on["tuned"] is GLIBC  # on by default where it applies, nowhere else
    assert on["digest"] == off["digest"]  # model, agents, events and deals tables byte for byte


@pytest.mark.parametrize("env", [{"FRONTIERSIM_MALLOC_TUNING": "0"}, {"MALLOC_TRIM_THRESHOLD_": "1000000"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}])
def test_allocator_setting_stays_off_when_switched_off_or_when_malloc_is_tuned_already(env):
    base = _clean_env()

    def run(e: dict) -> str:
        code = "from sim.allocator import tune_allocator; print(tune_allocator())"
        return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=e, capture_output=True, text=True,
                              timeout=120).stdout.strip()

    assert run({**base, **env}) == "False"
    assert run(base) == str(GLIBC)  # and on without them, where it applies


def test_tune_allocator_is_idempotent_and_reports_the_same_state():
    from sim.allocator import tune_allocator

    first = tune_allocator()
    assert tune_allocator() is first
    assert isinstance(first, bool)
