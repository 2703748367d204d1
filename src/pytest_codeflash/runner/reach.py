"""Reach the candidate's changed lines that no verification input ran, before giving up.

Runs inside the runner process, when the tests, the replay and the generated inputs agreed
but coverage found changed lines of the candidate that none of them ran: nothing checked
those lines, so the candidate would be rejected as unverified.  First, for a bounded time
(half the generation budget), this searches for inputs that run them:

1. the captured calls with their collections 10x and 100x larger and their numbers 10x and
   1000x larger (thresholds on sizes and magnitudes are where fast paths branch off);
2. Hypothesis exploring around the small captured calls (the strategies of
   :mod:`.strategies`),
   steered with ``hypothesis.target`` toward inputs that run more of the candidate's lines
   and more steps of them.

Every input is first brought inside the invariants of the captured calls
(:meth:`.invariants.ArgsShape.repair`; one that still breaks them is not used) and then
compared like a generated input, original twice and candidate once, so a difference on
it rejects the candidate.  :class:`.line_hits.LineHits` says which lines of the candidate
each input ran.  The search stops when every changed line ran under a few inputs, at the
first difference, or when its time or examples run out (the mutations at the first input
too slow for the original); the lines still unrun are the ones the verdict names.
"""

from __future__ import annotations

import contextlib
import pickle
from dataclasses import dataclass, field
from typing import Any

from .calls import Args, dump_args, load_args
from .determinism import REAL_MONOTONIC
from .differential import Differential
from .generate import SlowCall, time_limit
from .invariants import ArgsShape, infer_args
from .line_hits import LineHits
from .protocol import CoverageSummary, RunnerSpec
from .scale import FACTORS, scaled
from .strategies import args_strategy, fill_pool

__all__ = ["Reach", "reach_changed_lines", "reach_per_spec"]

MAGNITUDES = (10, 1000)
MAX_SEEDS = 8
CALL_LIMIT_S = 0.5
SMALL_BYTES = 1024
"""Captured calls up to this size (pickled), or the smallest, seed the Hypothesis search."""
RUNS_WANTED = 3
"""Inputs that run a changed line before the search stops: one may hit the line and still
not show a difference (a sort of an already sorted list).  Once every line ran, the search
goes on for a quarter of its budget at most."""


class _Done(BaseException):
    """Every changed line ran often enough, a difference showed, or the time is up.

    A BaseException, so that Hypothesis lets it through at once."""


@dataclass
class Reach:
    """What the search found: the changed lines it ran, and how many inputs it compared."""

    reached: set[int] = field(default_factory=set)
    remaining: set[int] = field(default_factory=set)
    searched: int = 0


def reach_per_spec(
    differential: Differential,
    coverage: CoverageSummary,
    inputs: list[bytes],
    spec: RunnerSpec,
    filename: str,
) -> list[int]:
    """Search for inputs that run ``coverage.changed_unrun``; update ``coverage`` with what
    the search ran; return the changed lines still unrun."""
    budget = spec.generation.budget_s / 2
    if spec.deadline_monotonic is not None:
        budget = min(budget, (spec.deadline_monotonic - REAL_MONOTONIC()) / 4)
    found = reach_changed_lines(
        differential,
        coverage.changed_unrun,
        inputs,
        filename=filename,
        examples=spec.generation.examples,
        seed=spec.seed + 1,  # not the generated inputs' own draw again
        budget_s=max(budget, 0.0),
        call_limit_s=min(spec.generation.call_limit_s, CALL_LIMIT_S),
    )
    coverage.reached = sorted(found.reached)
    coverage.searched = found.searched
    coverage.changed_unrun = [n for n in coverage.changed_unrun if n in found.remaining]
    return coverage.changed_unrun


def reach_changed_lines(
    differential: Differential,
    unrun: list[int],
    inputs: list[bytes],
    *,
    filename: str,
    examples: int,
    seed: int,
    budget_s: float,
    call_limit_s: float,
) -> Reach:
    """Compare on inputs grown from the captured ``inputs`` until lines ``unrun`` of the
    candidate (compiled under ``filename``) ran; see the module docstring."""
    import hypothesis  # noqa: F401  (before the clock starts: its import costs ~0.5 s)

    captured = _load(differential, inputs)
    search = _Search(differential, set(unrun), budget_s, call_limit_s)
    if not captured or not unrun or budget_s <= 0:
        return search.found
    search.shape = differential.invariants or infer_args(
        captured, skip_first=differential.is_method
    )
    differential.lenient_type_errors = True  # generated inputs, see Differential
    try:
        with LineHits(filename) as search.hits:
            _mutate(search, captured, budget_s / 2)
            _explore(search, captured, examples, seed)
    except _Done:
        pass
    finally:
        differential.lenient_type_errors = False
        differential.outside = False
    return search.found


