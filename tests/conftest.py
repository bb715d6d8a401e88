"""Shared fixtures: short runs are cached per session so several tests can read one run."""

from __future__ import annotations

import functools

import pytest

from scenarios.loader import load_scenario


@functools.lru_cache(maxsize=None)
def _run(name: str, seed: int, end: str, overrides: tuple = ()):
    from sim.run import run_scenario

    return run_scenario(name, dict(overrides), seed=seed, end=end)


@pytest.fixture(scope="session")
def run_cached():
    """``run_cached(name, seed, end, overrides_tuple)`` -> RunResult, computed once per session."""
    return _run


@pytest.fixture
def baseline():
    sc, _ = load_scenario("baseline")
    return sc
