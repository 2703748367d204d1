"""The JSON report (``--codeflash-report``): the public, versioned record of a run."""

from __future__ import annotations

from pathlib import Path

from ..models import Report

__all__ = ["write_report"]


def write_report(report: Report, path: Path) -> None:
    """Write ``report`` to ``path`` as indented JSON, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
