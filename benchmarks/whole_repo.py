"""Wall time of a whole-repository run: as a user runs it, then one worker, two workers, and
two shards in turn.

Builds a scratch virtual environment with this checkout of pytest-codeflash installed, takes
a real project's source distribution from the package index (toolz, more-itertools or
boltons, with its tests), and runs ``python -m pytest --codeflash`` over the whole project
five ways:

0. ``--codeflash`` alone (``discovery``): discovery, tracing and every function it ranks,
   with no ``--codeflash-max-functions``; it prints each function's status, how many ended
   in each, and the seconds each optimized function took (from ``phases_s``);
1. ``--codeflash-workers=1``;
2. ``--codeflash-workers=2``;
3. ``--codeflash-shard=1/2`` then ``--codeflash-shard=2/2``, one after the other (what two
   CI jobs cost together), then ``python -m pytest_codeflash merge`` on their reports.

Which functions a whole-repository run chooses depends on the traced times, which vary from
run to run on a busy machine; so a first ``--codeflash-dry-run`` fixes the list, and every
run evaluates exactly those functions, named with ``--codeflash-target`` (shards split
them like discovered ones; the few that discovery ranks but a target cannot name, such as
a function defined inside an ``if`` block, are left out and counted).  Nothing is
reused between runs (``-p no:cacheprovider`` and ``--codeflash-no-cache``).  It prints the
wall time of each, how many functions each evaluated and optimized, and the machine's load
average around each run.  Standard library
only; it needs the package index (pip) and takes several minutes.

    python benchmarks/whole_repo.py --project toolz --effort low
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = {
    # name on the index, its tests inside the unpacked source distribution
    "toolz": ("toolz", "toolz/tests"),
    "more-itertools": ("more-itertools", "tests"),
    "boltons": ("boltons", "tests"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", choices=sorted(PROJECTS), default="toolz")
    parser.add_argument("--version", default="", help="the project's version (default: latest)")
    parser.add_argument("--effort", choices=("low", "medium", "high"), default="low")
    parser.add_argument("--workdir", default="", help="scratch folder (default: a new temp one)")
    parser.add_argument(
        "--skip", default="", help="comma-separated runs to skip: discovery,w1,w2,shards"
    )
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="codeflash-whole-repo-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    python = _environment(work)
    project = _project(python, work, args.project, args.version)
    tests = PROJECTS[args.project][1]
    plain = [str(python), "-m", "pytest", tests, "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    ranked = _chosen(plain, project)
    targets = _nameable(plain, project, ranked)
    print(f"{len(ranked)} function(s) ranked, {len(targets)} of them nameable as targets")
    base = [
        *plain, *(f"--codeflash-target={name}" for name in targets),
        "--codeflash-no-cache", f"--codeflash-effort={args.effort}",
    ]  # fmt: skip
    skip = set(filter(None, args.skip.split(",")))
    rows = []
    if "discovery" not in skip:
        report = work / "discovery.json"
        command = [
            *plain,
            "--codeflash",
            "--codeflash-no-cache",
            f"--codeflash-effort={args.effort}",
        ]
        wall = _run([*command, f"--codeflash-report={report}"], project)
        rows.append(("--codeflash (as a user runs it)", wall, *_counts(report)))
        _statuses(report)
    for workers in (1, 2):
        if f"w{workers}" in skip:
            continue
        report = work / f"workers-{workers}.json"
        wall = _run(
            [*base, f"--codeflash-workers={workers}", f"--codeflash-report={report}"], project
        )
        rows.append((f"--codeflash-workers={workers}", wall, *_counts(report)))
    if "shards" not in skip:
        walls, reports = [], []
        for k in (1, 2):
            report = work / f"shard-{k}.json"
            command = [*base, "--codeflash-workers=1", f"--codeflash-shard={k}/2"]
            walls.append(_run([*command, f"--codeflash-report={report}"], project))
            rows.append((f"  shard {k}/2 (1 worker)", walls[-1], *_counts(report)))
            reports.append(str(report))
        merged = work / "merged.json"
        merge = [str(python), "-m", "pytest_codeflash", "merge", *reports]
        merge_wall = _run([*merge, f"--json={merged}", f"--md={work / 'merged.md'}"], project)
        rows.append(("2 shards in turn + merge", sum(walls) + merge_wall, *_counts(merged)))
    print(f"\n{args.project} ({project.name}), effort {args.effort}, scratch {work}")
    header = f"{'run':<32} {'wall s':>8} {'functions':>10} {'s/function':>11} {'optimized':>10}"
    print(f"{header} {'s/optimized':>12}")
    for name, wall, functions, optimized in rows:
        each = f"{wall / functions:.1f}" if functions else "-"
        per_win = f"{wall / optimized:.1f}" if optimized else "-"
        print(f"{name:<32} {wall:>8.1f} {functions:>10} {each:>11} {optimized:>10} {per_win:>12}")
    return 0


def _statuses(report: Path) -> None:
    """Each function's status and seconds; the count per status; the optimized ones' times."""
    try:
        functions = json.loads(report.read_text(encoding="utf-8"))["functions"]
    except (OSError, ValueError, KeyError):
        print("  no report")
        return
    counts: dict[str, int] = {}
    for function in functions:
        counts[function["status"]] = counts.get(function["status"], 0) + 1
        seconds = sum((function.get("phases_s") or {}).values())
        reason = (function.get("reason") or "")[:90]
        print(
            f"  {function['status']:<14} {seconds:>6.1f} s  {function['qualified_name']}  {reason}"
        )
    print("  statuses: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    for function in functions:
        if function["status"] == "optimized":
            seconds = sum((function.get("phases_s") or {}).values())
            speedup = function.get("speedup") or 0.0
            name = function["qualified_name"]
            print(f"  optimized: {name} {speedup:.2f}x in {seconds:.1f} s of evaluation")


def _environment(work: Path) -> Path:
    """A virtual environment with this checkout of the plugin installed (not editable)."""
    folder = work / "venv"
    python = folder / "bin" / "python"
    if not python.exists():
        venv.create(folder, with_pip=True)
        _check([str(python), "-m", "pip", "install", "-q", str(ROOT)], work)
    else:  # the checkout as it is now
        reinstall = ["install", "-q", "--no-deps", "--force-reinstall", str(ROOT)]
        _check([str(python), "-m", "pip", *reinstall], work)
    return python


def _project(python: Path, work: Path, name: str, version: str) -> Path:
    """The project's source distribution, unpacked, with its own dependencies installed."""
    wanted = f"{PROJECTS[name][0]}=={version}" if version else PROJECTS[name][0]
    downloads = work / "downloads"
    found = sorted(downloads.glob("*.tar.gz")) if downloads.is_dir() else []
    if not found:
        download = ["-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        _check([str(python), *download, "-d", str(downloads), wanted], work)
        found = sorted(downloads.glob("*.tar.gz"))
    archive = found[-1]
    target = work / archive.name.removesuffix(".tar.gz")
    if not target.is_dir():
        with tarfile.open(archive) as tar:
            tar.extractall(work, filter="data")
    return target


def _chosen(plain: list[str], project: Path) -> list[str]:
    """The functions a whole-repository run would evaluate: a dry run's ranking."""
    command = [*plain, "--codeflash", "--codeflash-dry-run"]
    done = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    ranked = re.findall(r"^\s+\d+\. (\S+) \(", done.stdout, re.M)
    if not ranked:
        sys.exit(f"the dry run chose no function:\n{done.stdout[-2000:]}")
    return ranked


def _nameable(plain: list[str], project: Path, names: list[str]) -> list[str]:
    """``names`` less those ``--codeflash-target`` refuses (asked until it accepts them all)."""
    names = list(names)
    while names:
        command = [*plain, "--collect-only", "--codeflash-dry-run"]
        command += [f"--codeflash-target={name}" for name in names]
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
        refused = re.search(r"--codeflash-target=(\S+?): ", done.stderr)
        if done.returncode != 4 or refused is None:
            return names
        names.remove(refused.group(1))
    return names


def _run(command: list[str], cwd: Path) -> float:
    for part in command:  # a report left by an earlier run must not count for this one
        if part.startswith(("--codeflash-report=", "--json=")):
            Path(part.partition("=")[2]).unlink(missing_ok=True)
    shown = [part for part in command[2:] if not part.startswith("--codeflash-target=")]
    print("$", " ".join(shown), flush=True)
    load = os.getloadavg()[0]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    tail = (done.stdout or done.stderr).strip().splitlines()[-1:] or ["(no output)"]
    print(f"  {wall:.1f} s, exit code {done.returncode}: {tail[0]}", flush=True)
    print(f"  load average (1 min) before {load:.1f}, after {os.getloadavg()[0]:.1f}", flush=True)
    return wall


def _counts(report: Path) -> tuple[int, int]:
    try:
        functions = json.loads(report.read_text(encoding="utf-8"))["functions"]
    except (OSError, ValueError, KeyError):
        return 0, 0
    return len(functions), sum(1 for f in functions if f["status"] == "optimized")


def _check(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr or done.stdout}")


if __name__ == "__main__":
    sys.exit(main())
