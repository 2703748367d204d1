"""The original once more on the captured inputs: its line profile and example calls.

Runs inside the runner process at the end of the baseline run, and only when the spec asks
(``profile_budget_s``, ``examples``: the parent does when a language model will read the
result).  Each captured call runs through the original again, under the same deterministic
patches and sandbox guard as in the tests, with a :class:`~.line_profile.LineProfiler`
watching the target's code; the first few calls are written as Python
(``unique([3, 1, 3]) -> [3, 1]``) for the prompts that show example calls.  The whole pass
is bounded by the budget, and the parent gets only numbers and short strings.
"""

from __future__ import annotations

import contextlib
import inspect
import types
from collections.abc import Callable, Iterator
from typing import Any

from .calls import Args, load_args, observe
from .determinism import REAL_MONOTONIC
from .differential import Differential
from .line_profile import LineProfiler
from .mismatch import short_repr, type_name
from .outcomes import Outcome
from .protocol import LineProfileSummary

__all__ = ["EXAMPLES_BUDGET_S", "describe_original"]

EXAMPLES_BUDGET_S = 0.5  # for the examples alone, when no profile is asked for
ARGUMENT_CHARS = 60
RESULT_CHARS = 100


def describe_original(
    differential: Differential,
    captured: list[bytes],
    *,
    qualname: str,
    profile_budget_s: float,
    examples: int,
) -> tuple[LineProfileSummary | None, list[str]]:
    """Run the original on ``captured`` (pickled calls) within the budget.

    Returns its per-line profile (``None`` if not asked for, or its code could not be
    found) and up to ``examples`` calls written as Python.
    """
    budget = profile_budget_s if profile_budget_s > 0 else EXAMPLES_BUDGET_S
    deadline = REAL_MONOTONIC() + budget
    function = differential.original.function
    if differential.is_async:
        function = _run_to_completion(function)
    code = _code_of(differential.original.function)
    profiler = (
        LineProfiler(code, deadline=deadline) if code is not None and profile_budget_s > 0 else None
    )
    written: list[str] = []
    name = qualname.rsplit(".", 1)[-1] if differential.is_method else qualname
    with profiler if profiler is not None else contextlib.nullcontext():
        for data in captured:
            if REAL_MONOTONIC() > deadline or (profiler is None and len(written) >= examples):
                break
            try:
                args = load_args(data, differential.module_name, differential.original.module)
            except Exception:
                continue
            call = _call_text(name, args, differential.is_method)
            outcome = observe(
                function,
                args,
                module=differential.original.module,
                global_names=[],
                is_method=differential.is_method,
                is_generator=differential.is_generator,
                around=_around(differential),
            )
            if profiler is not None:
                profiler.calls += 1
                profiler.call_done()
            if len(written) < examples:
                written.append(f"{call} {_outcome_text(outcome)}")
    if profiler is None:
        return None, written
    summary = profiler.summary()
    summary.complete = summary.complete and profiler.calls >= len(captured)
    return summary, written


def _code_of(function: Callable[..., Any]) -> types.CodeType | None:
    code = getattr(inspect.unwrap(function), "__code__", None)
    return code if isinstance(code, types.CodeType) else None


def _run_to_completion(function: Callable[..., Any]) -> Callable[..., Any]:
    """A coroutine function as a plain one: each call runs in a new event loop."""
    import asyncio

    def run(*args: Any, **kwargs: Any) -> Any:
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(function(*args, **kwargs))
        finally:
            loop.close()

    return run


def _around(differential: Differential) -> Callable[[], contextlib.AbstractContextManager[None]]:
    @contextlib.contextmanager
    def around() -> Iterator[None]:
        with differential.determinism:
            if differential.guard is None:
                yield
            else:
                with differential.guard.phase_of("original"):
                    yield

    return around


def _call_text(name: str, args: Args, is_method: bool) -> str:
    """The call as Python, arguments shortened; a method as ``<self>.name(...)``."""
    positional, keywords = args
    owner = ""
    if is_method and positional:
        owner = short_repr(positional[0], ARGUMENT_CHARS) + "."
        positional = positional[1:]
    parts = [short_repr(value, ARGUMENT_CHARS) for value in positional]
    parts += [f"{key}={short_repr(value, ARGUMENT_CHARS)}" for key, value in keywords.items()]
    return f"{owner}{name}({', '.join(parts)})"


def _outcome_text(outcome: Outcome) -> str:
    if outcome.raised is not None:
        raised = outcome.raised
        return f"raises {type_name(type(raised))}({short_repr(str(raised), RESULT_CHARS)})"
    if outcome.yielded is not None:
        return f"yields {short_repr(outcome.yielded, RESULT_CHARS)}"
    return f"-> {short_repr(outcome.returned, RESULT_CHARS)}"
