"""Every built-in rule, in the order the engine runs them."""

from __future__ import annotations

from .base import Rule
from .membership import MembershipRule

__all__ = ["RULES"]

RULES: tuple[Rule, ...] = (
    MembershipRule(),
)
