"""Options, their precedence, and every bad input: one clear message, exit code 4."""

from __future__ import annotations

import pytest

SHOW_SETTINGS = """
import pytest
from pytest_codeflash.plugin import session_key

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    session = config.stash.get(session_key, None)
    if session is not None:
        s = session.settings
        print(f"SETTINGS effort={s.effort} min_speedup={s.min_speedup} timeout={s.timeout} "
              f"backend={s.backend} max_functions={s.max_functions}")
"""


def _usage_error(result: pytest.RunResult, *fragments: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stderr.str() + result.stdout.str()
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text, text


def test_plugin_registers_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*codeflash*",
            "*--codeflash-target=SPEC*",
            "*--codeflash-min-speedup*",
            "*codeflash_effort*",
        ]
    )


def test_off_by_default_runs_tests_normally(listy: pytest.Pytester) -> None:
    result = listy.runpytest()
    result.assert_outcomes(passed=5)
    assert "= codeflash =" not in result.stdout.str()


def test_precedence_cli_over_ini_over_pyproject(listy: pytest.Pytester) -> None:
    listy.makeconftest(SHOW_SETTINGS)
    listy.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n'
        'codeflash_effort = "low"\ncodeflash_timeout = "30"\n'
        '[tool.codeflash]\neffort = "high"\nmin-speedup = 0.2\ntimeout = 99\n'
        "max-functions = 3\n"
    )
    result = listy.runpytest(
        "-s", "--codeflash-target=listy.core.unique", "--codeflash-dry-run", "--codeflash-timeout=7"
    )
    result.stdout.fnmatch_lines(
        ["SETTINGS effort=low min_speedup=0.2 timeout=7.0 backend=rules max_functions=3"]
    )


def test_defaults(listy: pytest.Pytester) -> None:
    listy.makeconftest(SHOW_SETTINGS)
    result = listy.runpytest("-s", "--codeflash-target=listy.core.unique", "--codeflash-dry-run")
    result.stdout.fnmatch_lines(
        ["SETTINGS effort=medium min_speedup=0.05 timeout=None backend=rules max_functions=None"]
    )
    result.stdout.fnmatch_lines(
        ["*= codeflash =*", "listy.core.unique: called * time(s) by 4 test(s)*"]
    )


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--codeflash-backend=magic"], ["--codeflash-backend='magic'", "rules, openai"]),
        (["--codeflash-effort=extreme"], ["--codeflash-effort='extreme'", "low, medium, high"]),
        (["--codeflash-max-functions=0"], ["--codeflash-max-functions=", "at least 1"]),
        (["--codeflash-min-speedup=-0.1"], ["--codeflash-min-speedup=", "greater than zero"]),
        (["--codeflash-min-speedup=fast"], ["--codeflash-min-speedup='fast'", "not a number"]),
        (["--codeflash-timeout=0"], ["--codeflash-timeout=", "greater than zero"]),
        (["--codeflash-backend=rules,magic"], ["'magic' is not a known backend", "rules,openai"]),
        (["--codeflash-pr"], ["--codeflash-pr needs a GitHub token in the GITHUB_TOKEN"]),
        (["--codeflash-pr=many"], ["--codeflash-pr='many' is not a mode", "=single"]),
        (["--codeflash-shard=3/2"], ["--codeflash-shard='3/2'", "between 1 and N"]),
        (["--codeflash-shard=x"], ["not of the form K/N", "--codeflash-shard=1/4"]),
        (["--codeflash-workers=0"], ["--codeflash-workers=", "at least 1"]),
        (["--codeflash-github-api-url=ftp://x"], ["not an http(s) URL", "api.github.com"]),
    ],
)
def test_bad_option_values(
    listy: pytest.Pytester,
    args: list[str],
    fragments: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    result = listy.runpytest(
        "--codeflash-target=listy.core.unique", "--codeflash-candidate=candidates/fast.py", *args
    )
    _usage_error(result, *fragments)


def test_target_that_matches_nothing_suggests_names(listy: pytest.Pytester) -> None:
    result = listy.runpytest("--codeflash-target=listy.core.uniq")
    _usage_error(result, "listy.core.uniq", "Did you mean", "listy.core.unique")


def test_target_in_missing_module(listy: pytest.Pytester) -> None:
    result = listy.runpytest("--codeflash-target=listy.nowhere.func")
    _usage_error(result, "listy.nowhere.func")


def test_file_target_form(listy: pytest.Pytester) -> None:
    listy.makeconftest(SHOW_SETTINGS)
    result = listy.runpytest(
        "-s", "--codeflash-target=src/listy/core.py::unique", "--codeflash-dry-run"
    )
    result.stdout.fnmatch_lines(["listy.core.unique: called*"])


def test_backend_none_needs_a_candidate(listy: pytest.Pytester) -> None:
    # The default rules back-end always has a source (#7); "none" has only candidate files.
    result = listy.runpytest("--codeflash-target=listy.core.unique", "--codeflash-backend=none")
    _usage_error(result, "--codeflash-candidate=FILE", "proposes no rewrites")


def test_codeflash_alone_discovers(listy: pytest.Pytester) -> None:  # discovery (#5)
    result = listy.runpytest("--codeflash", "--codeflash-dry-run")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["*= codeflash =*", "discovered * eligible function(s)*", "  1. listy.core.unique (*"]
    )


