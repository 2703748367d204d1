"""A project set up for Codeflash runs as it is: its ``[tool.codeflash]`` is accepted (#17)."""

from __future__ import annotations

import pytest

# What ``codeflash init`` writes for a src-layout project (its documented keys, kebab-case),
# plus the keys Codeflash documents beyond those.
CODEFLASH_INIT = """\
[tool.pytest.ini_options]
pythonpath = ["src"]
testpaths = ["tests"]

[tool.codeflash]
# All paths are relative to this pyproject.toml's directory.
module-root = "src/listy"
tests-root = "tests"
benchmarks-root = "tests/benchmarks"
test-framework = "pytest"
ignore-paths = []
disable-telemetry = true
formatter-cmds = ["ruff check --exit-zero --fix $file", "ruff format $file"]
git-remote = "upstream"
pytest-cmd = "pytest"
disable-imports-sorting = false
override-fixtures = false
benchmark = false
language = "python"
"""

SHOW_SETTINGS = """
import pytest
from pytest_codeflash.plugin import session_key

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    session = config.stash.get(session_key, None)
    if session is not None:
        s = session.settings
        print(f"SETTINGS module_root={s.module_root} tests_root={s.tests_root} "
              f"git_remote={s.git_remote} formatter_cmds={list(s.formatter_cmds)} "
              f"max_functions={s.max_functions} min_speedup={s.min_speedup}")
"""


def test_codeflash_init_configuration_is_accepted_and_used(listy: pytest.Pytester) -> None:
    listy.makepyprojecttoml(CODEFLASH_INIT)
    listy.makeconftest(SHOW_SETTINGS)
    result = listy.runpytest("-s", "--codeflash", "--codeflash-dry-run")
    assert result.ret == pytest.ExitCode.OK
    assert (
        "SETTINGS module_root=src/listy tests_root=tests git_remote=upstream "
        "formatter_cmds=['ruff check --exit-zero --fix $file', 'ruff format $file'] "
    ) in result.stdout.str()
    result.stdout.fnmatch_lines(
        ["*= codeflash =*", "  1. listy.core.unique (src/listy/core.py:4): *"]
    )
    # The keys this plugin does not use are named under -v only.
    assert "does not use" not in result.stdout.str()


def test_unused_codeflash_keys_are_named_once_under_verbose(listy: pytest.Pytester) -> None:
    listy.makepyprojecttoml(CODEFLASH_INIT)
    result = listy.runpytest("--codeflash", "--codeflash-dry-run", "-v")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "codeflash: [tool.codeflash] keys of Codeflash that this plugin does not use:",
            "  benchmarks-root: *",
            "  test-framework: the tests always run with the pytest you started",
            "  disable-telemetry: *",
            "  pytest-cmd: *addopts",
            "  disable-imports-sorting: *",
            "  override-fixtures: *",
            "  benchmark: *",
            "  language: *",
        ]
    )
    assert result.stdout.str().count("keys of Codeflash that this plugin does not use") == 1


def test_unknown_key_is_still_an_error_with_a_suggestion(listy: pytest.Pytester) -> None:
    listy.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\n'
        '[tool.codeflash]\nmodule-root = "src"\ntest-framwork = "pytest"\n'
    )
    result = listy.runpytest("--codeflash", "--codeflash-dry-run")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stderr.str()
    assert "unknown key 'test-framwork'" in text
    assert "Did you mean 'test-framework'?" in text
    assert "not used: benchmark, benchmarks-root" in text


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("tests-root", '"nowhere"', "tests-root = 'nowhere'"),
        ("tests-root", "3", "[tool.codeflash] tests-root = 3 is not a string"),
        ("git-remote", "[1]", "[tool.codeflash] git-remote = [1] is not a string"),
    ],
)
def test_bad_codeflash_values(listy: pytest.Pytester, key: str, value: str, fragment: str) -> None:
    listy.makepyprojecttoml(
        f'[tool.pytest.ini_options]\npythonpath = ["src"]\n[tool.codeflash]\n{key} = {value}\n'
    )
    result = listy.runpytest("--codeflash", "--codeflash-dry-run")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert fragment in result.stderr.str()


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (
            "codeflash_max_functions = lots",
            "ini option codeflash_max_functions='lots' is not a whole number",
        ),
        ("codeflash_min_speedup = 5%", "ini option codeflash_min_speedup='5%' is not a number"),
    ],
)
def test_ini_value_of_the_wrong_type_names_the_key(
    listy: pytest.Pytester, line: str, fragment: str
) -> None:
    (listy.path / "pytest.ini").write_text(f"[pytest]\npythonpath = src\n{line}\n")
    result = listy.runpytest("--codeflash", "--codeflash-dry-run")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert fragment in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


@pytest.mark.skipif(pytest.version_tuple[:2] < (9, 2), reason="native TOML ini types: pytest 9.2")
def test_native_toml_numbers_are_accepted(listy: pytest.Pytester) -> None:
    listy.makepyprojecttoml(
        '[tool.pytest]\npythonpath = ["src"]\ncodeflash_max_functions = 3\n'
        "codeflash_min_speedup = 0.25\n"
    )
    listy.makeconftest(SHOW_SETTINGS)
    result = listy.runpytest("-s", "--codeflash", "--codeflash-dry-run")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["SETTINGS * max_functions=3 min_speedup=0.25"])


def test_help_placeholders(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines_random(
        [
            "*--codeflash-report=PATH*",
            "*--codeflash-max-functions=N*",
            "*--codeflash-min-speedup=F*",
            "*--codeflash-timeout=S*",
            "*--codeflash-float-rel-tol=R*",
            "*--codeflash-exclude=GLOB*",
            "*--codeflash-target=SPEC*",
        ]
    )
