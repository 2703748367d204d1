"""Generated inputs, run differentially: drawn once by the baseline, replayed by candidates.

Runs inside the runner process, after the tests and the replay agreed.  The strategies come
from :mod:`.strategies`.  Every example goes through the same original-twice-then-candidate
comparison as a test call, under a per-call time limit so an input that makes the original
slow is skipped rather than blamed on the candidate.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .calls import Args, dump_stored, load_args, load_outcome
from .differential import Differential
from .invariants import infer_args
from .outcomes import Outcome, compare_outcomes
from .protocol import GeneratedSummary, RunnerSpec
from .strategies import annotation_strategy, args_strategy, edge_cases, fill_pool


class _Enough(Exception):
    """Stops Hypothesis once the time is up or a difference was found."""


class SlowCall(BaseException):
    """Raised by the per-call alarm; BaseException so user code's ``except Exception`` misses."""


@dataclass
class Drawn:
    """The generated inputs one run checked, and what the original did on each.

    The baseline run pickles it for every candidate's run (:func:`replay_generated`).
    ``inputs`` are pickled arguments (see :func:`.calls.dump_args`); ``stable[i]`` says
    whether the original gave the same outcome twice on input ``i``.  The other lists are
    the stored outcomes, see :class:`StoredOutcomes`.
    """

    summary: GeneratedSummary = field(default_factory=GeneratedSummary)
    inputs: list[bytes] = field(default_factory=list)
    stable: list[bool] = field(default_factory=list)
    inside: list[bool] = field(default_factory=list)
    """Whether each input keeps the invariants of the captured calls (see .invariants)."""
    expected: list[bytes | None] = field(default_factory=list)
    fingerprints: list[bytes | None] = field(default_factory=list)
    random_states: list[Any] = field(default_factory=list)
    state_of: list[int] = field(default_factory=list)


# Drawing stops once this many inputs, none kept yet, were ones on which the original's
# results cannot be compared with themselves (see _incomparable).
_INCOMPARABLE_ALONE = 20


