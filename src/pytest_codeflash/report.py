"""Outputs: the terminal summary and the JSON report; patches and apply are in ``apply``.

The summary is computed from the ``Report`` model first and rendered second, only through
pytest's terminal reporter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from .apply import Delivery, Optimization, deliver, make_patch
from .models import FunctionResult, Report, Settings

if TYPE_CHECKING:
    from .session import CodeflashSession

# Delivering optimizations (patches, --codeflash-apply) lives in apply.py; these names stay
# importable from here.
__all__ = [
    "Optimization",
    "header_lines",
    "make_patch",
    "render_summary",
    "result_line",
    "write_outputs",
]


def write_outputs(
    report: Report,
    optimizations: Sequence[Optimization],
    settings: Settings,
    progress: Callable[[str], None],
) -> Report:
    """Save a patch per optimized function or apply it (``apply.deliver``); write the report.

    :returns: the report with what became of each optimization (patch file, applied or why
        not), as written.
    """
    deliveries = {d.qualified_name: d for d in deliver(optimizations, settings, progress)}
    report = Report(
        functions=[_delivered(r, deliveries.get(r.qualified_name)) for r in report.functions]
    )
    if settings.report is not None:
        settings.report.parent.mkdir(parents=True, exist_ok=True)
        settings.report.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return report


def _delivered(result: FunctionResult, delivery: Delivery | None) -> FunctionResult:
    if delivery is None:
        return result
    return result.model_copy(
        update={
            "patch_file": delivery.patch_file,
            "applied": delivery.applied,
            "applied_files": list(delivery.files),
            "apply_error": delivery.error,
            "apply_notes": list(delivery.notes),
        }
    )


# -- report header (#17) ----------------------------------------------------------------------
def header_lines(settings: Settings) -> list[str]:
    """Under ``-v``, once at the start: the ``[tool.codeflash]`` keys read but not used."""
    if settings.verbosity <= 0 or not settings.unused_keys:
        return []
    from .options import CODEFLASH_ONLY_KEYS

    lines = ["codeflash: [tool.codeflash] keys of Codeflash that this plugin does not use:"]
    lines += [f"  {key}: {CODEFLASH_ONLY_KEYS[key]}" for key in settings.unused_keys]
    return lines


# -- terminal summary -------------------------------------------------------------------------
def render_summary(
    terminal: pytest.TerminalReporter, session: CodeflashSession, settings: Settings
) -> None:
    if settings.verbosity < 0 and not session.results and not settings.dry_run:
        return
    terminal.section("codeflash")
    if settings.dry_run:
        _render_dry_run(terminal, session)
        return
    if session.report is None:
        terminal.write_line("no optimization was run")
        return
    if not session.results:
        if session.ranking is not None:  # discovery (#5): nothing was worth optimizing
            _render_discovery(terminal, session)
            return
        terminal.write_line("collection or the test run failed; no optimization attempted")
        return
    for result in session.results:
        _render_function(terminal, result, settings.verbosity)
    terminal.write_line(result_line(session.results))


def result_line(results: Sequence[FunctionResult]) -> str:
    """The one-line result: optimized, and with ``--codeflash-apply`` applied or not."""
    optimized = sum(1 for r in results if r.status == "optimized")
    line = f"{optimized} of {len(results)} function(s) optimized"
    applied = sum(1 for r in results if r.applied)
    refused = sum(1 for r in results if r.applied is False)
    if applied or refused:
        line += f"; {applied} applied"
        line += f", {refused} NOT applied (patch saved, see above)" if refused else ""
    return line


def _render_delivery(terminal: pytest.TerminalReporter, result: FunctionResult) -> None:
    """Where the optimization went; shown at every verbosity, ``-q`` included (#17)."""
    apply_it = f"; apply it with: git apply {result.patch_file}"
    if result.applied:
        terminal.write_line(f"    applied to {', '.join(result.applied_files)}", green=True)
        for note in result.apply_notes:
            terminal.write_line(f"    {note}", yellow=True)
    elif result.applied is False:
        terminal.write_line(
            f"    NOT APPLIED: {result.apply_error}; patch saved{apply_it}", red=True, bold=True
        )
    elif result.patch_file:
        terminal.write_line(f"    patch saved{apply_it}")


def _render_function(
    terminal: pytest.TerminalReporter, result: FunctionResult, verbosity: int
) -> None:
    accepted = sum(1 for c in result.candidates if c.verdict == "accepted")
    tried = len(result.candidates)
    markup: dict[str, Any] = (
        {"green": True}
        if result.status == "optimized"
        else {"red": True}
        if result.status == "error"
        else {"yellow": True}
    )
    speed = f" {result.speedup:.2f}x" if result.speedup else ""
    terminal.write_line(
        f"{result.qualified_name} ({result.file}): {result.status.upper()}{speed} "
        f"[{accepted}/{tried} candidates accepted] - {result.reason}",
        **markup,
    )
    if result.unstable:
        terminal.write_line(
            "    unstable (differs between two runs of the original, so not compared): "
            + ", ".join(result.unstable)
        )
    coverage = result.coverage or {}
    if verbosity > 0 and coverage.get("lines"):
        (ran, lines), (taken, branches) = coverage["lines"], coverage.get("branches", (0, 0))
        terminal.write_line(
            f"    verification inputs ran {ran}/{lines} lines and {taken}/{branches} "
            "branches of the original"
        )
    for candidate in result.candidates:
        if candidate.verdict == "accepted" or verbosity > 0:
            same = f", duplicate of {candidate.duplicate_of}" if candidate.duplicate_of else ""
            terminal.write_line(
                f"    {candidate.verdict} {candidate.id} ({candidate.source}{same}): "
                f"{candidate.reason}"
            )
    _render_delivery(terminal, result)


def _render_dry_run(terminal: pytest.TerminalReporter, session: CodeflashSession) -> None:
    if session.discovery is not None:  # discovery (#5)
        _render_discovery(terminal, session)
        return
    for target in session.targets:
        trace = session.tracer.traces[target.qualified_name]
        terminal.write_line(
            f"{target.qualified_name}: called {trace.calls} time(s) by "
            f"{len(trace.tests)} test(s); candidates: "
            f"{len(session.file_candidates.get(target.qualified_name, []))}"
        )


def _render_discovery(terminal: pytest.TerminalReporter, session: CodeflashSession) -> None:
    """What discovery found and ranking chose (#5)."""
    if session.ranking is None or session.discovery is None:
        terminal.write_line("collection or the test run failed; no optimization attempted")
        return
    from .ranking import summary_lines

    for line in summary_lines(session.ranking, session.discovery, session.settings):
        terminal.write_line(line)
