"""Measure how often the speed check accepts a candidate that is not faster, and how often
it finds one that is, next to a codeflash-style "sum of minimums" baseline.

Two kinds of targets, all timed in this process, one trial after another (no parallelism):

* **Synthetic**: ``work(data)`` sums over ``data`` in a pure-Python loop; the amount of work is
  set by the loop count plus a few unrolled statements for fine steps.  The original is
  tuned to about 1 us, 100 us and 5 ms per call; candidates are the same function with less
  work, tuned (by paired measurement) to be 1.10x, 1.25x and 2x faster; the A/A cells time
  the original against itself and against a no-op rewrite (the same code renamed and
  commented, compiled as another module).  Each cell's realised true ratio is measured
  again with long alternating batches and printed.
* **Bench** (``shared/bench`` beside the repository checkout, or ``--bench DIR``): each
  case's original module against itself and its ``noop`` candidates (A/A), its
  ``much_faster`` accept candidates (should be detected) and its ``marginal`` candidates
  (1-4 % faster: below the 5 % bar).  Inputs come from ``case.json``'s ``bench.setup``
  (executed with the module bound as ``m``) and the arguments of ``bench.stmt``.  No other
  candidate file is ever imported: some are hostile.

Each trial of **pytest-codeflash** calls the plugin's own
:func:`pytest_codeflash.runner.timing.interleave` afresh with ``min_speedup=0.05`` and the
least time the runner gives the captured inputs at medium effort (the timing's floor of the
per-candidate budget, of which the captured inputs get their share; the rest is kept for 10x
and 100x inputs), thunks made like the runner makes them (a fresh copy of the arguments
per call), and, for bench targets, the runner's state reset before every batch (one call per
batch when the target keeps a cache).  It is accepted when the verdict is ``faster``.  The
runner's retries at 10x and 100x input sizes are not modelled.

Each trial of the **codeflash-style baseline** follows Codeflash's documented method: the
original, then the candidate, each loops over all inputs for ``--baseline-seconds`` (at least
six loops), timing every call on its own with the garbage collector off; a side's score is
the sum over inputs of the minimum time per call, and the candidate is accepted iff
``(orig - cand) / cand > 0.05``.  No state is reset between calls, as in a pytest loop.

Prints a table per method and the summary: (a) A/A false positives, (b) detection rates,
(c) wall time per decision, (d) the same figures for the baseline.  Exits 0 whatever the
figures are.  Standard library and the package only::

    python benchmarks/accuracy.py [--quick] [--trials N] [--baseline-seconds S] [--bench DIR]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import functools
import gc
import importlib.util
import io
import json
import math
import os
import pickle
import random
import statistics
import sys
import time
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from inspect import getattr_static
from pathlib import Path
from typing import Any

from pytest_codeflash.runner.replay import CAPTURED_SHARE, EFFORT_BUDGET_S, TIMING_FLOOR
from pytest_codeflash.runner.stats import FASTER, NOT_FASTER, UNDECIDED
from pytest_codeflash.runner.timing import MAX_LOOPS, MakeThunks, Thunk, calibrate, interleave
from pytest_codeflash.runner.timing import time_batch as _time_batch

DEFAULT_BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
MIN_SPEEDUP = 0.05
# The least the runner gives the captured inputs when larger sizes may follow (the common
# case): the timing's floor of the medium per-candidate budget, then the captured share.
BUDGET_S = EFFORT_BUDGET_S["medium"] * TIMING_FLOOR * CAPTURED_SHARE
CODEFLASH_SECONDS = 10.0
CODEFLASH_MIN_LOOPS = 6  # the documented loop runs while ``loops <= 5`` or time is left
COSTS = (("~1 us", 1_000.0), ("~100 us", 100_000.0), ("~5 ms", 5_000_000.0))
RATIOS = (1.10, 1.25, 2.0)
GOALS = {1.10: 0.80, 1.25: 0.95, 2.0: 1.00}
SYNTHETIC_INPUTS = 3
DATA_LEN = 64  # the work loop indexes ``data[i & 63]``
_cpu = time.thread_time_ns  # clock of the true-ratio measurements (see ``paired_ratio``)

Args = tuple[tuple[Any, ...], dict[str, Any]]
Fresh = Callable[[], Args]


# -- what is timed ------------------------------------------------------------------------


@dataclass
class Side:
    """One function and, per input, a maker of fresh copies of its arguments."""

    function: Callable[..., Any]
    fresh: list[Fresh]


@dataclass
class Outcome:
    """One trial's decision."""

    accepted: bool
    verdict: str
    speedup: float
    seconds: float


