"""Every built-in rule, in the order the engine runs them."""

from __future__ import annotations

from .base import Rule
from .bisect_scan import BisectRule
from .call_cache import CallCacheRule
from .comprehension import ComprehensionRule
from .counter import CounterRule
from .deepcopy import DeepcopyRule
from .deque_queue import DequeRule
from .dict_lookup import DictLookupRule
from .join_index import JoinIndexRule
from .loop_invariant import LoopInvariantRule
from .loop_sink import LoopSinkRule
from .membership import MembershipRule
from .memoise import MemoiseRule
from .precompute import PrecomputeRule
from .reductions import ReductionRule
from .regex import RegexRule
from .seen_set import SeenSetRule
from .sorting import SortedMinMaxRule, TopKRule
from .string_join import StringJoinRule
from .vectorise import VectoriseRule

__all__ = ["RULES"]

RULES: tuple[Rule, ...] = (
    MembershipRule(),
    SeenSetRule(),
    MemoiseRule(),
    CallCacheRule(),
    LoopSinkRule(),
    DictLookupRule(),
    CounterRule(),
    LoopInvariantRule(),
    PrecomputeRule(),
    StringJoinRule(),
    RegexRule(),
    ComprehensionRule(),
    SortedMinMaxRule(),
    TopKRule(),
    DequeRule(),
    JoinIndexRule(),
    ReductionRule(),
    BisectRule(),
    DeepcopyRule(),
    VectoriseRule(),
)
