"""Measure what the embedded rule engine finds, offline, on code it has never seen.

For every case of the shared bench (``shared/bench`` beside the repository checkout, or
``--bench DIR``; only the originals, never the hand-written candidates) and for the three
functions of ``examples/quickstart``, this script:

1. copies the project into a fresh scratch directory (without ``candidates/``);
2. runs ``python -m pytest -q -p no:randomly --codeflash-target=... --codeflash-report=R``
   there, with nothing configured: the default ``rules`` back-end proposes every candidate;
3. when two or more rule candidates of a function were accepted, combines them with
   ``pytest_codeflash.candidates.rules.compose`` and evaluates the combination in a second
   run (``--codeflash-candidate=combined.py``), as the second round of the pipeline does;
4. re-checks every accepted candidate independently of the runner: the project's tests must
   pass with the candidate written over the module, and the case's ``probes`` (case.json)
   must give the same results (value and type, or exception type and message).

It prints, per function, the rules tried and accepted and the best verified speed-up, then
the share of functions improved, the geometric-mean speed-up and the number of accepted
candidates the independent check found wrong.  Exit status 0 whatever the figures, unless
``--strict``: then 1 if fewer than half the bench targets improved or any wrong candidate
was accepted::

    python benchmarks/yield.py [--bench DIR] [--cases case01_dedupe,...] [--no-quickstart]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
QUICKSTART = REPO / "examples" / "quickstart"
QUICKSTART_TARGETS = (
    "quickstart.textstats.unique_words",
    "quickstart.textstats.word_frequencies",
    "quickstart.textstats.longest_common_prefix",
)
IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".pytest_cache", "candidates", ".codeflash"
)
RUN_TIMEOUT_S = 3600.0
CHECK_TIMEOUT_S = 300.0

# Runs one probe in a fresh interpreter: ``m`` is the module, the probe sets ``result``.
PROBE_RUNNER = textwrap.dedent(
    """
    import importlib.util, json, sys
    spec = importlib.util.spec_from_file_location(sys.argv[2], sys.argv[1])
    m = importlib.util.module_from_spec(spec)
    sys.modules[sys.argv[2]] = m
    spec.loader.exec_module(m)
    out = []
    for probe in json.loads(sys.stdin.read()):
        space = {"m": m}
        try:
            exec(probe, space)
            value = space.get("result")
            out.append(["value", repr(value), type(value).__qualname__])
        except BaseException as err:
            out.append(["raised", type(err).__qualname__, str(err)])
    print(json.dumps(out))
    """
)


@dataclass(frozen=True)
class Project:
    """A project to copy and the functions in it to optimize."""

    name: str
    path: Path
    targets: tuple[str, ...]  # package.module.function
    module_path: str  # the targets' module, relative to the project
    probes: tuple[str, ...] = ()


@dataclass
class Outcome:
    """What the engine achieved on one function."""

    project: str
    target: str
    status: str = "error"
    reason: str = ""
    tried: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    speedup: float | None = None
    best: str | None = None
    wrong: list[str] = field(default_factory=list)  # accepted but failing the independent check


# --- the projects ------------------------------------------------------------------------


def bench_projects(bench: Path, wanted: list[str]) -> list[Project]:
    """Every case of the bench (or those in ``wanted``), with its target and probes."""
    folders = sorted(p for p in bench.iterdir() if (p / "case.json").is_file())
    if wanted:
        unknown = sorted(set(wanted) - {p.name for p in folders})
        if unknown:
            raise SystemExit(f"unknown case(s) in {bench}: {', '.join(unknown)}")
        folders = [p for p in folders if p.name in wanted]
    projects = []
    for folder in folders:
        meta = json.loads((folder / "case.json").read_text(encoding="utf-8"))
        spec = f"{meta['package']}.{meta['module']}.{meta['target']}"
        projects.append(
            Project(
                folder.name, folder, (spec,), meta["module_path"], tuple(meta.get("probes", ()))
            )
        )
    return projects


def quickstart_project() -> Project:
    """The example project and its three functions."""
    return Project("quickstart", QUICKSTART, QUICKSTART_TARGETS, "src/quickstart/textstats.py")


# --- running -----------------------------------------------------------------------------


def run(command: list[str], cwd: Path, timeout: float, stdin: str = "") -> tuple[int, str]:
    """Run ``command`` in ``cwd``: its exit code (-1 on timeout) and combined output."""
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout:.0f} s"
    return done.returncode, done.stdout + done.stderr


def pytest_command(targets: tuple[str, ...], report: Path, *extra: str) -> list[str]:
    """The pytest command line a user would type for ``targets``."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        *(f"--codeflash-target={t}" for t in targets),
        f"--codeflash-report={report}",
        *extra,
    ]


