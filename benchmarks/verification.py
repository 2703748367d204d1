"""Measure how well pytest-codeflash tells good candidate rewrites from bad ones.

The shared bench (``shared/bench`` beside the repository checkout, or ``--bench DIR``) holds
small projects ``caseNN_name/``, each with one slow target function and labelled candidate
rewrites (``candidates/NAME.py`` and ``candidates/labels.json``; see the bench README). For
every case this script:

1. copies the case into a fresh scratch directory, creates the canary file
   ``ESCAPE_CANARY_caseNN.txt`` beside the copy and sets fake ``OPENAI_API_KEY`` /
   ``ANTHROPIC_API_KEY`` values in the child environment;
2. runs ONE ``python -m pytest --codeflash-target=... --codeflash-candidate=... ...
   --codeflash-report=...`` in the copy, with every labelled candidate, as a user would;
3. compares each candidate's verdict in the report with its label (``accept`` must be
   accepted; ``reject``, ``reject_ideal`` and ``reject_noise`` must be rejected);
4. checks safety: no ``ESCAPED_*.marker`` under the scratch directory (nor a new one directly
   in its parent), the canary still there and unchanged, the fake keys in no output and in no
   file under the scratch directory (the report included), the copy's ``src/`` and ``tests/``
   byte-identical to the bench's, and no process of the run left behind.

It prints a table and the totals. It exits 0 whatever the figures are, unless ``--strict`` is
given: then 1 if any goal is missed. Standard library only::

    python benchmarks/verification.py [--bench DIR] [--cases case01_dedupe,...] [--jobs 1]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
FAKE_KEYS = {
    "OPENAI_API_KEY": "sk-fake-verification-123",
    "ANTHROPIC_API_KEY": "sk-ant-fake-verification-456",
}
LABELS = ("accept", "reject", "reject_ideal", "reject_noise")
CHECKED_TREES = ("src", "tests")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
USAGE_ERROR = 4
REASON_WIDTH = 90
SETTLE_S = 2.0


@dataclass(frozen=True)
class Case:
    """One bench case folder and what its case.json and labels.json say."""

    path: Path
    package: str
    module: str
    target: str
    labels: dict[str, dict[str, Any]]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def spec(self) -> str:
        return f"{self.package}.{self.module}.{self.target}"

    @property
    def canary_name(self) -> str:
        return f"ESCAPE_CANARY_{self.name.split('_', 1)[0]}.txt"


@dataclass
class Row:
    """One candidate: its label, the verdict the plugin gave, and how that compares."""

    case: str
    candidate: str
    expect: str
    category: str
    verdict: str
    reason: str
    speedup: float | None = None
    evaluation_s: float | None = None  # wall time of the candidate's evaluation
    phases_s: dict[str, float] | None = None

    @property
    def ok(self) -> bool:
        wanted = "accepted" if self.expect == "accept" else "rejected"
        return self.verdict == wanted


@dataclass
class CaseResult:
    """Everything one case run produced."""

    case: Case
    rows: list[Row] = field(default_factory=list)
    failure: str | None = None  # the whole case failed (usage error, crash, timeout, ...)
    violations: list[str] = field(default_factory=list)
    function_status: str = ""
    function_reason: str = ""
    exit_code: int | None = None
    seconds: float = 0.0
    scratch: Path | None = None


# --- loading the bench -------------------------------------------------------------------


def load_case(path: Path) -> Case:
    meta = json.loads((path / "case.json").read_text(encoding="utf-8"))
    labels = json.loads((path / "candidates" / "labels.json").read_text(encoding="utf-8"))
    return Case(path, meta["package"], meta["module"], meta["target"], labels)


def discover(bench: Path, wanted: list[str]) -> list[Case]:
    folders = sorted(p for p in bench.iterdir() if (p / "case.json").is_file())
    if wanted:
        unknown = sorted(set(wanted) - {p.name for p in folders})
        if unknown:
            raise SystemExit(f"unknown case(s) in {bench}: {', '.join(unknown)}")
        folders = [p for p in folders if p.name in wanted]
    return [load_case(p) for p in folders]


# --- preparing and running one case ------------------------------------------------------


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (bytecode caches excluded), by relative path."""
    hashes: dict[str, str] = {}
    if not root.is_dir():
        return hashes
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
            hashes[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def prepare(case: Case) -> tuple[Path, Path, Path]:
    """Copy the case into a fresh scratch dir; return (scratch, copy, canary)."""
    scratch = Path(tempfile.mkdtemp(prefix=f"codeflash-verify-{case.name}-"))
    copy = scratch / case.name
    shutil.copytree(case.path, copy, ignore=IGNORED)
    make_writable(copy)  # the bench may be read-only; a user's project is not
    canary = scratch / case.canary_name
    canary.write_text(f"canary for {case.name}: must survive the run\n", encoding="utf-8")
    return scratch, copy, canary


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        env.pop(name, None)
    env.update(FAKE_KEYS)
    return env


def pytest_command(case: Case, report: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        f"--codeflash-target={case.spec}",
        *[f"--codeflash-candidate=candidates/{name}.py" for name in case.labels],
        f"--codeflash-report={report}",
    ]


def session_processes(session: int) -> list[int]:
    """Pids of live processes in the session ``session`` (Linux /proc; [] elsewhere)."""
    pids: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            line = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        fields = line.rsplit(")", 1)[-1].split()  # after "pid (comm)": state ppid pgrp session
        if len(fields) > 3 and fields[0] != "Z" and fields[3] == str(session):
            pids.append(int(entry.name))
    return pids


def reap_session(session: int) -> list[int]:
    """Give processes left in the run's session a moment, then kill them by pid."""
    deadline = time.monotonic() + SETTLE_S
    while session_processes(session) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = session_processes(session)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return left


def run_pytest(command: list[str], cwd: Path, timeout: float) -> tuple[int | None, str, list[int]]:
    """Run pytest in its own session; return (exit code or None on timeout, output, leftovers)."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=child_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        code = None
    return code, output or "", reap_session(proc.pid)


# --- judging one case --------------------------------------------------------------------


def one_line(text: str, width: int = REASON_WIDTH) -> str:
    return re.sub(r"\s+", " ", text).strip()[:width]


def last_lines(text: str, count: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-count:])


def read_report(case: Case, report: Path) -> dict[str, Any]:
    """The report's entry for the case's target function (KeyError/ValueError if unusable)."""
    data = json.loads(report.read_text(encoding="utf-8"))
    functions = data.get("functions") or []
    if not functions:
        raise ValueError("the report lists no function")
    for function in functions:
        if str(function.get("qualified_name", "")).endswith(case.spec):
            return dict(function)
    return dict(functions[0])


def compare(case: Case, function: dict[str, Any]) -> list[Row]:
    by_id: dict[str, dict[str, Any]] = {}
    for candidate in function.get("candidates") or []:
        ident = str(candidate.get("id", ""))
        by_id[ident] = candidate
        by_id.setdefault(Path(ident).stem, candidate)
    rows = []
    for name, label in case.labels.items():
        found = by_id.get(f"{name}.py") or by_id.get(name)
        rows.append(
            Row(
                case=case.name,
                candidate=name,
                expect=str(label.get("expect", "?")),
                category=str(label.get("category", "?")),
                verdict=str(found.get("verdict", "?")) if found else "missing",
                reason=str(found.get("reason", "")) if found else "not in the report",
                speedup=found.get("speedup") if found else None,
                evaluation_s=found.get("evaluation_s") if found else None,
                phases_s=found.get("phases_s") if found else None,
            )
        )
    return rows


def markers(directory: Path, recursive: bool) -> dict[Path, int]:
    found = directory.rglob("ESCAPED_*.marker") if recursive else directory.glob("ESCAPED_*.marker")
    return {p: p.stat().st_mtime_ns for p in found if p.is_file()}


def files_with_keys(scratch: Path) -> list[str]:
    keys = [key.encode() for key in FAKE_KEYS.values()]
    hits = []
    for path in sorted(scratch.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(key in data for key in keys):
                hits.append(path.relative_to(scratch).as_posix())
    return hits


def _change_kind(rel: str, before: dict[str, str], after: dict[str, str]) -> str:
    if rel not in before:
        return "added"
    return "deleted" if rel not in after else "changed"


def tree_changes(case: Case, copy: Path) -> list[str]:
    changes = []
    for tree in CHECKED_TREES:
        before, after = tree_hashes(case.path / tree), tree_hashes(copy / tree)
        for rel in sorted(set(before) | set(after)):
            if before.get(rel) != after.get(rel):
                what = _change_kind(rel, before, after)
                changes.append(f"{tree}/{rel} {what}")
    return changes


@dataclass(frozen=True)
class Sandbox:
    """The scratch directory of one case and what was there before the run."""

    scratch: Path
    copy: Path
    canary: Path
    canary_text: str
    parent_markers: dict[Path, int]


def safety_violations(case: Case, box: Sandbox, output: str, leftovers: list[int]) -> list[str]:
    found = [f"marker {p.relative_to(box.scratch)}" for p in markers(box.scratch, True)]
    after = markers(box.scratch.parent, recursive=False)
    found += [
        f"marker {p} (beside the scratch dir)"
        for p, mtime in after.items()
        if box.parent_markers.get(p) != mtime and case.name.split("_", 1)[0] in p.name
    ]
    if not box.canary.is_file():
        found.append(f"canary {box.canary.name} deleted")
    elif box.canary.read_text(encoding="utf-8", errors="replace") != box.canary_text:
        found.append(f"canary {box.canary.name} modified")
    found += [
        f"fake {name} in the pytest output" for name, key in FAKE_KEYS.items() if key in output
    ]
    found += [f"fake API key in file {rel}" for rel in files_with_keys(box.scratch)]
    found += [f"copy differs from bench: {change}" for change in tree_changes(case, box.copy)]
    if leftovers:
        found.append(f"processes left running after pytest exited (killed): {leftovers}")
    return found


def run_case(case: Case, timeout: float, keep: bool) -> CaseResult:
    result = CaseResult(case)
    scratch, copy, canary = prepare(case)
    box = Sandbox(
        scratch,
        copy,
        canary,
        canary.read_text(encoding="utf-8"),
        markers(scratch.parent, recursive=False),
    )
    report = scratch / f"{case.name}.report.json"
    start = time.perf_counter()
    code, output, leftovers = run_pytest(pytest_command(case, report), copy, timeout)
    result.seconds = time.perf_counter() - start
    result.exit_code = code
    try:
        result.failure = judge(case, result, code, output, report)
        result.violations = safety_violations(case, box, output, leftovers)
    finally:
        if keep:
            result.scratch = scratch
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return result


def judge(
    case: Case, result: CaseResult, code: int | None, output: str, report: Path
) -> str | None:
    """Fill ``result.rows``; return why the whole case failed, if it did."""
    if code is None:
        return f"pytest timed out\n{last_lines(output)}"
    if code == USAGE_ERROR:
        return f"pytest usage error (exit code 4)\n{last_lines(output)}"
    if not report.is_file():
        return f"no report written (pytest exit code {code})\n{last_lines(output)}"
    try:
        function = read_report(case, report)
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"unreadable report ({err}; pytest exit code {code})\n{last_lines(output)}"
    result.function_status = str(function.get("status", "?"))
    result.function_reason = str(function.get("reason", ""))
    result.rows = compare(case, function)
    return None


def run_all(cases: list[Case], jobs: int, timeout: float, keep: bool) -> list[CaseResult]:
    if jobs <= 1:
        results = []
        for case in cases:
            print(f"running {case.name} ({len(case.labels)} candidates) ...", flush=True)
            results.append(run_case(case, timeout, keep))
        return results
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        print(f"running {len(cases)} cases, {jobs} at a time ...", flush=True)
        return list(pool.map(lambda case: run_case(case, timeout, keep), cases))


# --- printing ------------------------------------------------------------------------------


def failed_rows(result: CaseResult) -> list[Row]:
    """Rows for a case without a usable report: every candidate's verdict is missing."""
    return [
        Row(
            result.case.name,
            name,
            str(label.get("expect", "?")),
            str(label.get("category", "?")),
            "missing",
            "case failed",
        )
        for name, label in result.case.labels.items()
    ]


def all_rows(results: list[CaseResult]) -> list[Row]:
    return [row for r in results for row in (r.rows if r.failure is None else failed_rows(r))]


def print_table(rows: list[Row]) -> None:
    header = ("case", "candidate", "label", "verdict", "", "speedup", "reason")
    table = [
        (
            row.case,
            row.candidate,
            f"{row.expect}/{row.category}",
            row.verdict,
            "OK" if row.ok else "BAD",
            f"{row.speedup:.2f}x" if isinstance(row.speedup, (int, float)) else "-",
            one_line(row.reason),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *table]) for i in range(len(header) - 1)]
    for line in [header, *table]:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)]
        print("  ".join([*cells, line[-1]]).rstrip())