@pytest.mark.parametrize(
    ("name", "content", "fragments"),
    [
        ("missing.py", None, ["missing.py"]),
        ("notes.txt", "hello", ["notes.txt"]),
        ("broken.py", "def unique(items):\n    return [\n", ["broken.py", "line"]),
        ("other.py", "def something_else():\n    return 1\n", ["other.py", "unique"]),
    ],
)
def test_bad_candidate_files(
    listy: pytest.Pytester, name: str, content: str | None, fragments: list[str]
) -> None:
    if content is not None:
        (listy.path / "candidates" / name).write_text(content)
    result = listy.runpytest(
        "--codeflash-target=listy.core.unique", f"--codeflash-candidate=candidates/{name}"
    )
    _usage_error(result, *fragments)


def test_candidate_without_target(listy: pytest.Pytester) -> None:
    result = listy.runpytest("--codeflash", "--codeflash-candidate=candidates/fast.py")
    _usage_error(result, "--codeflash-target")


def test_candidate_with_several_targets(listy: pytest.Pytester) -> None:
    result = listy.runpytest(
        "--codeflash-target=listy.core.unique",
        "--codeflash-target=listy.core.total",
        "--codeflash-candidate=candidates/fast.py",
    )
    _usage_error(result, "exactly one --codeflash-target", "2 targets")


def test_unknown_pyproject_key(listy: pytest.Pytester) -> None:
    listy.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\n[tool.codeflash]\nefort = "low"\n'
    )
    result = listy.runpytest("--codeflash-target=listy.core.unique", "--codeflash-dry-run")
    _usage_error(result, "'efort'", "Did you mean 'effort'")


def test_bad_pyproject_value(listy: pytest.Pytester) -> None:
    listy.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\n[tool.codeflash]\nmin-speedup = 0\n'
    )
    result = listy.runpytest("--codeflash-target=listy.core.unique", "--codeflash-dry-run")
    _usage_error(result, "min-speedup", "greater than zero")


def test_a_memory_limit_below_the_runners_minimum(listy: pytest.Pytester) -> None:
    """Checked where the value comes from, with the fix, like every other bound (the
    settings object refuses it too, but could not say which option it came from)."""
    listy.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\n[tool.codeflash]\nmemory-limit-mb = 10\n'
    )
    result = listy.runpytest("--codeflash-target=listy.core.unique", "--codeflash-dry-run")
    _usage_error(result, "memory-limit-mb = 10 must be at least 64", "Give the limit in MiB")
