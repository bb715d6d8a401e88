"""Import Mesa without importing SciPy, networkx or tqdm until something asks for them.

``import mesa`` (3.3) imports three libraries that frontiersim's runs never use:

- its experimental continuous space does ``from scipy.spatial.distance import cdist`` at import
  time, which loads SciPy's spatial package (~0.3-0.4 s);
- ``mesa.space`` does ``import networkx as nx`` for its ``NetworkGrid`` (~0.2-0.3 s). A run writes
  its deals graph as GraphML text without networkx (:func:`sim.deals.write_graphml`);
- ``mesa.batchrunner`` does ``from tqdm.auto import tqdm`` for ``batch_run``'s progress bar, which
  imports asyncio and ssl as well (~0.04 s). frontiersim never calls ``batch_run``.

Both would be paid by every process that imports the model: a ``frontiersim run``, an ensemble's
parent and its workers.

:func:`import_mesa` imports Mesa while those two modules are stand-ins in ``sys.modules``. The
SciPy stand-in has a ``cdist`` that imports the real function on its first call and then calls
it, and the tqdm stand-in a ``tqdm`` that does the same; the networkx stand-in has no names of
its own. Any other name asked of a stand-in (``nx.Graph``,
``pdist``) is answered from the real module, which that question imports. The stand-ins are
removed from ``sys.modules`` as soon as Mesa is imported, and before that at the first sign that
anything else of the library is being imported (Mesa >= 3.4 imports ``scipy.spatial`` for its
discrete spaces): a finder placed first on ``sys.meta_path`` while Mesa imports takes a stand-in
out of ``sys.modules`` before any module of its library is looked for, so the library's own
packages only ever see real modules. Afterwards ``import networkx`` or
``import scipy.spatial.distance`` gives the real module; what Mesa bound to a stand-in keeps
working, one call later, through the real module.

While Mesa imports, its module loggers (``mesa.mesa_logging``) call ``inspect.stack()`` and
``inspect.getouterframes()`` to learn the calling module's and class's names. With the default
``context=1`` inspect reads a line of source for every frame of the import's stack, ~30-50 ms per
process; Mesa reads only the frames and function names. :func:`import_mesa` therefore answers
those two calls, when they come from ``mesa.mesa_logging`` and only until Mesa is imported, with
``context=0``: the same frames, files, lines and names, without source lines. Every other caller
gets inspect's own answer. ``tests/test_imports.py`` checks all of this.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
import types


def _cdist(*args, **kwargs):
    """``scipy.spatial.distance.cdist``, imported on the first call."""
    from scipy.spatial.distance import cdist

    return cdist(*args, **kwargs)


def _tqdm(*args, **kwargs):
    """``tqdm.auto.tqdm(...)``, imported on the first call."""
    from tqdm.auto import tqdm

    return tqdm(*args, **kwargs)


#: the modules left for later while Mesa imports, and the names each stand-in holds itself
DEFERRED: dict[str, dict] = {
    "scipy.spatial.distance": {"cdist": _cdist},  # Mesa 3.3's continuous space: ``from ... import cdist``
    "networkx": {},  # mesa.space: ``import networkx as nx``, used only inside NetworkGrid's methods
    "tqdm.auto": {"tqdm": _tqdm},  # mesa.batchrunner: ``from tqdm.auto import tqdm``, called by batch_run
}


class _StandIn(types.ModuleType):
    """A module in place of ``__name__`` whose unknown names are looked up in the real module."""

    def __getattr__(self, name: str):
        if name.startswith("__"):  # the import system's questions (``__path__``, ...): a plain module
            raise AttributeError(name)
        _drop(self)
        return getattr(importlib.import_module(self.__name__), name)


def _drop(stand_in: types.ModuleType) -> None:
    if sys.modules.get(stand_in.__name__) is stand_in:
        del sys.modules[stand_in.__name__]


class _DropBeforeReal:
    """A meta-path finder that removes a stand-in before any module of its library is looked for."""

    def __init__(self, stand_ins: list[types.ModuleType]):
        self.by_library = {s.__name__.split(".")[0]: s for s in stand_ins}

    def find_spec(self, fullname, path=None, target=None):
        stand_in = self.by_library.get(fullname.split(".")[0])
        if stand_in is not None:
            _drop(stand_in)
        return None  # the usual finders import it


def stand_in(name: str) -> _StandIn:
    """The stand-in for ``name`` (one of :data:`DEFERRED`)."""
    s = _StandIn(name, f"Stand-in for {name} while Mesa imports (frontiersim).")
    for attr, value in DEFERRED[name].items():
        setattr(s, attr, value)
    return s


_MESA_LOGGING = "mesa.mesa_logging"


@contextlib.contextmanager
def _frames_without_source_for_mesa_logging():
    """``inspect.stack`` and ``inspect.getouterframes`` answer ``mesa.mesa_logging`` with
    ``context=0`` inside the block (and everybody else as inspect does); restored after it."""
    stack, getouterframes = inspect.stack, inspect.getouterframes

    def stack_for_mesa(context=1):
        caller = sys._getframe(1)
        if caller.f_globals.get("__name__") == _MESA_LOGGING:
            context = 0
        return getouterframes(caller, context)  # what inspect.stack returns for its caller

    def getouterframes_for_mesa(frame, context=1):
        if sys._getframe(1).f_globals.get("__name__") == _MESA_LOGGING:
            context = 0
        return getouterframes(frame, context)

    inspect.stack, inspect.getouterframes = stack_for_mesa, getouterframes_for_mesa
    try:
        yield
    finally:
        inspect.stack, inspect.getouterframes = stack, getouterframes


def import_mesa() -> types.ModuleType:
    """``import mesa``, with SciPy's distance module, networkx and tqdm left for later and its
    loggers' stack inspection without source lines (see above)."""
    if "mesa" in sys.modules:
        return sys.modules["mesa"]
    with _frames_without_source_for_mesa_logging():
        return import_deferring("mesa")


def import_deferring(module: str) -> types.ModuleType:
    """Import ``module`` with each module of :data:`DEFERRED` that is not loaded yet a stand-in
    until the import ends or anything else of its library is imported; a plain import if
    ``module`` is already loaded."""
    if module in sys.modules:
        return importlib.import_module(module)
    stand_ins = [stand_in(name) for name in DEFERRED if name not in sys.modules]
    if not stand_ins:
        return importlib.import_module(module)
    finder = _DropBeforeReal(stand_ins)
    for s in stand_ins:
        sys.modules[s.__name__] = s
    sys.meta_path.insert(0, finder)
    try:
        return importlib.import_module(module)
    finally:
        sys.meta_path.remove(finder)
        for s in stand_ins:
            _drop(s)


mesa = import_mesa()
