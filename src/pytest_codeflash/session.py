"""``CodeflashSession``: the state of one run, and the stages in order.

Created in ``pytest_configure`` only when the plugin is active, stored in ``config.stash`` and
registered as a plugin.  During the test run it traces the targets; after it (on the xdist
controller, or the only process) it evaluates their candidates, then reports.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import report as reporting
from .errors import CodeflashError
from .models import Candidate, CandidateResult, FunctionResult, Report, Settings, TargetFunction
from .tracing import Tracer

if TYPE_CHECKING:
    from .candidates.llm import LLMSource  # language-model back-ends (#13)
    from .discovery import Discovery  # discovery (#5)
    from .ranking import Ranking

log = logging.getLogger(__name__)
_WORKER_KEY = "codeflash_trace"
_DISCOVERY_KEY = "codeflash_discovery"  # controller -> workers (#5)


class CodeflashSession:
    """Per-run state: settings, targets, their candidates, the tracer and the results."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.targets: list[TargetFunction] = []
        self.file_candidates: dict[str, list[Candidate]] = {}
        self.results: list[FunctionResult] = []
        self.report: Report | None = None
        self.collection_failed = False
        self._progress_started = False
        self._sources: dict[Path, str] = {}
        self.tracer = Tracer([])
        # -- discovery (#5): set when --codeflash is given without --codeflash-target -------
        self.discovery: Discovery | None = None
        self.ranking: Ranking | None = None
        self.changed_lines: dict[Path, set[int]] | None = None
        self.llm_sources: list[LLMSource] = []  # language-model back-ends (#13)

    # -- set-up (pytest_configure) --------------------------------------------------------
    def setup(self) -> None:
        """Resolve targets and load candidate files; raise ``pytest.UsageError`` on bad input."""
        from .targets import resolve_target

        _check_availability(self.settings)
        roots = _search_paths(self.settings.rootdir)
        try:
            self.targets = [
                resolve_target(spec, self.settings.rootdir, roots) for spec in self.settings.targets
            ]
            if not self.is_worker:
                for target in self.targets:
                    self.source_of(target)  # what apply will compare against at the end
                self._load_candidate_files()
        except CodeflashError as err:
            raise pytest.UsageError(str(err)) from None
        _check_candidate_source(self.settings)
        # -- rule engine (#7): the built-in candidate source, a plugin like any other --------
        if not self.is_worker and "rules" in self.settings.backends:
            from .candidates.rules import RulesSource

            if not self.config.pluginmanager.has_plugin("codeflash-rules"):
                self.config.pluginmanager.register(RulesSource(), "codeflash-rules")
        # -- end rule engine ------------------------------------------------------------------
        # -- language-model back-ends (#13): plugins too, one per wire protocol --------------
        if not self.is_worker and not self.settings.dry_run:
            from .candidates.llm import register_sources

            try:
                self.llm_sources = register_sources(self.config.pluginmanager, self.settings)
            except CodeflashError as err:
                raise pytest.UsageError(str(err)) from None
        self.tracer = Tracer(
            ((t.module, t.qualname) for t in self.targets),
            max_samples=self.settings.max_captured_calls,
        )
        if not self.settings.targets:
            self._setup_discovery()

    # -- discovery (#5) -------------------------------------------------------------------
    def _setup_discovery(self) -> None:
        """Find the eligible functions to trace: here, or on workers from the controller."""
        from . import ranking
        from .discovery import Discovery, discover

        if self.is_worker:
            data = self.config.workerinput.get(_DISCOVERY_KEY)  # type: ignore[attr-defined]
            self.discovery = Discovery.from_json(data) if data else Discovery()
        else:
            if not self.config.pluginmanager.has_plugin("codeflash-ranking"):
                self.config.pluginmanager.register(ranking, "codeflash-ranking")
            try:
                if self.settings.changed_since:
                    from .gitops import changed_lines

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
                )
            except CodeflashError as err:
                raise pytest.UsageError(str(err)) from None
        functions = self.discovery.functions
        self.tracer = Tracer(
            ((f.module, f.qualname) for f in functions),
            files={f.qualified_name: f.file for f in functions},
            max_samples=self.settings.max_captured_calls,
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Hand the discovered functions to an xdist worker before it starts."""
        if self.discovery is not None:
            node.workerinput[_DISCOVERY_KEY] = self.discovery.to_json()

    def _rank(self) -> None:
        """After the run: rank the discovered functions; the chosen ones become the targets."""
        from .ranking import rank

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

    # -- end discovery --------------------------------------------------------------------

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
        self.tracer.start()
        self.tracer.refresh()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.tracer.refresh()
        self.tracer.current_test = item.nodeid
        try:
            return (yield)
        finally:
            self.tracer.current_test = ""

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        data = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
        if data:
            self.tracer.merge(json.loads(data))

    # -- after the test run ---------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.tracer.stop()
        if self.is_worker:
            self.config.workeroutput[_WORKER_KEY] = json.dumps(  # type: ignore[attr-defined]
                self.tracer.export()
            )
            return
        if (
            exitstatus
            in (
                pytest.ExitCode.INTERRUPTED,
                pytest.ExitCode.USAGE_ERROR,
                pytest.ExitCode.INTERNAL_ERROR,
            )
            or self.collection_failed
        ):
            self._progress("collection or the test run failed; no optimization attempted")
            self.report = Report(functions=[])
            return
        if self.discovery is not None:  # discovery (#5)
            self._rank()
        self.run_pipeline()

    def run_pipeline(self) -> None:
        if self.settings.dry_run:
            self.report = Report(functions=[])
            return
        from .runner.sandbox import Sandbox

        sandbox = Sandbox(
            self.settings.rootdir,
            inifile=Path(self.config.inipath) if self.config.inipath else None,
            extra_args=_child_args(self.config),
            memory_limit_mb=self.settings.memory_limit_mb,
            secret_names=(*self.settings.api_key_env, *self.settings.llm_api_key_env),
        )
        optimizations: list[reporting.Optimization] = []
        try:
            for target in self.targets[: self.settings.max_functions]:
                result, optimization = self._optimize(target, sandbox)
                self.results.append(result)
                if optimization is not None:
                    optimizations.append(optimization)
        finally:
            sandbox.close()
        self.report = Report(functions=self.results)
        reporting.write_outputs(self.report, optimizations, self.settings, self._progress)
        self.config.hook.pytest_codeflash_report(report=self.report, settings=self.settings)

    def _optimize(
        self, target: TargetFunction, sandbox: Any
    ) -> tuple[FunctionResult, reporting.Optimization | None]:
        from .evaluate import Evaluation

        trace = self.tracer.traces[target.qualified_name]
        source = self.source_of(target)
        evaluation = Evaluation(
            target,
            source,
            sorted(trace.tests),
            self.settings,
            sandbox,
            self._progress,
            samples=list(trace.samples),
        )
        optimization = None
        try:
            candidates = self._candidates(target, source)

            def combine(results: list[CandidateResult]) -> list[Candidate]:
                combined = self._combine(target, source, results)
                candidates.extend(combined)
                return combined

            result = evaluation.run(candidates, follow_up=combine)
        except CodeflashError as err:
            result = evaluation.error(str(err))
        if result.best_candidate is not None:
            best = next(c for c in candidates if c.id == result.best_candidate)
            patch = reporting.make_patch(result.file, source, best.module_source)
            result = result.model_copy(update={"patch": patch})
            optimization = reporting.Optimization(
                target, result, source, best.module_source, best.other_files
            )
        if self.llm_sources:  # language-model back-ends (#13): what they spent on it
            from .candidates.llm import usage_of

            result = result.model_copy(update={"llm": usage_of(self.llm_sources, target)})
        self.config.hook.pytest_codeflash_function_done(result=result, settings=self.settings)
        return result, optimization

    def _combine(
        self, target: TargetFunction, source: str, results: list[CandidateResult]
    ) -> list[Candidate]:
        """The accepted rules, applied together, as one more candidate (or none)."""
        accepted = sorted(
            (r for r in results if r.verdict == "accepted" and r.source.startswith("rules:")),
            key=lambda r: -(r.speedup or 0.0),
        )
        if len(accepted) < 2:
            return []
        from .candidates.rules import compose

        combined = compose(target, source, [r.id for r in accepted])
        if combined is None:
            return []
        self._progress(f"{target.qualified_name}: combining {len(accepted)} accepted rules")
        return [combined]

    def _candidates(self, target: TargetFunction, source: str) -> list[Candidate]:
        found = list(self.file_candidates.get(target.qualified_name, []))
        for batch in self.config.hook.pytest_codeflash_generate_candidates(
            target=target, original_source=source, settings=self.settings
        ):
            found.extend(batch or [])
        return found

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.is_worker:
            return
        reporting.render_summary(terminalreporter, self, self.settings)

    def _progress(self, message: str) -> None:
        if self.settings.verbosity < 0:
            return
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            return
        if not self._progress_started and self.config.pluginmanager.has_plugin("dsession"):
            # xdist's progress line does not end with a newline the reporter knows about.
            terminal.write("\n")
        self._progress_started = True
        terminal.write_line(f"codeflash: {message}")


def _check_availability(settings: Settings) -> None:
    if settings.pr:
        raise pytest.UsageError(
            "--codeflash-pr is not available in this version. Use the patch written under "
            ".codeflash/patches/ or --codeflash-apply instead."
        )
    if settings.targets and settings.changed_since:  # discovery (#5)
        raise pytest.UsageError(
            f"--codeflash-changed-since={settings.changed_since} filters the functions that "
            "--codeflash discovers, so it cannot be combined with --codeflash-target. Drop "
            "the targets to optimize what changed, or drop --codeflash-changed-since."
        )


def _check_candidate_source(settings: Settings) -> None:
    # Every back-end but "none" proposes rewrites (#7, #13); "none" has only candidate files.
    if settings.backends == ("none",) and not settings.candidates and not settings.dry_run:
        raise pytest.UsageError(
            f"{_what(settings)} has no candidate source: the "
            f"{settings.backend!r} backend proposes no rewrites. Give your own rewrite with "
            "--codeflash-candidate=FILE, or use --codeflash-backend=rules."
        )


def _what(settings: Settings) -> str:
    """How the user asked for optimization, for messages (#5)."""
    return f"--codeflash-target={settings.targets[0]}" if settings.targets else "--codeflash"


def _search_paths(rootdir: Path) -> list[Path]:
    """Import roots for target specs: sys.path entries inside the project, root and src/."""
    roots: list[Path] = []
    for entry in sys.path:
        try:
            path = Path(entry or ".").resolve()
        except OSError:
            continue
        if path == rootdir or rootdir in path.parents:
            roots.append(path)
    for extra in (rootdir / "src", rootdir):
        if extra.is_dir() and extra not in roots:
            roots.append(extra)
    return roots


def _child_args(config: pytest.Config) -> list[str]:
    """Options that keep the user's addopts from distributing or covering the child run."""
    args = []
    plugins = config.pluginmanager
    if plugins.hasplugin("xdist"):
        args += ["-p", "no:xdist"] if not _addopts_mention(config, "-n") else ["-n", "0"]
    if plugins.hasplugin("pytest_cov") and _addopts_mention(config, "--cov"):
        args.append("--no-cov")
    if plugins.hasplugin("randomly"):
        args += ["-p", "no:randomly"]
    return args


def _addopts_mention(config: pytest.Config, flag: str) -> bool:
    addopts = config.getini("addopts")
    return any(str(a).startswith(flag) for a in addopts)
