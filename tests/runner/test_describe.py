"""The baseline run's description of the original, for prompts: line profile, example calls.

Real runner processes on a small project; one sandbox for the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_codeflash.runner.protocol import RunnerSpec
from pytest_codeflash.runner.sandbox import ChildRun, Sandbox

MODULE = """\
def unique(items):
    result = []
    for item in items:
        if item not in result:
            result.append(item)
    return result


def checked(value):
    if value < 0:
        raise ValueError("negative")
    return value
"""
TESTS = """\
import pytest

from mod import checked, unique


def test_unique():
    assert unique([3, 1, 3, 2]) == [3, 1, 2]
    assert unique(list(range(50)) * 2) == list(range(50))


def test_checked():
    assert checked(2) == 2
    with pytest.raises(ValueError):
        checked(-1)
"""
GENERATED = """\
from mod import unique


def test_generated():
    assert unique([7, 7]) == [7]
"""


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("project")
    (root / "mod.py").write_text(MODULE)
    (root / "test_mod.py").write_text(TESTS)
    made = Sandbox(root, inifile=None, extra_args=[], memory_limit_mb=4096, secret_names=[])
    yield made
    made.close()


def _baseline(sandbox: Sandbox, qualname: str, **spec: object) -> ChildRun:
    run = sandbox.run(
        RunnerSpec(
            mode="baseline",
            module="mod",
            qualname=qualname,
            original_source=MODULE,
            candidate_source=MODULE,
            **spec,  # type: ignore[arg-type]
        ),
        ["test_mod.py"],
        120,
        files={"generated/test_gen_mod.py": GENERATED},
    )
    assert run.result is not None, run.output_tail
    return run


def test_the_baseline_profiles_the_original_and_describes_calls(sandbox: Sandbox) -> None:
    run = _baseline(sandbox, "unique", profile_budget_s=1.0, examples=5)
    result = run.result
    assert result is not None
    profile = result.line_profile
    assert profile is not None
    assert profile.error == ""
    assert profile.tool in ("sys.monitoring", "sys.settrace")
    assert profile.calls == 2  # the two distinct captured calls
    assert profile.complete
    hits = {timing.line: timing.hits for timing in profile.lines}
    assert hits[2] == 2  # result = []
    assert hits[4] == 4 + 100  # if item not in result: once per item
    assert hits[5] == 3 + 50
    assert result.examples == [
        "unique([3, 1, 3, 2]) -> [3, 1, 2]",
        "unique([0, 1, 2, 3, 4, 5, ...]) -> [0, 1, 2, 3, 4, 5, ...]",
    ]
    assert "line profile" in result.phases_s


def test_exceptions_are_described_too(sandbox: Sandbox) -> None:
    run = _baseline(sandbox, "checked", examples=5)
    assert run.result is not None
    assert run.result.line_profile is None  # only examples were asked for
    assert run.result.examples == ["checked(2) -> 2", "checked(-1) raises ValueError('negative')"]


def test_without_a_request_the_baseline_does_nothing_more(sandbox: Sandbox) -> None:
    run = _baseline(sandbox, "unique")
    assert run.result is not None
    assert run.result.line_profile is None
    assert run.result.examples == []
    assert "line profile" not in run.result.phases_s


def test_files_go_into_the_copy_only(sandbox: Sandbox, tmp_path: Path) -> None:
    run = sandbox.run(
        RunnerSpec(
            mode="baseline",
            module="mod",
            qualname="unique",
            original_source=MODULE,
            candidate_source=MODULE,
        ),
        ["generated/test_gen_mod.py"],
        120,
        files={"generated/test_gen_mod.py": GENERATED},
    )
    assert run.result is not None
    assert run.result.tests == {"generated/test_gen_mod.py::test_generated": "passed"}
    assert not (sandbox.rootdir / "generated").exists()
    with pytest.raises(ValueError, match="not a path inside the project copy"):
        sandbox.run(
            RunnerSpec(
                mode="baseline",
                module="mod",
                qualname="unique",
                original_source="",
                candidate_source="",
            ),
            [],
            10,
            files={"../escape.py": ""},
        )
