"""What the differential runs found (:class:`Tally`), and the two implementations compared
(:class:`Side`).

Runs inside the runner process; :mod:`.differential` fills a tally as it compares calls.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .protocol import CallsSummary, DifferenceRecord, ToolError
from .sampling import CallSampler


@dataclass
class Tally:
    """What the differential runs found, in a form that serialises to JSON."""

    compared: int = 0
    unchecked: int = 0
    uncopyable: list[str] = field(default_factory=list)
    unstable: dict[str, int] = field(default_factory=dict)
    fully_unstable: int = 0
    differences: list[DifferenceRecord] = field(default_factory=list)
    inputs: list[bytes] = field(default_factory=list)
    tool_errors: list[ToolError] = field(default_factory=list)
    notes: list[DifferenceRecord] = field(default_factory=list)
    """Differences on inputs outside the captured calls' invariants (see .invariants)."""
    sampler: CallSampler = field(default_factory=CallSampler)
    """Which calls in the tests are compared; ``unchecked`` counts those only run."""

    def summary(self) -> CallsSummary:
        """What the parent is told of these comparisons."""
        return CallsSummary(
            compared=self.compared,
            unchecked=self.unchecked,
            uncopyable=self.uncopyable[:5],
            uncopyable_count=len(self.uncopyable),
            unstable=dict(self.unstable),
            fully_unstable=self.fully_unstable,
            differences=list(self.differences),
            sampled_tests=len(self.sampler.sampled_tests),
            most_calls_per_test=self.sampler.most_calls,
            sampling=self.sampler.describe(),
        )


@dataclass
class Side:
    """One implementation: its function and the module whose globals it uses."""

    function: Callable[..., Any]
    module: types.ModuleType
