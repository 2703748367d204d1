"""What the evaluation loop asks of a candidate source, and the sources that answer at once.

The loop (:mod:`.rounds`) asks every :class:`CandidateSource` at fixed points of one
function's evaluation; each answer is a :class:`concurrent.futures.Future`, so that a
source which takes time (a language model) works while the loop runs the baseline and
verifies other candidates, and ``None`` means "nothing from me here".  Sources that answer
at once return a future that is already done:

- :class:`Given`: candidates known before the run (``--codeflash-candidate`` files);
- :class:`HookSource`: the ``pytest_codeflash_generate_candidates`` and
  ``pytest_codeflash_combine_candidates`` hooks, that is the rule engine and any plugin.

The language-model back-ends fit the same interface (``candidates/llm/rounds.py``) without
importing it: it is a structural :class:`~typing.Protocol`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from ..models import (
    BaselineFacts,
    Candidate,
    CandidateResult,
    Differences,
    Settings,
    TargetFunction,
)

__all__ = ["CandidateSource", "Given", "HookSource", "ready"]

T = TypeVar("T")
Judged = Sequence[tuple[Candidate, CandidateResult]]


class CandidateSource(Protocol):
    """A source of candidates, asked by the loop at each step of one function's evaluation.

    A future that fails with a :class:`~pytest_codeflash.errors.CodeflashError` ends the
    function's evaluation with status ``error`` if it held proposals (``propose``); the
    failure of anything else is reported and the loop goes on.  A source that wants the
    function evaluated anyway answers with a rejected candidate that says what failed.
    """

    @property
    def wait_s(self) -> float:
        """How long the loop may wait, in all, for this source's answers about one
        function; what is not done by then is cancelled.  0 for a source that answers at
        once."""
        ...

    @property
    def uses_facts(self) -> bool:
        """Whether the source reads the baseline's facts (line profile, example calls):
        the baseline measures them only if some source does."""
        ...

    def propose(
        self, target: TargetFunction, source: str, facts: BaselineFacts | None
    ) -> Future[list[Candidate]] | None:
        """Candidates for ``target``: asked before the baseline runs (``facts`` is
        ``None``), and again when it has run, with what it learnt."""
        ...

    def propose_tests(
        self, target: TargetFunction, facts: BaselineFacts
    ) -> Future[list[str]] | None:
        """Test modules (sources) for ``target``; the loop keeps the tests that pass with
        the original and runs them for every later candidate."""
        ...

    def propose_repair(
        self, target: TargetFunction, source: str, candidate: Candidate, found: Differences
    ) -> Future[list[Candidate]] | None:
        """Fixed versions of a rejected ``candidate`` that differed from the original."""
        ...

    def propose_follow_ups(
        self, target: TargetFunction, source: str, judged: Judged
    ) -> Future[list[Candidate]] | None:
        """Candidates that build on the first round's verdicts: combinations, refinements."""
        ...

    def propose_explanation(
        self, target: TargetFunction, source: str, candidate: Candidate, verdict: CandidateResult
    ) -> Future[str] | None:
        """Why the winner is faster, in a few sentences of prose."""
        ...


def ready(value: T) -> Future[T]:
    """A future that is already done with ``value``."""
    future: Future[T] = Future()
    future.set_result(value)
    return future


class _Instant:
    """The parts of :class:`CandidateSource` that a source answering at once leaves out."""

    wait_s = 0.0
    uses_facts = False

    def propose_tests(
        self, target: TargetFunction, facts: BaselineFacts
    ) -> Future[list[str]] | None:
        return None

    def propose_repair(
        self, target: TargetFunction, source: str, candidate: Candidate, found: Differences
    ) -> Future[list[Candidate]] | None:
        return None

    def propose_follow_ups(
        self, target: TargetFunction, source: str, judged: Judged
    ) -> Future[list[Candidate]] | None:
        return None

    def propose_explanation(
        self, target: TargetFunction, source: str, candidate: Candidate, verdict: CandidateResult
    ) -> Future[str] | None:
        return None


class Given(_Instant):
    """Candidates known before the run, proposed first."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = list(candidates)

    def propose(
        self, target: TargetFunction, source: str, facts: BaselineFacts | None
    ) -> Future[list[Candidate]] | None:
        return ready(list(self.candidates)) if facts is None and self.candidates else None


class HookSource(_Instant):
    """The candidate hooks: every plugin's candidates, and its combinations of the verdicts.

    :param hook: the pytest hook relay (``config.hook``).
    """

    def __init__(self, hook: Any, settings: Settings) -> None:
        self.hook = hook
        self.settings = settings

    def propose(
        self, target: TargetFunction, source: str, facts: BaselineFacts | None
    ) -> Future[list[Candidate]] | None:
        if facts is not None:
            return None
        batches = self.hook.pytest_codeflash_generate_candidates(
            target=target, original_source=source, settings=self.settings
        )
        return ready([c for batch in batches for c in batch or []])

    def propose_follow_ups(
        self, target: TargetFunction, source: str, judged: Judged
    ) -> Future[list[Candidate]] | None:
        batches = self.hook.pytest_codeflash_combine_candidates(
            target=target,
            original_source=source,
            results=[verdict for _, verdict in judged],
            settings=self.settings,
        )
        found = [c for batch in batches for c in batch or []]
        return ready(found) if found else None
