"""Importing the project: the import-time shortcuts for Mesa (its loggers, SciPy, networkx, tqdm) change nothing
Mesa or those libraries do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


# ----- SciPy left out of Mesa's import (sim/mesa_import.py) ---------------------------------------

SPACE_SCRIPT = '''
import json, sys
sys.path.insert(0, {root!r})
if {scipy_first}:
    import scipy.spatial.distance
import sim.model  # imports Mesa as a run does
scipy_after_import = "scipy" in sys.modules
import numpy as np
import mesa
from mesa.experimental.continuous_space import ContinuousSpace, ContinuousSpaceAgent
model = mesa.Model(rng=1)
space = ContinuousSpace([[0, 1], [0, 1]], torus=False, random=model.random)
for p in np.random.default_rng(2).random((5, 2)):
    ContinuousSpaceAgent(space, model).position = p
dist, agents = space.calculate_distances(np.array([0.5, 0.25]))
pos = np.array([a.position for a in agents])
import scipy.spatial, scipy.spatial.distance as d
print(json.dumps({{"scipy_after_import": scipy_after_import, "mesa": mesa.__version__, "n": len(dist),
                  "err": float(np.max(np.abs(dist - np.hypot(*(pos - [0.5, 0.25]).T)))),
                  "real": d is sys.modules["scipy.spatial.distance"] and scipy.spatial.distance is d
                          and hasattr(d, "pdist") and d.__file__.endswith("distance.py")}}))
'''


def _space(tmp_path: Path, scipy_first: bool) -> dict:
    code = SPACE_SCRIPT.format(root=str(ROOT), scipy_first=scipy_first)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    return json.loads(out.stdout)


def test_importing_the_model_leaves_scipy_unloaded_and_mesas_continuous_space_still_works(tmp_path):
    for scipy_first in (False, True):
        r = _space(tmp_path, scipy_first)
        new_mesa = tuple(int(x) for x in r["mesa"].split(".")[:2]) >= (3, 4)
        # Mesa 3.3 needs SciPy only for the continuous space's cdist; Mesa >= 3.4 imports
        # scipy.spatial itself, and then the real module must be the one everybody sees
        assert r["scipy_after_import"] == (scipy_first or new_mesa), r
        # the continuous space measures distances with SciPy's cdist, loaded on first use
        assert r["n"] == 5 and r["err"] < 1e-12, r
        assert r["real"], r


PROBE_SCIPY = '''
from scipy.spatial.distance import cdist as early  # while the stand-in is in place
from scipy.spatial import KDTree                   # anything else of SciPy: the stand-in goes
from scipy.spatial.distance import cdist as late
'''

PROBE_OTHER_NAME = '''
from scipy.spatial.distance import cdist as early
from scipy.spatial.distance import pdist           # a name the stand-in does not defer
'''

DEFER_SCRIPT = '''
import json, sys
sys.path.insert(0, {probe_dir!r})
sys.path.insert(0, {root!r})
import numpy as np
from sim.mesa_import import import_deferring
probe = import_deferring({module!r})
import scipy.spatial, scipy.spatial.distance as d
a, b = np.random.default_rng(0).random((4, 3)), np.random.default_rng(1).random((6, 3))
print(json.dumps({{
    "real": d is sys.modules["scipy.spatial.distance"] and scipy.spatial.distance is d and hasattr(d, "pdist"),
    "early_is_real": probe.early is d.cdist,
    "early_same": bool(np.array_equal(probe.early(a, b), d.cdist(a, b))),
    "late_is_real": getattr(probe, "late", d.cdist) is d.cdist,
    "pdist_is_real": getattr(probe, "pdist", d.pdist) is d.pdist,
    "finders": [type(f).__name__ for f in sys.meta_path]}}))
'''


def test_the_stand_in_gives_way_to_scipy_as_soon_as_anything_else_of_it_is_imported(tmp_path):
    (tmp_path / "probe_scipy.py").write_text(PROBE_SCIPY)
    (tmp_path / "probe_other.py").write_text(PROBE_OTHER_NAME)
    for module in ("probe_scipy", "probe_other"):
        code = DEFER_SCRIPT.format(probe_dir=str(tmp_path), root=str(ROOT), module=module)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
        r = json.loads(out.stdout)
        # SciPy's packages and later importers get the real module; what was bound while the
        # stand-in was in place computes the same, through SciPy
        assert r["real"] and r["late_is_real"] and r["pdist_is_real"], r
        assert not r["early_is_real"] and r["early_same"], r
        assert "_DropBeforeReal" not in r["finders"], r  # the finder is gone after the import


def test_the_finder_removes_the_stand_in_before_any_scipy_module_is_looked_for(monkeypatch):
    # with SciPy as installed, its own modules ask the stand-in for names it does not defer before
    # binding it, which also removes it (the test above); the finder makes that not matter
    from sim import mesa_import as mi

    name = "scipy.spatial.distance"
    stand_in, nx_stand_in = mi.stand_in(name), mi.stand_in("networkx")
    monkeypatch.setitem(sys.modules, name, stand_in)
    monkeypatch.setitem(sys.modules, "networkx", nx_stand_in)
    finder = mi._DropBeforeReal([stand_in, nx_stand_in])
    assert finder.find_spec("numpy.linalg") is None and sys.modules[name] is stand_in
    assert finder.find_spec("scipyx") is None and sys.modules[name] is stand_in
    assert finder.find_spec("scipy.sparse") is None and name not in sys.modules
    assert sys.modules["networkx"] is nx_stand_in  # each library's stand-in goes with its own library only
    monkeypatch.setitem(sys.modules, name, stand_in)
    assert finder.find_spec("scipy") is None and name not in sys.modules
    assert finder.find_spec("networkx.algorithms") is None and "networkx" not in sys.modules
    for s in (stand_in, nx_stand_in):
        with pytest.raises(AttributeError):
            s.__path__  # the import system's questions get a plain module's answers


# ----- networkx and tqdm left out of Mesa's import and of a run -----------------------------------

NETWORK_SCRIPT = '''
import json, sys
sys.path.insert(0, {root!r})
if {networkx_first}:
    import networkx, tqdm.auto
from sim.run import run_scenario, write_outputs
res = run_scenario("baseline", end="2024-06")
write_outputs(res, {out!r})
loaded_by_run = sorted(k for k in sys.modules if k.split(".")[0] in ("networkx", "tqdm", "asyncio"))
import mesa, mesa.space, mesa.batchrunner
import networkx as nx
from sim.deals import build_graph
g = nx.path_graph(5)
grid = mesa.space.NetworkGrid(g)  # Mesa's network space, whose module bound networkx while it imported
near = sorted(grid.get_neighborhood(0, include_center=False, radius=2))
nx.write_graphml(build_graph(res.deals), {nx_out!r})
import tqdm.auto
bar = mesa.batchrunner.tqdm(total=3, disable=True)  # what batch_run calls, bound while Mesa imported
print(json.dumps({{"loaded_by_run": loaded_by_run, "near": near, "bar": type(bar) is tqdm.auto.tqdm,
                  "real": nx is sys.modules["networkx"] and nx.__file__.endswith("__init__.py")
                          and "networkx.classes" in sys.modules}}))
'''


def test_a_run_never_loads_networkx_or_tqdm_and_mesas_network_space_and_batch_runner_still_work(tmp_path):
    for networkx_first in (False, True):
        out, nx_out = tmp_path / f"run-{networkx_first}", tmp_path / f"nx-{networkx_first}.graphml"
        code = NETWORK_SCRIPT.format(root=str(ROOT), networkx_first=networkx_first, out=str(out), nx_out=str(nx_out))
        r = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                                      check=True).stdout)
        # a run, its outputs included, imports no networkx, tqdm or asyncio module (unless the caller had)
        assert bool(r["loaded_by_run"]) == networkx_first, r
        assert r["bar"], r  # batch_run's progress bar is tqdm's
        # Mesa's NetworkGrid answers through the real networkx, and later importers get the real module
        assert r["near"] == [1, 2] and r["real"], r
        # the deals graph the run wrote without networkx is byte for byte networkx's own
        assert (out / "deals.graphml").read_bytes() == nx_out.read_bytes()


# ----- Mesa's loggers inspect the stack without source lines while Mesa imports ---------------------

LOGGERS_SCRIPT = '''
import json, sys
sys.path.insert(0, {root!r})
if {through_project}:
    import sim.model  # imports Mesa through sim.mesa_import
import inspect
import mesa, mesa.model
from mesa import mesa_logging
print(json.dumps({{"loggers": sorted(mesa_logging._module_loggers),
                  "restored": inspect.stack.__module__ == "inspect" and inspect.getouterframes.__module__ == "inspect"}}))
'''


def test_mesas_loggers_get_the_same_names_and_inspect_is_restored(tmp_path):
    def loggers(through_project: bool) -> dict:
        code = LOGGERS_SCRIPT.format(root=str(ROOT), through_project=through_project)
        return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                                         check=True).stdout)

    plain, ours = loggers(False), loggers(True)
    assert "mesa.model" in plain["loggers"]
    assert ours["loggers"] == plain["loggers"]
    assert ours["restored"] and plain["restored"]


def test_only_mesas_logging_module_gets_frames_without_source_lines():
    import inspect

    from sim.mesa_import import _frames_without_source_for_mesa_logging

    as_mesa = {"__name__": "mesa.mesa_logging", "inspect": inspect}
    exec("def probe():\n    return inspect.stack(), inspect.getouterframes(inspect.currentframe())", as_mesa)
    plain_stack = inspect.stack()
    with _frames_without_source_for_mesa_logging():
        mesa_stack, mesa_outer = as_mesa["probe"]()
        ours = inspect.stack()
    assert inspect.stack.__module__ == "inspect" and inspect.getouterframes.__module__ == "inspect"
    # Mesa's helper gets the frames, files, lines and names, without source lines
    assert all(f.code_context is None for f in mesa_stack + mesa_outer)
    assert [f.function for f in mesa_stack] == [f.function for f in mesa_outer] == ["probe"] + [f.function for f in plain_stack]
    assert mesa_stack[1].frame is sys._getframe(0) and mesa_stack[1].lineno == mesa_outer[1].lineno
    # anybody else gets inspect's own answer, source lines included
    assert [(f.filename, f.function, f.code_context) for f in ours[1:]] == \
        [(f.filename, f.function, f.code_context) for f in plain_stack[1:]]
    assert ours[0].code_context is not None