def print_cases(results: list[CaseResult]) -> None:
    print("\nper case:")
    for r in results:
        state = "FAILED" if r.failure else f"{r.function_status}: {one_line(r.function_reason)}"
        print(f"  {r.case.name:<20} {r.seconds:7.1f}s  exit {r.exit_code}  {state}")
        if r.failure:
            print("    " + r.failure.replace("\n", "\n    "))
        for violation in r.violations:
            print(f"    SAFETY: {violation}")
        if r.scratch is not None:
            print(f"    kept: {r.scratch}")


@dataclass(frozen=True)
class Totals:
    wrong_accepted: int
    wrong_by_label: dict[str, int]
    correct_rejected: int
    ideal_caught: int
    ideal_total: int
    noise_rejected: int
    noise_total: int
    missing: int
    case_failures: int
    violations: int

    @property
    def goals_met(self) -> bool:
        return not (
            self.wrong_accepted
            or self.correct_rejected
            or self.missing
            or self.case_failures
            or self.violations
        )


def totals(results: list[CaseResult]) -> Totals:
    rows = all_rows(results)
    wrong = [r for r in rows if r.expect != "accept" and r.verdict == "accepted"]
    ideal = [r for r in rows if r.expect == "reject_ideal"]
    noise = [r for r in rows if r.expect == "reject_noise"]
    return Totals(
        wrong_accepted=len(wrong),
        wrong_by_label={k: sum(r.expect == k for r in wrong) for k in LABELS[1:]},
        correct_rejected=sum(r.expect == "accept" and r.verdict == "rejected" for r in rows),
        ideal_caught=sum(r.verdict == "rejected" for r in ideal),
        ideal_total=len(ideal),
        noise_rejected=sum(r.verdict == "rejected" for r in noise),
        noise_total=len(noise),
        missing=sum(r.verdict not in ("accepted", "rejected") for r in rows),
        case_failures=sum(r.failure is not None for r in results),
        violations=sum(len(r.violations) for r in results),
    )


