"""``CodeflashSession``: the state of one run, and the stages in order.

Created in ``pytest_configure`` only when the plugin is active, stored in ``config.stash`` and
registered as a plugin.  During the test run it traces the targets; after it (on the xdist
controller, or the only process) it ranks them, evaluates their candidates, delivers the
winners and builds the run's :class:`~.models.Summary`, which the renderers show.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .discover import tracing_cache
from .discover.tracing import Tracer
from .errors import CodeflashError
from .records import PlannedTarget, Settings, Summary, TargetFunction

if TYPE_CHECKING:
    from .candidates.llm import LLMRounds, LLMSource
    from .deliver.apply import Optimization
    from .discover.discovery import Discovery
    from .discover.ranking import Ranking
    from .evaluate.cache import VerdictCache
    from .models import Candidate, FunctionResult
    from .runner.sandbox import Sandbox

log = logging.getLogger(__name__)
_WORKER_KEY = "codeflash_trace"
_DISCOVERY_KEY = "codeflash_discovery"  # controller -> workers


class CodeflashSession:
    """Per-run state: settings, targets, their candidates, the tracer and the results."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.targets: list[TargetFunction] = []
        self.file_candidates: dict[str, list[Candidate]] = {}
        self.results: list[FunctionResult] = []
        self.summary = Summary(state="not_run")
        self.collection_failed = False
        self.test_s: dict[str, float] = {}  # each test's plain cost: bounds the baseline
        self._progress_started = False
        self._sources: dict[Path, str] = {}
        self.tracer = Tracer([])
        # Set when --codeflash is given without --codeflash-target.
        self.discovery: Discovery | None = None
        self.ranking: Ranking | None = None
        self.changed_lines: dict[Path, set[int]] | None = None
        self.llm_sources: list[LLMSource] = []  # the language-model back-ends in use
        self._warm: Sandbox | None = None  # started while the tests run (see _warm_up)
        self._lock = threading.Lock()
        # What the last run's tracing learned (before Python 3.12).
        self._previous_tracing: tracing_cache.Previous | None = None

    # -- set-up (pytest_configure) --------------------------------------------------------
    def setup(self) -> None:
        """Resolve targets and load candidate files; raise ``pytest.UsageError`` on bad input."""
        try:
            if self.settings.targets:  # (the module and its imports are not needed otherwise)
                from .discover.targets import resolve_target
                from .source.paths import project_import_roots

                roots = project_import_roots(self.settings.rootdir)
                self.targets = [
                    resolve_target(spec, self.settings.rootdir, roots)
                    for spec in self.settings.targets
                ]
            if not self.is_worker:
                for spec, target in zip(self.settings.targets, self.targets, strict=True):
                    from .discover.eligibility import refuse_excluded  # libcst: targets only

                    self.source_of(target)  # what apply will compare against at the end
                    refuse_excluded(spec, target, self.source_of(target), self.settings)
                self._load_candidate_files()
        except CodeflashError as err:
            raise pytest.UsageError(str(err)) from None
        if self.settings.pr and not self.is_worker:  # refuse before the tests run, not after
            from .deliver.pr import preflight

            try:
                preflight(self.settings)
            except CodeflashError as err:
                raise pytest.UsageError(str(err)) from None
        # A dry run asks no source for candidates: it neither imports nor registers them.
        if not self.is_worker and not self.settings.dry_run and "rules" in self.settings.backends:
            from .candidates.rules import RulesSource

            if not self.config.pluginmanager.has_plugin("codeflash-rules"):
                self.config.pluginmanager.register(RulesSource(), "codeflash-rules")
        # The language-model back-ends are plugins too, one per wire protocol.
        if not self.is_worker and not self.settings.dry_run:
            from .candidates.llm import register_sources

            try:
                self.llm_sources = register_sources(self.config.pluginmanager, self.settings)
            except CodeflashError as err:
                raise pytest.UsageError(str(err)) from None
        if not self.settings.targets:
            self._setup_discovery()
            return
        self.tracer = Tracer(
            ((t.module, t.qualname) for t in self.targets),
            max_samples=self.settings.max_captured_calls,
            windows=True,
        )

    def _setup_discovery(self) -> None:
        """Find the eligible functions to trace: here, or on workers from the controller."""
        from .discover import ranking
        from .discover.discovery import Discovery, discover

        if self.is_worker:
            data = self.config.workerinput.get(_DISCOVERY_KEY)  # type: ignore[attr-defined]
            self.discovery = Discovery.from_json(data) if data else Discovery()
        else:
            if not self.config.pluginmanager.has_plugin("codeflash-ranking"):
                self.config.pluginmanager.register(ranking, "codeflash-ranking")
            try:
                if self.settings.changed_since:
                    from .source.gitops import changed_lines

                    self.changed_lines = changed_lines(
                        self.settings.rootdir, self.settings.changed_since
                    )
                self.discovery = discover(
                    self.settings.rootdir,
                    module_root=self.settings.module_root,
                    ignore_paths=self.settings.ignore_paths,
                    test_args=self.config.args,
                    invocation_dir=Path(self.config.invocation_params.dir),
                    cache=getattr(self.config, "cache", None),
                    tests_root=self.settings.tests_root,
                    exclude=self.settings.exclude,
                )
            except CodeflashError as err:
                raise pytest.UsageError(str(err)) from None
        functions = self.discovery.functions
        files = {f.qualified_name: f.file for f in functions}
        self.tracer = Tracer(
            ((f.module, f.qualname) for f in functions),
            files=files,
            max_samples=self.settings.max_captured_calls,
            windows=True,
            duty=True,
        )
        if not self.settings.no_cache:
            self._previous_tracing = tracing_cache.resume(self.config, self.tracer, files)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Hand the discovered functions to an xdist worker before it starts."""
        if self.discovery is not None:
            node.workerinput[_DISCOVERY_KEY] = self.discovery.to_json()

    def _rank(self) -> None:
        """After the run: rank the discovered functions; the chosen ones become the targets."""
        from .discover.ranking import rank

        assert self.discovery is not None
        self.ranking = rank(
            self.config,
            self.discovery.functions,
            self.tracer.traces,
            self.settings,
            self.changed_lines,
        )
        self.targets = [f.target for f in self.ranking.selected]
        if not self.settings.dry_run:
            self._progress(
                f"{len(self.discovery.functions)} function(s) discovered, "
                f"{len(self.targets)} chosen to optimize"
            )

    def _load_candidate_files(self) -> None:
        paths = self.settings.candidates
        if not paths:
            return
        from .candidates.files import load_candidate_file

        if len(self.targets) != 1:
            count = "no --codeflash-target" if not self.targets else f"{len(self.targets)} targets"
            raise pytest.UsageError(
                f"--codeflash-candidate={paths[0]} needs exactly one --codeflash-target, "
                f"got {count}. Name the function the candidate replaces, e.g. "
                "--codeflash-target=pkg.mod.func."
            )
        target = self.targets[0]
        source = self.source_of(target)
        base = Path(self.config.invocation_params.dir)
        self.file_candidates[target.qualified_name] = [
            load_candidate_file(path if path.is_absolute() else base / path, target, source)
            for path in paths
        ]

    def source_of(self, target: TargetFunction) -> str:
        """The target module's source as first read in this run (line endings kept).

        Read once, so evaluation and apply both work from what the file held when the run
        looked at it first, and apply can refuse a file that changed since.
        """
        source = self._sources.get(target.file)
        if source is None:
            source = target.file.read_bytes().decode("utf-8", "surrogateescape")
            self._sources[target.file] = source
        return source

    # -- during the test run --------------------------------------------------------------
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_failed = True

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._warm_up()
        self.tracer.start()
        self.tracer.refresh()

    def _warm_up(self) -> None:
        """Start the first runner's fork server now, on a spare CPU, so that it has imported
        pytest and the plugins by the time the tests are done (not on one CPU, where it
        would slow the tests that are being profiled, nor with ``--codeflash-workers=1``,
        which asks for one process at a time: the server is a child of pytest that the
        tests could see)."""
        if self.is_worker or self.settings.dry_run or self.collection_failed:
            return
        from .evaluate.scheduler import default_workers

        if self.settings.workers == 1 or default_workers(self.settings.memory_limit_mb) < 2:
            return
        # One server: the others start when the evaluation does, beside the baseline.
        self._warm = self._sandbox(1)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        data = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
        if data:
            self.tracer.merge(json.loads(data))

    # -- after the test run ---------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        try:
            self._finish(exitstatus)
        finally:
            if self._warm is not None:  # not taken by the evaluation
                self._warm.close()
                self._warm = None

    def _finish(self, exitstatus: int) -> None:
        self.tracer.stop()
        if self.is_worker:
            self.config.workeroutput[_WORKER_KEY] = json.dumps(  # type: ignore[attr-defined]
                self.tracer.export()
            )
            return
        failed = exitstatus in (
            pytest.ExitCode.INTERRUPTED,
            pytest.ExitCode.USAGE_ERROR,
            pytest.ExitCode.INTERNAL_ERROR,
        )
        if failed or self.collection_failed:
            self._progress("collection or the test run failed; no optimization attempted")
            self.summary = Summary(state="test_run_failed")
            return
        if self.discovery is not None:
            tracing_cache.record(self.config, self.tracer, self.test_s, self._previous_tracing)
            self._rank()
        self.run_pipeline()

    def run_pipeline(self) -> None:
        """Evaluate every chosen target, deliver the winners, and build the summary."""
        if self.settings.dry_run:
            self.summary = self._summary("dry_run")
            return
        from .deliver.apply import deliver, with_delivery
        from .deliver.terminal import delivery_lines
        from .discover.shard import take_shard
        from .evaluate.scheduler import run_parallel

        chosen = take_shard(self.targets[: self.settings.max_functions], self.settings.shard)
        if self.settings.shard is not None:
            k, n = self.settings.shard
            self._progress(f"shard {k}/{n}: {len(chosen)} of the chosen function(s)")
        workers, slots, note = self._slots(len(chosen))
        if note:
            self._progress(note)
        optimizations: list[Optimization] = []
        cache = self._verdict_cache()
        started = time.monotonic()

        def optimize(
            item: tuple[int, TargetFunction], sandbox: Sandbox, say: Callable[[str], None]
        ) -> tuple[FunctionResult, Optimization | None]:
            from .evaluate.progress import FunctionProgress

            index, target = item
            progress = FunctionProgress(say, target.qualified_name, index, len(chosen), started)
            with progress:
                result, optimization = self._optimize(target, sandbox, progress, cache)
                progress.done(result)
            return result, optimization

        evaluated = run_parallel(
            optimize,
            list(enumerate(chosen, 1)),
            workers=workers,
            make_sandbox=lambda: self._sandbox(slots),
            progress=self._progress,
        )
        for result, optimization in evaluated:
            self.config.hook.pytest_codeflash_function_done(result=result, settings=self.settings)
            self.results.append(result)
            if optimization is not None:
                optimizations.append(optimization)
        if self.settings.pr:  # from HEAD, before --codeflash-apply changes the working tree
            from .deliver.pr import with_pull_requests

            self.results = with_pull_requests(self.results, self.settings, self._progress)
        deliveries = {d.qualified_name: d for d in deliver(optimizations, self.settings)}
        self.results = [with_delivery(r, deliveries.get(r.qualified_name)) for r in self.results]
        for delivery in deliveries.values():
            for line in delivery_lines(delivery):
                self._progress(line)
        from .deliver.outputs import write_outputs

        self.summary = write_outputs(self._summary("finished"), self.settings)
        from .models import Report

        report = Report(functions=self.summary.functions)
        self.config.hook.pytest_codeflash_report(report=report, settings=self.settings)

    def _slots(self, functions: int) -> tuple[int, int, str]:
        """How many functions are evaluated at once, how many runs each may have, and a
        note if the memory limit cut down the workers asked for."""
        from .evaluate.scheduler import slots_per_function, worker_count

        asked, memory = self.settings.workers, self.settings.memory_limit_mb
        workers, note = worker_count(asked, memory, functions)
        return workers, slots_per_function(asked, memory, workers), note

    def _sandbox(self, slots: int) -> Sandbox:
        """A sandbox for one worker, running ``slots`` children at once: the one warmed up
        during the tests first.  Its fork servers start now, without waiting: one per slot,
        and one more for the baseline when candidates may start beside it (see
        ``evaluate.early``)."""
        from .runner.sandbox import Sandbox

        with self._lock:  # worker threads ask at once
            sandbox, self._warm = self._warm, None
        if sandbox is None:
            sandbox = Sandbox.for_config(
                self.config,
                self.settings.rootdir,
                memory_limit_mb=self.settings.memory_limit_mb,
                secret_names=(*self.settings.api_key_env, *self.settings.llm_api_key_env),
            )
        sandbox.slots = slots
        sandbox.warm(slots + 1 if slots > 1 else 1)
        return sandbox

    def _verdict_cache(self) -> VerdictCache | None:
        """The verdicts of earlier runs, in pytest's cache (none with -p no:cacheprovider)."""
        store = getattr(self.config, "cache", None)
        if store is None:
            return None
        from .evaluate.cache import VerdictCache

        inifile = [Path(self.config.inipath)] if self.config.inipath else []
        return VerdictCache(store, self.settings, extra_files=inifile)

    def _summary(self, state: str) -> Summary:
        """The summary of this run so far, for the renderers."""
        discovery = None
        if self.ranking is not None and self.discovery is not None:
            from .discover.ranking import summarise

            tracer = self.tracer
            reused = (tracer.inputs_reused, tracer.tests_exact, len(self.test_s))
            discovery = summarise(self.ranking, self.discovery, self.settings, reused=reused)
        planned = [
            PlannedTarget(
                qualified_name=t.qualified_name,
                calls=self.tracer.traces[t.qualified_name].calls,
                tests=len(self.tracer.traces[t.qualified_name].tests),
                candidates=len(self.file_candidates.get(t.qualified_name, [])),
            )
            for t in self.targets
            if state == "dry_run" and self.discovery is None
        ]
        return Summary(
            state=state,  # type: ignore[arg-type]
            functions=list(self.results),
            discovery=discovery,
            planned=planned,
            shard=self.settings.shard,
        )

    def _optimize(
        self,
        target: TargetFunction,
        sandbox: Sandbox,
        progress: Callable[[str], None],
        cache: VerdictCache | None = None,
    ) -> tuple[FunctionResult, Optimization | None]:
        """Evaluate one target (in a worker thread with --codeflash-workers)."""
        from .deliver.apply import Optimization
        from .deliver.patches import make_patch
        from .evaluate.evaluation import Evaluation
        from .evaluate.rounds import Rounds
        from .evaluate.sources import CandidateSource, Given, HookSource

        trace = self.tracer.traces[target.qualified_name]
        source = self.source_of(target)
        evaluation = Evaluation(
            target,
            source,
            sorted(trace.tests),
            self.settings,
            sandbox,
            progress,
            samples=list(trace.samples),
            plain=(sum(self.test_s.get(t, 0.0) for t in trace.tests), trace.calls),
            cache=cache.for_function(target, source, trace.tests) if cache else None,
        )
        sources: list[CandidateSource] = [
            Given(self.file_candidates.get(target.qualified_name, [])),
            HookSource(self.config.hook, self.settings),
            *self._llm_rounds(),
        ]
        optimization = None
        try:
            result = Rounds(evaluation, sources).run()
        except CodeflashError as err:
            result = evaluation.error(str(err))
        if result.best_candidate is not None:
            best = evaluation.candidate(result.best_candidate)
            patch = make_patch(result.file, source, best.module_source)
            result = result.model_copy(update={"patch": patch})
            optimization = Optimization(
                target, result, source, best.module_source, best.other_files
            )
        if self.llm_sources:  # what the language-model back-ends spent on it
            from .candidates.llm import usage_of

            result = result.model_copy(update={"llm": usage_of(self.llm_sources, target)})
        return result, optimization

    def _llm_rounds(self) -> list[LLMRounds]:
        """The language-model sources as sources of the evaluation loop."""
        if not self.llm_sources:
            return []
        from .candidates.llm import LLMRounds

        return [LLMRounds(source) for source in self.llm_sources]

    def pytest_report_header(self) -> list[str]:
        from .options import unused_key_lines

        return unused_key_lines(self.settings)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.is_worker:
            return
        from .deliver.terminal import render_summary

        render_summary(
            terminalreporter,
            self.summary,
            verbosity=self.settings.verbosity,
            rootdir=self.settings.rootdir,
        )

    def _progress(self, message: str) -> None:
        """A progress line, whole: candidates' threads and heartbeats write at once."""
        if self.settings.verbosity < 0:
            return
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            return
        with self._lock:
            if not self._progress_started and self.config.pluginmanager.has_plugin("dsession"):
                # xdist's progress line does not end with a newline the reporter knows about.
                terminal.write("\n")
            self._progress_started = True
            terminal.write_line(f"codeflash: {message}")
