"""The same results on both sides of Mesa 3.4.

The project supports Mesa >= 3.3 and < 4. Mesa 3.3 is the newest release for Python 3.11, and
Mesa >= 3.4 needs Python >= 3.12, so one interpreter sees only one side. This test builds a
virtual environment with an interpreter on the other side (when the machine has one), installs
the project into it from the package index as a user would, and checks that the set-up check, a
run with its outputs and a two-worker ensemble work there, with the same model table to rounding.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
NEW_MESA = tuple(int(x) for x in mesa.__version__.split(".")[:2]) >= (3, 4)
SEED, END = 3, "2026-12"


def _version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return tuple(map(int, out.stdout.split())) if out.returncode == 0 else None


def _other_python() -> str | None:
    """An interpreter across the Mesa 3.4 line from this one's Mesa: Python >= 3.12 when this one
    runs Mesa 3.3, Python 3.11 when it runs Mesa >= 3.4."""
    wanted = (lambda v: v == (3, 11)) if NEW_MESA else (lambda v: v >= (3, 12))
    candidates = [shutil.which(f"python3.{minor}") for minor in (14, 13, 12, 11)]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")), reverse=True)
    for python in filter(None, candidates):
        v = _version(python)
        if v is not None and wanted(v):
            return python
    return None


def _run(args: list, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_runs_the_same_across_the_mesa_3_4_line(tmp_path, run_cached):
    python = _other_python()
    if python is None:
        pytest.skip("no interpreter across the Mesa 3.4 line on this machine (Mesa >= 3.4 needs Python >= 3.12)")
    # install a copy of the project (so that nothing is built inside the checkout)
    src = tmp_path / "src"
    for name in ("sim", "agents", "scenarios", "analysis"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    venv = tmp_path / "venv"
    assert _run([python, "-m", "venv", venv], tmp_path, env).returncode == 0
    vpy, cli = venv / "bin" / "python", venv / "bin" / "frontiersim"
    inst = _run([vpy, "-m", "pip", "install", "--quiet", src], tmp_path, env)
    assert inst.returncode == 0, inst.stderr[-3000:]
    other_mesa = _run([vpy, "-c", "import mesa; print(mesa.__version__)"], tmp_path, env).stdout.strip()
    assert (tuple(int(x) for x in other_mesa.split(".")[:2]) >= (3, 4)) != NEW_MESA, other_mesa

    check = _run([cli, "scenarios", "check", "baseline"], tmp_path, env)
    assert check.returncode == 0, check.stderr
    run = _run([cli, "run", "baseline", "--seed", SEED, "--end", END, "--out", tmp_path / "run"], tmp_path, env)
    assert run.returncode == 0, run.stderr
    ens = _run([cli, "ensemble", "baseline", "--runs", 2, "--workers", 2, "--end", "2024-06", "--out",
                tmp_path / "ens"], tmp_path, env)
    assert ens.returncode == 0, ens.stderr
    assert len(list((tmp_path / "ens" / "runs").glob("part-*.parquet"))) == 2

    there = pd.read_parquet(tmp_path / "run" / "model.parquet")
    here = run_cached("baseline", SEED, END).model
    assert list(there.columns) == list(here.columns) and len(there) == len(here)
    for c in here.columns:
        a, b = here[c].to_numpy(), there[c].to_numpy()
        if here[c].dtype.kind == "f":
            # numpy versions differ too (the newest for each interpreter): equal to rounding
            scale = np.nanmax(np.abs(a), initial=0.0)
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9 * scale, equal_nan=True, err_msg=c)
        else:
            assert (a == b).all(), c
