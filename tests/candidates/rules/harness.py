"""Run one rule on a source snippet, and check a rewrite against the original by calling both."""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import libcst as cst

from pytest_codeflash.candidates.rules.registry import RULES
from pytest_codeflash.models import TargetFunction

__all__ = ["outcome", "proposals", "same_behaviour", "target"]


def target(qualname: str = "f", module: str = "mod") -> TargetFunction:
    """A target named ``qualname`` in a module ``mod.py``."""
    return TargetFunction(
        module=module,
        qualname=qualname,
        file=Path(f"{module}.py"),
        lineno=1,
        is_method="." in qualname,
    )


def proposals(rule_name: str, source: str, qualname: str = "f") -> list[str]:
    """The whole-module sources rule ``rule_name`` proposes for ``source`` (dedented)."""
    (rule,) = [r for r in RULES if r.name == rule_name]
    module = cst.parse_module(textwrap.dedent(source))
    return [proposal.code for proposal in rule.propose(module, target(qualname))]


def _load(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "rewritten"}
    exec(compile(source, "<rule test>", "exec"), namespace)
    return namespace


def outcome(function: Callable[..., Any], args: Sequence[Any]) -> tuple[Any, ...]:
    """What a call returns (value and type) or raises (type and message), and its arguments
    afterwards."""
    args = copy.deepcopy(list(args))
    try:
        value = function(*args)
    except Exception as error:
        return ("raised", type(error).__name__, str(error), repr(args))
    return ("returned", repr(value), type(value).__name__, repr(args))


def same_behaviour(
    original: str, rewritten: str, calls: Sequence[Sequence[Any]], name: str = "f"
) -> None:
    """Assert both sources' ``name`` behave the same on every argument list in ``calls``."""
    before, after = _load(textwrap.dedent(original))[name], _load(rewritten)[name]
    for args in calls:
        assert outcome(after, args) == outcome(before, args), args