def print_evaluation_times(rows: list[Row]) -> None:
    """Per candidate: the wall time of its whole evaluation (behaviour checks included)."""
    timed = sorted(r.evaluation_s for r in rows if r.evaluation_s is not None)
    if not timed:
        return
    decided = sorted(
        r.evaluation_s for r in rows if r.evaluation_s is not None and r.verdict == "accepted"
    )
    print(
        f"\nevaluation time per candidate run ({len(timed)} runs; sandbox copy, runner start, "
        "tests, replayed and generated inputs, timing):"
    )
    print(
        f"  median {statistics.median(timed):.2f} s, max {timed[-1]:.2f} s, "
        f"under 2 s: {sum(t < 2.0 for t in timed)}/{len(timed)}"
    )
    if decided:
        middle = statistics.median(decided)
        print(f"  accepted ones: median {middle:.2f} s, max {decided[-1]:.2f} s")
    for row in rows:
        if row.evaluation_s is not None and row.evaluation_s >= 2.0:
            spent = row.phases_s or {}
            slowest = max(spent, key=spent.__getitem__) if spent else "?"
            print(
                f"  over 2 s: {row.case} {row.candidate} {row.evaluation_s:.2f} s "
                f"(most in {slowest}: {spent.get(slowest, 0.0):.2f} s) -> {row.verdict}"
            )
    phases: dict[str, list[float]] = {}
    for row in rows:
        for name, seconds in (row.phases_s or {}).items():
            phases.setdefault(name, []).append(seconds)
    for name, values in phases.items():
        print(f"  {name:<28} median {statistics.median(values):.2f} s, max {max(values):.2f} s")


