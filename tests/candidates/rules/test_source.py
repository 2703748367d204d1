"""The rules as a candidate source: the hook, when it speaks, and a whole run with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_codeflash.candidates.rules import RulesSource
from pytest_codeflash.candidates.rules.engine import COMPOSED_ID, parse_id
from pytest_codeflash.models import Settings

from ...conftest import SLOW_MODULE
from .harness import target


def _candidates(**settings: Any) -> list[str]:
    found = RulesSource().pytest_codeflash_generate_candidates(
        target=target("unique"),
        original_source=SLOW_MODULE,
        settings=Settings(rootdir=Path("."), **settings),
    )
    return [c.id for c in found]


def test_rules_propose_for_the_default_and_the_explicit_backend() -> None:
    assert _candidates() == ["seen-set", "seen-set-2", "loop-invariant"]
    assert _candidates(backend="rules", backend_explicit=True, candidates=(Path("x.py"),)) == [
        "seen-set",
        "seen-set-2",
        "loop-invariant",
    ]


def test_rules_stay_quiet_for_other_backends_and_for_candidate_files() -> None:
    assert _candidates(backend="none", backend_explicit=True) == []
    assert _candidates(candidates=(Path("fast.py"),)) == []


def test_a_run_with_nothing_configured_finds_a_verified_speedup(listy: pytest.Pytester) -> None:
    result = listy.runpytest_subprocess(
        "--codeflash-target=listy.core.unique", "--codeflash-report=out/report.json"
    )
    assert result.ret == pytest.ExitCode.OK
    report = json.loads((listy.path / "out" / "report.json").read_text())
    (function,) = report["functions"]
    assert function["status"] == "optimized", function["reason"]
    by_id = {c["id"]: c for c in function["candidates"]}
    best = by_id[function["best_candidate"]]
    assert best["source"].startswith("rules:")
    assert best["explanation"]
    for candidate in by_id.values():
        if candidate["id"] == COMPOSED_ID:  # two rules accepted: both applied together
            names = candidate["source"].removeprefix("rules:").split("+")
            assert len(names) >= 2
            assert all(parse_id(name) is not None for name in names)
            continue
        found = parse_id(candidate["id"])
        assert found is not None
        assert candidate["source"] == f"rules:{found[0].name}"
