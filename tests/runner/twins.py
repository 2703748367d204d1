"""Modules made from source, and a Differential between two of them, built as the runner does.

Every name ``load_module`` gives a module is removed from ``sys.modules`` after each test
(the autouse fixture in ``tests/runner/conftest.py`` calls ``forget_loaded``).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

from pytest_codeflash.runner.determinism import Determinism
from pytest_codeflash.runner.differential import Differential
from pytest_codeflash.runner.overlay import remember_source
from pytest_codeflash.runner.placement import find_function, plain
from pytest_codeflash.runner.tally import Side

_loaded: set[str] = set()


def load_module(
    name: str, source: str, filename: str | None = None, *, remember: bool = False
) -> types.ModuleType:
    """Execute ``source`` as a new module ``name`` (not put in ``sys.modules``).

    ``filename`` names the code objects, ``<name>`` unless given. With ``remember`` the source
    is kept for tracebacks and ``inspect``, as the runner does, under a file name of its own for
    each source unless one is given.
    """
    if filename is None:
        filename = f"<{name} {hash(source)}>" if remember else f"<{name}>"
    if remember:
        remember_source(filename, source)
    module = types.ModuleType(name)
    _loaded.add(name)
    exec(compile(source, filename, "exec"), vars(module))
    return module


def forget_loaded() -> None:
    """Remove every name ``load_module`` was given from ``sys.modules``."""
    for name in _loaded:
        sys.modules.pop(name, None)
    _loaded.clear()


def twin_differential(
    name: str,
    original_source: str,
    candidate_source: str,
    *,
    qualname: str = "f",
    wrap: Callable[[Any], Any] = lambda function: function,
    filenames: tuple[str | None, str | None] = (None, None),
    remember: bool = False,
    **overrides: Any,
) -> Differential:
    """Compare ``qualname`` of the original source with the candidate's, as the runner does.

    The candidate's module is the importable one (``sys.modules[name]``), as in the runner;
    ``wrap`` wraps the original's function. ``overrides`` replace the Differential's other
    arguments (``max_compared``, ``max_inputs``, ``is_method``...).
    """
    original_file, candidate_file = filenames
    mine = load_module(name, original_source, original_file, remember=remember)
    theirs = load_module(name, candidate_source, candidate_file, remember=remember)
    sys.modules[name] = theirs
    _, _, raw = find_function(theirs, qualname)
    _, _, original_raw = find_function(mine, qualname)
    arguments: dict[str, Any] = {
        "determinism": Determinism(seed=0),
        "guard": None,
        # As the runner: a method takes self (or cls) first unless it is a static method.
        "is_method": "." in qualname and not isinstance(raw, staticmethod),
        "is_generator": False,
        "is_async": False,
        "rel_tol": 0.0,
        "hook": None,
        "max_compared": 100_000,
        "max_inputs": 100,
    }
    arguments.update(overrides)
    return Differential(
        module_name=name,
        original=Side(wrap(plain(original_raw)), mine),
        candidate=Side(plain(raw), theirs),
        **arguments,
    )
