"""Option, ini and ``[tool.codeflash]`` names, resolved once into a frozen ``Settings``.

Precedence: command line > ini file > ``[tool.codeflash]`` in pyproject.toml > defaults.
``add_options`` runs at every pytest start-up, so this module imports nothing heavy at module
level; ``resolve_settings`` (only called when the plugin is active) imports pydantic.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .models import Settings

BACKENDS = ("rules", "openai", "codeflash-service", "none")
EFFORTS = ("low", "medium", "high")
# Backends whose candidate source exists in this version.
AVAILABLE_BACKENDS = ("rules", "none")


@dataclass(frozen=True)
class _Knob:
    """One setting that may come from the command line, the ini file and/or pyproject."""

    field: str
    flag: str | None
    ini: str | None
    toml: str | None
    kind: str  # "str", "int", "float", "list"
    help: str
    metavar: str = ""

    @property
    def dest(self) -> str:
        """The argparse destination of the command-line flag."""
        return (self.flag or "").lstrip("-").replace("-", "_")


_KNOBS = (
    _Knob(
        "backend",
        "--codeflash-backend",
        "codeflash_backend",
        "backend",
        "str",
        "Candidate source: rules, openai, codeflash-service or none (default: rules)",
        "NAME",
    ),
    _Knob(
        "report",
        "--codeflash-report",
        "codeflash_report",
        "report",
        "str",
        "Write the JSON report to this path",
        "PATH",
    ),
    _Knob(
        "max_functions",
        "--codeflash-max-functions",
        "codeflash_max_functions",
        "max-functions",
        "int",
        "Optimize at most N functions",
        "N",
    ),
    _Knob(
        "effort",
        "--codeflash-effort",
        "codeflash_effort",
        "effort",
        "str",
        "How hard to try: low, medium or high (default: medium)",
        "LEVEL",
    ),
    _Knob(
        "min_speedup",
        "--codeflash-min-speedup",
        "codeflash_min_speedup",
        "min-speedup",
        "float",
        "Required speedup beyond 1.0 at the confidence bound (default: 0.05)",
        "F",
    ),
    _Knob(
        "timeout",
        "--codeflash-timeout",
        "codeflash_timeout",
        "timeout",
        "float",
        "Wall-clock limit in seconds per evaluation (default: scaled from the original)",
        "S",
    ),
    _Knob(
        "float_rel_tol",
        "--codeflash-float-rel-tol",
        "codeflash_float_rel_tol",
        "float-rel-tol",
        "float",
        "Relative tolerance for comparing floats (default: 0, exact)",
        "R",
    ),
    _Knob(
        "exclude",
        "--codeflash-exclude",
        "codeflash_exclude",
        "exclude",
        "list",
        "Never optimize functions whose qualified name matches this glob "
        "(e.g. 'pkg.legacy.*'); repeatable; replaces the ini/pyproject list",
        "GLOB",
    ),
    _Knob("module_root", None, None, "module-root", "str", ""),
    _Knob("tests_root", None, None, "tests-root", "str", ""),
    _Knob("ignore_paths", None, None, "ignore-paths", "list", ""),
    _Knob("formatter_cmds", None, None, "formatter-cmds", "list", ""),
    _Knob("git_remote", None, None, "git-remote", "str", ""),
    _Knob("memory_limit_mb", None, None, "memory-limit-mb", "int", ""),
    _Knob("max_captured_calls", None, None, "max-captured-calls", "int", ""),
    _Knob("api_key_env", None, None, "api-key-env", "list", ""),
)
# Keys that ``codeflash init`` writes or Codeflash documents but that mean nothing to this
# plugin: accepted, so a project set up for Codeflash runs as it is, and named under -v.
CODEFLASH_ONLY_KEYS = {
    "test-framework": "the tests always run with the pytest you started",
    "pytest-cmd": "pytest-codeflash runs inside the pytest you started: put pytest options "
    "on its command line or in addopts",
    "benchmarks-root": "there is no separate benchmark run: your tests are the profile",
    "benchmark": "there is no separate benchmark run: your tests are the profile",
    "disable-telemetry": "pytest-codeflash collects no telemetry",
    "disable-imports-sorting": "imports are never sorted: use formatter-cmds for that",
    "override-fixtures": "no tests are generated, so your fixtures are never changed",
    "language": "pytest-codeflash optimizes Python only",
}
_TOML_KEYS = {k.toml: k for k in _KNOBS if k.toml}


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
        if knob.flag:
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
        action="store_true",
        default=False,
        help="Open a pull request with the accepted optimizations",
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
    """Merge every source into one validated ``Settings``, or raise ``pytest.UsageError``."""
    from pydantic import ValidationError

    from .models import Settings

    rootdir = Path(config.rootpath)
    values: dict[str, Any] = _read_pyproject(rootdir)
    for knob in _KNOBS:
        raw = _getini(config, knob.ini) if knob.ini else ""
        if raw not in ("", None, []):
            values[knob.field] = _convert(knob, raw, f"ini option {knob.ini}={raw!r}")
        cli = config.getoption(knob.dest) if knob.flag else None
        if cli is not None:
            values[knob.field] = _convert(knob, cli, f"{knob.flag}={cli!r}")
    _check_choices(values)
    values.update(
        backend_explicit="backend" in values,
        enabled=True,
        rootdir=rootdir,
        targets=tuple(config.getoption("codeflash_target")),
        candidates=tuple(Path(c) for c in config.getoption("codeflash_candidate")),
        apply=config.getoption("codeflash_apply"),
        apply_force=config.getoption("codeflash_apply_force"),
        pr=config.getoption("codeflash_pr"),
        dry_run=config.getoption("codeflash_dry_run"),
        changed_since=config.getoption("codeflash_changed_since"),
        verbosity=config.get_verbosity(),
    )
    if values.get("report"):
        # Like --junitxml: a path given on the command line is relative to where pytest was
        # started; one from a configuration file is relative to the project root.
        base = (
            Path(config.invocation_params.dir) if config.getoption("codeflash_report") else rootdir
        )
        values["report"] = base / Path(values["report"]).expanduser()
    try:
        settings = Settings(**values)
    except ValidationError as err:
        raise pytest.UsageError(_explain_validation(err)) from None
    _check_combinations(settings)
    return settings


def _getini(config: pytest.Config, name: str) -> Any:
    """``config.getini``, with a value pytest cannot convert turned into a usage error."""
    try:
        return config.getini(name)
    except (TypeError, ValueError) as err:  # pytest < 9.2 raises these as they are
        raise pytest.UsageError(f"ini option {name}: {err}") from None


def _read_pyproject(rootdir: Path) -> dict[str, Any]:
    path = rootdir / "pyproject.toml"
    if not path.is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise pytest.UsageError(f"{path.name}: cannot read [tool.codeflash]: {err}") from None
    table = data.get("tool", {}).get("codeflash", {})
    if not isinstance(table, dict):
        raise pytest.UsageError("pyproject.toml: [tool.codeflash] must be a table")
    values: dict[str, Any] = {}
    unused: list[str] = []
    for key, raw in table.items():
        knob = _TOML_KEYS.get(key)
        if knob is None and key in CODEFLASH_ONLY_KEYS:
            unused.append(key)
            continue
        if knob is None:
            known = [*_TOML_KEYS, *CODEFLASH_ONLY_KEYS]
            close = difflib.get_close_matches(key.replace("_", "-"), known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise pytest.UsageError(
                f"pyproject.toml: unknown key {key!r} in [tool.codeflash].{hint} "
                f"Valid keys: {', '.join(sorted(_TOML_KEYS))}; also accepted, as Codeflash "
                f"writes them, but not used: {', '.join(sorted(CODEFLASH_ONLY_KEYS))}."
            )
        values[knob.field] = _convert(knob, raw, f"[tool.codeflash] {key} = {raw!r}")
    if unused:
        values["unused_keys"] = tuple(unused)
    return values


def _convert(knob: _Knob, raw: Any, where: str) -> Any:
    """Turn a raw CLI/ini/toml value into the setting's type, or explain why not."""
    try:
        if knob.kind == "int":
            if isinstance(raw, bool):
                raise ValueError
            value: Any = int(raw)
            if value < 1:
                raise pytest.UsageError(f"{where} must be at least 1. {_FIX[knob.field]}")
            return value
        if knob.kind == "float":
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
            if value < 0 or (value == 0 and knob.field != "float_rel_tol"):
                bound = "zero or more" if knob.field == "float_rel_tol" else "greater than zero"
                raise pytest.UsageError(f"{where} must be {bound}. {_FIX[knob.field]}")
            return value
        if knob.kind == "list":
            if isinstance(raw, str):
                return tuple(part for part in raw.split() if part)
            if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
                raise ValueError
            # An empty entry means nothing ("--codeflash-exclude=" clears the list).
            return tuple(part for part in raw if part.strip())
        if not isinstance(raw, str):
            raise ValueError
        return raw.strip()
    except (TypeError, ValueError):
        kind = {
            "int": "a whole number",
            "float": "a number",
            "list": "a list of strings",
            "str": "a string",
        }[knob.kind]
        raise pytest.UsageError(f"{where} is not {kind}. {_FIX[knob.field]}") from None


