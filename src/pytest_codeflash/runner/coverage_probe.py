"""Which lines and branches the verification inputs executed, with coverage.py.

Runs inside the runner process.  The original's private copy and the candidate are compiled
under file names of their own (copies written into the run directory), so coverage.py can
tell them apart although both stand for the same module.  Measurement covers the tests,
the replay and the generated inputs, and stops before timing.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from .protocol import CoverageSummary, FunctionCoverage


class CoverageProbe:
    """Measure the original and the candidate module during verification."""

    def __init__(self, out_dir: Path, module: str, original: str, candidate: str) -> None:
        self.out_dir = out_dir
        # Names unlike the module's own: coverage.py trusts a module's ``__file__`` over the
        # code's file name when the two share a base name.
        stem = module.rsplit(".", 1)[-1]
        self.original_file = out_dir / f"{stem}__codeflash_original.py"
        self.candidate_file = out_dir / f"{stem}__codeflash_candidate.py"
        for path, source in ((self.original_file, original), (self.candidate_file, candidate)):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source, encoding="utf-8")
        self.original_source = original
        self.candidate_source = candidate
        self._coverage: Any = None

    def start(self) -> None:
        import coverage

        self._coverage = coverage.Coverage(
            data_file=None,
            branch=True,
            config_file=False,
            include=[str(self.original_file), str(self.candidate_file)],
        )
        self._coverage.start()

    def stop(self) -> None:
        if self._coverage is not None:
            self._coverage.stop()

    def resume(self) -> None:
        """Measure again after :meth:`stop`, into the same data."""
        if self._coverage is not None:
            self._coverage.start()

    def summary(self, qualname: str) -> CoverageSummary:
        """Coverage of the original target and of the candidate's changed lines."""
        if self._coverage is None:
            return CoverageSummary(error="coverage was not measured")
        report = self.out_dir / "coverage.json"
        try:
            self._coverage.json_report(outfile=str(report))
        except Exception as err:  # e.g. "No data to report": nothing ran at all
            return CoverageSummary(error=str(err))
        files = json.loads(report.read_text(encoding="utf-8")).get("files", {})
        original = _file_entry(files, self.original_file)
        candidate = _file_entry(files, self.candidate_file)
        changed = changed_lines(self.original_source, self.candidate_source)
        missing = set(candidate.get("missing_lines", ()))
        return CoverageSummary(
            original=_function_summary(original, qualname),
            candidate=_function_summary(candidate, qualname),
            changed_lines=len(changed & (missing | set(candidate.get("executed_lines", ())))),
            changed_unrun=sorted(self._unrun(changed & missing, original)),
        )

    def _unrun(self, lines: set[int], original: dict[str, Any]) -> set[int]:
        """Drop lines that only moved: the same statement is also unrun in the original."""
        old = self.original_source.splitlines()
        new = self.candidate_source.splitlines()
        dead = {old[n - 1].strip() for n in original.get("missing_lines", ()) if n <= len(old)}
        return {n for n in lines if n > len(new) or new[n - 1].strip() not in dead}


def changed_lines(original: str, candidate: str) -> set[int]:
    """1-based line numbers of the candidate that are new or different from the original."""
    matcher = difflib.SequenceMatcher(
        a=original.splitlines(), b=candidate.splitlines(), autojunk=False
    )
    lines: set[int] = set()
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            lines.update(range(j1 + 1, j2 + 1))
    return lines


def _file_entry(files: dict[str, Any], path: Path) -> dict[str, Any]:
    for name, entry in files.items():
        if Path(name).name == path.name:
            return dict(entry)
    return {}


def _function_summary(entry: dict[str, Any], qualname: str) -> FunctionCoverage | None:
    function = entry.get("functions", {}).get(qualname)
    if not function:
        return None
    summary = function["summary"]
    return FunctionCoverage(
        lines=[summary["covered_lines"], summary["num_statements"]],
        branches=[summary.get("covered_branches", 0), summary.get("num_branches", 0)],
        missing_lines=function.get("missing_lines", []),
    )
