"""Importing the project: the import-time shortcut for Mesa's loggers changes nothing they see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# a module that, while it is being imported, records the stack as inspect reports it (what
# Mesa's module loggers do) and the module inspect finds for each frame
PROBE = '''
import inspect, json, sys
STACK = [(f.filename, f.lineno, f.function, f.code_context, getattr(inspect.getmodule(f.frame), "__name__", None))
         for f in inspect.stack()]
'''

SCRIPT = '''
import importlib, json, sys
sys.path.insert(0, {probe_dir!r})
sys.path.insert(0, {root!r})
if {prime}:
    import sim  # maps the import machinery's frames for inspect
import inspect
mapped = {{k: v for k, v in inspect.modulesbyfile.items() if k.startswith("<frozen")}}
checks = [0]
ismodule = inspect.ismodule
def counting(obj):  # getmodule's scan of the loaded modules calls this once per module
    checks[0] += 1
    return ismodule(obj)
inspect.ismodule = counting
probe = importlib.import_module("frontiersim_stack_probe")
print(json.dumps({{"stack": probe.STACK, "mapped": mapped, "checks": checks[0], "modules": len(sys.modules)}}))
'''


def _stack(tmp_path: Path, prime: bool) -> dict:
    (tmp_path / "frontiersim_stack_probe.py").write_text(PROBE)
    code = SCRIPT.format(probe_dir=str(tmp_path), root=str(ROOT), prime=prime)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    return json.loads(out.stdout)


def test_inspect_sees_the_same_stack_with_the_import_frames_mapped(tmp_path):
    plain, primed = _stack(tmp_path, False), _stack(tmp_path, True)
    assert plain["mapped"] == {}
    assert primed["mapped"]["<frozen importlib._bootstrap>"] == "importlib._bootstrap"
    assert any(f[0] == "<frozen importlib._bootstrap>" for f in plain["stack"])  # imported through the machinery
    # every frame's file, line, function, source lines and module are the same
    assert primed["stack"] == plain["stack"]
    # and the loaded modules were scanned far fewer times: about once per frame of the import
    # machinery before, now once for the probe's own frame only
    assert plain["checks"] > 3 * plain["modules"]
    assert primed["checks"] < 0.5 * plain["checks"], (primed["checks"], plain["checks"])
