"""Resolve the settings of a run: every source merged, converted, checked.

Precedence: command line > ini file > ``[tool.codeflash]`` in pyproject.toml > defaults.
Imported only when the plugin is active.
Every bad value raises ``pytest.UsageError`` naming the value and the fix.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .knobs import _KNOBS, _TOML_KEYS, BACKENDS, CODEFLASH_ONLY_KEYS, EFFORTS, _Knob

if TYPE_CHECKING:
    from ..records import Settings


def resolve_settings(config: pytest.Config) -> Settings:
    """Merge every source into one validated ``Settings``, or raise ``pytest.UsageError``."""
    from ..records import Settings

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
        **_pull_request(config.getoption("codeflash_pr")),
        dry_run=config.getoption("codeflash_dry_run"),
        changed_since=config.getoption("codeflash_changed_since"),
        verbosity=config.get_verbosity(),
    )
    for name in ("report", "report_md"):
        if values.get(name):
            # Like --junitxml: a path given on the command line is relative to where pytest
            # was started; one from a configuration file is relative to the project root.
            given = config.getoption(f"codeflash_{name}")
            base = Path(config.invocation_params.dir) if given else rootdir
            values[name] = base / Path(values[name]).expanduser()
    try:
        settings = Settings(**values)
    except (TypeError, ValueError) as err:  # checked above: a bug, or a plugin's values
        raise pytest.UsageError(f"codeflash settings: {err}.") from None
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
            return _bounded(knob, _number(raw, int), where)
        if knob.kind == "float":
            value = _number(raw, float)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
            return _bounded(knob, value, where)
        if knob.kind == "list":
            if isinstance(raw, str):
                return tuple(part for part in raw.split() if part)
            return _strings(raw)
        if knob.kind == "bool":
            return _boolean(raw)
        if knob.kind == "backends":
            return _backends(raw, where)
        if not isinstance(raw, str):
            raise ValueError
        if knob.kind == "url":
            return _url(raw.strip(), where, knob)
        if knob.kind == "shard":
            return _shard(raw.strip(), where)
        if knob.kind == "envname":
            name = raw.strip()
            if not (name.isascii() and name.isidentifier()):  # [A-Za-z_][A-Za-z0-9_]*
                raise pytest.UsageError(
                    f"{where} is not an environment variable name. {_FIX[knob.field]}"
                )
            return (name,)
        return raw.strip()
    except (TypeError, ValueError):
        kind = {
            "int": "a whole number",
            "float": "a number",
            "list": "a list of strings",
            "bool": "true or false",
            "backends": "a backend name or a list of them",
        }.get(knob.kind, "a string")
        raise pytest.UsageError(f"{where} is not {kind}. {_FIX[knob.field]}") from None


def _number(raw: Any, kind: type[int] | type[float]) -> Any:
    if isinstance(raw, bool):
        raise ValueError
    return kind(raw)


def _bounded(knob: _Knob, value: float, where: str) -> float:
    """``value`` within the setting's bounds (those ``Settings`` checks), or a usage error
    that says where the value came from and how to fix it."""
    from ..records import BOUNDS

    default = (1, True, None) if knob.kind == "int" else (0, False, None)
    low, low_allowed, top = BOUNDS.get(knob.field, default)
    if knob.kind == "int" and value < low:
        raise pytest.UsageError(f"{where} must be at least {low:g}. {_FIX[knob.field]}")
    if value < low or (value == low and not low_allowed):
        bound = "zero or more" if low_allowed else "greater than zero"
        raise pytest.UsageError(f"{where} must be {bound}. {_FIX[knob.field]}")
    if top is not None and value > top:
        raise pytest.UsageError(f"{where} must be at most {top:g}. {_FIX[knob.field]}")
    return value


def _strings(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ValueError
    # An empty entry means nothing ("--codeflash-exclude=" clears the list).
    return tuple(part for part in raw if part.strip())


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "yes", "on", "1"):
        return True
    if isinstance(raw, str) and raw.strip().lower() in ("false", "no", "off", "0"):
        return False
    raise ValueError


def _backends(raw: Any, where: str) -> tuple[str, ...]:
    """``rules``, ``rules,openai`` (or a TOML list): the back-ends in the order given."""
    parts = raw.replace(",", " ").split() if isinstance(raw, str) else _strings(raw)
    if not parts:
        raise pytest.UsageError(f"{where} names no backend. {_FIX['backend']}")
    return tuple(part.strip() for part in parts)


def _shard(value: str, where: str) -> tuple[int, int]:
    """``K/N``: the K-th of N shares, 1 <= K <= N."""
    index, slash, count = value.partition("/")
    if not slash or not index.strip().isdigit() or not count.strip().isdigit():
        raise pytest.UsageError(f"{where} is not of the form K/N. {_FIX['shard']}")
    k, n = int(index), int(count)
    if n < 1 or not 1 <= k <= n:
        raise pytest.UsageError(f"{where}: K must be between 1 and N. {_FIX['shard']}")
    return k, n


def _pull_request(value: str | None) -> dict[str, Any]:
    """``--codeflash-pr`` alone (one pull request per function) or ``=single``."""
    if value is None:
        return {"pr": False}
    mode = value.strip().lower()
    if mode in ("each", "single"):
        return {"pr": True, "pr_mode": mode}
    raise pytest.UsageError(
        f"--codeflash-pr={value!r} is not a mode. Give --codeflash-pr (one pull request per "
        "optimized function) or --codeflash-pr=single (one for the run); a test path given "
        "right after --codeflash-pr is read as its mode, so put paths before it."
    )


def _url(value: str, where: str, knob: _Knob) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise pytest.UsageError(f"{where} is not an http(s) URL. {_FIX[knob.field]}")
    return value.rstrip("/")


_FIX = {
    "backend": "Use one of: "
    + ", ".join(BACKENDS)
    + "; combine several with commas, e.g. rules,openai.",
    "report": "Give a file path, e.g. --codeflash-report=codeflash.json.",
    "report_md": "Give a file path, e.g. --codeflash-report-md=codeflash.md.",
    "no_cache": "Give true or false.",
    "workers": "Give a positive number, e.g. 2, or omit it to use every CPU.",
    "shard": "Give the share and the number of shares, e.g. --codeflash-shard=1/4 in the "
    "first of four CI jobs.",
    "github_api_url": "Give the API's base URL, e.g. https://api.github.com, or "
    "https://HOST/api/v3 for GitHub Enterprise Server.",
    "github_repo": "Give the repository as OWNER/NAME, e.g. octo-org/octo-repo.",
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
    "llm_url": "Give the API's base URL, e.g. https://api.openai.com/v1, or "
    "http://localhost:11434/v1 for a local Ollama server.",
    "llm_model": "Give the model's name as the server knows it, e.g. gpt-4o-mini.",
    "llm_api_key_env": "Give the name of the variable, e.g. --codeflash-llm-api-key-env="
    "OPENROUTER_API_KEY (the key itself never goes on the command line).",
    "llm_temperature": "Give a number from 0 to 2, e.g. 0.7, or omit it for the model's own.",
    "llm_candidates": "Give a number from 1 to 16; 1 works with every server.",
    "llm_max_tokens": "Give the number of tokens, e.g. 4096.",
    "llm_concurrency": "Give a number from 1 to 64, e.g. 4.",
    "llm_timeout": "Give the number of seconds, e.g. 120.",
    "llm_no_cache": "Give true or false.",
    "service_url": "Give the service's base URL, e.g. https://app.codeflash.ai.",
}


def _check_choices(values: dict[str, Any]) -> None:
    effort = values.get("effort")
    if effort is not None and effort not in EFFORTS:
        close = difflib.get_close_matches(effort, EFFORTS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise pytest.UsageError(
            f"--codeflash-effort={effort!r} is not a known effort.{hint} {_FIX['effort']}"
        )
    backends = values.pop("backend", None)
    if backends is None:
        return
    given = ",".join(backends)
    for name in backends:
        if name not in BACKENDS:
            close = difflib.get_close_matches(name, BACKENDS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            what = f"{given!r} is not" if len(backends) == 1 else f"{given!r}: {name!r} is not"
            raise pytest.UsageError(
                f"--codeflash-backend={what} a known backend.{hint} {_FIX['backend']}"
            )
    if len(set(backends)) != len(backends):
        raise pytest.UsageError(
            f"--codeflash-backend={given!r} names a backend twice. Name each one once."
        )
    if "none" in backends and len(backends) > 1:
        raise pytest.UsageError(
            f"--codeflash-backend={given!r} combines 'none' with other backends. Use 'none' "
            "alone (only --codeflash-candidate files), or drop it."
        )
    values["backend"], values["backends"] = backends[0], backends


def _check_combinations(settings: Settings) -> None:
    """Refuse settings that are each valid but do not go together, or not in this version."""
    _check_platform()
    if settings.pr:
        _check_pull_request(settings)
    what = f"--codeflash-target={settings.targets[0]}" if settings.targets else "--codeflash"
    if settings.targets and settings.changed_since:
        raise pytest.UsageError(
            f"--codeflash-changed-since={settings.changed_since} filters the functions that "
            "--codeflash discovers, so it cannot be combined with --codeflash-target. Drop "
            "the targets to optimize what changed, or drop --codeflash-changed-since."
        )
    # Every back-end but "none" proposes rewrites; "none" has only candidate files.
    if settings.backends == ("none",) and not settings.candidates and not settings.dry_run:
        raise pytest.UsageError(
            f"{what} has no candidate source: the {settings.backend!r} backend proposes no "
            "rewrites. Give your own rewrite with --codeflash-candidate=FILE, or use "
            "--codeflash-backend=rules."
        )


def _check_pull_request(settings: Settings) -> None:
    """What ``--codeflash-pr`` needs that the settings alone can tell (git is checked later)."""
    if not os.environ.get("GITHUB_TOKEN", "").strip():
        raise pytest.UsageError(
            "--codeflash-pr needs a GitHub token in the GITHUB_TOKEN environment variable, "
            "and it is not set. Set it (in GitHub Actions: env: GITHUB_TOKEN: "
            "${{ secrets.GITHUB_TOKEN }}, with pull-requests: write permission), or drop "
            "--codeflash-pr."
        )
    repo = settings.github_repo
    if repo is not None and (repo.count("/") != 1 or not all(repo.split("/"))):
        raise pytest.UsageError(
            f"--codeflash-github-repo={repo!r} is not OWNER/NAME. {_FIX['github_repo']}"
        )
    if settings.dry_run:
        raise pytest.UsageError(
            "--codeflash-pr cannot be combined with --codeflash-dry-run, which evaluates "
            "nothing. Drop one of them."
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