class _Search:
    def __init__(
        self, differential: Differential, unrun: set[int], budget_s: float, call_limit_s: float
    ) -> None:
        self.differential = differential
        self.found = Reach(remaining=set(unrun))
        self.deadline = REAL_MONOTONIC() + budget_s
        self.budget_s = budget_s
        self.call_limit_s = call_limit_s
        self.shape: ArgsShape | None = None
        self.hits: LineHits | None = None
        self.seen: set[bytes] = set()
        self.before = len(differential.tally.differences)
        self.runs = dict.fromkeys(unrun, 0)  # line -> inputs that ran it
        self.slow = False

    def attempt(self, args: Args) -> tuple[int, int]:
        """Compare on ``args`` (brought inside the invariants): the number of the
        candidate's lines it ran and the steps it took; ``(0, 0)`` if it was not used."""
        differential, found = self.differential, self.found
        if REAL_MONOTONIC() > self.deadline:
            raise _Done
        if self.shape is not None:
            args = self.shape.repair(args)
            if not self.shape.holds(args):
                return 0, 0
        try:
            key = dump_args(args)
        except Exception:
            return 0, 0
        if key in self.seen:
            return 0, 0
        self.seen.add(key)
        assert self.hits is not None
        self.hits.take()
        lines = ", ".join(map(str, sorted(self.runs)[:8]))
        differential.current_test = f"an input searched to reach changed line(s) {lines}"
        differential.outside = False
        limit = min(self.call_limit_s, self.deadline - REAL_MONOTONIC())
        try:
            with time_limit(max(limit, 0.001)):  # and never past the deadline
                differential.check(args)
        except SlowCall:
            self.slow = True
            return 0, 0
        ran, steps = self.hits.take()
        found.searched += 1
        if found.remaining and not found.remaining - ran:
            # Every changed line ran: more inputs that run them get a little more time.
            self.deadline = min(self.deadline, REAL_MONOTONIC() + self.budget_s / 4)
        found.reached |= ran & found.remaining
        found.remaining -= ran
        for line in ran & self.runs.keys():
            self.runs[line] += 1
        if len(differential.tally.differences) > self.before:
            raise _Done
        if min(self.runs.values()) >= RUNS_WANTED:
            raise _Done
        return len(ran), steps


def _load(differential: Differential, inputs: list[bytes]) -> list[Args]:
    """The captured calls, smallest first (a search from small inputs is cheap)."""
    loaded = []
    for data in sorted(inputs, key=len)[:MAX_SEEDS]:
        try:
            loaded.append(load_args(data, differential.module_name, differential.candidate.module))
        except Exception:
            continue
    return loaded


def _mutate(search: _Search, captured: list[Args], budget_s: float) -> None:
    """Try the mutations of :func:`_mutations` for at most ``budget_s``, and none that
    promises to be too slow for the original: sizes grow, and so (at least) does the cost."""
    deadline = REAL_MONOTONIC() + budget_s
    last_size, last_cost = 0, 0.0
    for args in _mutations(captured, search.differential.is_method):
        size = _size(args)
        if last_size and last_cost * size / last_size > search.call_limit_s / 4:
            return  # the rest are larger still
        began = REAL_MONOTONIC()
        search.attempt(args)
        last_size, last_cost = size, REAL_MONOTONIC() - began
        if search.slow or REAL_MONOTONIC() > deadline:
            return


def _mutations(captured: list[Args], is_method: bool) -> list[Args]:
    """The captured calls with larger collections and with larger numbers, smallest first
    (the cheap ones are tried before the time runs out)."""
    found = []
    for args in captured:
        found += [scaled(args, factor, is_method=is_method) for factor in FACTORS]
        found += [_magnified(args, factor, is_method) for factor in MAGNITUDES]
    return sorted((args for args in found if args is not None), key=_size)


def _size(args: Args) -> int:
    try:
        return len(pickle.dumps(args))
    except Exception:
        return 1 << 30


def _magnified(args: Args, factor: int, is_method: bool) -> Args | None:
    """``args`` with every number, at the top level or in a top-level list or tuple,
    ``factor`` times larger; None if there is none."""
    positional, keywords = args
    head, rest = (positional[:1], positional[1:]) if is_method else ((), positional)
    grown = (*head, *(_magnify(v, factor) for v in rest))
    named = {k: _magnify(v, factor) for k, v in keywords.items()}
    try:
        same = pickle.dumps((grown, named)) == pickle.dumps((positional, keywords))
    except Exception:
        return None
    return None if same else (grown, named)


def _magnify(value: Any, factor: int, depth: int = 0) -> Any:
    kind = type(value)
    if kind is int or kind is float:
        return value * factor
    if kind in (list, tuple) and depth == 0:
        return kind(_magnify(item, factor, 1) for item in value)
    return value


def _explore(search: _Search, captured: list[Args], examples: int, seed: int) -> None:
    """Hypothesis around the captured calls, steered toward running more of the candidate."""
    import hypothesis
    from hypothesis import strategies as st
    from hypothesis.errors import HypothesisException

    is_method = search.differential.is_method
    fill_pool([list(args[0]) + list(args[1].values()) for args in captured])
    # Around the small calls only: each example costs a comparison, and one grown from a
    # large call costs as much as that call (larger sizes were tried as mutations).
    limit = max(SMALL_BYTES, _size(captured[0]))
    small = [args for args in captured if _size(args) <= limit]
    drawing = st.one_of([args_strategy(args, is_method) for args in small])

    @hypothesis.settings(
        max_examples=max(examples, 1),
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.generate, hypothesis.Phase.target],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.seed(seed)
    @hypothesis.given(drawing)
    def explore(args: Args) -> None:
        lines, steps = search.attempt(args)
        hypothesis.target(float(lines), label="candidate lines run")
        hypothesis.target(float(steps), label="candidate steps")

    with contextlib.suppress(HypothesisException):  # it found nothing more to draw
        explore()
