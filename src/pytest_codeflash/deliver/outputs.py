"""The run's reports: the JSON report, the Markdown report and the CI job summary.

Each is written only when asked for (``--codeflash-report``, ``--codeflash-report-md``,
a ``GITHUB_STEP_SUMMARY`` variable); the summary returned names every file written, so
the terminal shows them at every verbosity.
"""

from __future__ import annotations

from ..models import Report
from ..records import Settings, Summary
from ..source.paths import relative_path
from .markdown import STEP_SUMMARY, append_step_summary, run_markdown, write_markdown
from .report_json import write_report

__all__ = ["write_outputs"]


def write_outputs(summary: Summary, settings: Settings) -> Summary:
    """Write the reports ``settings`` ask for; ``summary`` with what was written."""
    written = []
    if settings.report is not None:
        write_report(Report(functions=summary.functions), settings.report)
        written.append(f"JSON report written to {relative_path(settings.report, settings.rootdir)}")
    markdown = run_markdown(summary)
    if settings.report_md is not None:
        write_markdown(markdown, settings.report_md)
        shown = relative_path(settings.report_md, settings.rootdir)
        written.append(f"Markdown report written to {shown}")
    try:
        appended = append_step_summary(markdown)
    except OSError as err:
        written.append(f"Markdown NOT appended to ${STEP_SUMMARY}: {err.strerror or err}")
    else:
        if appended is not None:
            written.append(f"Markdown appended to ${STEP_SUMMARY} ({appended})")
    return summary.replace(written=written)
