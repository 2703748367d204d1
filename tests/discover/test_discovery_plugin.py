"""``pytest --codeflash`` with no target: discovery, tracing and ranking in real pytest runs."""

from __future__ import annotations

import sys

import pytest

from pytest_codeflash.discover.tracing_support import counter_built

CORE = '''\
def slow_sum(n):
    """The hot spot: only reached through middle() and api()."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def middle(n):
    return slow_sum(n) + 1


def api(n):
    return middle(n) * 2


def tiny(x):
    return x + 1


def unused(x):
    return x * 3


def _constant():
    return 7
'''

TESTS = """\
from calc.core import api, tiny


def test_api_large():
    assert api(1000000) > 0


def test_api_small():
    assert api(10) > 0


def test_tiny():
    assert tiny(1) == 2
"""


def _project(pytester: pytest.Pytester, layout: str = "src") -> pytest.Pytester:
    root = "src" if layout == "src" else "."
    pytester.makepyprojecttoml(
        f'[tool.pytest.ini_options]\npythonpath = ["{root}"]\ntestpaths = ["tests"]\n'
    )
    package = pytester.path / root / "calc"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text(CORE)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_calc.py").write_text(TESTS)
    (pytester.path / "noxfile.py").write_text("def session(x):\n    return x * 2\n")
    return pytester


@pytest.mark.parametrize("layout", ["src", "flat"])
def test_dry_run_finds_the_hot_function(pytester: pytest.Pytester, layout: str) -> None:
    _project(pytester, layout)
    result = pytester.runpytest("--codeflash", "--codeflash-dry-run", "-v", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    where = "src/calc/core.py" if layout == "src" else "calc/core.py"
    result.stdout.fnmatch_lines(
        [
            "*= codeflash =*",
            "discovered 5 eligible function(s) in 2 file(s); 4 ran during the tests*",
            "ranked by addressable time*would be optimized:",
            f"  1. calc.core.slow_sum ({where}:1): *% of traced time*",
            "     own * (CPU *), total *; 2 call(s) from 2 test(s); 2 input(s) captured",
        ]
    )
    text = result.stdout.str()
    assert "calc.core.unused: not called during the test run" in text
    assert f"calc.core._constant ({where}:25): trivial body" in text
    assert "noxfile" not in text  # not imported by the tests


@pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="3.12+ traces with sys.monitoring: no exact phases"
)
def test_the_next_run_starts_from_what_the_last_one_traced(pytester: pytest.Pytester) -> None:
    """Before 3.12, a run keeps each function's inputs in pytest's cache, and the next one
    samples only what still lacks inputs: here nothing, so no test is traced exactly; the
    ranking and the inputs are the same.  A changed file is traced afresh, and so is
    everything with --codeflash-no-cache."""
    _project(pytester)
    run = ("--codeflash", "--codeflash-dry-run", "-p", "no:randomly")
    ranked = "  1. calc.core.slow_sum (src/calc/core.py:1): *% of traced time*"
    inputs = "     own * (CPU *), total *; 2 call(s) from 2 test(s); 2 input(s) captured"
    first = pytester.runpytest(*run)
    first.stdout.fnmatch_lines([ranked, inputs])
    assert "from the last run" not in first.stdout.str()
    second = pytester.runpytest(*run)
    second.assert_outcomes(passed=3)
    kept = (
        "inputs of 4 function(s) kept from the last run (their files are unchanged; "
        "--codeflash-no-cache samples them afresh)"
        if counter_built()  # the counter sees every call of every test exactly
        else "inputs of 4 function(s) kept from the last run (their files are unchanged); "
        "0 of 3 test(s) traced exactly (--codeflash-no-cache traces all)"
    )
    second.stdout.fnmatch_lines([kept, ranked, inputs])
    again = pytester.runpytest(*run, "--codeflash-no-cache")
    again.stdout.fnmatch_lines([ranked, inputs])
    assert "from the last run" not in again.stdout.str()
    core = pytester.path / "src" / "calc" / "core.py"
    core.write_text(core.read_text() + "\n# changed\n")
    changed = pytester.runpytest(*run)
    changed.stdout.fnmatch_lines([ranked, inputs])
    assert "from the last run" not in changed.stdout.str()


PLACES = '''\
def work(n):
    total = 0
    for i in range(n):
        total += i % 7
    return total


def in_test(n):
    return work(n)


def in_fixture_teardown(n):
    return work(n)


def in_finalizer(n):
    return work(n)


def in_unittest(n):
    return work(n)


def in_doctest(n):
    """
    >>> in_doctest(3) > 0
    True
    """
    return work(n)
'''

PLACE_TESTS = """\
import unittest

import pytest

from calc.places import in_finalizer, in_fixture_teardown, in_test, in_unittest


@pytest.fixture
def resource():
    yield 1
    in_fixture_teardown(2000)


def test_fixture(resource):
    assert resource == 1


def test_finalizer(request):
    request.addfinalizer(lambda: in_finalizer(2000))


def test_plain():
    assert in_test(2000) > 0


class TestCase(unittest.TestCase):
    def test_case(self):
        self.assertGreater(in_unittest(2000), 0)
"""


