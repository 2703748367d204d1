"""Wall time of one function's optimization, end to end and per phase, beside Codeflash's.

Runs ``python -m pytest --codeflash-target=...`` on two small projects, each with its
candidates given (no language model, so nothing but this plugin's own work is timed):

- ``quickstart``: ``examples/quickstart``, ``quickstart.textstats.unique_words`` with the
  rule engine's candidates;
- ``case43``: ``../shared/bench/case43_overlap`` (next to this checkout, or ``--bench``),
  its target with its labelled candidate files.

Every ``codeflash:`` progress line is timestamped as it arrives, which splits the run into
phases: start-up and your tests with tracing (until the first line about the function),
the baseline (until the first candidate starts: with a spare CPU, candidates known before
the baseline start beside its input generation, and side by side), each candidate's
evaluation (verifying and timing, from its own start line to its verdict, so these overlap),
and delivery (patch, report) from the last verdict until the process ends.

Codeflash publishes no per-function figure; its timing loop alone spends
``CODEFLASH_LOOPING_TIME`` (10 s) on the baseline and up to that on every candidate (see
``codeflash-internals.md``, sections 6 and 10.2), before any behaviour run, test
generation or model latency.  The script prints that lower bound for the same number of
candidates and the ratio of this plugin's whole wall time to it; the goal (#15) is at
most one fifth.  Each project is copied to a scratch directory first, and runs three
times (``--repeat``); the median is printed, with the CPU time of the whole process tree
beside the wall time (on a busy machine the wall time says more about the load).
Standard library only.

    python benchmarks/end_to_end.py [--repeat 3] [--effort medium]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CODEFLASH_LOOPING_S = 10.0  # Codeflash's perf-loop budget per run (baseline and candidates)


@dataclass
class Project:
    name: str
    path: Path
    target: str
    candidates: list[str] = field(default_factory=list)  # files, relative to the copy


@dataclass
class Phases:
    tests_s: float = 0.0  # start-up, collection and the traced test run
    baseline_s: float = 0.0
    candidates_s: list[float] = field(default_factory=list)
    delivery_s: float = 0.0
    total_s: float = 0.0
    cpu_s: float = 0.0  # user + system time of the whole process tree
    status: str = ""

    @property
    def codeflash_floor_s(self) -> float:
        return CODEFLASH_LOOPING_S * (1 + len(self.candidates_s))


def projects(bench: Path) -> list[Project]:
    found = [
        Project("quickstart", ROOT / "examples" / "quickstart", "quickstart.textstats.unique_words")
    ]
    case = bench / "case43_overlap"
    if case.is_dir():
        import json

        meta = json.loads((case / "case.json").read_text(encoding="utf-8"))
        labels = json.loads((case / "candidates" / "labels.json").read_text(encoding="utf-8"))
        target = f"{meta['package']}.{meta['module']}.{meta['target']}"
        found.append(Project("case43", case, target, [f"candidates/{name}.py" for name in labels]))
    return found


def run_once(project: Project, effort: str) -> Phases:
    scratch = Path(tempfile.mkdtemp(prefix=f"codeflash-e2e-{project.name}-"))
    try:
        copy = scratch / project.name
        shutil.copytree(project.path, copy, ignore=shutil.ignore_patterns(".codeflash", "*.pyc"))
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            f"--codeflash-target={project.target}",
            f"--codeflash-effort={effort}",
            *[f"--codeflash-candidate={c}" for c in project.candidates],
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.monotonic()
        stamps: list[tuple[float, str]] = []
        with subprocess.Popen(
            command, cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("codeflash:"):
                    stamps.append((time.monotonic() - began, line.strip()))
        total = time.monotonic() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        phases = split(stamps, total)
        phases.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return phases
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def split(stamps: list[tuple[float, str]], total: float) -> Phases:
    phases = Phases(total_s=total)
    baseline_at = next((t for t, line in stamps if "baseline run of" in line), None)
    first_candidate = next((t for t, line in stamps if "verifying and timing" in line), None)
    phases.tests_s = baseline_at if baseline_at is not None else total
    if baseline_at is not None:
        phases.baseline_s = (first_candidate or total) - baseline_at
    # Candidates may be evaluated side by side: each one's lines carry its label
    # ("name: candidate 2/3 id"), from "verifying and timing" to its verdict.
    started: dict[str, float] = {}
    last_end = first_candidate or baseline_at or total
    for at, line in stamps:
        label, _, rest = line.partition(": verifying and timing")
        if rest or line.endswith(": verifying and timing"):
            started[label] = at
            continue
        for verdict in (": accepted:", ": rejected:"):
            label, found, _ = line.partition(verdict)
            if found and label in started:
                phases.candidates_s.append(at - started.pop(label))
                last_end = max(last_end, at)
        if " done: " in line:
            phases.status = line.split(" done: ", 1)[1]
            last_end = max(last_end, at)
    phases.delivery_s = total - last_end
    return phases


def median_of(runs: list[Phases]) -> Phases:
    best = sorted(runs, key=lambda p: p.total_s)[len(runs) // 2]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--effort", default="medium", choices=("low", "medium", "high"))
    parser.add_argument("--bench", type=Path, default=ROOT.parent / "shared" / "bench")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, effort {args.effort}, median of {args.repeat}")
    header = (
        f"{'project':<11} {'total':>7} {'cpu':>6} {'tests':>7} {'baseline':>8} {'cands':>5} "
        f"{'per cand':>8} {'delivery':>8} {'codeflash>=':>11} {'ratio':>6}"
    )
    print(header)
    for project in projects(args.bench):
        runs = [run_once(project, args.effort) for _ in range(args.repeat)]
        p = median_of(runs)
        per = statistics.mean(p.candidates_s) if p.candidates_s else 0.0
        ratio = p.total_s / p.codeflash_floor_s
        print(
            f"{project.name:<11} {p.total_s:7.1f} {p.cpu_s:6.1f} {p.tests_s:7.1f} "
            f"{p.baseline_s:8.1f} {len(p.candidates_s):5d} {per:8.1f} {p.delivery_s:8.1f} "
            f"{p.codeflash_floor_s:11.1f} {ratio:6.2f}"
        )
        print(f"{'':<11} {p.status}")
    print(
        "seconds ('cpu': of the whole process tree, the figure to trust on a busy machine); "
        "'codeflash>=' is Codeflash's timing loop alone for the same candidates "
        f"({CODEFLASH_LOOPING_S:.0f} s for the baseline and each candidate); goal: ratio <= 0.2"
    )


if __name__ == "__main__":
    main()
