"""The ``pytest_codeflash_*`` hooks: pytest-codeflash's extension API.

Implement them in a ``conftest.py`` or in a plugin to add candidate sources, teach the
comparator your own types, or add reporters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .models import (
        Candidate,
        CandidateResult,
        FunctionResult,
        RankedFunction,
        Report,
        Settings,
        TargetFunction,
    )


@pytest.hookspec
def pytest_codeflash_generate_candidates(
    target: TargetFunction, original_source: str, settings: Settings
) -> list[Candidate] | None:
    """Propose faster versions of ``target``.

    Called once per target function, in the pytest process, after the test run.  Every
    implementation is called; their lists are concatenated.

    :param target: the function to optimize.
    :param original_source: the full source of the module that defines ``target``.
    :param settings: the resolved settings of this run.
    :return: candidates (each a full replacement module source), or ``None`` for none.
        Raise a :class:`pytest_codeflash.errors.CodeflashError` on failure instead of
        returning an empty list, so that "no ideas" and "broken" stay distinguishable.
    """


@pytest.hookspec
def pytest_codeflash_combine_candidates(
    target: TargetFunction,
    original_source: str,
    results: list[CandidateResult],
    settings: Settings,
) -> list[Candidate] | None:
    """Propose candidates that build on the first round's verdicts (combinations, say).

    Called once per target function, in the pytest process, after every candidate of the
    first round was evaluated; the candidates returned are evaluated against the same
    baseline.  Every implementation is called; their lists are concatenated.  The rule
    engine combines its accepted rewrites into one candidate here.

    :param target: the function being optimized.
    :param original_source: the full source of the module that defines ``target``.
    :param results: the first round's verdicts, one per candidate, in order.
    :param settings: the resolved settings of this run.
    :return: more candidates, or ``None`` for none.
    """


@pytest.hookspec(firstresult=True)
def pytest_codeflash_compare(original: Any, candidate: Any) -> bool | None:
    """Decide whether two values produced by the original and a candidate are the same.

    Called inside the isolated runner process (never in the user's pytest process) for every
    pair of values the comparator meets, before its built-in rules.  Implement it in a
    ``conftest.py`` to teach the comparator types it does not know.

    :param original: the value the original function produced.
    :param candidate: the value the candidate produced at the same place.
    :return: ``True`` if equal, ``False`` if different, ``None`` to let the next
        implementation (and finally the built-in comparator) decide.
    """


@pytest.hookspec
def pytest_codeflash_report(report: Report, settings: Settings) -> None:
    """Receive the final report, after every function was evaluated.

    Called once per run in the pytest process (the controller under xdist).

    :param report: the report that ``--codeflash-report`` writes.
    :param settings: the resolved settings of this run.
    """


@pytest.hookspec
def pytest_codeflash_function_done(result: FunctionResult, settings: Settings) -> None:
    """Called after each function's candidates were evaluated, with its result."""


@pytest.hookspec(firstresult=True)
def pytest_codeflash_rank_functions(
    functions: list[RankedFunction], settings: Settings
) -> list[RankedFunction] | None:
    """Choose and order the discovered functions to optimize (``--codeflash`` without targets).

    Called once per run, in the pytest process (the controller under xdist), after the test
    run, with every discovered function and what the run measured of it (calls, own and
    total time, wall and CPU, the share of the traced time, the tests that called it), in
    order of addressable time; with ``--codeflash-changed-since``, only the changed ones.
    The first non-``None`` answer wins; the built-in implementation runs last and keeps the
    functions some test called that take at least 0.1 % of the traced time.  Return the
    functions to optimize, most promising first (``--codeflash-max-functions`` then caps
    the list), or ``None`` to leave the decision to the next implementation.  To adjust the
    built-in order rather than replace it, implement the hook with ``wrapper=True``.

    :param functions: :class:`~pytest_codeflash.models.RankedFunction` objects.
    :param settings: the resolved settings of this run.
    """