@dataclass
class Scenario:
    """One cell of the tables: an original/candidate pair and the trials run on it."""

    group: str
    name: str
    kind: str  # "aa", "faster" (should be detected) or "marginal" (below the bar)
    nominal: float  # constructed ratio; 0.0 when unknown (bench candidates)
    orig: Side
    cand: Side
    before_batch: Callable[[], None] | None = None
    max_loops: int | None = None
    true_ratios: list[float] = field(default_factory=list)
    ours: list[Outcome] = field(default_factory=list)
    baseline: list[Outcome] = field(default_factory=list)

    def pairs(self) -> list[tuple[MakeThunks, MakeThunks]]:
        return [
            (_maker(self.orig.function, fo), _maker(self.cand.function, fc))
            for fo, fc in zip(self.orig.fresh, self.cand.fresh, strict=True)
        ]


def _call(function: Callable[..., Any], args: Args) -> object:
    return function(*args[0], **args[1])


def _maker(function: Callable[..., Any], fresh: Fresh) -> MakeThunks:
    """Thunks like the runner's: one fresh copy of the arguments per call."""

    def make(count: int) -> list[Thunk]:
        return [functools.partial(_call, function, fresh()) for _ in range(count)]

    return make


def _copier(args: Args) -> Fresh:
    """Fresh deep copies: unpickled like the runner's captured inputs, else deepcopy."""
    try:
        blob = pickle.dumps(args)
        pickle.loads(blob)
    except Exception:
        return functools.partial(copy.deepcopy, args)
    return functools.partial(pickle.loads, blob)


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(_Discard()), contextlib.redirect_stderr(_Discard()):
        yield


# -- the two methods ----------------------------------------------------------------------


def ours_trial(scenario: Scenario, budget_s: float) -> Outcome:
    """One fresh call of the plugin's ``interleave``, as the runner makes it."""
    pairs = scenario.pairs()
    gc.collect()
    start = time.perf_counter()
    with _quiet():
        result = interleave(
            pairs,
            min_speedup=MIN_SPEEDUP,
            budget_s=budget_s,
            before_batch=scenario.before_batch,
            max_loops=scenario.max_loops,
        )
    seconds = time.perf_counter() - start
    decision = result.decision
    return Outcome(decision.verdict == FASTER, decision.verdict, decision.speedup, seconds)


def sum_of_minimums(side: Side, seconds: float) -> float:
    """Codeflash's documented score: loop all inputs for ``seconds``, sum the minima."""
    clock = time.perf_counter_ns
    minima = [math.inf] * len(side.fresh)
    function = side.function
    loops = 0
    start = time.perf_counter()
    while loops < CODEFLASH_MIN_LOOPS or time.perf_counter() - start < seconds:
        loops += 1
        for index, fresh in enumerate(side.fresh):
            positional, keywords = fresh()
            gc.disable()
            began = clock()
            try:  # noqa: SIM105 -- a context manager would sit inside the timed region
                function(*positional, **keywords)
            except Exception:
                pass
            elapsed = clock() - began
            gc.enable()
            if elapsed < minima[index]:
                minima[index] = elapsed
    return math.fsum(minima)


