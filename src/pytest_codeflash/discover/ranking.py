"""Rank the discovered functions by the time a faster version could save.

A function's *addressable time* is its own time plus the time spent in its traced callees
per call: the time a better implementation of its own code can remove, with a small share
of what it spends in the functions it calls.  Its *share* is that over the traced time of
the whole run (the sum of every traced function's own time).  Functions no test called, and
those below ``threshold`` of the traced time, are skipped; the rest go in order of
addressable time, at most ``--codeflash-max-functions`` of them.

The order is a hook, ``pytest_codeflash_rank_functions`` (``firstresult``): this module is
registered as a plugin by the session, and its implementation runs last, so a conftest or
plugin can return its own order instead, or wrap this one (``wrapper=True``) to filter it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..records import (
    DiscoverySummary,
    RankedFunction,
    Settings,
    SkippedFunction,
    TargetFunction,
)

if TYPE_CHECKING:
    from .discovery import Discovery
    from .tracing import TargetTrace

THRESHOLD = 0.001  # 0.1 % of the traced time


@dataclass
class Ranking:
    """The outcome of ranking: every profiled function, the chosen ones, and why not others."""

    profiled: list[RankedFunction] = field(default_factory=list)
    selected: list[RankedFunction] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    traced_ns: int = 0


def profile(
    functions: Sequence[TargetFunction], traces: Mapping[str, TargetTrace]
) -> tuple[list[RankedFunction], int]:
    """Each function with its figures, by addressable time; and the run's traced time."""
    traced_ns = sum(t.own_ns for t in traces.values())
    profiled = []
    for target in functions:
        trace = traces.get(target.qualified_name)
        if trace is None:
            profiled.append(RankedFunction(target=target))
            continue
        addressable = trace.own_ns + (trace.total_ns - trace.own_ns) // max(1, trace.calls)
        profiled.append(
            RankedFunction(
                target=target,
                calls=trace.calls,
                own_ns=trace.own_ns,
                total_ns=trace.total_ns,
                own_cpu_ns=trace.own_cpu_ns,
                total_cpu_ns=trace.total_cpu_ns,
                addressable_ns=max(0, addressable),
                share=addressable / traced_ns if traced_ns else 0.0,
                tests=tuple(sorted(trace.tests)),
                samples=len(trace.samples),
                samples_skipped=trace.samples_skipped,
            )
        )
    return sorted(profiled, key=_order), traced_ns


def skip_reason(function: RankedFunction, threshold: float = THRESHOLD) -> str:
    """Why the default ranking leaves ``function`` out, or ``""`` if it keeps it."""
    if not function.calls:
        return "not called during the test run"
    if not function.tests:
        return "called, but not by any test (only at import or collection time)"
    if function.share < threshold:
        return f"{function.share:.3%} of the traced time, below the {threshold:.1%} threshold"
    return ""


def default_ranking(
    functions: Sequence[RankedFunction], threshold: float = THRESHOLD
) -> list[RankedFunction]:
    """Functions some test called, above ``threshold`` of the traced time, by addressable time."""
    return sorted((f for f in functions if not skip_reason(f, threshold)), key=_order)


@pytest.hookimpl(trylast=True)
def pytest_codeflash_rank_functions(
    functions: list[RankedFunction], settings: Settings
) -> list[RankedFunction]:
    """The default order: see :func:`default_ranking`."""
    return default_ranking(functions)


def rank(
    config: pytest.Config,
    functions: Sequence[TargetFunction],
    traces: Mapping[str, TargetTrace],
    settings: Settings,
    changed: Mapping[Path, set[int]] | None = None,
) -> Ranking:
    """Profile, filter by changed lines, ask the hook for the order, and cap the list.

    :param changed: lines changed per file (``--codeflash-changed-since``), or ``None``.
    """
    profiled, traced_ns = profile(functions, traces)
    ranking = Ranking(profiled=profiled, traced_ns=traced_ns)
    candidates = []
    for function in profiled:
        if changed is not None and not touches(function.target, changed):
            ranking.skipped[function.qualified_name] = f"unchanged since {settings.changed_since}"
        else:
            candidates.append(function)
    ordered = config.hook.pytest_codeflash_rank_functions(functions=candidates, settings=settings)
    chosen = list(ordered if ordered is not None else default_ranking(candidates))
    cap = settings.max_functions
    ranking.selected = chosen[:cap] if cap else chosen
    kept = {f.qualified_name for f in ranking.selected}
    ranked = {f.qualified_name for f in chosen}
    for function in candidates:
        name = function.qualified_name
        if name in kept:
            continue
        if name in ranked:
            ranking.skipped[name] = f"beyond --codeflash-max-functions={cap}"
        else:
            ranking.skipped[name] = skip_reason(function) or "left out by a rank_functions hook"
    return ranking


def touches(target: TargetFunction, changed: Mapping[Path, set[int]]) -> bool:
    """Whether any line of ``target`` (decorators excepted) is among the changed lines."""
    lines = changed.get(target.file.resolve())
    if not lines:
        return False
    if 0 in lines:  # a new, untracked file
        return True
    last = target.end_lineno or target.lineno
    return any(target.lineno <= line <= last for line in lines)


def _order(function: RankedFunction) -> tuple[int, str]:
    return -function.addressable_ns, function.qualified_name


def summarise(
    ranking: Ranking,
    discovery: Discovery,
    settings: Settings,
    *,
    reused: tuple[int, int, int] = (0, 0, 0),
) -> DiscoverySummary:
    """What was found, traced and ranked, and what was left out and why (for the renderers).

    :param reused: the functions whose inputs the last run kept, the tests traced exactly
        and the tests that ran (see :mod:`.tracing_cache`).
    """
    skipped = [
        SkippedFunction(name=name, reason=why, stage="ranking")
        for name, why in sorted(ranking.skipped.items())
    ]
    skipped += discovery.skipped
    return DiscoverySummary(
        functions=len(discovery.functions),
        files=discovery.files,
        ran=sum(1 for f in ranking.profiled if f.calls),
        traced_ns=ranking.traced_ns,
        selected=list(ranking.selected),
        skipped=skipped,
        changed_since=settings.changed_since,
        inputs_reused=reused[0],
        tests_exact=reused[1],
        tests_run=reused[2],
    )