def print_totals(t: Totals, seconds: float) -> None:
    by_label = ", ".join(f"{k}: {v}" for k, v in t.wrong_by_label.items())
    print(f"\nwrong or unsafe accepted: {t.wrong_accepted} (goal 0)   [{by_label}]")
    print(f"correct rejected: {t.correct_rejected} (goal 0)")
    print(f"reject_ideal caught: {t.ideal_caught}/{t.ideal_total}")
    print(f"reject_noise rejected: {t.noise_rejected}/{t.noise_total}")
    print(f"missing verdicts: {t.missing} (goal 0)")
    print(f"failed cases: {t.case_failures} (goal 0)")
    print(f"safety violations: {t.violations}")
    print(f"total time: {seconds:.1f}s")


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--bench",
        type=Path,
        default=DEFAULT_BENCH,
        help="the bench directory (default: shared/bench beside the checkout)",
    )
    parser.add_argument(
        "--cases", default="", help="comma-separated case folder names (default: all)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="cases run at once (default: 1; parallel runs add timing noise, "
        "so noise-level verdicts become less reliable)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds allowed for each case's pytest run (default: 900)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch directories and print where they are"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if any goal is missed (default: always exit 0)",
    )
    options = parser.parse_args(argv)
    if options.jobs < 1:
        parser.error("--jobs must be at least 1")
    if not options.bench.is_dir():
        parser.error(f"no bench directory at {options.bench} (use --bench DIR)")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    wanted = [name.strip() for name in options.cases.split(",") if name.strip()]
    cases = discover(options.bench.resolve(), wanted)
    print(f"bench: {options.bench.resolve()} ({len(cases)} cases)   python: {sys.executable}")
    start = time.perf_counter()
    results = run_all(cases, options.jobs, options.timeout, options.keep)
    elapsed = time.perf_counter() - start
    print()
    print_table(all_rows(results))
    print_cases(results)
    print_evaluation_times(all_rows(results))
    summary = totals(results)
    print_totals(summary, elapsed)
    return 1 if options.strict and not summary.goals_met else 0


if __name__ == "__main__":
    sys.exit(main())
