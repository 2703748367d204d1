"""Replay the captured inputs and the generated ones through the differential check.

Runs inside the runner process after the user's tests, only when every test that passed with
the original also passed with the candidate.  A class method or constructor is also called
through a subclass (:mod:`.subclass`).  Inputs arrive pickled (captured during the
baseline run); each side unpickles its own copy with the target module's classes resolved in
its own module object.  What each check of a captured input showed (its cost, whether the
call leaves its arguments alone) goes on to the timing, :mod:`.measure`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .calls import load_args, read_pickle
from .differential import Differential
from .outcomes import Outcome
from .protocol import GeneratedSummary, ReplaySummary, RunnerSpec

MAX_TIMED_INPUTS = 12


@dataclass(frozen=True)
class InputFacts:
    """What the behaviour check of one captured input showed, for timing it."""

    cost_s: float
    """Seconds the check took (the original once or twice, the candidate once)."""
    pure: bool
    """No side changed its arguments (or ``self``): one copy of them serves every call."""
    lazy: bool
    """The result is lazy (a generator, ``map``...): each timed call drains it."""


Facts = dict[bytes, InputFacts]
"""What each captured input's check showed, by the pickled input."""


def verify_replayed(
    differential: Differential,
    inputs: list[bytes],
    progress: Callable[[str], None],
    budget_s: float = 0.0,
) -> tuple[ReplaySummary, list[bytes], Facts]:
    """Replay the captured inputs: the summary, the inputs that loaded, and what each cost.

    ``budget_s`` (0: none): once replaying has taken that long, the remaining inputs are
    left out; the first always runs.  Those this run's tests did not compare go first, so
    what the budget leaves out was compared already where it can be.
    """
    return _replay(differential, inputs, progress, budget_s)


def _learn_invariants(differential: Differential, inputs: list[bytes]) -> None:
    """The invariants of the captured calls, for the inputs made from them later."""
    from .invariants import infer_args

    module, name = differential.candidate.module, differential.module_name
    calls = []
    for data in inputs:
        try:
            calls.append(load_args(data, name, module))
        except Exception:
            continue
    differential.invariants = infer_args(calls, skip_first=differential.is_method)


def verify_generated(
    differential: Differential,
    usable: list[bytes],
    spec: RunnerSpec,
    progress: Callable[[str], None],
) -> tuple[GeneratedSummary | None, list[bytes]]:
    """Compare on the generated inputs; the summary (``None`` if none are asked for) and
    the inputs to time (the captured ones, or failing those, some generated ones)."""
    if not spec.generation.examples:
        return None, usable
    from .generate import Drawn, generate_per_spec, replay_generated

    progress("generated inputs")
    drawn = read_pickle(spec.generated_path)
    if isinstance(drawn, Drawn):  # drawn once by the baseline run
        generated = replay_generated(
            differential,
            drawn,
            budget_s=spec.generation.budget_s,
            call_limit_s=spec.generation.call_limit_s,
        )
    else:  # the baseline could not draw them: the older, slower way
        drawn = generate_per_spec(differential, usable, spec)
        generated = drawn.summary
    if not usable:  # nothing captured: the generated inputs are what the timing uses
        usable = drawn.inputs[:MAX_TIMED_INPUTS]
    return generated, usable


def _replay(
    differential: Differential,
    inputs: list[bytes],
    progress: Callable[[str], None],
    budget_s: float = 0.0,
) -> tuple[ReplaySummary, list[bytes], Facts]:
    before = len(differential.tally.differences)
    compared_before = differential.tally.compared
    usable: list[bytes] = []
    facts: Facts = {}
    _learn_invariants(differential, inputs)
    compared = set(differential.tally.inputs)  # in this run's tests
    inputs = [d for d in inputs if d not in compared] + [d for d in inputs if d in compared]
    deadline = time.monotonic() + budget_s if budget_s > 0 else None
    for index, data in enumerate(inputs):
        if deadline is not None and usable and time.monotonic() > deadline:
            break
        progress(f"replay {index}")
        differential.current_test = f"replay of captured call #{index}"
        try:
            args = load_args(data, differential.module_name, differential.candidate.module)
        except Exception:
            continue
        began = time.monotonic()
        outcome = differential.check(args)
        spent = time.monotonic() - began
        facts[data] = InputFacts(spent, _pure(differential, data, outcome), _lazy(outcome))
        usable.append(data)
    if len(differential.tally.differences) == before:
        from .subclass import check_subclass_calls

        progress("calls through a subclass")
        check_subclass_calls(differential, usable)
    replay = ReplaySummary(
        inputs=len(inputs),
        compared=differential.tally.compared - compared_before,
        differences=differential.tally.differences[before:],
    )
    return replay, usable, facts


def _pure(differential: Differential, data: bytes, outcome: Outcome | None) -> bool:
    """Whether the call left its arguments (and ``self``) as they came in."""
    from .compare import compare_values

    if outcome is None or outcome.raised is not None:
        return False
    try:
        positional, keywords = load_args(
            data, differential.module_name, differential.candidate.module
        )
        before: tuple[Any, ...] = positional
        after: tuple[Any, ...] = outcome.args_after
        if differential.is_method:
            before, after = positional, (outcome.self_after, *outcome.args_after)
        same = compare_values((before, keywords), (after, outcome.kwargs_after)) is None
    except Exception:
        return False
    return same


def _lazy(outcome: Outcome | None) -> bool:
    return outcome is not None and bool(outcome.result_kind)


__all__ = ["Facts", "InputFacts", "verify_generated", "verify_replayed"]
