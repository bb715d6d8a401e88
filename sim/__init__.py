"""frontiersim's simulation core: the model, its markets, runs, ensembles and the command line."""

import inspect as _inspect
import sys as _sys


def _map_frozen_import_frames() -> None:
    """Tell :mod:`inspect` which modules the import system's own frames belong to.

    Importing Mesa costs ~0.1 s more than it needs to. Its module loggers call ``inspect.stack()``
    while Mesa is being imported. For every frame whose file it has not mapped yet,
    ``inspect.getmodule`` scans all loaded modules (~1,100 once pandas and networkx are in), and the
    frames of the import machinery ('<frozen importlib._bootstrap>', ...) are never mapped, so
    each of them costs a full scan. Mapping those names to the modules they are, once, saves ~350
    million instructions (8% of importing the project) in every process that imports Mesa: a
    run from the command line, an ensemble's parent and its worker server. What inspect returns
    is the same (such frames have no source lines either way); ``tests/test_imports.py`` checks
    it.
    """
    for name in ("importlib._bootstrap", "importlib._bootstrap_external", "runpy", "zipimport"):
        if name in _sys.modules:
            _inspect.modulesbyfile.setdefault(f"<frozen {name}>", name)


_map_frozen_import_frames()
