"""The pytest plugin that runs inside the isolated runner process.

The parent starts ``python -m pytest -p pytest_codeflash.runner.child
--codeflash-runner-spec=SPEC <tests>`` in a sandbox copy of the project.  This plugin serves
the candidate's source for the target module from memory, swaps the target for the
differential wrapper, runs the tests, replays captured inputs, times original against
candidate, and writes everything to the result file named in the spec.  Standard library and
the user's code only: no pydantic, no libcst.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import pickle
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import protocol
from .calls import read_pickle
from .coverage_probe import CoverageProbe
from .determinism import REAL_MONOTONIC, Determinism
from .differential import Differential
from .guard import Guard
from .overlay import OverlayFinder, load_shadow, share_sentinels
from .placement import find_function, plain
from .protocol import (
    GENERATED_DONE,
    GENERATED_FILE,
    INPUTS_FILE,
    WAITING_PHASE,
    CoverageSummary,
    RunnerResult,
    RunnerSpec,
    ToolError,
    Violation,
    tool_error,
)
from .reset import StateReset
from .tally import Side
from .test_ids import disagreeing, select_tests


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--codeflash-runner-spec", default=None, help="(internal) runner spec")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    path = early_config.known_args_namespace.codeflash_runner_spec
    if path:
        spec = protocol.load(RunnerSpec, json.loads(Path(path).read_text(encoding="utf-8")))
        runner = ChildRunner(spec)
        early_config.pluginmanager.register(runner, "codeflash-child-runner")
        runner.start(early_config)


class ChildRunner:
    """State of one evaluation inside the runner process."""

    def __init__(self, spec: RunnerSpec) -> None:
        self.spec = spec
        self.module_name = spec.module
        self.qualname = spec.qualname
        self.determinism = Determinism(seed=spec.seed)
        self.guard = Guard(
            allowed=tuple(spec.allowed_roots),
            secret_names=frozenset(spec.secret_names),
        )
        self.differential: Differential | None = None
        self.tests: dict[str, str] = {}
        self.first_failure = ""  # the first test that failed, and how
        self.errors: list[str] = []
        self.config: pytest.Config | None = None
        # (phase, when it began): how this run's time was spent, reported as ``phases_s``
        self._phases: list[tuple[str, float]] = [("start", time.perf_counter())]
        self.probe = CoverageProbe(
            Path(spec.output_dir) / "coverage",
            self.module_name,
            spec.original_source,
            spec.candidate_source,
        )
        self.finder = OverlayFinder(
            {self.module_name: spec.candidate_source},
            self._loaded,
            code_filenames={self.module_name: str(self.probe.candidate_file)},
        )

    def start(self, config: pytest.Config) -> None:
        self.config = config
        config.pluginmanager.add_hookspecs(_hookspec())
        self.guard.install()
        self.probe.start()
        self.finder.install()
        self._write(RunnerResult(phase="started"))
        self._phase("collection and tests")

    # -- module set-up --------------------------------------------------------------------
    def _loaded(self, module: types.ModuleType) -> None:
        """The candidate module was just executed: set up the original twin and the wrapper."""
        try:
            shadow = load_shadow(
                self.module_name,
                self.spec.original_source,
                module,
                str(self.probe.original_file),
            )
        except Exception as err:
            self.errors.append(f"the original module failed to load: {err!r}")
            return
        share_sentinels(shadow, module)
        for each in (module, shadow):
            self.determinism.prepare_module(each)
        owner, name, raw = find_function(module, self.qualname)
        _, _, original_raw = find_function(shadow, self.qualname)
        has_self = self.spec.is_method and not isinstance(raw, staticmethod)
        self.differential = Differential(
            module_name=self.module_name,
            original=Side(plain(original_raw), shadow),
            candidate=Side(plain(raw), module),
            determinism=self.determinism,
            guard=self.guard,
            is_method=has_self,
            is_generator=self.spec.is_generator,
            is_async=self.spec.is_async,
            rel_tol=self.spec.rel_tol,
            hook=self._compare_hook,
            max_compared=self.spec.max_compared,
            max_inputs=self.spec.max_inputs,
        )
        spec = self.spec  # the baseline: the "candidate" is the original itself
        baseline = spec.mode == "baseline" and spec.candidate_source == spec.original_source
        self.differential.self_check = baseline
        sampler = self.differential.tally.sampler
        sampler.first, sampler.one_in = self.spec.compare_first, self.spec.compare_one_in
        sampler.budget_s = self.spec.compare_budget_s
        self.differential.install(owner, name, raw)
        try:  # before any test runs: a cache the candidate keeps is empty here
            self.differential.cold_state = StateReset([shadow, module])
        except Exception:
            self.differential.cold_state = None

    def _compare_hook(self, original: object, candidate: object) -> bool | None:
        if self.config is None:
            return None
        result: bool | None = self.config.hook.pytest_codeflash_compare(
            original=original, candidate=candidate
        )
        return result

    # -- test run -------------------------------------------------------------------------
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if self.spec.tests:
            deselected = select_tests(items, self.spec.tests)
            if deselected:
                config.hook.pytest_deselected(items=deselected)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # Every conftest is loaded by now: without an implementation of the compare hook,
        # the comparer need not ask it at every node of every value.
        hook = session.config.hook.pytest_codeflash_compare
        if self.differential is not None and not hook.get_hookimpls():
            self.differential.hook = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._write_progress(f"running {item.nodeid}")
        if self.differential is not None:
            self.differential.current_test = item.nodeid

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        previous = self.tests.get(report.nodeid)
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.skipped:
            outcome = "skipped"
        else:
            outcome = "passed" if report.when == "call" else (previous or "passed")
        if previous in ("failed", "error"):
            return
        self.tests[report.nodeid] = outcome
        if outcome in ("failed", "error") and not self.first_failure:
            crash = getattr(report.longrepr, "reprcrash", None)
            how = crash.message if crash is not None else str(report.longrepr).strip()
            lines = how.strip().splitlines() or [""]
            self.first_failure = f"{report.nodeid} {outcome}: {lines[0][:300]}"

    def _phase(self, name: str) -> None:
        self._phases.append((name, time.perf_counter()))

    def _phase_times(self) -> dict[str, float]:
        marks = [*self._phases, ("", time.perf_counter())]
        spent: dict[str, float] = {}
        for (name, began), (_, ended) in itertools.pairwise(marks):
            spent[name] = round(spent.get(name, 0.0) + ended - began, 4)
        return spent

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._phase("result")
        result = self._result()
        self._write(result)
        if self.differential is None:
            return
        # From here on, inputs are replayed outside the tests: the same clock in every run.
        self.differential.replay_clock = (self.spec.clock_epoch, 1000.0)
        if self.spec.mode == "baseline":
            # The outermost calls captured here; failing those, the calls the user's own run
            # sampled (which include recursive inner calls, so they are only a fallback).
            captured = self.differential.tally.inputs
            if not captured:
                captured = read_pickle(self.spec.seed_inputs_path) or []
            result.inputs_captured = len(captured)
            _write_atomic(Path(self.spec.output_dir) / INPUTS_FILE, pickle.dumps(captured))
            with self._guarded(result, "coverage"):
                self._finish_coverage(result)
            self._phase("generated inputs")
            try:
                self._generate(captured, result)
            finally:  # candidates started early wait for this
                _write_atomic(Path(self.spec.output_dir) / GENERATED_DONE, b"done")
            if self.spec.profile_budget_s > 0 or self.spec.examples:
                self._phase("line profile")
                self._describe(captured, result)
            self._finish(result)
            return
        if not self._tests_agree():
            self._finish(result)
            return
        self._verify_and_time(result)
        self._finish(result)

    def _finish(self, result: RunnerResult) -> None:
        """Write the final result: every comparison, what the guard saw, how time went."""
        assert self.differential is not None
        result.calls = self.differential.tally.summary()
        result.tool_errors = [*self.differential.tally.tool_errors, *result.tool_errors]
        self._guard_report(result)
        result.phases_s = self._phase_times()
        self._write(result)

    @contextlib.contextmanager
    def _guarded(self, result: RunnerResult, phase: str) -> Iterator[None]:
        """Run a phase of our own; an exception in it is the tool's failure, reported as such."""
        self._phase(phase)
        try:
            yield
        except Exception as err:
            result.tool_errors.append(tool_error(phase, err))

    def _generate(self, captured: list[bytes], result: RunnerResult) -> None:
        """Draw the generated inputs once, checked with the original against itself.

        Inputs too slow for the original are left out; every candidate's run replays the
        rest.  If generation fails, candidates generate their own (the older, slower way).
        """
        from .generate import generate_per_spec
        from .protocol import GeneratedSummary

        if self.differential is None or not self.spec.generation.examples:
            return
        try:
            drawn = generate_per_spec(self.differential, captured, self.spec, keep_outcomes=True)
        except Exception as err:
            result.generated = GeneratedSummary(error=repr(err))
            result.tool_errors.append(tool_error("generated inputs", err))
            return
        _write_atomic(Path(self.spec.output_dir) / GENERATED_FILE, pickle.dumps(drawn))
        result.generated = drawn.summary

    def _describe(self, captured: list[bytes], result: RunnerResult) -> None:
        """The original's per-line profile and example calls, for the candidate sources."""
        from .describe import describe_original
        from .protocol import LineProfileSummary

        assert self.differential is not None
        try:
            result.line_profile, result.examples = describe_original(
                self.differential,
                captured,
                qualname=self.qualname,
                profile_budget_s=self.spec.profile_budget_s,
                examples=self.spec.examples,
            )
        except Exception as err:
            result.line_profile = LineProfileSummary(complete=False, error=repr(err))

    def _verify_and_time(self, result: RunnerResult) -> None:
        """Replay the captured inputs, the generated ones, then time; stop at a difference
        or at a failure of our own."""
        from .measure import time_candidate
        from .replay import Facts, verify_generated, verify_replayed

        differential = self.differential
        assert differential is not None
        saved = read_pickle(self.spec.inputs_path) or []
        usable: list[bytes] = []
        facts: Facts = {}
        with self._guarded(result, "replay"):
            result.replay, usable, facts = verify_replayed(
                differential, saved, self._write_progress, self.spec.compare_budget_s
            )
        if not differential.tally.differences and not result.tool_errors:
            if not self._wait_for_baseline():
                result.tool_errors.append(ABORTED)
                return
            with self._guarded(result, "generated inputs"):
                result.generated, usable = verify_generated(
                    differential, usable, self.spec, self._write_progress
                )
        with self._guarded(result, "coverage"):
            self._finish_coverage(result)
        unrun = result.coverage.changed_unrun if result.coverage else []
        if unrun and usable and not differential.tally.differences and not result.tool_errors:
            unrun = self._reach(result, usable)
        if differential.tally.differences or unrun or not usable or result.tool_errors:
            return
        if differential.tally.tool_errors:
            return
        with self._timing_turn(), self._guarded(result, "timing"):
            self._write_progress("timing")
            result.timing = time_candidate(differential, usable, self.spec, facts)

    @contextlib.contextmanager
    def _timing_turn(self) -> Iterator[None]:
        """One candidate of the function times at a time, when its candidates run side by
        side (a lock on the baseline's file of captured calls), and only after every check:
        a timing never shares the CPUs with another of the same function.  The wait counts
        against neither the timing budget nor this run's own deadline."""
        try:
            import fcntl

            fd = os.open(self.spec.inputs_path or "", os.O_RDONLY)
        except (ImportError, OSError):  # no lock here (Windows), or a run of its own
            yield
            return
        try:
            began = REAL_MONOTONIC()
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._extend(REAL_MONOTONIC() - began)
            yield
        finally:
            os.close(fd)  # the lock goes with it

    def _extend(self, waited: float) -> None:
        """Time spent waiting for another run counts against neither budget nor deadline."""
        if self.spec.began_monotonic is not None:
            self.spec.began_monotonic += waited
        if self.spec.deadline_monotonic is not None:
            self.spec.deadline_monotonic += waited

    def _wait_for_baseline(self) -> bool:
        """For a candidate started while the baseline still generated inputs: wait until its
        generation is over (the wait counts neither against the timing budget nor against the
        time limit: the parent grants it as well).  If the baseline ended without drawing
        them, this run draws its own, as it would have; False if it was stopped at its
        limit (it can judge no candidate: this run stops too)."""
        marker = self.spec.generated_done_path
        if not marker:
            return True
        self._phase(WAITING_PHASE)
        self._write_progress(WAITING_PHASE)
        began = REAL_MONOTONIC()
        while not os.path.exists(marker):
            time.sleep(0.01)
        self._extend(REAL_MONOTONIC() - began)  # the parent grants it too
        try:
            return Path(marker).read_bytes() != b"aborted"
        except OSError:
            return True

    def _reach(self, result: RunnerResult, usable: list[bytes]) -> list[int]:
        """Search for inputs that run the changed lines nothing ran (see .reach)."""
        from .reach import reach_per_spec

        assert self.differential is not None
        assert result.coverage is not None
        self._write_progress("reaching changed lines")
        with self._guarded(result, "reaching changed lines"):
            file = str(self.probe.candidate_file)
            reach_per_spec(self.differential, result.coverage, usable, self.spec, file)
        return result.coverage.changed_unrun

    def _finish_coverage(self, result: RunnerResult) -> CoverageSummary:
        self.probe.stop()
        result.coverage = self.probe.summary(self.qualname)
        return result.coverage

    def _tests_agree(self) -> bool:
        return not disagreeing(self.spec.baseline_tests, self.tests)

    def _result(self) -> RunnerResult:
        differential = self.differential
        result = RunnerResult(
            phase="tests",
            tests=dict(self.tests),
            first_failure=self.first_failure,
            not_passing=dict(disagreeing(self.spec.baseline_tests, self.tests)),
            overlay_used=self.module_name in self.finder.loaded,
            wrapper_installed=differential is not None,
            errors=self.errors,
            calls=differential.tally.summary() if differential else None,
            tests_compared=differential.tally.compared if differential else 0,
        )
        self._guard_report(result)
        return result

    def _guard_report(self, result: RunnerResult) -> None:
        result.violations = [Violation(**v) for v in self.guard.violations[:20]]
        result.secret_reads = {k: sorted(v) for k, v in self.guard.secret_reads.items()}

    def _write_progress(self, what: str) -> None:
        if self.spec.progress_path:
            _write_atomic(Path(self.spec.progress_path), what.encode("utf-8", "replace"))

    def _write(self, result: RunnerResult) -> None:
        _write_atomic(Path(self.spec.result_path), protocol.dump(result).encode())


ABORTED = ToolError(
    phase="generated inputs",
    error="the baseline run was stopped at its limit before it drew the generated inputs",
    where="the baseline run",
)
"""Why a candidate started early stops: its verdict is dropped with the baseline's."""


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _hookspec() -> types.ModuleType:
    from .. import hookspec

    return hookspec


# The parent sets no environment variables for us; make sure a stray import of the main plugin
# in this process stays inert.
sys.dont_write_bytecode = True
