"""Import Mesa without importing SciPy until something asks for it.

``import mesa`` (3.3) imports its experimental continuous space, whose module does
``from scipy.spatial.distance import cdist`` at import time. That loads SciPy's spatial package,
~0.3-0.4 s of every process that imports the model (a ``frontiersim run``, an ensemble's parent
and every worker), although frontiersim never uses a continuous space and nothing in it calls
``cdist``.

:func:`import_mesa` imports Mesa while ``scipy.spatial.distance`` is a stand-in module whose
``cdist`` loads the real function on its first call and then calls it. The stand-in is removed
as soon as Mesa is imported, and before that at the first sign that anything else of SciPy is
being imported (Mesa >= 3.4 imports ``scipy.spatial`` for its discrete spaces): a finder placed
first on ``sys.meta_path`` while Mesa imports takes it out of ``sys.modules`` before any ``scipy``
module is looked for, so SciPy's own packages only ever see the real module. Any other name
asked of the stand-in also removes it and is answered from the real module. Afterwards
``import scipy.spatial.distance`` gives the real module, and Mesa's continuous space computes
with SciPy's ``cdist``, one call later. ``tests/test_imports.py`` checks all of this.
"""

from __future__ import annotations

import importlib
import sys
import types

_NAME = "scipy.spatial.distance"


def _cdist(*args, **kwargs):
    """``scipy.spatial.distance.cdist``, imported on the first call."""
    from scipy.spatial.distance import cdist

    return cdist(*args, **kwargs)


class _StandIn(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):  # the import system's questions (``__path__``, ...): a plain module
            raise AttributeError(name)
        _drop(self)
        return getattr(importlib.import_module(_NAME), name)


def _drop(stand_in: types.ModuleType) -> None:
    if sys.modules.get(_NAME) is stand_in:
        del sys.modules[_NAME]


class _DropBeforeScipy:
    """A meta-path finder that removes the stand-in before any SciPy module is looked for."""

    def __init__(self, stand_in: types.ModuleType):
        self.stand_in = stand_in

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "scipy" or fullname.startswith("scipy."):
            _drop(self.stand_in)
        return None  # the usual finders import it


def import_mesa() -> types.ModuleType:
    """``import mesa``, with SciPy's distance module left for later (see the module docstring)."""
    return import_deferring_scipy("mesa")


def import_deferring_scipy(module: str) -> types.ModuleType:
    """Import ``module`` with ``scipy.spatial.distance`` a stand-in until the import ends or
    anything else of SciPy is imported; a plain import if either is already loaded."""
    if module in sys.modules or _NAME in sys.modules:
        return importlib.import_module(module)
    stand_in = _StandIn(_NAME, "Stand-in for scipy.spatial.distance while Mesa imports (frontiersim).")
    stand_in.cdist = _cdist
    finder = _DropBeforeScipy(stand_in)
    sys.modules[_NAME] = stand_in
    sys.meta_path.insert(0, finder)
    try:
        return importlib.import_module(module)
    finally:
        sys.meta_path.remove(finder)
        _drop(stand_in)


mesa = import_mesa()
