"""The records of a run up to ranking: frozen dataclasses that check what pydantic checked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_codeflash.models import Settings as ReExported
from pytest_codeflash.records import RankedFunction, Settings, Summary, TargetFunction


def test_settings_fill_in_the_backend_or_the_backends() -> None:
    assert Settings(rootdir=Path(".")).backends == ("rules",)
    alone = Settings(rootdir=Path("."), backend="openai")
    assert (alone.backend, alone.backends) == ("openai", ("openai",))
    several = Settings(rootdir=Path("."), backends=["openai", "rules"])  # type: ignore[arg-type]
    assert (several.backend, several.backends) == ("openai", ("openai", "rules"))
    with pytest.raises(ValueError, match="must be the first"):
        Settings(rootdir=Path("."), backend="none", backends=("openai",))
    with pytest.raises(ValueError, match="'gpt' is not one of"):
        Settings(rootdir=Path("."), backends=("gpt",))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("workers", 0, "workers=0: must be at least 1"),
        ("min_speedup", 0, "min_speedup=0: must be greater than 0"),
        ("memory_limit_mb", 10, "memory_limit_mb=10: must be at least 64"),
        ("llm_temperature", 2.5, "at most 2"),
        ("effort", "max", "effort 'max' is not one of low, medium, high"),
        ("timeout", "5", "timeout must be a number"),
    ],
)
def test_settings_refuse_bad_values(name: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(rootdir=Path("."), **{name: value})  # type: ignore[arg-type]


def test_settings_are_frozen_refuse_unknown_fields_and_convert_sequences() -> None:
    settings = Settings(rootdir=".", targets=["a.b"], candidates=["c.py"])  # type: ignore[arg-type]
    assert settings.rootdir == Path(".")
    assert settings.targets == ("a.b",)
    assert settings.candidates == (Path("c.py"),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.dry_run = True  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'dryrun'"):
        Settings(rootdir=Path("."), dryrun=True)  # type: ignore[call-arg]
    assert ReExported is Settings
    assert Settings.default("llm_url") == "https://api.openai.com/v1"
    assert settings.keyed(["targets", "rootdir", "timeout"]) == {
        "targets": ["a.b"],
        "rootdir": ".",
        "timeout": None,
    }


def test_a_target_survives_json_and_is_hashable() -> None:
    target = TargetFunction(module="pkg.mod", qualname="C.f", file=Path("pkg/mod.py"), lineno=3)
    data = target.to_json()
    assert data["file"] == "pkg/mod.py"
    assert TargetFunction.from_json(data) == target
    assert {target: 1}[TargetFunction.from_json(data)] == 1
    assert target.qualified_name == "pkg.mod.C.f"
    ranked = RankedFunction(target=target, tests=["t::a"])  # type: ignore[arg-type]
    assert ranked.tests == ("t::a",)
    assert ranked.qualified_name == "pkg.mod.C.f"


def test_a_summary_has_a_known_state_and_changed_copies() -> None:
    with pytest.raises(ValueError, match="not a state"):
        Summary(state="done")  # type: ignore[arg-type]
    summary = Summary(state="dry_run")
    assert summary.replace(written=["x"]).written == ["x"]
    assert summary.written == []
