"""The documentation covers every option the plugin registers (#17).

Read from the real parser of this pytest process (the plugin is installed), so an option
added anywhere fails here until docs/reference/options.md and README's table describe it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pytest_codeflash.options import knobs

ROOT = Path(__file__).resolve().parents[1]
OPTIONS_MD = ROOT / "docs" / "reference" / "options.md"
README = ROOT / "README.md"


def _group(config: pytest.Config) -> Any:
    return config._parser.getgroup("codeflash")


def _flags(config: pytest.Config) -> list[tuple[str, str | None]]:
    """Each registered long flag and its placeholder (``None`` for a switch)."""
    found = []
    for option in _group(config).options:
        (flag,) = [name for name in option.names() if name.startswith("--")]
        found.append((flag, option.attrs().get("metavar")))
    return found


def _ini_keys(config: pytest.Config) -> list[str]:
    return [name for name in config._parser._inidict if name.startswith("codeflash")]


def test_the_plugin_registers_options(pytestconfig: pytest.Config) -> None:
    flags = dict(_flags(pytestconfig))
    assert "--codeflash" in flags
    assert flags["--codeflash-report"] == "PATH"
    assert "codeflash_report" in _ini_keys(pytestconfig)


def test_every_option_is_in_the_options_reference(pytestconfig: pytest.Config) -> None:
    text = OPTIONS_MD.read_text(encoding="utf-8")
    missing = []
    for flag, metavar in _flags(pytestconfig):
        shown = f"`{flag}={metavar}`" if metavar else f"`{flag}`"
        if shown not in text:
            missing.append(shown)
    missing += [f"`{key}`" for key in _ini_keys(pytestconfig) if f"`{key}`" not in text]
    assert not missing, f"docs/reference/options.md does not describe: {', '.join(missing)}"


def test_every_pyproject_key_is_in_the_options_reference() -> None:
    text = OPTIONS_MD.read_text(encoding="utf-8")
    keys = [k.toml for k in knobs._KNOBS if k.toml] + list(knobs.CODEFLASH_ONLY_KEYS)
    missing = [key for key in keys if f"`{key}`" not in text]
    assert not missing, f"docs/reference/options.md does not describe: {', '.join(missing)}"


def test_every_option_is_in_the_readme_table(pytestconfig: pytest.Config) -> None:
    rows = {
        match.group(1)
        for match in re.finditer(r"^\| `(--[a-z-]+)(?:=[A-Z/]+)?` \|", README.read_text(), re.M)
    }
    missing = [flag for flag, _ in _flags(pytestconfig) if flag not in rows]
    assert not missing, f"README's options table has no row for: {', '.join(missing)}"


def test_readme_placeholders_match_help(pytestconfig: pytest.Config) -> None:
    text = README.read_text(encoding="utf-8")
    wrong = [
        f"{flag}={metavar}"
        for flag, metavar in _flags(pytestconfig)
        if metavar and f"| `{flag}" in text and f"| `{flag}={metavar}` |" not in text
    ]
    assert not wrong, f"README shows another placeholder than --help for: {', '.join(wrong)}"