def baseline_trial(scenario: Scenario, seconds: float) -> Outcome:
    """Original then candidate, each looped for ``seconds``; accept iff gain > 5 %."""
    gc.collect()
    start = time.perf_counter()
    with _quiet():
        orig = sum_of_minimums(scenario.orig, seconds)
        cand = sum_of_minimums(scenario.cand, seconds)
    elapsed = time.perf_counter() - start
    gain = (orig - cand) / cand if cand > 0 else math.inf
    verdict = "accept" if gain > MIN_SPEEDUP else "reject"
    speedup = orig / cand if cand > 0 else math.inf
    return Outcome(gain > MIN_SPEEDUP, verdict, speedup, elapsed)


# -- quiet measurements: true ratios and tuning --------------------------------------------


def paired_ratio(scenario: Scenario, seconds: float, min_batch_ns: int = 1_000_000) -> float:
    """Median over pairs of rounds (A B, then B A) of sum(orig per call) / sum(cand per call).

    Timed in thread CPU time, not wall time: on a shared machine the process is often
    descheduled mid-batch, which CPU time does not count.  A ratio spans two rounds of
    opposite order, so that a "second side runs warmer" effect cancels instead of splitting
    the per-round ratios into two modes that the median would pick between.
    """
    pairs = scenario.pairs()
    before = scenario.before_batch
    cap = scenario.max_loops or MAX_LOOPS
    rounds: list[tuple[float, float]] = []
    with _quiet():
        loops = [
            calibrate(o, min_batch_ns=min_batch_ns, max_loops=cap, before_batch=before, clock=_cpu)
            for o, _ in pairs
        ]
        deadline = time.perf_counter() + seconds
        while len(rounds) < 14 or len(rounds) % 2 or time.perf_counter() < deadline:
            totals = [0.0, 0.0]
            for (make_orig, make_cand), n in zip(pairs, loops, strict=True):
                order = [(0, make_orig), (1, make_cand)]
                if len(rounds) % 2:
                    order.reverse()
                for side, make in order:
                    thunks = make(n)
                    if before is not None:
                        before()
                    totals[side] += _time_batch(thunks, clock=_cpu) / n
            rounds.append((totals[0], totals[1]))
    ratios = [
        (a1 + a2) / max(b1 + b2, 1e-9)
        for (a1, b1), (a2, b2) in zip(rounds[::2], rounds[1::2], strict=True)
    ]
    return statistics.median(ratios)


def cost_ns(side: Side, seconds: float) -> float:
    """Thread CPU time per call of ``side`` in its fastest batches, averaged over inputs.

    Only sets the synthetic targets' rough size: the fastest batch is the quiet cost, which
    a busy spell of the machine does not move.
    """
    makers = [_maker(side.function, fresh) for fresh in side.fresh]
    loops = [calibrate(make, min_batch_ns=1_000_000, clock=_cpu) for make in makers]
    best = [math.inf] * len(makers)
    rounds = 0
    deadline = time.perf_counter() + seconds
    while rounds < 5 or time.perf_counter() < deadline:
        for index, (make, n) in enumerate(zip(makers, loops, strict=True)):
            best[index] = min(best[index], _time_batch(make(n), clock=_cpu) / n)
        rounds += 1
    return math.fsum(best) / len(best)


def measure_true_ratio(scenario: Scenario, seconds: float, repeats: int) -> None:
    scenario.true_ratios = [paired_ratio(scenario, seconds) for _ in range(repeats)]


# -- synthetic targets --------------------------------------------------------------------

_WORK = """\
def work(data):
{comment}    {acc} = 0
    for i in range({loops}):
        {acc} += data[i & 63]
{extra}    return {acc}
"""

_module_counter = iter(range(1_000_000))


@dataclass(frozen=True)
class Shape:
    """Work of one synthetic function: loop iterations plus unrolled fine steps."""

    loops: int
    extra: int


