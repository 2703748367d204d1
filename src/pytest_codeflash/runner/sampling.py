"""Which of the target's calls in the tests are compared, and which only run.

Runs inside the runner process.  Comparing a call costs three runs and copies of its
inputs; a test that calls the target ten thousand times on a large object would spend
minutes on it.  So per test the first ``first`` calls are compared in full, then a
deterministic sample of the rest (a call's number in its test, hashed: the same calls in
every run), and once the comparisons of this run have cost ``budget_s`` seconds only the
first call of each further test is.  The other calls only run: the original in the
baseline, the candidate in a candidate's run, its result going to the test as usual, so
the test's own outcome still compares the two.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .determinism import REAL_MONOTONIC as _CLOCK

FIRST_PER_TEST = 100
"""Calls compared in full at the start of each test."""
SAMPLE_ONE_IN = 50
"""Of the calls after those, about one in this many is compared."""
FIRST_PAST_BUDGET = 1
"""Calls compared per test once the comparison budget is spent."""


@dataclass
class CallSampler:
    """Decides, call by call, whether the wrapper compares a call or only runs it."""

    first: int = FIRST_PER_TEST
    one_in: int = SAMPLE_ONE_IN
    budget_s: float = 0.0
    """Seconds of comparisons in the tests, after which each test gets ``FIRST_PAST_BUDGET``
    (0: no limit)."""
    limit: int = 0
    """Comparisons in the tests in all (0: no limit)."""
    spent_s: float = 0.0
    compared: int = 0
    only_executed: int = 0
    sampled_tests: set[str] = field(default_factory=set)
    """Tests in which some calls were only executed."""
    most_calls: int = 0
    """The most calls of the target one test made."""
    over_budget: bool = False
    _test: str = ""
    _index: int = 0

    def should_compare(self, test: str) -> bool:
        """Whether the next call in ``test`` is compared (counts it either way)."""
        if test != self._test:
            self._test, self._index = test, 0
        index = self._index
        self._index += 1
        self.most_calls = max(self.most_calls, self._index)
        if self._chosen(test, index):
            return True
        self.only_executed += 1
        self.sampled_tests.add(test)
        return False

    def _chosen(self, test: str, index: int) -> bool:
        if self.limit and self.compared >= self.limit:
            return False
        if self.budget_s and self.spent_s >= self.budget_s:
            self.over_budget = True
            return index < FIRST_PAST_BUDGET
        if index < self.first:
            return True
        return zlib.crc32(f"{test}\0{index}".encode()) % max(1, self.one_in) == 0

    @contextmanager
    def timed(self) -> Iterator[None]:
        """Count the comparison run in the block, and its cost."""
        began = _CLOCK()
        try:
            yield
        finally:
            self.compared += 1
            self.spent_s += _CLOCK() - began

    def describe(self) -> str:
        """How the calls were chosen, for a status line: "" when every call was compared."""
        if not self.only_executed:
            return ""
        text = f"compared the first {self.first} calls per test and one in {self.one_in} after"
        if self.over_budget:
            text += (
                f", then, past {self.budget_s:.0f} s of comparisons, "
                f"the first {FIRST_PAST_BUDGET} per test"
            )
        return text
