"""Measure what tracing costs a real test suite: plain, with ``--codeflash``, with ``--cov``.

``pytest --codeflash`` profiles the user's own test run, so the run itself must not get much
slower.  This script:

1. creates a virtual environment in a temporary directory (with ``--python``'s interpreter)
   and installs pytest, pytest-cov (coverage.py) and this checkout of pytest-codeflash;
2. downloads the source distribution of a real project (``--package``, more-itertools by
   default; ``pip download --no-binary :all: --no-deps``) and unpacks it: its own test suite
   runs against its source tree;
3. runs the suite ``--runs`` times in each of three variants, interleaved and in rotating
   order, after one untimed warm-up run of each (which also fills pytest's cache, so the
   codeflash runs reuse the parsed source as a developer's second run would):

   - plain: ``pytest -p no:codeflash``;
   - codeflash: ``pytest --codeflash --codeflash-dry-run`` (discovery, tracing, ranking;
     no optimization);
   - coverage: ``pytest -p no:codeflash --cov=PACKAGE``;

4. prints the median and minimum wall time of each variant, the ratios of the medians, and
   the goals: codeflash cheaper than coverage, and under 1.3x the plain run.

Standard library only; nothing depends on this machine's paths.  It exits 0 whatever the
figures are (1 only if a step fails)::

    python benchmarks/overhead.py [--package toolz] [--runs 5] [--python python3.12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_RATIO = 1.3


@dataclass(frozen=True)
class Suite:
    """Where a package's tests are, and which (slow or timing-sensitive) tests to leave out."""

    module: str
    tests: str
    deselect: str = ""


SUITES = {
    "more-itertools": Suite(
        "more_itertools", "tests", "not test_primes and not nth_prime and not oncurrent"
    ),
    "toolz": Suite("toolz", "toolz/tests"),
}


def run(command: list[str], cwd: Path, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=_environment())
    if result.returncode not in (0, 1) or (result.returncode == 1 and not quiet):
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}")
    return result


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONPATH", "COVERAGE_CORE"):
        env.pop(name, None)
    return env


def prepare(work: Path, python: str, package: str) -> tuple[Path, Path]:
    """The virtual environment's interpreter and the unpacked project."""
    venv = work / "venv"
    print(f"creating a virtual environment with {python} ...", flush=True)
    run([python, "-m", "venv", str(venv)], work)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    interpreter = bindir / ("python.exe" if os.name == "nt" else "python")
    print("installing pytest, pytest-cov and pytest-codeflash ...", flush=True)
    pip = [str(interpreter), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, "pytest", "pytest-cov", str(REPO)], work)
    print(f"downloading the source distribution of {package} ...", flush=True)
    downloads = work / "sdist"
    download = ["download", "-q", "--no-binary", ":all:", "--no-deps", "-d", str(downloads)]
    run([str(interpreter), "-m", "pip", *download, package], work)
    (archive,) = downloads.glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(work / "project", filter="data")
        else:  # pragma: no cover - Python before 3.10.12 / 3.11.4
            tar.extractall(work / "project")
    (project,) = (work / "project").iterdir()
    return interpreter, project


def variants(suite: Suite) -> dict[str, list[str]]:
    selection = [suite.tests, "-q", "-p", "no:randomly", "-p", "no:xdist"]
    if suite.deselect:
        selection += ["-k", suite.deselect]
    return {
        "plain": [*selection, "-p", "no:codeflash"],
        "codeflash": [*selection, "--codeflash", "--codeflash-dry-run"],
        "coverage": [*selection, "-p", "no:codeflash", f"--cov={suite.module}", "--cov-report="],
    }


def timed(interpreter: Path, project: Path, args: list[str]) -> tuple[float, str]:
    began = time.perf_counter()
    result = run([str(interpreter), "-m", "pytest", *args], project)
    return time.perf_counter() - began, result.stdout


def measure(interpreter: Path, project: Path, suite: Suite, runs: int) -> dict[str, list[float]]:
    commands = variants(suite)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for name, args in commands.items():
        seconds, output = timed(interpreter, project, args)
        print(f"  warm-up {name:9} {seconds:7.2f} s", flush=True)
        if name == "codeflash":
            summary = [line for line in output.splitlines() if line.startswith("discovered")]
            print(f"  ({summary[0] if summary else 'no codeflash summary?'})", flush=True)
    order = list(commands)
    for index in range(runs):
        for name in order[index % 3 :] + order[: index % 3]:
            seconds, _ = timed(interpreter, project, commands[name])
            times[name].append(seconds)
            print(f"  run {index + 1}/{runs} {name:9} {seconds:7.2f} s", flush=True)
    return times


def report(times: dict[str, list[float]]) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    print()
    for name, values in times.items():
        print(f"{name:10} median {medians[name]:7.2f} s   min {min(values):7.2f} s")
    plain, codeflash, coverage = medians["plain"], medians["codeflash"], medians["coverage"]
    print(f"codeflash / plain    {codeflash / plain:5.2f}x   (goal: under {GOAL_RATIO}x)")
    print(f"coverage  / plain    {coverage / plain:5.2f}x")
    print(f"codeflash / coverage {codeflash / coverage:5.2f}x   (goal: under 1.0x)")
    print(
        f"goals: cheaper than coverage: {'yes' if codeflash < coverage else 'NO'}; "
        f"under {GOAL_RATIO}x plain: {'yes' if codeflash < GOAL_RATIO * plain else 'NO'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", choices=sorted(SUITES), default="more-itertools")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per variant")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the venv")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="codeflash-overhead-"))
    try:
        interpreter, project = prepare(work, options.python, options.package)
        version = run([str(interpreter), "-V"], work).stdout.strip()
        print(f"{options.package} ({project.name}) on {version}, {options.runs} run(s) each")
        report(measure(interpreter, project, SUITES[options.package], options.runs))
    finally:
        if options.keep:
            print(f"kept {work}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