def generate_and_compare(
    differential: Differential,
    inputs: list[bytes],
    *,
    examples: int,
    seed: int,
    budget_s: float,
    call_limit_s: float,
    keep_outcomes: bool = False,
    private: tuple[str, ...] = (),
) -> Drawn:
    """Compare original and candidate on generated inputs; stop at the first difference.

    The result's ``inputs`` holds every example that was checked in time: the baseline run
    draws them once, with the original on both sides, and each candidate's run replays them
    (:func:`replay_generated`) instead of paying for Hypothesis again.  With
    ``keep_outcomes`` (the baseline run) it also keeps what the original did on each (see
    :class:`StoredOutcomes`; ``private`` are strings, such as this run's directory, that
    make an outcome this run's own).
    """
    import hypothesis
    from hypothesis import strategies as st

    module = differential.candidate.module
    name = differential.module_name
    captured = []
    for data in inputs:
        try:
            captured.append(load_args(data, name, module))
        except Exception:
            continue
    drawn = Drawn()
    summary = drawn.summary
    fill_pool([list(args[0]) + list(args[1].values()) for args in captured])
    strategies = [args_strategy(args, differential.is_method) for args in captured]
    summary.source = "captured calls"
    if not strategies:
        from_annotations = annotation_strategy(
            differential.original.function, differential.is_method
        )
        if from_annotations is None:
            summary.source = "nothing: no captured call and no complete type annotations"
            return drawn
        strategies, summary.source = [from_annotations], "type annotations"
    shape = infer_args(captured, skip_first=differential.is_method) if captured else None
    drawing = st.one_of(strategies)
    if shape is not None:
        summary.invariants = shape.describe()
        # Most examples are brought inside the invariants; some stay as drawn, so that a
        # difference only outside them still shows, as a note.
        inside = drawing.map(shape.repair)
        drawing = st.one_of(inside, inside, inside, drawing)
    stored = StoredOutcomes(drawn, private)
    guard = differential.guard
    kept: set[bytes] = set()
    tally = differential.tally
    deadline = time.monotonic() + budget_s
    before = len(tally.differences)

    def enough() -> bool:  # once true, it stays true
        if summary.unverifiable >= _INCOMPARABLE_ALONE and not drawn.inputs:
            return True  # the original's results cannot be compared on any input drawn
        return time.monotonic() > deadline or len(differential.tally.differences) > before

    def check_one(args: Args) -> None:
        if enough():
            return
        differential.outside = shape is not None and not shape.holds(args)
        try:
            data: bytes | None = dump_stored(args, name)  # before the call can mutate them
        except Exception:
            data = None
        marks = (sum(tally.unstable.values()), len(tally.differences))
        noted = len(tally.notes)
        state = random.getstate()
        fingerprint = differential.globals_fingerprint() if keep_outcomes else None
        events = guard.events if guard is not None else 0
        in_time, outcome = _check_in_time(differential, args, call_limit_s, summary)
        if keep_outcomes and _incomparable(differential, marks[1], noted):
            summary.unverifiable += 1  # nothing to verify a candidate with: not kept
            return
        if in_time and data is not None and data not in kept:
            kept.add(data)
            drawn.inputs.append(data)
            drawn.inside.append(not differential.outside)
            drawn.stable.append((sum(tally.unstable.values()), len(tally.differences)) == marks)
            # Kept only if stable, and if the guard saw nothing: the candidate's run must see
            # the original's blocked operations and secret reads to forgive them.
            quiet = guard is None or guard.events == events
            keep = keep_outcomes and drawn.stable[-1] and quiet and fingerprint is not None
            stored.add(differential, outcome if keep else None, state, fingerprint)

    @hypothesis.settings(
        max_examples=examples,
        database=None,
        deadline=None,  # slow calls are bounded by call_limit_s, and skipped
        derandomize=False,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.seed(seed)
    @hypothesis.given(drawing)
    def check(args: Args) -> None:
        if enough():
            raise _Enough  # drawing more examples (large ones cost) would be for nothing
        check_one(args)

    notes_before = len(differential.tally.notes)
    with _lenient(differential):
        # The edge cases first, every one of them; then Hypothesis explores around them.
        for probe in edge_cases(captured, differential.is_method):
            check_one(shape.repair(probe) if shape is not None else probe)
        try:
            check()
        except Exception:
            # Hypothesis reports the example that raised _Enough; whatever fails in that
            # report (a repr that raises) is not our failure once we asked it to stop.
            if not enough():
                raise
    summary.differences = differential.tally.differences[before:]
    summary.notes = differential.tally.notes[notes_before:]
    summary.inputs = len(drawn.inputs)
    summary.inside = sum(drawn.inside)
    summary.outcomes_kept = sum(1 for outcome in drawn.expected if outcome)
    return drawn


def generate_per_spec(
    differential: Differential,
    inputs: list[bytes],
    spec: RunnerSpec,
    *,
    keep_outcomes: bool = False,
) -> Drawn:
    """:func:`generate_and_compare` with the runner spec's example count, seed and limits.

    The directory of this run (the parent of its allowed roots) is private to it: an outcome
    that mentions it would differ in any other run.
    """
    runs = {os.path.dirname(root) for root in spec.allowed_roots}
    private = tuple(runs) + tuple(os.path.basename(run) for run in runs)
    return generate_and_compare(
        differential,
        inputs,
        examples=spec.generation.examples,
        seed=spec.seed,
        budget_s=spec.generation.budget_s,
        call_limit_s=spec.generation.call_limit_s,
        keep_outcomes=keep_outcomes,
        private=tuple(mark for mark in private if mark),
    )


def replay_generated(
    differential: Differential, drawn: Drawn, *, budget_s: float, call_limit_s: float
) -> GeneratedSummary:
    """Compare original and candidate on the inputs the baseline run generated.

    Inputs that were too slow for the original there were already left out.  Where the
    baseline stored what the original did (see :class:`StoredOutcomes`), the original does
    not run again; where it only saw the original give the same outcome twice
    (``stable``), it runs once.
    """
    name, module = differential.module_name, differential.candidate.module
    summary = GeneratedSummary(
        skipped_slow=drawn.summary.skipped_slow,
        unverifiable=drawn.summary.unverifiable,
        source=drawn.summary.source,
        inputs=len(drawn.inputs),
        inside=sum(drawn.inside),
        invariants=list(drawn.summary.invariants),
    )
    deadline = time.monotonic() + budget_s
    before = len(differential.tally.differences)
    notes_before = len(differential.tally.notes)
    stored = StoredOutcomes(drawn)
    with _lenient(differential):
        for index, data in enumerate(drawn.inputs):
            if time.monotonic() > deadline or len(differential.tally.differences) > before:
                break
            try:
                args = load_args(data, name, module)
            except Exception:
                continue
            expected = stored.load(differential, index)
            once = index < len(drawn.stable) and drawn.stable[index] is True
            differential.outside = index < len(drawn.inside) and not drawn.inside[index]
            in_time, _ = _check_in_time(
                differential, args, call_limit_s, summary, once=once, expected=expected
            )
            if not in_time:  # the original finished here in time, twice, in the baseline
                differential.record(
                    "timeout",
                    f"timeout: the candidate did not finish within {call_limit_s:g} s on a "
                    "generated input that the original handles in time",
                )
    summary.differences = differential.tally.differences[before:]
    summary.notes = differential.tally.notes[notes_before:]
    return summary


class StoredOutcomes:
    """What the original did on each generated input, kept by the baseline run for replays.

    Lives in :class:`Drawn`, a list entry per input: ``expected`` (the pickled
    :class:`Outcome`, or ``None``), ``fingerprints`` (a digest of the shared module globals
    before the call, see :meth:`Differential.globals_fingerprint`) and ``state_of`` (an
    index into ``random_states``, the distinct ``random`` states the calls started from).
    An outcome is kept only when the original gave it twice, it survives pickling unchanged
    by the strict comparison and mentions nothing private to the baseline's run.  A replay
    uses it only if the globals are as they were then, and restores the random state first.
    """

    MAX_BYTES = 16 << 20  # all outcomes together; past it, replays run the original again

    def __init__(self, drawn: Drawn, private: tuple[str, ...] = ()) -> None:
        self.drawn = drawn
        self.private = tuple(mark.encode() for mark in private)
        self.size = sum(len(data) for data in drawn.expected if data)

    def add(
        self,
        differential: Differential,
        outcome: Outcome | None,
        state: Any,
        fingerprint: bytes | None,
    ) -> None:
        drawn = self.drawn
        data = self._dump(differential, outcome) if self.size < self.MAX_BYTES else None
        self.size += len(data) if data else 0
        drawn.expected.append(data if self.size <= self.MAX_BYTES else None)
        drawn.fingerprints.append(fingerprint)
        if not drawn.random_states or drawn.random_states[-1] != state:
            drawn.random_states.append(state)
        drawn.state_of.append(len(drawn.random_states) - 1)

    def load(self, differential: Differential, index: int) -> Outcome | None:
        """The stored outcome of input ``index``, with the random state it started from set;
        ``None`` if there is none, or the module's globals are not what they were."""
        drawn = self.drawn
        known = min(len(drawn.expected), len(drawn.fingerprints), len(drawn.state_of))
        data = drawn.expected[index] if index < known else None
        if data is None:
            return None
        if drawn.fingerprints[index] != differential.globals_fingerprint():
            return None
        try:
            outcome = load_outcome(data, differential.module_name, differential.original.module)
            random.setstate(drawn.random_states[drawn.state_of[index]])
        except Exception:
            return None
        return outcome

    def _dump(self, differential: Differential, outcome: Outcome | None) -> bytes | None:
        if outcome is None:
            return None
        try:
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            if any(mark in data for mark in self.private):
                return None
            restored = load_outcome(data, differential.module_name, differential.original.module)
            same = compare_outcomes(restored, outcome, hook=differential.hook)
        except Exception:
            return None
        return data if same is None else None


def _check_in_time(
    differential: Differential,
    args: Args,
    call_limit_s: float,
    summary: GeneratedSummary,
    *,
    once: bool = False,
    expected: Outcome | None = None,
) -> tuple[bool, Outcome | None]:
    """One differential check of a generated input: whether it finished in time, and the
    candidate's outcome."""
    differential.current_test = "generated input"
    try:
        with time_limit(call_limit_s):
            outcome = differential.check(args, once=once, expected=expected)
    except SlowCall:
        summary.skipped_slow += 1
        return False, None
    summary.examples += 1
    return True, outcome


def _incomparable(differential: Differential, differences: int, notes: int) -> bool:
    """Whether the original's results on the input just drawn could not be compared with
    themselves (the baseline runs the original on both sides).  Such an input verifies no
    candidate; a value the function's preconditions exclude can make one (parse's
    ``date_convert`` builds a time zone of a day's offset, which raises when compared).
    Its records are taken back: they are not the function's differences."""
    tally = differential.tally
    found = False
    for records, since in ((tally.differences, differences), (tally.notes, notes)):
        if any(record.kind == "unverifiable" for record in records[since:]):
            del records[since:]
            found = True
    return found


@contextlib.contextmanager
def _lenient(differential: Differential) -> Iterator[None]:
    """On generated inputs both sides may fail alike on ill-typed values (see Differential)."""
    differential.lenient_type_errors = True
    try:
        yield
    finally:
        differential.lenient_type_errors = False
        differential.outside = False


class time_limit:
    """Interrupt the block with ``SlowCall`` after ``seconds`` (main thread only)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> None:
        if self.armed:
            signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: object) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)

    @staticmethod
    def _fire(signum: int, frame: object) -> None:
        raise SlowCall
