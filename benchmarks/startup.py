"""Measure what the installed pytest-codeflash plugin costs every pytest start-up.

The plugin is loaded on every ``pytest`` run of every project in the environment, so its
import must stay cheap and must not pull in its heavy dependencies before it is asked to
optimize something. This script:

1. writes a tiny test project into a temporary directory;
2. runs ``python -m pytest --co -q -p no:cacheprovider`` there ``--runs`` times with the
   plugin and ``--runs`` times with ``-p no:codeflash``, interleaved, and prints the median
   and minimum wall times and the overhead (goal: below 15 ms);
3. runs ``python -X importtime -m pytest --co -q`` with and without the plugin and reports
   which of the heavy modules (libcst, httpx, pydantic, tiktoken, coverage, git) the
   plugin makes pytest import (goal: none).

Other installed plugins (hypothesis, xdist, ...) load in both variants and add noise;
``--isolated`` turns their autoloading off and loads only this plugin, with ``-p``.

It only prints figures: it exits 0 whatever they are (1 only if a pytest run fails).
Standard library only::

    python benchmarks/startup.py --runs 20 [--isolated]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_MS = 15.0
HEAVY_MODULES = ("libcst", "httpx", "pydantic", "tiktoken", "coverage", "git")
COLLECT = ("-m", "pytest", "--co", "-q", "-p", "no:cacheprovider")


class Variants:
    """The extra pytest arguments with and without the plugin."""

    def __init__(self, isolated: bool) -> None:
        self.isolated = isolated
        self.with_plugin = ("-p", "pytest_codeflash.plugin") if isolated else ()
        self.without_plugin = () if isolated else ("-p", "no:codeflash")


def write_project(root: Path) -> None:
    """A small project: an ini file (so no parent configuration is used) and a few tests."""
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for index in range(3):
        tests = [f"def test_{index}_{n}():\n    assert {n} + 1 > {n}\n" for n in range(5)]
        (root / f"test_module_{index}.py").write_text("\n\n".join(tests), encoding="utf-8")


def environment(isolated: bool) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        env.pop(name, None)
    if isolated:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the warm-up runs write the bytecode caches
    return env


def run(args: tuple[str, ...], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run ``python *args`` in ``cwd``; return wall milliseconds and stderr."""
    start = time.perf_counter_ns()
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed_ms = (time.perf_counter_ns() - start) / 1e6
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout + proc.stderr)
        raise SystemExit(f"command failed with exit code {proc.returncode}: {' '.join(args)}")
    return elapsed_ms, proc.stderr


def measure_startup(
    runs: int, variants: Variants, cwd: Path, env: dict[str, str]
) -> tuple[list[float], list[float]]:
    """Interleave the two variants, alternating which goes first, after one warm-up each."""
    with_args = COLLECT + variants.with_plugin
    without_args = COLLECT + variants.without_plugin
    with_plugin: list[float] = []
    without_plugin: list[float] = []
    run(with_args, cwd, env)
    run(without_args, cwd, env)
    for index in range(runs):
        if index % 2 == 0:
            with_plugin.append(run(with_args, cwd, env)[0])
            without_plugin.append(run(without_args, cwd, env)[0])
        else:
            without_plugin.append(run(without_args, cwd, env)[0])
            with_plugin.append(run(with_args, cwd, env)[0])
    return with_plugin, without_plugin


def imported_top_level(importtime_stderr: str) -> set[str]:
    """Top-level package names from ``-X importtime`` output."""
    names: set[str] = set()
    for line in importtime_stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        name = line.rsplit("|", 1)[-1].strip()
        if name and name != "imported package":
            names.add(name.split(".", 1)[0])
    return names


def heavy_imports(
    variants: Variants, cwd: Path, env: dict[str, str]
) -> tuple[list[str], list[str]]:
    """Heavy modules imported with the plugin, and those imported without it anyway."""
    importtime = ("-X", "importtime", *COLLECT)
    with_plugin = imported_top_level(run(importtime + variants.with_plugin, cwd, env)[1])
    without_plugin = imported_top_level(run(importtime + variants.without_plugin, cwd, env)[1])
    return (
        sorted(m for m in HEAVY_MODULES if m in with_plugin and m not in without_plugin),
        sorted(m for m in HEAVY_MODULES if m in without_plugin),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--runs", type=int, default=15, help="pytest start-ups per variant (default: 15)"
    )
    parser.add_argument(
        "--isolated",
        action="store_true",
        help="disable other plugins' autoloading and load only pytest-codeflash (less noise)",
    )
    options = parser.parse_args(argv)
    if options.runs < 1:
        parser.error("--runs must be at least 1")

    variants = Variants(options.isolated)
    env = environment(options.isolated)
    with tempfile.TemporaryDirectory(prefix="codeflash-startup-") as tmp:
        cwd = Path(tmp)
        write_project(cwd)
        with_plugin, without_plugin = measure_startup(options.runs, variants, cwd, env)
        by_plugin, anyway = heavy_imports(variants, cwd, env)

    mode = "isolated: no other plugins" if options.isolated else "all installed plugins"
    print(f"pytest --co start-up, {options.runs} interleaved runs each, {mode}")
    print(f"  python: {sys.executable}")
    without_label = "without plugin" if options.isolated else "-p no:codeflash"
    for label, times in (("with plugin", with_plugin), (without_label, without_plugin)):
        print(f"  {label:<16} median {statistics.median(times):8.1f} ms   min {min(times):8.1f} ms")
    overhead_median = statistics.median(with_plugin) - statistics.median(without_plugin)
    overhead_min = min(with_plugin) - min(without_plugin)
    verdict = "ok" if overhead_median < GOAL_MS else "OVER GOAL"
    print(
        f"  overhead         median {overhead_median:8.1f} ms   min {overhead_min:8.1f} ms"
        f"   (goal < {GOAL_MS:.0f} ms: {verdict})"
    )
    print(f"heavy modules imported because of the plugin: {', '.join(by_plugin) or 'none'}")
    if anyway:
        print(f"heavy modules imported even without the plugin: {', '.join(anyway)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
