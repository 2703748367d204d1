"""Every built-in rule, in the order the engine runs them."""

from __future__ import annotations

from .base import Rule
from .call_cache import CallCacheRule
from .membership import MembershipRule
from .memoise import MemoiseRule
from .seen_set import SeenSetRule

__all__ = ["RULES"]

RULES: tuple[Rule, ...] = (
    MembershipRule(),
    SeenSetRule(),
    MemoiseRule(),
    CallCacheRule(),
)