def read_report(report: Path, output: str) -> list[dict[str, Any]]:
    """The functions of the JSON report, or ``RuntimeError`` with the run's last output."""
    if not report.is_file():
        tail = "\n".join(output.strip().splitlines()[-10:])
        raise RuntimeError(f"no report was written; last output:\n{tail}")
    functions: list[dict[str, Any]] = json.loads(report.read_text(encoding="utf-8"))["functions"]
    return functions


def target_function(project: Project, spec: str, copy: Path) -> Any:
    """The ``TargetFunction`` the plugin would resolve for ``spec`` in ``copy``."""
    from pytest_codeflash.models import TargetFunction

    module, _, qualname = spec.rpartition(".")
    return TargetFunction(
        module=module, qualname=qualname, file=copy / project.module_path, lineno=1
    )


def sources(project: Project, spec: str, copy: Path) -> tuple[str, dict[str, str]]:
    """The original module and every rule candidate's module, by candidate id."""
    from pytest_codeflash.candidates.rules import generate

    original = (copy / project.module_path).read_text(encoding="utf-8")
    target = target_function(project, spec, copy)
    return original, {c.id: c.module_source for c in generate(target, original)}


def evaluate(project: Project, copy: Path, timeout: float) -> list[Outcome]:
    """First round: what the default rules back-end achieves on the project."""
    report = copy / "codeflash-yield.json"
    _, output = run(pytest_command(project.targets, report), copy, timeout)
    outcomes = []
    for function in read_report(report, output):
        outcome = Outcome(project.name, function["qualified_name"])
        outcome.status, outcome.reason = function["status"], function["reason"]
        for candidate in function["candidates"]:
            outcome.tried.append(candidate["id"])
            if candidate["verdict"] == "accepted":
                outcome.accepted.append(candidate["id"])
        outcome.speedup, outcome.best = function.get("speedup"), function.get("best_candidate")
        outcomes.append(outcome)
    return outcomes


def combine(project: Project, copy: Path, outcome: Outcome, function: dict[str, Any]) -> None:
    """Second round: evaluate the composition of the accepted rule candidates."""
    from pytest_codeflash.candidates.rules import compose

    ranked = sorted(
        (c for c in function["candidates"] if c["verdict"] == "accepted"),
        key=lambda c: -(c.get("speedup") or 0.0),
    )
    original = (copy / project.module_path).read_text(encoding="utf-8")
    target = target_function(project, outcome.target, copy)
    combined = compose(target, original, [c["id"] for c in ranked])
    if combined is None:
        return
    path = copy / "combined.py"
    path.write_text(combined.module_source, encoding="utf-8")
    # kept for the independent check, which cannot regenerate a composition by id
    (copy / f"{combined.id}.module").write_text(combined.module_source, encoding="utf-8")
    report = copy / "codeflash-combined.json"
    command = pytest_command((outcome.target,), report, "--codeflash-candidate=combined.py")
    _, output = run(command, copy, RUN_TIMEOUT_S)
    (result,) = read_report(report, output)
    (verdict,) = result["candidates"]
    outcome.tried.append(f"{combined.id} ({combined.source})")
    if verdict["verdict"] == "accepted":
        outcome.accepted.append(f"{combined.id} ({combined.source})")
        if (verdict.get("speedup") or 0.0) > (outcome.speedup or 0.0):
            outcome.speedup, outcome.best = verdict["speedup"], combined.id


# --- the independent check ---------------------------------------------------------------


def probe(project: Project, copy: Path, module_source: str, spec: str) -> Any:
    """The results of the case's probes with ``module_source`` as the module."""
    path = copy / "probe_module.py"
    path.write_text(module_source, encoding="utf-8")
    module = spec.rpartition(".")[0]
    code, output = run(
        [sys.executable, "-c", PROBE_RUNNER, str(path), module],
        copy,
        CHECK_TIMEOUT_S,
        stdin=json.dumps(list(project.probes)),
    )
    return json.loads(output.strip().splitlines()[-1]) if code == 0 else output


def still_right(project: Project, copy: Path, spec: str, original: str, source: str) -> str:
    """Why ``source`` is wrong (tests or probes disagree), or ``""`` if it holds up."""
    if project.probes and probe(project, copy, source, spec) != probe(
        project, copy, original, spec
    ):
        return "probes differ"
    module = copy / project.module_path
    module.write_text(source, encoding="utf-8")
    try:
        code, output = run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"], copy, CHECK_TIMEOUT_S
        )
    finally:
        module.write_text(original, encoding="utf-8")
    return "" if code == 0 else "tests fail: " + (output.strip().splitlines() or ["?"])[-1]


