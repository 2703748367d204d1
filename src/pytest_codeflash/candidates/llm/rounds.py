"""A language-model source in the evaluation loop: what to ask at each step, and how much.

The loop (``evaluate/rounds.py``) asks its sources at fixed points of a function's
evaluation and expects :class:`concurrent.futures.Future` answers; :class:`LLMRounds` puts an
:class:`~.source.LLMSource`'s asynchronous API there, sized by the effort's plan
(:mod:`.effort`):

========================  ==========================================================
step                      request
========================  ==========================================================
before the baseline       ``optimize``: ``plan.candidates`` candidates from the code
after the baseline        ``optimize`` with the original's line profile (and the
                          inputs' invariants, when known): ``plan.profile_candidates``;
                          ``generate_tests`` with example calls: ``plan.tests`` modules
a rejection               ``repair``, for its own candidates that differed on at most
                          ``plan.repair_max_mismatch`` of the compared calls, at most
                          ``plan.repairs`` per function (never a repair of a repair)
after the first round     ``refine`` the ``plan.refine_top`` best accepted candidates
the winner                ``explain``
========================  ==========================================================

The loop waits for these answers at most ``plan.deadline_s`` from the start of the
function, and cancels the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING

from ...errors import ContextError, ServiceError
from ...models import (
    BaselineFacts,
    CallDifference,
    Candidate,
    CandidateResult,
    CodeContext,
    Differences,
    TargetFunction,
)

if TYPE_CHECKING:
    from .prompts import Difference
    from .source import LLMSource

__all__ = ["LLMRounds"]


class LLMRounds:
    """One :class:`~.source.LLMSource` as a candidate source of the evaluation loop."""

    uses_facts = True

    def __init__(self, source: LLMSource) -> None:
        self.source = source
        self._repairs: dict[str, int] = {}  # by function

    def __repr__(self) -> str:
        return f"<LLMRounds {self.source!r}>"

    @property
    def wait_s(self) -> float:
        return self.source.plan.deadline_s

    def propose(
        self, target: TargetFunction, source: str, facts: BaselineFacts | None
    ) -> Future[list[Candidate]] | None:
        if facts is None:
            return self.source.submit(self._first(target, source))
        if facts.line_profile and self.source.plan.profile_candidates:
            return self.source.submit(self._guided(target, source, facts))
        return None

    def propose_tests(
        self, target: TargetFunction, facts: BaselineFacts
    ) -> Future[list[str]] | None:
        if not self.source.plan.tests:
            return None
        return self.source.submit(self._tests(target, facts))

    def propose_repair(
        self, target: TargetFunction, source: str, candidate: Candidate, found: Differences
    ) -> Future[list[Candidate]] | None:
        plan = self.source.plan
        done = self._repairs.get(target.qualified_name, 0)
        if (
            not self._own(candidate)
            or "-fix-" in candidate.id
            or done >= plan.repairs
            or found.share > plan.repair_max_mismatch
        ):
            return None
        self._repairs[target.qualified_name] = done + 1
        differences = [_difference(d) for d in found.differences]
        return self.source.submit(self.source.repair(target, source, candidate, differences))

    def propose_follow_ups(
        self,
        target: TargetFunction,
        source: str,
        judged: Sequence[tuple[Candidate, CandidateResult]],
    ) -> Future[list[Candidate]] | None:
        accepted = [
            (candidate, verdict)
            for candidate, verdict in judged
            if verdict.verdict == "accepted" and verdict.duplicate_of is None
        ]
        accepted.sort(key=lambda pair: -(pair[1].speedup_ci or (0.0, 0.0))[0])
        best = accepted[: self.source.plan.refine_top]
        if not best:
            return None
        return self.source.submit(self.source.refine(target, source, best))

    def propose_explanation(
        self, target: TargetFunction, source: str, candidate: Candidate, verdict: CandidateResult
    ) -> Future[str] | None:
        return self.source.submit(self.source.explain(target, source, candidate, verdict))

    # -- the requests ---------------------------------------------------------------------
    async def _first(self, target: TargetFunction, source: str) -> list[Candidate]:
        """The first candidates; alone, a back-end that cannot answer fails the function,
        combined with others (``rules,openai``) its failure is one rejected entry."""
        try:
            return await self.source.optimize(target, source, self._context(target))
        except (ServiceError, ContextError) as err:
            if len(self.source.settings.backends) == 1:
                raise
            backend = self.source.backend
            failed = Candidate(
                id=f"{self.source.stem}-failed",
                source=backend,
                module_source="",
                rejection=f"no candidates from {backend}: {err}",
            )
            return [failed]

    async def _guided(
        self, target: TargetFunction, source: str, facts: BaselineFacts
    ) -> list[Candidate]:
        """Candidates guided by the line profile; a failure is noted in the usage only."""
        try:
            return await self.source.optimize(
                target,
                source,
                self._context(target),
                line_profile=facts.line_profile,
                invariants=facts.invariants,
            )
        except ServiceError:
            return []  # the request's error is in the function's usage already

    async def _tests(self, target: TargetFunction, facts: BaselineFacts) -> list[str]:
        return await self.source.generate_tests(target, self._context(target), facts.examples)

    def _context(self, target: TargetFunction) -> CodeContext:
        return self.source.context_for(target)

    def _own(self, candidate: Candidate) -> bool:
        return candidate.source.split(":", 1)[0] == self.source.backend


def _difference(found: CallDifference) -> Difference:
    """A difference as the prompts take it."""
    shown: Difference = {"scope": found.kind, "input": found.input, "test": found.test}
    if found.expected or found.actual:
        shown["expected"], shown["actual"] = found.expected, found.actual
    else:
        shown["detail"] = found.detail
    return shown
