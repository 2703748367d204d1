"""The embedded rule engine: libcst rewrite rules that need no network and no model.

Each rule module proposes rewrites of the target function for one family of slow idioms;
``generate`` runs them all, ``compose`` combines the ones the runner accepted.  Rules may be
speculative: the runner rejects any rewrite whose behaviour differs.  libcst is imported only
when a rule runs, so importing this package stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .source import RulesSource

if TYPE_CHECKING:
    from ...models import Candidate, TargetFunction

__all__ = ["RulesSource", "compose", "generate", "rule_names"]


def generate(target: TargetFunction, original_source: str) -> list[Candidate]:
    """Every rule's candidates for ``target`` (see :func:`.engine.generate`)."""
    from .engine import generate as run

    return run(target, original_source)


def compose(
    target: TargetFunction, original_source: str, rule_names: Sequence[str]
) -> Candidate | None:
    """One candidate combining the accepted rule candidates ``rule_names``, best first.

    Returns ``None`` when fewer than two of them still apply (see :func:`.engine.compose`).
    """
    from .engine import compose as run

    return run(target, original_source, rule_names)


def rule_names() -> list[str]:
    """The names of every built-in rule, in the order they run."""
    from .registry import RULES

    return [rule.name for rule in RULES]
