"""The seed-0 baseline table that README.md and docs/ODD.md quote is what the code prints.

It is the first thing a newcomer compares with their own `frontiersim run baseline`; a change
that moves a seed-0 trajectory (a new random stream, a new rule) must update it in the same
commit, or this test fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.cli import summary_table

ROOT = Path(__file__).resolve().parents[1]
TABLE = re.compile(r"```\n( year frontier FLOP[^\n]*\n.*?)\n```", re.S)


@pytest.mark.slow
@pytest.mark.parametrize("doc", ["README.md", "docs/ODD.md"])
def test_quoted_baseline_rows_are_what_frontiersim_run_prints(run_cached, doc):
    blocks = TABLE.findall((ROOT / doc).read_text(encoding="utf-8"))
    assert len(blocks) == 1, f"{doc}: expected one quoted baseline table, found {len(blocks)}"
    quoted = blocks[0].splitlines()
    # `frontiersim run baseline`: seed 0, to the scenario's end (2040-12)
    printed = summary_table(run_cached("baseline", 0, "2040-12", ()).model).splitlines()
    assert quoted[0] == printed[0], f"{doc}: the header differs from what the CLI prints"
    assert len(quoted) >= 3, f"{doc}: the table quotes fewer than three years"
    stale = [line for line in quoted[1:] if line not in printed[1:]]
    assert not stale, f"{doc}: rows not printed by the current code: {stale}; it prints:\n" + "\n".join(printed)


def test_experiments_ensemble_example_runs_as_a_saved_script(tmp_path):
    """docs/EXPERIMENTS.md section 2's Python example works saved as a file and run with a pool
    of two workers (which re-import the script: it needs its __main__ guard)."""
    import os
    import subprocess
    import sys

    text = (ROOT / "docs/EXPERIMENTS.md").read_text(encoding="utf-8")
    m = re.search(r"From Python \(saved as a script.*?```python\n(.*?)```", text, re.S)
    assert m, "docs/EXPERIMENTS.md: the ensemble example 'From Python (saved as a script...' is missing"
    script = tmp_path / "ens.py"
    script.write_text(m[1])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    assert "hhi_revenue" in p.stdout and len(list((tmp_path / "runs" / "ens-py" / "runs").glob("part-*"))) == 4