def test_every_place_where_user_code_runs_is_traced(pytester: pytest.Pytester) -> None:
    """A test function's call (windowed at ``pytest_pyfunc_call``), a fixture's teardown, a
    finalizer, a ``unittest`` case and a doctest (their own ``runtest``): each function is
    seen, and charged to its test."""
    _project(pytester)
    (pytester.path / "src" / "calc" / "places.py").write_text(PLACES)
    (pytester.path / "tests" / "test_places.py").write_text(PLACE_TESTS)
    result = pytester.runpytest(
        "--codeflash",
        "--codeflash-dry-run",
        "-v",
        "-p",
        "no:randomly",
        "--doctest-modules",
        "tests/test_places.py",
        "src/calc/places.py",
    )
    result.assert_outcomes(passed=5)
    text = result.stdout.str()
    for name in ("in_test", "in_fixture_teardown", "in_finalizer", "in_unittest", "in_doctest"):
        assert f"calc.places.{name}: not called" not in text
    result.stdout.re_match_lines(
        [r".*calc\.places\.work .*", r".*; 5 call\(s\) from 5 test\(s\).*"]
    )


def test_selection_limits_what_is_ranked(pytester: pytest.Pytester) -> None:
    _project(pytester)
    result = pytester.runpytest(
        "--codeflash", "--codeflash-dry-run", "-k", "tiny", "--codeflash-max-functions=1"
    )
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["*1 would be optimized:", "  1. calc.core.tiny (*"])
    assert "slow_sum (" not in result.stdout.str()


def test_rank_hook_reorders(pytester: pytest.Pytester) -> None:
    _project(pytester)
    pytester.makeconftest(
        """
        def pytest_codeflash_rank_functions(functions, settings):
            return [f for f in functions if f.target.qualname == "tiny"]
        """
    )
    result = pytester.runpytest("--codeflash", "--codeflash-dry-run", "-v")
    result.stdout.fnmatch_lines(["*1 would be optimized:", "  1. calc.core.tiny (*"])
    assert "calc.core.slow_sum: left out by a rank_functions hook" in result.stdout.str()


def test_xdist_workers_send_their_traces(pytester: pytest.Pytester) -> None:
    _project(pytester)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--codeflash", "--codeflash-dry-run", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "discovered 5 eligible function(s) in 2 file(s); 4 ran during the tests*",
            "  *. calc.core.slow_sum (src/calc/core.py:1): *",
            "     own *; 2 call(s) from 2 test(s); 2 input(s) captured",
        ]
    )
    # the two tests that call it usually run on different workers: both are merged
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_collection_failure_stops_before_optimizing(pytester: pytest.Pytester) -> None:
    _project(pytester)
    (pytester.path / "tests" / "test_broken.py").write_text("def test_x(:\n    pass\n")
    result = pytester.runpytest("--codeflash", "--codeflash-dry-run")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*= codeflash =*", "collection or the test run failed; no optimization attempted"]
    )
    assert "discovered" not in result.stdout.str()


def test_changed_since_a_bad_ref(pytester: pytest.Pytester) -> None:
    _project(pytester)
    result = pytester.runpytest("--codeflash", "--codeflash-changed-since=no-such-branch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stderr.str()
    assert "--codeflash-changed-since=no-such-branch" in text
    assert "git" in text


def test_changed_since_with_a_target(pytester: pytest.Pytester) -> None:
    _project(pytester)
    result = pytester.runpytest(
        "--codeflash-target=calc.core.api", "--codeflash-changed-since=HEAD", "--codeflash-dry-run"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "cannot be combined with --codeflash-target" in result.stderr.str()


def test_no_candidate_source(pytester: pytest.Pytester) -> None:
    _project(pytester)
    result = pytester.runpytest("--codeflash", "--codeflash-backend=none")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--codeflash has no candidate source" in result.stderr.str()


def test_alongside_pytest_cov(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_cov")
    _project(pytester)
    result = pytester.runpytest_subprocess("--codeflash", "--codeflash-dry-run", "--cov=calc")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["  *. calc.core.slow_sum (*"])
    result.stdout.fnmatch_lines(["*calc/core.py *%*"])  # coverage.py's report too


MODULES_AT_EXIT = """\
import sys


def pytest_unconfigure(config):
    with open("modules.txt", "w") as out:
        out.write("\\n".join(sorted(sys.modules)))
"""


def test_a_second_dry_run_imports_neither_libcst_pydantic_nor_the_runner(
    pytester: pytest.Pytester,
) -> None:
    """Whatever a profile costs counts against the test run (issue 15's figures): once the
    first run has scanned the sources (kept in pytest's cache), libcst loads only for an
    evaluation, and so do pydantic (the settings and the summary are dataclasses), the
    runner's sandbox and the candidate sources."""
    _project(pytester)
    (pytester.path / "tests" / "conftest.py").write_text(MODULES_AT_EXIT)
    for _ in range(2):
        result = pytester.runpytest_subprocess("--codeflash", "--codeflash-dry-run", "-q")
        result.assert_outcomes(passed=3)
    loaded = set((pytester.path / "modules.txt").read_text().split())
    assert "pytest_codeflash.session" in loaded  # the plugin was on
    assert not {"libcst", "pytest_codeflash.runner.sandbox"} & loaded
    assert not {"pydantic", "pytest_codeflash.models"} & loaded
    assert "pytest_codeflash.candidates.rules" not in loaded  # no source is asked
