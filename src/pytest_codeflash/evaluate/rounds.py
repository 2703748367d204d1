"""The loop that evaluates one function: candidates are verified as they arrive.

::

    every source: propose()                  sources work while the baseline runs
    baseline run of the original             (with its line profile and example calls
                                              when a source reads them; candidates
                                              known already start beside its input
                                              generation, see .early)
    every source: propose(facts), propose_tests(facts)
    until nothing is pending:                the first answer that is done, generated
        generated tests -> keep those that   tests first
            pass with the original; accepted
            candidates are checked again
            with them
        candidates      -> verify each; a rejection that differed -> propose_repair
    every source: propose_follow_ups(verdicts)   combinations, refinements: same loop
    the winner -> propose_explanation

Every answer is a :class:`~concurrent.futures.Future` (see :mod:`.sources`); the answers of
one source about the function share one deadline (its ``wait_s`` from the start of the
function), and what is not done by then is cancelled, so a slow or failing service never
holds the run up.  With sources that answer at once (files, the rule engine) this is the
plain sequence: their candidates, the baseline, each candidate verified, the combination.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import CodeflashError
from ..models import Candidate, FunctionResult
from .evaluation import Evaluation, Judged
from .sources import CandidateSource

__all__ = ["Rounds"]

Kind = Literal["proposal", "candidates", "tests"]


@dataclass(frozen=True)
class _Pending:
    """An answer some source is working on."""

    source: CandidateSource
    future: Future[Any]
    kind: Kind
    deadline: float


class Rounds:
    """One function's evaluation: baseline, candidates as they come, follow-ups, winner."""

    def __init__(self, evaluation: Evaluation, sources: Sequence[CandidateSource]) -> None:
        self.evaluation = evaluation
        self.sources = list(sources)
        self.judged: list[Judged] = []
        self._pending: list[_Pending] = []
        self._started = time.monotonic()
        self._batches = 0

    def run(self) -> FunctionResult:
        """Evaluate the function; raises what a source's proposals failed with."""
        e = self.evaluation
        target, original = e.target, e.original_source
        self._started = time.monotonic()
        try:
            for source in self.sources:
                self._add(source, source.propose(target, original, None), "proposal")
            first_round = self._answered_at_once()
            if first_round is not None:
                reused = e.reused(first_round)  # an earlier run's result, nothing changed
                if reused is not None:
                    return reused
                if not first_round:  # no baseline run for nothing to compare with it
                    return e.summarise([])
            # Candidates known already need not wait for the baseline's generated inputs
            # when there is a spare slot for them (see .early).
            early = bool(first_round) and e.slots > 1
            stop = e.start(describe=any(s.uses_facts for s in self.sources), early=early)
            if stop is not None:
                return stop
            if early:
                self._drain()  # the first round, beside the rest of the baseline
                stop = e.finish()
                if stop is not None:
                    return stop
            for source in self.sources:
                self._add(source, source.propose(target, original, e.facts), "proposal")
                self._add(source, source.propose_tests(target, e.facts), "tests")
            self._drain()
            first = [(j.candidate, j.verdict) for j in self.judged]
            for source in self.sources:
                self._add(source, source.propose_follow_ups(target, original, first), "candidates")
            self._drain()
            result = self._explained(e.summarise([j.verdict for j in self.judged]))
            e.keep(result)
            return result
        finally:
            for pending in self._pending:
                pending.future.cancel()

    def _answered_at_once(self) -> list[Candidate] | None:
        """The first-round candidates, when every source answered at once (files, rules) and
        none asks again with the baseline's facts; ``None`` otherwise."""
        if any(s.uses_facts for s in self.sources):
            return None
        futures = [p.future for p in self._pending]
        if not all(f.done() and not f.cancelled() and f.exception() is None for f in futures):
            return None  # a failure is raised where the answers are taken
        return [c for future in futures for c in future.result() or []]

    # -- answers as they arrive -----------------------------------------------------------
    def _add(self, source: CandidateSource, future: Future[Any] | None, kind: Kind) -> None:
        if future is not None:
            deadline = self._started + source.wait_s
            self._pending.append(_Pending(source, future, kind, deadline))

    def _drain(self) -> None:
        """Take the answers until none is pending: generated tests first, then candidates."""
        while self._pending:
            done = self._wait()
            tests = [p for p in done if p.kind == "tests"]
            for pending in tests or done:
                self._pending.remove(pending)
            if tests:
                for pending in tests:
                    modules = self._answer(pending)
                    if modules:
                        self._keep_tests(modules)
                continue
            batch = [c for pending in done for c in self._answer(pending) or []]
            if batch:
                self._verify(batch)

    def _wait(self) -> list[_Pending]:
        """The pending answers that are done, waiting for one if need be; an answer past its
        source's deadline is cancelled."""
        while True:
            done = [p for p in self._pending if p.future.done()]
            if done:
                return done
            now = time.monotonic()
            for late in [p for p in self._pending if p.deadline <= now]:
                late.future.cancel()
                self._pending.remove(late)
                self._progress(
                    f"no answer within {late.source.wait_s:.0f} s for this function; "
                    "going on without it"
                )
            if not self._pending:
                return []
            left = min(p.deadline for p in self._pending) - now
            futures = [p.future for p in self._pending]
            concurrent.futures.wait(futures, left, concurrent.futures.FIRST_COMPLETED)

    def _answer(self, pending: _Pending) -> Any:
        """A done answer's value; ``None`` if it failed (reported), unless it held proposals."""
        try:
            return pending.future.result()
        except concurrent.futures.CancelledError:
            return None
        except CodeflashError as err:
            if pending.kind == "proposal":
                raise
            what = "generated tests" if pending.kind == "tests" else "more candidates"
            self._progress(f"no {what}: {err}")
            if pending.kind == "tests":
                self.evaluation.generated.failed(str(err))
            return None

    # -- verification ---------------------------------------------------------------------
    def _verify(self, batch: list[Candidate]) -> None:
        self._batches += 1
        if self._batches > 1:
            self._progress(f"{len(batch)} more candidate(s)")
        name = self.evaluation.target.qualified_name
        work = [
            (candidate, f"{name}: candidate {index}/{len(batch)} {candidate.id}")
            for index, candidate in enumerate(batch, 1)
        ]
        for judged in self.evaluation.evaluate_all(work):
            self._record(judged)

    def _record(self, judged: Judged, replaces: int | None = None) -> None:
        """Keep a verdict; ask for repairs of a candidate that differed."""
        if replaces is None:
            self.judged.append(judged)
        else:
            self.judged[replaces] = judged
        if judged.differences is None:
            return
        e = self.evaluation
        for source in self.sources:
            future = source.propose_repair(
                e.target, e.original_source, judged.candidate, judged.differences
            )
            self._add(source, future, "candidates")

    def _keep_tests(self, modules: list[str]) -> None:
        """Run the generated tests with the original; check accepted candidates again."""
        found = self.evaluation.add_tests(modules)
        dropped = f", {len(found.dropped)} dropped (they fail with the original)"
        self._progress(
            f"{len(found.kept)} generated test(s) pass with the original and join the "
            f"verification{dropped if found.dropped else ''}"
            + (f"; {found.error}" if found.error else "")
        )
        if not found.kept:
            return
        name = self.evaluation.target.qualified_name
        for index, judged in enumerate(list(self.judged)):
            verdict = judged.verdict
            if judged.with_generated_tests or verdict.verdict != "accepted":
                continue
            label = f"{name}: candidate {judged.candidate.id}, again with the generated tests"
            if verdict.duplicate_of is None:
                self._record(self.evaluation.evaluate(judged.candidate, label, again=True), index)
        for index, judged in enumerate(list(self.judged)):  # duplicates share the new verdict
            if judged.verdict.duplicate_of is not None and not judged.with_generated_tests:
                self.judged[index] = self.evaluation.evaluate(judged.candidate, "")

    # -- the winner -----------------------------------------------------------------------
    def _explained(self, result: FunctionResult) -> FunctionResult:
        """``result`` with its winner's explanation from the first source that gives one."""
        best = next((j for j in self.judged if j.verdict.id == result.best_candidate), None)
        if best is None:
            return result
        e = self.evaluation
        for source in self.sources:
            future = source.propose_explanation(
                e.target, e.original_source, best.candidate, best.verdict
            )
            if future is None:
                continue
            left = self._started + source.wait_s - time.monotonic()
            try:
                text = future.result(timeout=max(0.0, left))
            except concurrent.futures.TimeoutError:
                future.cancel()
                self._progress("no explanation of the winner in time")
                continue
            except concurrent.futures.CancelledError:
                continue
            except CodeflashError as err:
                self._progress(f"no explanation of the winner: {err}")
                continue
            if text:
                candidates = [
                    c.model_copy(update={"explanation": text}) if c.id == best.verdict.id else c
                    for c in result.candidates
                ]
                return result.model_copy(update={"candidates": candidates})
        return result

    def _progress(self, message: str) -> None:
        self.evaluation.progress(f"{self.evaluation.target.qualified_name}: {message}")
