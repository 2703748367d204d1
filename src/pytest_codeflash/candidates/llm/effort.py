"""How much to ask a language model for, by ``--codeflash-effort``: the one table.

The numbers follow what Codeflash documents for its own loop (3/5/6 candidates, 4/6/7
profile-guided ones, up to 2/3/5 repairs per function); the deadline bounds the time all
requests about one function may take together, retries and waiting for a free slot included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...models import Effort

__all__ = ["EFFORT_PLANS", "EffortPlan"]


@dataclass(frozen=True)
class EffortPlan:
    """What one effort level asks for, per function."""

    candidates: int  # first candidates, from the code alone (``optimize``)
    profile_candidates: int  # candidates guided by the original's per-line profile
    repairs: int  # repair requests at most
    repair_max_mismatch: float  # share of differing calls up to which a repair is worth it
    refine_top: int  # accepted candidates that get a refinement request
    tests: int  # generated test modules
    deadline_s: float  # for every request about the function together


EFFORT_PLANS: dict[Effort, EffortPlan] = {
    "low": EffortPlan(3, 4, 2, 0.2, 2, 2, 180.0),
    "medium": EffortPlan(5, 6, 3, 0.3, 3, 2, 300.0),
    "high": EffortPlan(6, 7, 5, 0.4, 4, 2, 600.0),
}