_FIX = {
    "backend": "Use one of: " + ", ".join(BACKENDS) + ".",
    "report": "Give a file path, e.g. --codeflash-report=codeflash.json.",
    "max_functions": "Give a positive number; to skip optimization, omit --codeflash.",
    "effort": "Use one of: " + ", ".join(EFFORTS) + ".",
    "min_speedup": "Give a fraction such as 0.05 (5 % faster).",
    "timeout": "Give the number of seconds, e.g. 60, or omit it to scale from the original.",
    "float_rel_tol": "Give a small fraction such as 1e-9, or 0 for exact comparison.",
    "exclude": 'Give qualified-name globs, e.g. exclude = ["pkg.legacy.*", "*.Parser.slow"].',
    "module_root": "Give a directory relative to the project root.",
    "tests_root": 'Give the tests\' directory relative to the project root, e.g. "tests".',
    "git_remote": 'Give the name of a git remote, e.g. git-remote = "origin".',
    "ignore_paths": 'Give a list of paths, e.g. ignore-paths = ["src/pkg/vendored"].',
    "formatter_cmds": 'Give a list of commands, e.g. formatter-cmds = ["ruff format $file"].',
    "memory_limit_mb": "Give the limit in MiB, e.g. 4096.",
    "max_captured_calls": "Give a positive number, e.g. 64.",
    "api_key_env": "Give a list of environment variable names.",
}


