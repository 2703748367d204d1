"""Measure what tracing costs a real test suite: plain, with ``--codeflash``, with ``--cov``.

``pytest --codeflash`` profiles the user's own test run, so the run itself must not get much
slower.  This script:

1. finds the interpreters to measure (``--pythons``: this one by default; ``all`` for each of
   Python 3.10 to 3.13 found as ``python3.X`` on PATH or in pyenv's versions; or a list of
   versions and paths);
2. downloads the source distribution of each project (``--package``, more-itertools by
   default, or ``all``; ``pip download --no-binary :all: --no-deps``) and unpacks it: its own
   test suite runs against its source tree;
3. per interpreter, creates a virtual environment in a temporary directory and installs
   pytest, pytest-cov (coverage.py) and this checkout of pytest-codeflash;
4. runs each suite ``--runs`` times in each of three variants, interleaved and in rotating
   order, after one untimed warm-up run of each (which also fills pytest's cache and the
   bytecode caches, so the runs are a developer's second run):

   - plain: ``pytest -p no:codeflash``;
   - codeflash: ``pytest --codeflash --codeflash-dry-run`` (discovery, tracing, ranking;
     no optimization), a developer's next run: before Python 3.12 it starts from what the
     last run traced (the inputs it kept, the tests that need exact tracing);
   - first-run: the same with ``--codeflash-no-cache``, which traces as a first run does
     (a fresh clone, a CI job without pytest's cache);
   - coverage: ``pytest -p no:codeflash --cov=PACKAGE``;

5. prints, per interpreter and project, the median and minimum wall time and the median CPU
   time (user + system, of the whole process) of each variant, the ratios of the medians and
   the goals: codeflash cheaper than coverage, and under 1.3x the plain run (for the
   codeflash variant, and for the first run too); then a table of all of them.

Two of pytest-codeflash's dependencies bring pytest plugins of their own, which run in every
pytest run, with or without ``--codeflash``: Hypothesis's (the runner generates inputs with
Hypothesis), which imports all of Hypothesis at the terminal summary (Hypothesis 6.170), and
anyio's (httpx needs anyio), which imports anyio and asyncio at start-up; together about
0.17 s here.  A project that uses neither pays that only because pytest-codeflash is
installed, and its plain run before installing it did not.  ``--without-dependency-plugins``
measures every variant with ``-p no:hypothesispytest -p no:anyio`` (what such a project can
put in its ``addopts``; pytest-codeflash needs neither plugin), which is that project's
plain run, and the harder comparison.

Wall time is the figure that counts; on a busy machine CPU time varies less.  With
``--instructions`` each variant instead runs once under ``valgrind --tool=callgrind`` and the
instructions it executed are compared: slow (about 30x) but nearly free of noise, for
comparing two versions of the tracer.  ``PYTHONDONTWRITEBYTECODE`` is removed from the
environment: without bytecode caches every run compiles the project and rewrites its test
modules again, which makes the fixed costs look larger and the ratios smaller than on a
developer's machine.

Standard library only; nothing depends on this machine's paths.  It exits 0 whatever the
figures are (1 only if a step fails)::

    python benchmarks/overhead.py [--package all] [--pythons all] [--runs 5] [--instructions]
                                  [--without-dependency-plugins]
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_RATIO = 1.3
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
VARIANTS = ("plain", "codeflash", "first-run", "coverage")


@dataclass(frozen=True)
class Suite:
    """Where a package's tests are, and which (slow or timing-sensitive) tests to leave out."""

    module: str
    tests: str
    deselect: str = ""
    extra: tuple[str, ...] = ()  # options for every variant


SUITES = {
    "more-itertools": Suite(
        "more_itertools", "tests", "not test_primes and not nth_prime and not oncurrent"
    ),
    "toolz": Suite("toolz", "toolz/tests"),
}


@dataclass
class Figures:
    """Wall and CPU seconds per variant (or instructions, with ``--instructions``)."""

    python: str
    package: str
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def median(self, variant: str) -> float:
        return statistics.median(self.wall[variant])


def run(command: list[str], cwd: Path, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=_environment())
    if result.returncode not in (0, 1) or (result.returncode == 1 and not quiet):
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}")
    return result


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    for name in (
        "PYTEST_ADDOPTS",
        "PYTEST_PLUGINS",
        "PYTHONPATH",
        "COVERAGE_CORE",
        "PYTHONDONTWRITEBYTECODE",
    ):
        env.pop(name, None)
    return env


# -- interpreters ------------------------------------------------------------------------------
def find_pythons(spec: str) -> list[tuple[str, str]]:
    """``(version, interpreter)`` pairs for ``--pythons``: ``all``, or versions and paths."""
    if spec == "all":
        found = [(v, p) for v in SUPPORTED if (p := _find_version(v))]
        missing = [v for v in SUPPORTED if v not in {f[0] for f in found}]
        if missing:
            print(f"not found (skipped): Python {', '.join(missing)}", flush=True)
        return found
    pythons = []
    for item in spec.split(","):
        path = _find_version(item) if re.fullmatch(r"3\.\d+", item) else item
        version = _version_of(path) if path else None
        if not path or not version:
            raise SystemExit(f"--pythons: no working interpreter for {item!r}")
        pythons.append((version, path))
    return pythons


