"""Which tests a runner process runs, and whether they agree with the baseline's.

The runner runs with ``PYTHONHASHSEED=0``, the user's run with a seed of its own, and a
set's order can differ between any two processes anyway (before 3.12 ``hash(None)`` is
its address): so a test parametrized over a set may number its parameters otherwise from
one process to the next (isodate's ``test_format[4-19-expected11-%C]``).  The runner
collects the tests' files and picks the tests itself (:func:`select_tests`), and a test
function whose instances are named otherwise than in the baseline is judged whole
(:func:`disagreeing`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest


def function_of(nodeid: str) -> str:
    """A node id without its parameters (``t.py::test_f[1-a]`` -> ``t.py::test_f``)."""
    last = nodeid.rfind("::")
    bracket = nodeid.find("[", last + 2) if last >= 0 else -1
    return nodeid[:bracket] if bracket >= 0 else nodeid


def files_of(tests: Sequence[str]) -> list[str]:
    """The files of ``tests``, once each, in order: what the runner collects."""
    return list(dict.fromkeys(test.split("::", 1)[0] for test in tests))


def select_tests(items: list[pytest.Item], wanted: Sequence[str]) -> list[pytest.Item]:
    """Keep the ``wanted`` tests among ``items`` (in place); return the others.

    ``wanted`` holds node ids, and may hold what pytest takes in their place (a file, a
    directory, a class: every test under it is kept).  A parametrized id not among the
    items keeps every instance of its function: running a test more than needed costs
    time, missing one would cost a check.
    """
    ids = {item.nodeid for item in items}
    exact = set(wanted)
    unmatched = [test for test in wanted if test not in ids]
    renamed = {function_of(test) for test in unmatched if function_of(test) != test}
    prefixes = tuple(
        f"{test.rstrip('/')}{end}"
        for test in unmatched
        if function_of(test) == test
        for end in ("::", "/")
    )
    keep: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        nodeid = item.nodeid
        chosen = (
            nodeid in exact
            or (bool(renamed) and function_of(nodeid) in renamed)
            or nodeid.startswith(prefixes)
        )
        (keep if chosen else deselected).append(item)
    items[:] = keep
    return deselected


def disagreeing(baseline: Mapping[str, str], run: Mapping[str, str]) -> list[tuple[str, str]]:
    """The tests that passed in ``baseline`` and not in ``run``, with their outcome there.

    A test absent from ``run`` is judged with its function's other instances: they agree
    if every instance passed in both runs, as many in each; else each instance of the
    function that did not pass in ``run`` is listed (or the function, ``"missing"``).
    """
    found: list[tuple[str, str]] = []
    renamed: set[str] = set()
    for test, outcome in baseline.items():
        if outcome != "passed":
            continue
        if test in run:
            if run[test] != "passed":
                found.append((test, run[test]))
        else:
            renamed.add(function_of(test))
    for function in sorted(renamed):
        before = [o for t, o in baseline.items() if function_of(t) == function]
        after = [(t, o) for t, o in run.items() if function_of(t) == function]
        if len(after) == len(before) and all(
            o == "passed" for o in [*before, *(o for _, o in after)]
        ):
            continue
        failed = [(t, o) for t, o in after if o != "passed" and (t, o) not in found]
        found += failed or [(function, "missing")]
    return found