def _check_choices(values: dict[str, Any]) -> None:
    for field, choices, flag in (
        ("backend", BACKENDS, "--codeflash-backend"),
        ("effort", EFFORTS, "--codeflash-effort"),
    ):
        value = values.get(field)
        if value is not None and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise pytest.UsageError(f"{flag}={value!r} is not a known {field}.{hint} {_FIX[field]}")


def _explain_validation(err: Any) -> str:
    first = err.errors()[0]
    name = ".".join(str(p) for p in first["loc"])
    return f"codeflash setting {name}={first.get('input')!r}: {first['msg']}."


def _check_combinations(settings: Settings) -> None:
    """Refuse settings that are each valid but do not go together, or not in this version."""
    _check_platform()
    if settings.pr:
        raise pytest.UsageError(
            "--codeflash-pr is not available in this version. Use the patch written under "
            ".codeflash/patches/ or --codeflash-apply instead."
        )
    if settings.backend_explicit and settings.backend not in AVAILABLE_BACKENDS:
        raise pytest.UsageError(
            f"--codeflash-backend={settings.backend!r} is not available in this version. "
            "Use --codeflash-backend=rules (the built-in rule engine), give your own rewrite "
            "with --codeflash-candidate=FILE, or use --codeflash-backend=none."
        )
    what = f"--codeflash-target={settings.targets[0]}" if settings.targets else "--codeflash"
    if settings.targets and settings.changed_since:
        raise pytest.UsageError(
            f"--codeflash-changed-since={settings.changed_since} filters the functions that "
            "--codeflash discovers, so it cannot be combined with --codeflash-target. Drop "
            "the targets to optimize what changed, or drop --codeflash-changed-since."
        )
    # The rules back-end always has a source; "none" has only candidate files.
    if settings.backend != "rules" and not settings.candidates and not settings.dry_run:
        raise pytest.UsageError(
            f"{what} has no candidate source: the {settings.backend!r} backend proposes no "
            "rewrites. Give your own rewrite with --codeflash-candidate=FILE, or use "
            "--codeflash-backend=rules."
        )


def _check_platform() -> None:
    """The runner needs POSIX: process sessions, ``fork``, ``resource`` limits."""
    if os.name == "posix" and hasattr(os, "fork"):
        return
    raise pytest.UsageError(
        f"--codeflash needs a POSIX system such as Linux or macOS, and this is {sys.platform!r} "
        f"(os.name {os.name!r}): candidates run in isolated subprocesses with their own "
        "process session and resource limits (setsid, setrlimit, killpg). Run it under WSL or "
        "in a Linux container (for example in CI); without --codeflash your tests run as usual."
    )