def _find_version(version: str) -> str | None:
    """An interpreter of ``version``: ``python3.X`` on PATH, else one of pyenv's versions."""
    candidates: list[str | None] = [shutil.which(f"python{version}")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        if root:
            pattern = os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}")
            versions: list[str] = sorted(glob.glob(pattern), key=_patch_level, reverse=True)
            candidates.extend(versions)
    for candidate in candidates:
        # a pyenv shim is on PATH even when that version is not selected: it fails to run
        if candidate and _version_of(candidate) == version:
            return candidate
    return None


def _patch_level(path: str) -> int:
    match = re.search(r"/3\.\d+\.(\d+)/", path)
    return int(match.group(1)) if match else -1


def _version_of(interpreter: str) -> str | None:
    try:
        done = subprocess.run(
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# -- set-up ------------------------------------------------------------------------------------
def download(work: Path, package: str) -> Path:
    """Download and unpack ``package``'s source distribution; return its directory."""
    print(f"downloading the source distribution of {package} ...", flush=True)
    downloads = work / "sdist" / package
    options = ["download", "-q", "--no-binary", ":all:", "--no-deps", "-d", str(downloads)]
    run([sys.executable, "-m", "pip", *options, package], work)
    (archive,) = downloads.glob("*.tar.gz")
    target = work / "project" / package
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
        else:  # pragma: no cover - Python before 3.10.12 / 3.11.4
            tar.extractall(target)
    (project,) = target.iterdir()
    return project


def prepare(work: Path, python: str, version: str) -> Path:
    """A virtual environment with pytest, pytest-cov and this checkout; its interpreter."""
    venv = work / f"venv-{version}"
    print(f"Python {version}: creating a virtual environment with {python} ...", flush=True)
    run([python, "-m", "venv", str(venv)], work)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    interpreter = bindir / ("python.exe" if os.name == "nt" else "python")
    print(f"Python {version}: installing pytest, pytest-cov and pytest-codeflash ...", flush=True)
    pip = [str(interpreter), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, "pytest", "pytest-cov", str(REPO)], work)
    return interpreter


# -- measuring ---------------------------------------------------------------------------------
def variants(suite: Suite) -> dict[str, list[str]]:
    selection = [suite.tests, "-q", "-p", "no:randomly", "-p", "no:xdist", *suite.extra]
    if suite.deselect:
        selection += ["-k", suite.deselect]
    return {
        "plain": [*selection, "-p", "no:codeflash"],
        "codeflash": [*selection, "--codeflash", "--codeflash-dry-run"],
        "first-run": [*selection, "--codeflash", "--codeflash-dry-run", "--codeflash-no-cache"],
        "coverage": [*selection, "-p", "no:codeflash", f"--cov={suite.module}", "--cov-report="],
    }


