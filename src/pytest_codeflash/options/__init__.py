"""Option, ini and ``[tool.codeflash]`` names, resolved once into a frozen ``Settings``.

The names are in :mod:`.knobs`; resolving them, in :mod:`.resolve`.

Precedence: command line > ini file > ``[tool.codeflash]`` in pyproject.toml > defaults.
``add_options`` runs at every pytest start-up, so this module imports nothing heavy at module
level; ``resolve_settings`` (only called when the plugin is active) imports pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from .knobs import _KNOBS, CODEFLASH_ONLY_KEYS, _Knob

if TYPE_CHECKING:
    from ..records import Settings


def add_options(parser: pytest.Parser) -> None:
    """Register the ``codeflash`` option group and its ini twins."""
    group = parser.getgroup("codeflash", "make slow functions faster, with proof")
    group.addoption(
        "--codeflash",
        action="store_true",
        default=False,
        help="Optimize the functions the tests exercise, after the test run",
    )
    group.addoption(
        "--codeflash-target",
        action="append",
        default=[],
        metavar="SPEC",
        help="Optimize this function (pkg.mod.func, pkg.mod.Class.method or "
        "path/to/file.py::func); repeatable; implies --codeflash",
    )
    group.addoption(
        "--codeflash-candidate",
        action="append",
        default=[],
        metavar="FILE",
        help="Evaluate this hand-written replacement of the single target; repeatable",
    )
    for knob in _KNOBS:
        if knob.flag and knob.kind == "bool":
            group.addoption(knob.flag, action="store_true", default=None, help=knob.help)
        elif knob.flag:
            action = "append" if knob.kind == "list" else "store"
            group.addoption(
                knob.flag, action=action, default=None, metavar=knob.metavar, help=knob.help
            )
        if knob.ini:
            parser.addini(knob.ini, knob.help, type=_ini_type(knob), default="")
    group.addoption(
        "--codeflash-apply",
        action="store_true",
        default=False,
        help="Write accepted optimizations into the source files (atomically)",
    )
    group.addoption(
        "--codeflash-apply-force",
        action="store_true",
        default=False,
        help="Apply even over files with uncommitted changes",
    )
    group.addoption(
        "--codeflash-pr",
        nargs="?",
        const="each",
        default=None,
        metavar="MODE",
        help="Open a pull request per optimized function (needs GITHUB_TOKEN); "
        "--codeflash-pr=single opens one for the whole run",
    )
    group.addoption(
        "--codeflash-dry-run",
        action="store_true",
        default=False,
        help="Show what would be optimized; evaluate nothing",
    )
    group.addoption(
        "--codeflash-changed-since",
        default=None,
        metavar="GITREF",
        help="With automatic discovery: only optimize functions whose lines changed since "
        "this git ref (e.g. origin/main), for CI on pull requests",
    )


def _ini_type(knob: _Knob) -> Any:
    """The ini type: lists split like a shell; numbers also native in TOML, where supported.

    Since pytest 9.2 a type may be a union, so ``codeflash_max_functions = 3`` in a
    ``[tool.pytest]`` table is accepted as well as the string ``"3"``; the string member
    keeps a wrong value ours to explain (``_convert`` names the key and the fix).
    """
    if knob.kind == "list":
        return "args"
    if knob.kind in ("int", "float") and pytest.version_tuple[:2] >= (9, 2):
        return (int if knob.kind == "int" else float) | str
    return None


def is_enabled(config: pytest.Config) -> bool:
    """Whether any option turns the pipeline on (cheap; no heavy imports)."""
    return bool(config.getoption("codeflash") or config.getoption("codeflash_target"))


def resolve_settings(config: pytest.Config) -> Settings:
    """Merge every source into one validated ``Settings``, or raise ``pytest.UsageError``.

    See :mod:`.resolve`; imported only when the plugin is active (it loads pydantic).
    """
    from .resolve import resolve_settings as resolve

    return resolve(config)


def unused_key_lines(settings: Settings) -> list[str]:
    """Under ``-v``, once at the start: the ``[tool.codeflash]`` keys read but not used."""
    if settings.verbosity <= 0 or not settings.unused_keys:
        return []
    lines = ["codeflash: [tool.codeflash] keys of Codeflash that this plugin does not use:"]
    lines += [f"  {key}: {CODEFLASH_ONLY_KEYS[key]}" for key in settings.unused_keys]
    return lines
