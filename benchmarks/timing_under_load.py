"""A/A comparisons of the speed check on a loaded machine, with and without the retry of
interrupted batches.

On a machine with more runnable processes than CPUs (a CI worker running tests side by
side, candidates evaluated beside each other), the scheduler hands the CPU to another
process every few milliseconds.  A batch of timed calls that is shorter than such a time
slice is either interrupted or not, and the rounds of a comparison can fall into step with
the slices, so that one side is interrupted round after round: a candidate identical to the
original then looks several times faster or slower.  :func:`.timing.interleave` runs such a
batch again (``PREEMPTED_RETRIES``, where the platform counts involuntary context switches).

This script starts ``--load`` busy processes (pure-Python loops), then runs ``--trials``
A/A comparisons with the plugin's own :func:`interleave` (``min_speedup=0.05``, a 1 s
budget): an O(n^2) ``unique`` against the same code compiled as another module, on four
inputs of very different cost, as in the rules' test project.  It does so once with the
retry and once without (``PREEMPTED_RETRIES = 0``), trials interleaved, and prints for each
how many verdicts were "faster" (a wrong acceptance), how many found either side 1.5x
faster than the other (a wrong acceptance had the candidate been the other side), the
other verdicts, and the most extreme speed-up either way.  It exits 0 whatever the
figures.  Standard library and the package only::

    python benchmarks/timing_under_load.py [--trials 20] [--load 4]
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

from pytest_codeflash.runner import timing
from pytest_codeflash.runner.stats import FASTER

SOURCE = """
def unique(items):
    result = []
    for item in items:
        if item not in result:
            result.append(item)
    return result
"""
INPUTS = [[3, 1, 3, 2, 1], [], [(i * 7919) % 400 for i in range(1500)], list(range(50))]


def _compiled(name: str) -> Callable[[list[int]], list[int]]:
    namespace: dict[str, object] = {}
    exec(compile(SOURCE, f"{name}.py", "exec"), namespace)
    return namespace["unique"]  # type: ignore[return-value]


def _maker(function: Callable[[list[int]], list[int]], data: list[int]) -> timing.MakeThunks:
    def make(count: int) -> list[timing.Thunk]:
        return [functools.partial(function, data)] * count

    return make


def trial(retries: int) -> tuple[str, float]:
    """One A/A comparison: its verdict and speed-up."""
    timing.PREEMPTED_RETRIES = retries
    original, twin = _compiled("original"), _compiled("twin")
    pairs = [(_maker(original, data), _maker(twin, data)) for data in INPUTS]
    result = timing.interleave(pairs, min_speedup=0.05, budget_s=1.0)
    return result.decision.verdict, result.decision.speedup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="A/A comparisons per variant")
    parser.add_argument(
        "--load", type=int, default=(os.cpu_count() or 1) * 2, help="busy processes beside"
    )
    options = parser.parse_args()
    default = timing.PREEMPTED_RETRIES
    variants = {"with retry": default, "without retry": 0}
    verdicts: dict[str, Counter[str]] = {name: Counter() for name in variants}
    speedups: dict[str, list[float]] = {name: [] for name in variants}
    busy = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(options.load)
    ]
    started = time.perf_counter()
    try:
        time.sleep(0.2)  # let the load start
        for index in range(options.trials):
            order = list(variants.items())
            if index % 2:
                order.reverse()
            for name, retries in order:
                verdict, speedup = trial(retries)
                verdicts[name][verdict] += 1
                speedups[name].append(speedup)
    finally:
        for process in busy:
            process.kill()
            process.wait()
        timing.PREEMPTED_RETRIES = default
    elapsed = time.perf_counter() - started
    print(
        f"{options.trials} A/A comparison(s) per variant beside {options.load} busy "
        f"process(es) on {os.cpu_count()} CPU(s), {elapsed:.1f} s"
    )
    for name in variants:
        counts, values = verdicts[name], speedups[name]
        print(
            f"  {name:14} faster (wrong): {counts[FASTER]:3}   1.5x off either way: "
            f"{sum(1 for v in values if max(v, 1 / v) >= 1.5):3}   other verdicts: "
            f"{dict(sorted((k, v) for k, v in counts.items() if k != FASTER))}   "
            f"speed-up from {min(values):.2f}x to {max(values):.2f}x"
        )


if __name__ == "__main__":
    main()