def timed(interpreter: Path, project: Path, args: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one ``pytest`` process, and its output."""
    began = time.perf_counter()
    with subprocess.Popen(
        [str(interpreter), "-m", "pytest", *args],
        cwd=project,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - began
    if process.returncode not in (0, 1):
        sys.stderr.write(output[-3000:])
        raise SystemExit(f"failed ({process.returncode}): pytest {' '.join(args)}")
    return wall, usage.ru_utime + usage.ru_stime, output


def measure(interpreter: Path, project: Path, figures: Figures, suite: Suite, runs: int) -> None:
    commands = variants(suite)
    for name, args in commands.items():
        seconds, _, output = timed(interpreter, project, args)
        print(f"  warm-up {name:9} {seconds:7.2f} s", flush=True)
        if name == "codeflash":
            summary = [line for line in output.splitlines() if line.startswith("discovered")]
            print(f"  ({summary[0] if summary else 'no codeflash summary?'})", flush=True)
        for line in output.splitlines():  # what the next run took from this one
            if line.startswith("inputs of "):
                print(f"  ({line})", flush=True)
        figures.wall[name], figures.cpu[name] = [], []
    order = list(commands)
    for index in range(runs):
        turn = index % len(order)
        for name in order[turn:] + order[:turn]:
            wall, cpu, _ = timed(interpreter, project, commands[name])
            figures.wall[name].append(wall)
            figures.cpu[name].append(cpu)
            print(f"  run {index + 1}/{runs} {name:9} {wall:7.2f} s (CPU {cpu:6.2f} s)", flush=True)


def count_instructions(interpreter: Path, project: Path, figures: Figures, suite: Suite) -> None:
    """Instructions executed by each variant, once each, under callgrind (after a warm-up)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind on PATH")
    for name, args in variants(suite).items():
        timed(interpreter, project, args)  # bytecode caches, pytest's cache
        command = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        done = run([*command, str(interpreter), "-m", "pytest", *args], project)
        # Forked children (the suite's own, the runner's) print their counts too, and before
        # the parent's: the count wanted is the one of the process that printed first.
        first = re.search(r"==(\d+)==", done.stderr)
        pid = first.group(1) if first else r"\d+"
        match = re.search(rf"=={pid}== Collected : (\d+)", done.stderr)
        if match is None:
            raise SystemExit(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
        figures.wall[name] = figures.cpu[name] = [float(match.group(1))]
        print(f"  {name:9} {int(match.group(1)):>15,} instructions", flush=True)


# -- reporting ---------------------------------------------------------------------------------
def report(figures: Figures, instructions: bool) -> None:
    medians = {name: figures.median(name) for name in VARIANTS}
    print()
    for name in VARIANTS:
        if instructions:
            print(f"{name:10} {medians[name]:>15,.0f} instructions")
            continue
        values, cpu = figures.wall[name], statistics.median(figures.cpu[name])
        print(
            f"{name:10} median {medians[name]:7.2f} s   min {min(values):7.2f} s"
            f"   CPU median {cpu:7.2f} s"
        )
    plain, codeflash, first, coverage = (medians[name] for name in VARIANTS)
    print(f"codeflash / plain    {codeflash / plain:5.2f}x   (goal: under {GOAL_RATIO}x)")
    print(f"first-run / plain    {first / plain:5.2f}x")
    print(f"coverage  / plain    {coverage / plain:5.2f}x")
    print(f"codeflash / coverage {codeflash / coverage:5.2f}x   (goal: under 1.0x)")
    print(f"goals: {_goals(plain, codeflash, coverage)}", flush=True)
    print(f"goals for a first run: {_goals(plain, first, coverage)}", flush=True)


def _goals(plain: float, codeflash: float, coverage: float) -> str:
    cheaper = "yes" if codeflash < coverage else "NO"
    under = "yes" if codeflash < GOAL_RATIO * plain else "NO"
    return f"cheaper than coverage: {cheaper}; under {GOAL_RATIO}x plain: {under}"


def table(all_figures: list[Figures], instructions: bool) -> None:
    """One line per interpreter and project: the medians and the ratios."""
    unit = "instructions (G)" if instructions else "median wall s (CPU s)"
    print(f"\nsummary, {unit}:")
    print(
        f"{'python':7} {'package':15} {'plain':>13} {'codeflash':>13} {'first-run':>13}"
        f" {'coverage':>13} {'cf/plain':>9} {'1st/plain':>9} {'cov/plain':>9}  goals"
    )
    for figures in all_figures:
        medians = [figures.median(name) for name in VARIANTS]
        if instructions:
            cells = [f"{m / 1e9:13.2f}" for m in medians]
        else:
            cpus = [statistics.median(figures.cpu[name]) for name in VARIANTS]
            cells = [f"{m:6.2f} ({c:5.2f})" for m, c in zip(medians, cpus, strict=True)]
        plain, codeflash, first, coverage = medians
        print(
            f"{figures.python:7} {figures.package:15} {' '.join(cells)}"
            f" {codeflash / plain:8.2f}x {first / plain:8.2f}x {coverage / plain:8.2f}x  "
            f"{_goals(plain, codeflash, coverage)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", choices=[*sorted(SUITES), "all"], default="more-itertools")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per variant")
    parser.add_argument(
        "--pythons",
        default=sys.executable,
        help="'all' (3.10 to 3.13, from PATH or pyenv), or versions/paths separated by commas",
    )
    parser.add_argument("--python", dest="pythons", help="the same as --pythons")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions with callgrind instead"
    )
    parser.add_argument(
        "--without-dependency-plugins",
        action="store_true",
        help="run every variant with -p no:hypothesispytest -p no:anyio (see above)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    options = parser.parse_args()
    pythons = find_pythons(options.pythons)
    packages = sorted(SUITES) if options.package == "all" else [options.package]
    work = Path(tempfile.mkdtemp(prefix="codeflash-overhead-"))
    results: list[Figures] = []
    try:
        projects = {package: download(work, package) for package in packages}
        for version, python in pythons:
            interpreter = prepare(work, python, version)
            full = run([str(interpreter), "-V"], work).stdout.strip()
            for package, project in projects.items():
                suite, figures = SUITES[package], Figures(version, package)
                if options.without_dependency_plugins:
                    plugins = ("-p", "no:hypothesispytest", "-p", "no:anyio")
                    suite = dataclasses.replace(suite, extra=plugins)
                runs = "instructions" if options.instructions else f"{options.runs} run(s) each"
                print(f"\n{package} ({project.name}) on {full}, {runs}", flush=True)
                if options.instructions:
                    count_instructions(interpreter, project, figures, suite)
                else:
                    measure(interpreter, project, figures, suite, options.runs)
                report(figures, options.instructions)
                results.append(figures)
        table(results, options.instructions)
    finally:
        if options.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