def check(project: Project, copy: Path, outcome: Outcome) -> None:
    """Re-check every accepted candidate of ``outcome`` without the runner."""
    original, by_id = sources(project, outcome.target, copy)
    for candidate in outcome.accepted:
        name = candidate.split(" ")[0]
        stored = copy / f"{name}.module"
        source = stored.read_text(encoding="utf-8") if stored.is_file() else by_id.get(name)
        if source is None:
            outcome.wrong.append(f"{candidate}: its source could not be regenerated")
            continue
        problem = still_right(project, copy, outcome.target, original, source)
        if problem:
            outcome.wrong.append(f"{candidate}: {problem}")


def run_project(project: Project, keep: bool) -> list[Outcome]:
    """Copy, evaluate, combine and check one project; the copy is removed unless kept."""
    scratch = Path(tempfile.mkdtemp(prefix=f"codeflash-yield-{project.name}-"))
    copy = scratch / project.name
    shutil.copytree(project.path, copy, ignore=IGNORED)
    try:
        try:
            outcomes = evaluate(project, copy, RUN_TIMEOUT_S)
        except RuntimeError as err:
            return [Outcome(project.name, t, reason=str(err)) for t in project.targets]
        functions = {f["qualified_name"]: f for f in read_report(copy / "codeflash-yield.json", "")}
        for outcome in outcomes:
            if len(outcome.accepted) >= 2:
                try:
                    combine(project, copy, outcome, functions[outcome.target])
                except (RuntimeError, ValueError) as err:
                    outcome.reason += f"; composition failed: {err}"
            check(project, copy, outcome)
        return outcomes
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


# --- reporting ---------------------------------------------------------------------------


def print_outcomes(outcomes: list[Outcome]) -> None:
    """Per function: status, rules tried and accepted, best verified speed-up."""
    for o in outcomes:
        speed = f"{o.speedup:.2f}x ({o.best})" if o.speedup and o.status == "optimized" else "-"
        print(f"{o.target}  [{o.project}]")
        print(f"    status:   {o.status}: {o.reason}")
        print(f"    tried:    {', '.join(o.tried) or '(no rule applied)'}")
        print(f"    accepted: {', '.join(o.accepted) or '-'}")
        print(f"    best:     {speed}")
        for wrong in o.wrong:
            print(f"    WRONG:    {wrong}")


def summarise(outcomes: list[Outcome], bench_names: set[str]) -> tuple[float, float, int]:
    """Print the totals; return (share of bench targets improved, geo-mean, wrong)."""
    improved = [o for o in outcomes if o.status == "optimized" and o.speedup]
    bench = [o for o in outcomes if o.project in bench_names]
    bench_improved = [o for o in improved if o.project in bench_names]
    wrong = sum(len(o.wrong) for o in outcomes)
    speedups = [o.speedup or 1.0 for o in outcomes]
    geo_all = math.exp(sum(math.log(max(s, 1.0)) for s in speedups) / max(len(speedups), 1))
    geo_improved = math.exp(
        sum(math.log(o.speedup or 1.0) for o in improved) / max(len(improved), 1)
    )
    share = len(bench_improved) / max(len(bench), 1)
    print()
    print(f"functions improved:      {len(improved)} of {len(outcomes)}")
    print(f"bench targets improved:  {len(bench_improved)} of {len(bench)} ({share:.0%})")
    print(f"geometric-mean speed-up: {geo_all:.2f}x over all functions (1.0 where not improved)")
    print(f"                         {geo_improved:.2f}x over the improved ones")
    print(f"wrong candidates accepted (independent check): {wrong}")
    return share, geo_all, wrong


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="the bench folder")
    parser.add_argument("--cases", default="", help="comma-separated case folders (default all)")
    parser.add_argument("--no-quickstart", action="store_true", help="skip examples/quickstart")
    parser.add_argument("--jobs", type=int, default=1, help="projects run at once (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copies")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a goal is missed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every project and print the figures."""
    args = parse_args(argv)
    if not args.bench.is_dir():
        raise SystemExit(f"no bench at {args.bench}; give --bench DIR")
    projects = bench_projects(args.bench, [c for c in args.cases.split(",") if c])
    bench_names = {p.name for p in projects}
    if not args.no_quickstart:
        projects.append(quickstart_project())
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        for result in pool.map(lambda p: run_project(p, args.keep), projects):
            outcomes += result
    print_outcomes(outcomes)
    share, _, wrong = summarise(outcomes, bench_names)
    print(f"({time.monotonic() - started:.0f} s)")
    return 1 if args.strict and (share < 0.5 or wrong) else 0


if __name__ == "__main__":
    sys.exit(main())
