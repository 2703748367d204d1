"""``python -m pytest_codeflash merge REPORT...``: the shards of a run, as one run.

Each job of a CI matrix (``--codeflash-shard=K/N``) writes its own JSON report; this reads
them all and writes one JSON report and one Markdown report, and with ``--pr`` opens the
pull request(s) for the whole run from the checkout it is started in.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import CodeflashError, ConfigError
from ..models import FunctionResult, Report, Settings, Summary
from .markdown import append_step_summary, run_markdown, write_markdown
from .report_json import write_report

__all__ = ["main", "merge_reports"]

_RANK = {"optimized": 3, "not_optimized": 2, "error": 1, "skipped": 0}


def merge_reports(paths: Sequence[Path]) -> Report:
    """One report with every function of ``paths``, in the order first seen.

    A function in several reports (shards of different runs) keeps its most telling
    result: optimized (the fastest), then not optimized, error, skipped.

    :raises ConfigError: a file is missing or is not a report of this schema.
    """
    from pydantic import ValidationError

    merged: dict[str, FunctionResult] = {}
    for path in paths:
        try:
            report = Report.model_validate_json(path.read_bytes())
        except OSError as err:
            raise ConfigError(f"cannot read {path}: {err.strerror or err}") from None
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the file"
            raise ConfigError(
                f"{path} is not a pytest-codeflash JSON report ({where}: {first['msg']}); "
                "give the files that --codeflash-report wrote"
            ) from None
        for function in report.functions:
            known = merged.get(function.qualified_name)
            if known is None or _better(function, known):
                merged[function.qualified_name] = function
    return Report(functions=list(merged.values()))


def _better(new: FunctionResult, old: FunctionResult) -> bool:
    return (_RANK[new.status], new.speedup or 0.0) > (_RANK[old.status], old.speedup or 0.0)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``merge`` command; returns the exit code (2 for bad input, with one message)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "merge":
        parser.print_help()
        return 2
    try:
        return _merge(args)
    except CodeflashError as err:
        print(f"pytest_codeflash merge: error: {err}", file=sys.stderr)
        return 2


def _merge(args: argparse.Namespace) -> int:
    report = merge_reports([Path(p) for p in args.reports])
    functions = report.functions
    if args.pr is not None:
        from .pr import with_pull_requests

        settings = _pr_settings(args)
        functions = with_pull_requests(functions, settings, print)
        report = Report(functions=functions)
    summary = Summary(state="finished", functions=functions)
    markdown = run_markdown(summary)
    write_report(report, Path(args.json))
    write_markdown(markdown, Path(args.md))
    print(f"merged {len(args.reports)} report(s): {len(functions)} function(s)")
    print(f"JSON report written to {args.json}")
    print(f"Markdown report written to {args.md}")
    appended = append_step_summary(markdown)
    if appended is not None:
        print(f"Markdown appended to $GITHUB_STEP_SUMMARY ({appended})")
    return 0


def _pr_settings(args: argparse.Namespace) -> Settings:
    if args.pr not in ("each", "single"):
        raise ConfigError(f"--pr={args.pr!r} is not a mode: give --pr or --pr=single")
    if not os.environ.get("GITHUB_TOKEN", "").strip():
        raise ConfigError(
            "--pr needs a GitHub token in the GITHUB_TOKEN environment variable, and it is "
            "not set; set it, or drop --pr"
        )
    return Settings(
        rootdir=Path(args.rootdir).resolve(),
        pr=True,
        pr_mode=args.pr,
        github_api_url=args.github_api_url.rstrip("/"),
        github_repo=args.github_repo,
        git_remote=args.git_remote,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_codeflash",
        description="Tools around pytest-codeflash's reports.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    merge = commands.add_parser(
        "merge",
        help="combine the JSON reports of several shards into one JSON and one Markdown report",
    )
    merge.add_argument("reports", nargs="+", metavar="REPORT", help="JSON reports to combine")
    merge.add_argument("--json", default="codeflash-report.json", help="merged JSON report")
    merge.add_argument("--md", default="codeflash-report.md", help="merged Markdown report")
    merge.add_argument(
        "--pr",
        nargs="?",
        const="each",
        default=None,
        metavar="MODE",
        help="open a pull request per optimized function, or one for the run with --pr=single "
        "(needs GITHUB_TOKEN; run it in the checkout the shards ran on)",
    )
    merge.add_argument("--rootdir", default=".", help="the project's root (pytest's rootdir)")
    merge.add_argument("--git-remote", default="origin", help="the remote to push to")
    merge.add_argument(
        "--github-api-url", default="https://api.github.com", help="the GitHub REST API"
    )
    merge.add_argument("--github-repo", default=None, help="OWNER/NAME (default: from the remote)")
    return parser