def synthetic_function(shape: Shape, *, rewrite: bool = False) -> Callable[..., Any]:
    """Compile ``work`` with ``shape`` in a module of its own; ``rewrite`` renames it."""
    acc = "acc" if rewrite else "total"
    source = _WORK.format(
        comment="    # a reformatted, renamed no-op rewrite\n" if rewrite else "",
        acc=acc,
        loops=shape.loops,
        extra=f"    {acc} += 1\n" * shape.extra,
    )
    name = f"_accuracy_synthetic_{next(_module_counter)}"
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module.work


@dataclass(frozen=True)
class CostModel:
    """Per-call ns = fixed + per_loop * loops + per_extra * extra (fitted, approximate)."""

    fixed: float
    per_loop: float
    per_extra: float

    def cost(self, shape: Shape) -> float:
        return self.fixed + self.per_loop * shape.loops + self.per_extra * shape.extra

    def shape_for(self, ns: float) -> Shape:
        rest = max(0.0, ns - self.fixed)
        loops = int(rest // self.per_loop)
        return Shape(loops, max(0, round((rest - loops * self.per_loop) / self.per_extra)))


def fit_cost_model(fresh: list[Fresh], seconds: float) -> CostModel:
    def cost(shape: Shape) -> float:
        return cost_ns(Side(synthetic_function(shape), fresh), seconds)

    fixed = cost(Shape(0, 0))
    per_loop = max((cost(Shape(2000, 0)) - fixed) / 2000, 1.0)
    per_extra = max((cost(Shape(0, 400)) - fixed) / 400, 0.5)
    return CostModel(fixed, per_loop, per_extra)


def synthetic_inputs(seed: int) -> list[Fresh]:
    rng = random.Random(seed)
    inputs: list[Args] = [
        (([rng.randrange(1000) for _ in range(DATA_LEN)],), {}) for _ in range(SYNTHETIC_INPUTS)
    ]
    return [_copier(args) for args in inputs]


def tune_candidate(
    group: str, orig: Side, shape: Shape, model: CostModel, ratio: float, seconds: float
) -> Scenario:
    """A candidate ``ratio`` times faster than ``orig``, corrected by paired measurement.

    Keeps the closest of a few corrected shapes; a correction is clamped to 20 % so that
    one noisy measurement cannot throw the search off.
    """
    cand_shape = model.shape_for(model.cost(shape) / ratio)
    best: tuple[float, Shape] = (math.inf, cand_shape)
    scenario = Scenario(group, f"x{ratio:.2f}", "faster", ratio, orig, orig)
    for _ in range(5):
        scenario.cand = Side(synthetic_function(cand_shape), orig.fresh)
        measured = paired_ratio(scenario, seconds)
        error = abs(math.log(measured / ratio))
        if error < best[0]:
            best = (error, cand_shape)
        if error < 0.005:
            break
        step = min(1.2, max(1 / 1.2, measured / ratio))
        cand_shape = model.shape_for(model.cost(cand_shape) * step)
    scenario.cand = Side(synthetic_function(best[1]), orig.fresh)
    return scenario


def synthetic_scenarios(
    seed: int, tune_s: float, log: Callable[[str], None], costs: Sequence[str] = ()
) -> list[Scenario]:
    scenarios: list[Scenario] = []
    for level, (label, target_ns) in enumerate(COSTS):
        if costs and label.lstrip("~").replace(" ", "") not in costs:
            continue
        group = f"synthetic {label}"
        fresh = synthetic_inputs(seed + level)
        model = fit_cost_model(fresh, tune_s)
        # At least 1.5x the fixed cost in the loop, so that 2x faster can be constructed.
        floor = math.ceil(1.5 * model.fixed / model.per_loop)
        shape = Shape(max(model.shape_for(target_ns).loops, floor), 0)
        orig = Side(synthetic_function(shape), fresh)
        noop = Side(synthetic_function(shape, rewrite=True), fresh)
        log(
            f"{group}: fixed {model.fixed:.0f} ns + {model.per_loop:.1f} ns/loop + "
            f"{model.per_extra:.1f} ns/step -> {shape.loops} loops"
        )
        scenarios.append(Scenario(group, "A/A self", "aa", 1.0, orig, orig))
        scenarios.append(Scenario(group, "A/A noop rewrite", "aa", 1.0, orig, noop))
        for ratio in RATIOS:
            scenarios.append(tune_candidate(group, orig, shape, model, ratio, tune_s))
    return scenarios


# -- bench targets ------------------------------------------------------------------------


class Skip(Exception):
    """A bench target this script cannot time; the message says why."""


def load_module(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise Skip(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so pickled arguments can name the module's classes
    spec.loader.exec_module(module)
    return module


def _eval(node: ast.expr, namespace: dict[str, Any]) -> Any:
    return eval(compile(ast.Expression(node), "<bench stmt>", "eval"), namespace)


def bench_side(module: types.ModuleType, bench: dict[str, str], target: str) -> Side:
    """The function ``bench.stmt`` calls and its arguments, built from ``bench.setup``."""
    namespace: dict[str, Any] = {"m": module, "__name__": "__accuracy_setup__"}
    with _quiet():
        exec(bench.get("setup", ""), namespace)
    call = ast.parse(bench["stmt"].strip(), mode="eval").body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
        raise Skip(f"stmt {bench['stmt']!r} is not a call of m.<function> or <obj>.<method>")
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        raise Skip("stmt uses *args or **kwargs")
    positional = tuple(_eval(arg, namespace) for arg in call.args)
    keywords = {str(k.arg): _eval(k.value, namespace) for k in call.keywords}
    attr = call.func.attr
    if attr != target.rsplit(".", 1)[-1]:
        raise Skip(f"stmt calls {attr!r}, not the target {target!r}")
    if isinstance(call.func.value, ast.Name) and call.func.value.id == "m":
        function = getattr(module, attr)
    else:  # a method: the receiver is built by the stmt or the setup, copied per call
        receiver = _eval(call.func.value, namespace)
        function = getattr(type(receiver), attr)
        if not isinstance(getattr_static(type(receiver), attr), (staticmethod, classmethod)):
            positional = (receiver, *positional)
    return Side(function, [_copier((positional, keywords))])


def plugin_reset(
    modules: list[types.ModuleType], pairs: list[tuple[MakeThunks, MakeThunks]]
) -> tuple[Callable[[], None] | None, int | None, str]:
    """The runner's per-batch state reset and loop cap for these modules, if importable."""
    try:
        from pytest_codeflash.runner.replay import _StateReset
    except ImportError:
        return None, None, "runner state reset not importable: no reset"
    reset = _StateReset(modules)
    with _quiet():
        caches = reset.detects_state(pairs)
    return reset.reset, (1 if caches else None), ("keeps state: 1 call per batch" if caches else "")


def case_scenarios(case_dir: Path, log: Callable[[str], None]) -> list[Scenario]:
    meta = json.loads((case_dir / "case.json").read_text(encoding="utf-8"))
    labels = json.loads((case_dir / "candidates" / "labels.json").read_text(encoding="utf-8"))
    chosen = {
        name: kind
        for name, label in labels.items()
        for kind in [_bench_kind(label)]
        if kind and (case_dir / "candidates" / f"{name}.py").is_file()
    }
    prefix = f"_accuracy_{case_dir.name}"
    orig_module = load_module(f"{prefix}_original", case_dir / meta["module_path"])
    orig = bench_side(orig_module, meta["bench"], meta["target"])
    entries: list[tuple[str, str, types.ModuleType]] = [("A/A self", "aa", orig_module)]
    for name, kind in sorted(chosen.items(), key=lambda item: (item[1], item[0])):
        path = case_dir / "candidates" / f"{name}.py"
        entries.append((name, kind, load_module(f"{prefix}_{name}", path)))
    scenarios = []
    for name, kind, module in entries:
        try:
            cand = (
                orig if module is orig_module else bench_side(module, meta["bench"], meta["target"])
            )
        except Exception as exc:
            log(f"{case_dir.name} {name} skipped: {type(exc).__name__}: {exc}")
            continue
        label = f"A/A {name}" if kind == "aa" and module is not orig_module else name
        scenario = Scenario(case_dir.name, label, kind, 1.0 if kind == "aa" else 0.0, orig, cand)
        modules = [orig_module] if module is orig_module else [orig_module, module]
        scenario.before_batch, scenario.max_loops, note = plugin_reset(modules, scenario.pairs())
        if note:
            log(f"{case_dir.name} {label}: {note}")
        scenarios.append(scenario)
    return scenarios


def _bench_kind(label: dict[str, Any]) -> str:
    category, expect = label.get("category"), label.get("expect")
    if category == "noop":
        return "aa"
    if category == "much_faster" and expect == "accept":
        return "faster"
    if category == "marginal" and expect == "reject_noise":
        return "marginal"
    return ""  # every other candidate stays unimported: some are hostile


def bench_scenarios(
    bench: Path, cases: Sequence[str], log: Callable[[str], None]
) -> tuple[list[Scenario], list[str]]:
    scenarios: list[Scenario] = []
    notes: list[str] = []
    if not bench.is_dir():
        return scenarios, [f"bench {bench} not found: bench targets skipped"]
    for case_dir in sorted(p for p in bench.iterdir() if (p / "case.json").is_file()):
        if cases and not any(c in case_dir.name for c in cases):
            continue
        try:
            scenarios.extend(case_scenarios(case_dir, log))
        except Skip as skip:
            notes.append(f"{case_dir.name} skipped: {skip}")
        except Exception as exc:
            notes.append(f"{case_dir.name} skipped: {type(exc).__name__}: {exc}")
    return scenarios, notes


# -- running ------------------------------------------------------------------------------


@dataclass
class Settings:
    trials: int
    bench_trials: int
    baseline_trials: int
    baseline_bench_trials: int
    baseline_seconds: float
    budget_s: float
    calibrate_s: float
    tune_s: float
    seed: int


def schedule(ours: int, baseline: int) -> list[str]:
    """Spread the baseline trials evenly among ours so drift hits both methods alike."""
    order: list[str] = []
    done = 0
    for index in range(ours):
        order.append("ours")
        while done < baseline and (done + 1) * ours <= (index + 1) * baseline:
            order.append("baseline")
            done += 1
    order.extend(["baseline"] * (baseline - done))
    return order


def run_scenario(scenario: Scenario, settings: Settings, log: Callable[[str], None]) -> None:
    synthetic = scenario.group.startswith("synthetic")
    ours = settings.trials if synthetic else settings.bench_trials
    base = settings.baseline_trials if synthetic else settings.baseline_bench_trials
    for trial, method in enumerate(schedule(ours, base)):
        random.seed(settings.seed * 1_000_003 + trial)
        if method == "ours":
            scenario.ours.append(ours_trial(scenario, settings.budget_s))
        else:
            scenario.baseline.append(baseline_trial(scenario, settings.baseline_seconds))
    log(
        f"{scenario.group} {scenario.name}: true {_ratio_text(scenario)}; "
        f"ours {sum(o.accepted for o in scenario.ours)}/{len(scenario.ours)}, "
        f"baseline {sum(o.accepted for o in scenario.baseline)}/{len(scenario.baseline)}"
    )


# -- printing -----------------------------------------------------------------------------


def _ratio_text(scenario: Scenario) -> str:
    ratios = scenario.true_ratios
    if not ratios:
        return "-"
    mid = statistics.median(ratios)
    return f"{mid:.3f} [{min(ratios):.3f}-{max(ratios):.3f}]"


def _rate(hits: int, total: int) -> str:
    return f"{hits}/{total} = {100.0 * hits / total:.1f} %" if total else "no trials"


def _times(outcomes: Sequence[Outcome]) -> str:
    if not outcomes:
        return "no trials"
    seconds = [o.seconds for o in outcomes]
    return f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s (n={len(seconds)})"


def print_table(title: str, scenarios: Sequence[Scenario], which: str) -> None:
    print(f"\n== {title}")
    header = (
        f"{'group':<22} {'scenario':<26} {'true ratio':<22} {'trials':>6} {'accepted':>8} "
        f"{'rate':>6} {'est.':>7} {'med s':>6} {'max s':>6}  verdicts"
    )
    print(header)
    print("-" * len(header))
    for s in scenarios:
        outcomes: list[Outcome] = getattr(s, which)
        if not outcomes:
            continue
        hits = sum(o.accepted for o in outcomes)
        seconds = [o.seconds for o in outcomes]
        estimate = statistics.median(o.speedup for o in outcomes)
        print(
            f"{s.group:<22} {s.name:<26} {_ratio_text(s):<22} {len(outcomes):>6} {hits:>8} "
            f"{100.0 * hits / len(outcomes):>5.0f}% {estimate:>7.3f} "
            f"{statistics.median(seconds):>6.2f} {max(seconds):>6.2f}  {_verdicts(outcomes)}"
        )


def _verdicts(outcomes: Sequence[Outcome]) -> str:
    ours = outcomes[0].verdict in (FASTER, NOT_FASTER, UNDECIDED)
    names = (FASTER, NOT_FASTER, UNDECIDED) if ours else ("accept", "reject")
    return " ".join(f"{n}={sum(o.verdict == n for o in outcomes)}" for n in names)


def _pick(
    scenarios: Sequence[Scenario], which: str, test: Callable[[Scenario], bool]
) -> list[Outcome]:
    return [o for s in scenarios if test(s) for o in getattr(s, which)]


def print_summary(scenarios: Sequence[Scenario], settings: Settings) -> None:
    rows: list[tuple[str, Callable[[Scenario], bool]]] = [
        ("(a) A/A false positives, goal 0", lambda s: s.kind == "aa"),
        ("    of which synthetic", lambda s: s.kind == "aa" and _syn(s)),
        ("    of which bench", lambda s: s.kind == "aa" and not _syn(s)),
    ]
    for ratio in RATIOS:
        goal = f"{100 * GOALS[ratio]:.0f} %"
        rows.append(
            (
                f"(b) detected, synthetic x{ratio:.2f}, goal >= {goal}",
                functools.partial(lambda s, r: s.kind == "faster" and s.nominal == r, r=ratio),
            )
        )
    rows.append(
        (
            "(b) detected, bench much_faster, goal 100 %",
            lambda s: s.kind == "faster" and not _syn(s),
        )
    )
    rows.append(("    accepted, bench marginal (1-4 %): want 0", lambda s: s.kind == "marginal"))
    print("\n== Summary")
    print(f"{'':<46} {'pytest-codeflash':<34} codeflash-style baseline")
    for label, test in rows:
        cells = []
        for which in ("ours", "baseline"):
            outcomes = _pick(scenarios, which, test)
            cells.append(_rate(sum(o.accepted for o in outcomes), len(outcomes)))
        print(f"{label:<46} {cells[0]:<34} {cells[1]}")
    ours_all = _pick(scenarios, "ours", lambda s: True)
    base_all = _pick(scenarios, "baseline", lambda s: True)
    print(f"{'(c) wall time per decision':<46} {_times(ours_all):<34} {_times(base_all)}")
    print(
        f"\npytest-codeflash: interleave(min_speedup={MIN_SPEEDUP}, budget_s={settings.budget_s}); "
        f"{settings.trials} trials per synthetic cell, {settings.bench_trials} per bench cell."
    )
    print(
        f"baseline (d): sum of minimums over {settings.baseline_seconds:g} s per side, "
        f"accept iff gain > {MIN_SPEEDUP:.0%}; {settings.baseline_trials} trials per synthetic "
        f"cell, {settings.baseline_bench_trials} per bench cell."
    )
    if settings.baseline_seconds != CODEFLASH_SECONDS:
        print(
            f"note: the baseline looped {settings.baseline_seconds:g} s per side, not "
            f"Codeflash's {CODEFLASH_SECONDS:g} s: its figures are for that shorter loop."
        )


def _syn(scenario: Scenario) -> bool:
    return scenario.group.startswith("synthetic")


# -- main ---------------------------------------------------------------------------------


def _load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="the shared bench")
    parser.add_argument("--cases", default="", help="comma-separated substrings of case names")
    parser.add_argument("--quick", action="store_true", help="few trials: a smoke run")
    parser.add_argument("--trials", type=int, help="ours, per synthetic cell (default 30)")
    parser.add_argument("--bench-trials", type=int, help="ours, per bench cell (default 10)")
    parser.add_argument(
        "--baseline-trials", type=int, help="baseline, per synthetic cell (default 10)"
    )
    parser.add_argument(
        "--baseline-bench-trials", type=int, help="baseline, per bench cell (default 4)"
    )
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        help=f"baseline loop per side (default {CODEFLASH_SECONDS:g}, as Codeflash)",
    )
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="interleave budget_s")
    parser.add_argument("--no-synthetic", action="store_true", help="bench targets only")
    parser.add_argument("--no-bench", action="store_true", help="synthetic targets only")
    parser.add_argument(
        "--costs", default="", help="comma-separated synthetic costs to run: 1us,100us,5ms"
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    quick = args.quick

    def pick(value: int | float | None, full: float, smoke: float) -> float:
        return value if value is not None else (smoke if quick else full)

    return Settings(
        trials=int(pick(args.trials, 30, 3)),
        bench_trials=int(pick(args.bench_trials, 10, 2)),
        baseline_trials=int(pick(args.baseline_trials, 10, 1)),
        baseline_bench_trials=int(pick(args.baseline_bench_trials, 4, 1)),
        baseline_seconds=float(pick(args.baseline_seconds, CODEFLASH_SECONDS, 0.5)),
        budget_s=float(args.budget),
        calibrate_s=0.3 if quick else 1.5,
        tune_s=0.2 if quick else 1.0,
        seed=int(args.seed),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = settings_from(args)
    started = time.perf_counter()
    cpu_started = time.process_time()
    load_before = _load()

    def log(message: str) -> None:
        elapsed = time.perf_counter() - started
        print(f"[{elapsed:7.0f} s] {message}", file=sys.stderr, flush=True)

    random.seed(settings.seed)
    scenarios: list[Scenario] = []
    notes: list[str] = []
    if not args.no_synthetic:
        log("tuning synthetic targets")
        costs = [c.strip() for c in args.costs.split(",") if c.strip()]
        scenarios.extend(synthetic_scenarios(settings.seed, settings.tune_s, log, costs))
    if not args.no_bench:
        cases = [c for c in args.cases.split(",") if c]
        found, notes = bench_scenarios(args.bench.resolve(), cases, log)
        scenarios.extend(found)
    for note in notes:
        log(note)
    log(f"measuring true ratios of {len(scenarios)} cells (3 x {settings.calibrate_s:g} s)")
    for scenario in scenarios:
        measure_true_ratio(scenario, settings.calibrate_s, 3)
    for scenario in scenarios:
        run_scenario(scenario, settings, log)

    print(f"Python {sys.version.split()[0]} on {sys.platform}; seed {settings.seed}")
    print(
        "true ratio: median [min-max] of 3 long alternating measurements in thread CPU time "
        "(median of ratios over AB+BA round pairs, thunks included)"
    )
    for note in notes:
        print(f"note: {note}")
    print_table("pytest-codeflash (interleave, as the runner calls it)", scenarios, "ours")
    print_table("codeflash-style baseline (sum of minimums)", scenarios, "baseline")
    print_summary(scenarios, settings)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(
        f"\ntotal wall time {wall:.0f} s; this process ran {100 * cpu / wall:.0f} % of it on a "
        f"CPU; load average {load_before} at start, {_load()} at end, {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
