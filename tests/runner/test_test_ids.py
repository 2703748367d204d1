"""The runner picks the tests itself, and judges a test function whose parameters are
numbered otherwise from one process to the next whole (found on isodate's own tests, which
parametrize over a set: every test of ``_strfdt`` was "not found" in the runner)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from pytest_codeflash.runner.test_ids import disagreeing, files_of, function_of, select_tests

from ..conftest import FAST, SLOW_MODULE, WRONG, src_project


@dataclass
class _Item:
    nodeid: str


def test_a_node_id_without_its_parameters() -> None:
    assert function_of("t.py::test_f[1-a]") == "t.py::test_f"
    assert function_of("t.py::C::test_m[x[0]]") == "t.py::C::test_m"
    assert function_of("t.py::test_f") == "t.py::test_f"
    assert function_of("README.rst::README.rst") == "README.rst::README.rst"
    assert files_of(["a.py::t[1]", "a.py::u", "b.py::v"]) == ["a.py", "b.py"]


def test_the_wanted_tests_are_kept_and_a_renamed_function_whole() -> None:
    items = [
        _Item(i) for i in ("a.py::t[0]", "a.py::t[1]", "a.py::u[p7]", "a.py::u[p8]", "a.py::v")
    ]
    wanted = ["a.py::t[1]", "a.py::u[p3]", "a.py::x"]
    deselected = select_tests(items, wanted)  # type: ignore[arg-type]
    assert [i.nodeid for i in items] == ["a.py::t[1]", "a.py::u[p7]", "a.py::u[p8]"]
    assert [i.nodeid for i in deselected] == ["a.py::t[0]", "a.py::v"]
    items = [_Item(i) for i in ("a.py::t", "a.py::C::m", "d/b.py::u", "d/e/c.py::v", "f.py::w")]
    select_tests(items, ["a.py::C", "d/"])  # type: ignore[arg-type]
    assert [i.nodeid for i in items] == ["a.py::C::m", "d/b.py::u", "d/e/c.py::v"]
    items = [_Item(i) for i in ("a.py::t", "b.py::u")]
    select_tests(items, ["b.py"])  # type: ignore[arg-type]
    assert [i.nodeid for i in items] == ["b.py::u"]


def test_a_renamed_function_agrees_only_if_every_instance_passed_in_both() -> None:
    baseline = {"a.py::t[p1]": "passed", "a.py::t[p2]": "passed", "a.py::u": "passed"}
    assert (
        disagreeing(
            baseline, {"a.py::t[p7]": "passed", "a.py::t[p8]": "passed", "a.py::u": "passed"}
        )
        == []
    )
    assert disagreeing(
        baseline, {"a.py::t[p7]": "passed", "a.py::t[p8]": "failed", "a.py::u": "passed"}
    ) == [("a.py::t[p8]", "failed")]
    assert disagreeing(baseline, {"a.py::t[p7]": "passed", "a.py::u": "error"}) == [
        ("a.py::u", "error"),
        ("a.py::t", "missing"),
    ]
    # One instance failed with the original too: which one is which cannot be told.
    mixed = {"a.py::t[p1]": "passed", "a.py::t[p2]": "failed"}
    assert disagreeing(mixed, {"a.py::t[p7]": "passed", "a.py::t[p8]": "failed"}) == [
        ("a.py::t[p8]", "failed")
    ]
    assert disagreeing({"a.py::t[p1]": "passed"}, {"a.py::t[p1]": "skipped"}) == [
        ("a.py::t[p1]", "skipped")
    ]


RENAMED_TESTS = """\
import os

import pytest

from listy.core import unique

# Parameters named after the process: no two runs name them alike, as a set's order would.
CASES = [[3, 1, 3], [(i * 7919) % 200 for i in range(300)], [5, 4, 5, 4]]


@pytest.mark.parametrize("items", CASES, ids=lambda items: f"{len(items)}-{os.getpid()}")
def test_unique(items):
    assert unique(items) == list(dict.fromkeys(items))
"""


def test_tests_named_otherwise_in_each_process_still_verify(pytester: pytest.Pytester) -> None:
    src_project(pytester, "listy", SLOW_MODULE)
    pytester.makepyfile(test_listy=RENAMED_TESTS)
    (pytester.path / "fast.py").write_text(FAST)
    (pytester.path / "wrong.py").write_text(WRONG)
    result = pytester.runpytest_subprocess(
        "--codeflash-target=listy.core.unique",
        "--codeflash-candidate=fast.py",
        "--codeflash-candidate=wrong.py",
        "--codeflash-report=report.json",
        "--codeflash-effort=low",
    )
    result.assert_outcomes(passed=3)
    (function,) = json.loads((pytester.path / "report.json").read_text())["functions"]
    verdicts = {c["id"]: c for c in function["candidates"]}
    fast, wrong = verdicts["fast.py"], verdicts["wrong.py"]
    assert fast["verdict"] == "accepted"
    assert fast["tests_run"] == 3
    assert wrong["verdict"] == "rejected"


def test_a_baseline_whose_tests_all_fail_in_the_runner_says_how_the_first_failed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test that needs a secret passes in your run; the runner hides secrets from it."""
    src_project(pytester, "listy", SLOW_MODULE)
    pytester.makepyfile(
        test_listy="import os\nfrom listy.core import unique\n\n"
        "def test_unique():\n    assert unique([os.environ['LISTY_API_TOKEN']]) == ['t']\n"
    )
    monkeypatch.setenv("LISTY_API_TOKEN", "t")
    result = pytester.runpytest_subprocess(
        "--codeflash-target=listy.core.unique", "--codeflash-report=report.json"
    )
    result.assert_outcomes(passed=1)
    (function,) = json.loads((pytester.path / "report.json").read_text())["functions"]
    assert function["status"] == "skipped"
    assert function["reason"] == (
        "none of the 1 test(s) that call listy.core.unique pass with the original in the "
        "runner (the first: test_listy.py::test_unique failed: KeyError: 'LISTY_API_TOKEN')"
    )
