"""Outputs: the terminal summary, the JSON report, patch files, and the opt-in apply.

The summary is computed from the ``Report`` model first and rendered second, only through
pytest's terminal reporter.
"""

from __future__ import annotations

import difflib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .errors import ApplyError
from .models import FunctionResult, Report, Settings, TargetFunction

if TYPE_CHECKING:
    from .session import CodeflashSession

PATCH_DIR = Path(".codeflash") / "patches"


@dataclass(frozen=True)
class Optimization:
    """An accepted optimization: the original module source and its optimized version."""

    target: TargetFunction
    result: FunctionResult
    original: str
    optimized: str


def write_outputs(
    report: Report,
    optimizations: Sequence[Optimization],
    settings: Settings,
    progress: Callable[[str], None],
) -> None:
    """Write the JSON report and a patch per optimized function; apply on request."""
    for item in optimizations:
        name = item.result.qualified_name
        if settings.apply:
            try:
                apply_optimization(item, settings)
            except ApplyError as err:
                progress(f"{name}: not applied: {err}")
            else:
                progress(f"{name}: applied to {item.result.file}")
        else:
            path = write_patch(item.result, settings)
            progress(
                f"{name}: patch written; apply it with: "
                f"git apply {path.relative_to(settings.rootdir)}"
            )
    if settings.report is not None:
        settings.report.parent.mkdir(parents=True, exist_ok=True)
        settings.report.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")


def make_patch(rel_file: str, original: str, optimized: str) -> str:
    """A unified diff (``git apply`` compatible) from the original to the optimized module."""
    lines = difflib.unified_diff(
        original.splitlines(keepends=True),
        optimized.splitlines(keepends=True),
        fromfile=f"a/{rel_file}",
        tofile=f"b/{rel_file}",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def write_patch(result: FunctionResult, settings: Settings) -> Path:
    """Write ``.codeflash/patches/<timestamp>-<function>.patch`` under the project root."""
    directory = settings.rootdir / PATCH_DIR
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"{stamp}-{result.qualified_name}.patch"
    path.write_text(result.patch or "", encoding="utf-8")
    return path


def apply_optimization(item: Optimization, settings: Settings) -> None:
    """Write the optimized module over the original, atomically, only if that is safe."""
    path = item.target.file
    current = path.read_bytes().decode("utf-8", "surrogateescape")
    if current != item.original:
        raise ApplyError(
            f"{item.result.file} changed since the run started; re-run to optimize the new version"
        )
    if not settings.apply_force:
        from .gitops import has_uncommitted_changes

        if has_uncommitted_changes(path):
            raise ApplyError(
                f"{item.result.file} has uncommitted changes; commit them first "
                "or pass --codeflash-apply-force"
            )
    atomic_write(path, item.optimized.encode("utf-8"))


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path``'s content in one rename, keeping its permission bits."""
    mode = path.stat().st_mode
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".codeflash"
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- terminal summary -------------------------------------------------------------------------
def render_summary(
    terminal: pytest.TerminalReporter, session: CodeflashSession, settings: Settings
) -> None:
    if settings.verbosity < 0 and not session.results:
        return
    terminal.section("codeflash")
    if settings.dry_run:
        _render_dry_run(terminal, session)
        return
    if session.report is None:
        terminal.write_line("no optimization was run")
        return
    if not session.results:
        terminal.write_line("collection or the test run failed; no optimization attempted")
        return
    for result in session.results:
        _render_function(terminal, result, settings.verbosity)
    optimized = sum(1 for r in session.results if r.status == "optimized")
    terminal.write_line(f"{optimized} of {len(session.results)} function(s) optimized")


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
    for candidate in result.candidates:
        if candidate.verdict == "accepted" or verbosity > 0:
            terminal.write_line(
                f"    {candidate.verdict} {candidate.id} ({candidate.source}): {candidate.reason}"
            )


def _render_dry_run(terminal: pytest.TerminalReporter, session: CodeflashSession) -> None:
    for target in session.targets:
        trace = session.tracer.traces[target.qualified_name]
        terminal.write_line(
            f"{target.qualified_name}: called {trace.calls} time(s) by "
            f"{len(trace.tests)} test(s); candidates: "
            f"{len(session.file_candidates.get(target.qualified_name, []))}"
        )
