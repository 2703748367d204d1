"""The ``codeflash-service`` back-end: the Codeflash AI service, for users with an account.

It speaks the service's wire protocol as its own client does (JSON ``POST`` to
``<service-url>/ai/<endpoint>``, ``Authorization: Bearer $CODEFLASH_API_KEY``):

=========================  ==============================  ===============================
endpoint                   used by                         reply
=========================  ==============================  ===============================
``optimize``               :meth:`optimize`                ``{"optimizations": [cand]}``
``optimize-line-profiler`` :meth:`optimize` with a profile ``{"optimizations": [cand]}``
``code_repair``            :meth:`repair`                  one ``cand``
``refinement``             :meth:`refine` (a list)         ``{"refinements": [cand]}``
``explain``                :meth:`explain`                 ``{"explanation": str}``
``testgen``                :meth:`generate_tests`          ``{"generated_tests": str}``
``rank``                   :meth:`rank`                    ``{"ranking": [int]}``
=========================  ==============================  ===============================

``cand`` is ``{"source_code": markdown, "explanation", "optimization_id", "parent_id"?,
"model"?}``; the markdown holds one ```python:<path> block per file.  Code is sent as
path-tagged markdown too, with paths relative to the rootdir.  The service has no field for
the invariants of the inputs or for example calls: those go to the ``openai`` back-end only.
"""

from __future__ import annotations

import difflib
import os
import platform
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ... import __version__
from ...errors import BadServiceResponse, CandidateError, ConfigError
from ...models import Candidate, CodeContext, Settings, TargetFunction
from .source import Answer, LLMSource

if TYPE_CHECKING:
    from ...models import CandidateResult
    from .prompts import Difference, LineProfile

__all__ = ["KEY_ENV", "ServiceSource"]

KEY_ENV = "CODEFLASH_API_KEY"
# Fields that change from run to run without changing the question: not in the cache key.
_VOLATILE = frozenset({"trace_id", "call_sequence", "rerun_trace_id"})
_NUMERICAL = re.compile(
    r"^\s*(?:import|from)\s+(?:numpy|scipy|torch|jax|numba|tensorflow|pandas)\b", re.MULTILINE
)


class ServiceSource(LLMSource):
    """Candidates, repairs, refinements, explanations and tests from the Codeflash service."""

    backend = "codeflash-service"
    stem = "service"

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(settings, **options)
        self._trace_ids: dict[str, str] = {}
        self._sequence = 0

    @classmethod
    def from_settings(
        cls, settings: Settings, environ: Mapping[str, str] | None = None, **options: Any
    ) -> ServiceSource:
        """The source the settings describe, its key read from ``CODEFLASH_API_KEY``.

        :raises ConfigError: the key is missing or is not a Codeflash key.
        """
        key = (os.environ if environ is None else environ).get(KEY_ENV, "").strip()
        if not key:
            raise ConfigError(
                f"--codeflash-backend=codeflash-service needs your Codeflash API key in the "
                f"environment variable {KEY_ENV}, which is not set. Export it there, or "
                "choose another backend (e.g. --codeflash-backend=openai)."
            )
        if not key.startswith("cf-"):
            raise ConfigError(
                f"{KEY_ENV} does not hold a Codeflash API key (those start with 'cf-'). Copy "
                "the key from your Codeflash account into it."
            )
        auth = f"The service refused the API key in ${KEY_ENV}: check it"
        return cls(
            settings,
            base_url=settings.service_url,
            model="",
            api_key=key,
            hints={
                401: auth,
                403: auth,
                404: f"Check --codeflash-service-url={settings.service_url}",
                429: "The service limits requests: lower --codeflash-llm-concurrency",
            },
            **options,
        )

    async def optimize(
        self,
        target: TargetFunction,
        source: str,
        context: CodeContext,
        *,
        line_profile: LineProfile | None = None,
        invariants: Sequence[str] | None = None,
    ) -> list[Candidate]:
        from .prompts import profile_table

        self._contexts.setdefault(target.qualified_name, context)
        payload: dict[str, Any] = {
            "source_code": context.read_writable,
            "dependency_code": context.read_only,
            "n_candidates": self.plan.candidates,
            "is_async": target.is_async,
            "is_numerical_code": _numerical(context),
            "experiment_metadata": None,
            **self._common(target),
        }
        endpoint, stem = "ai/optimize", self.stem
        if line_profile:
            endpoint, stem = "ai/optimize-line-profiler", f"{self.stem}-lp"
            payload["n_candidates"] = self.plan.profile_candidates
            payload["line_profiler_results"] = profile_table(source, line_profile)
        else:
            payload.update(current_username=None, repo_owner=None, repo_name=None)
        request = self._listed(target, endpoint, payload, "optimizations", self._deadline())
        return self._candidates(target, source, stem, await self._gather([request]))

    async def repair(
        self,
        target: TargetFunction,
        source: str,
        candidate: Candidate,
        differences: Sequence[Difference],
    ) -> list[Candidate]:
        context = self.context_for(target)
        payload = {
            "optimization_id": self._ref(target, candidate),
            "original_source_code": context.read_writable,
            "modified_source_code": self._rewrite(target, source, candidate),
            "test_diffs": [_test_diff(d) for d in differences],
            "language": "python",
            "trace_id": self._trace_id(target),
            "rerun_trace_id": None,
        }
        request = self._single(target, "ai/code_repair", payload, self._deadline())
        answers = await self._gather([request])
        return self._candidates(target, source, f"{candidate.id}-fix", answers)

    async def refine(
        self,
        target: TargetFunction,
        source: str,
        accepted: Sequence[tuple[Candidate, CandidateResult]],
    ) -> list[Candidate]:
        from .prompts import human_time

        context = self.context_for(target)
        parents = {self._ref(target, candidate): candidate.id for candidate, _ in accepted}
        items = [
            {
                "optimization_id": self._ref(target, candidate),
                "original_source_code": context.read_writable,
                "read_only_dependency_code": context.read_only,
                "original_line_profiler_results": "",
                "original_code_runtime": human_time(result.baseline_ns or 0),
                "optimized_source_code": self._rewrite(target, source, candidate),
                "optimized_explanation": candidate.explanation,
                "optimized_line_profiler_results": "",
                "optimized_code_runtime": human_time(result.candidate_ns or 0),
                "speedup": _gain(result),
                "function_references": "",
                **self._common(target),
            }
            for candidate, result in accepted
        ]
        request = self._listed(target, "ai/refinement", items, "refinements", self._deadline())
        answers = await self._gather([request])
        only = next(iter(parents.values())) if len(parents) == 1 else None
        named = [
            replace(a, stem=f"{parents.get(a.parent or '', only) or self.stem}-refined")
            for a in answers
        ]
        return self._candidates(target, source, f"{self.stem}-refined", named)

    async def explain(
        self, target: TargetFunction, source: str, candidate: Candidate, figures: CandidateResult
    ) -> str:
        from .prompts import human_time

        context = self.context_for(target)
        payload = {
            "source_code": _flat(context.read_writable),
            "optimized_code": _flat(self._rewrite(target, source, candidate)),
            "dependency_code": context.read_only,
            "original_line_profiler_results": "",
            "optimized_line_profiler_results": "",
            "original_code_runtime": human_time(figures.baseline_ns or 0),
            "optimized_code_runtime": human_time(figures.candidate_ns or 0),
            "speedup": _gain(figures),
            "annotated_tests": "",
            "optimization_id": self._ref(target, candidate),
            "original_explanation": candidate.explanation,
            "function_references": "",
            "acceptance_reason": "runtime",
            **self._common(target),
        }
        data = await self._request(target, "ai/explain", payload, self._deadline())
        text = data.get("explanation") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise BadServiceResponse(
                f"{self.backend}: the reply of ai/explain has no 'explanation' text"
            )
        # An empty explanation means "keep the candidate's own" (as the service's client does).
        return text.strip() or candidate.explanation

    async def generate_tests(
        self, target: TargetFunction, context: CodeContext, examples: Sequence[str]
    ) -> list[str]:
        from .parse import extract_test_module

        self._contexts.setdefault(target.qualified_name, context)
        deadline = self._deadline()

        async def generated(index: int) -> list[Answer]:
            payload = self._testgen(target, context, index)
            return _as_answers(await self._request(target, "ai/testgen", payload, deadline))

        tests: list[str] = []
        problems: list[str] = []
        for answer in await self._gather([generated(i) for i in range(self.plan.tests)]):
            try:
                if answer.problem:
                    raise CandidateError(answer.problem)
                tests.append(extract_test_module(answer.text))
            except CandidateError as err:
                problems.append(str(err))
        self._note(target, [f"generated test module dropped: {p}" for p in problems])
        if not tests:
            raise BadServiceResponse(
                f"{self.backend}: none of the {len(problems)} replies of ai/testgen held a "
                f"usable test module for {target.qualified_name}: {'; '.join(problems)}"
            )
        return tests

    async def rank(
        self,
        target: TargetFunction,
        source: str,
        accepted: Sequence[tuple[Candidate, CandidateResult]],
    ) -> list[int]:
        """The service's preference among accepted candidates: indices, the best first."""
        payload = {
            "diffs": [_diff(source, candidate.module_source) for candidate, _ in accepted],
            "speedups": [result.speedup or 1.0 for _, result in accepted],
            "optimization_ids": [self._ref(target, candidate) for candidate, _ in accepted],
            "function_references": "",
            "trace_id": self._trace_id(target),
        }
        data = await self._request(target, "ai/rank", payload, self._deadline())
        ranking = data.get("ranking") if isinstance(data, dict) else None
        if (
            not isinstance(ranking, list)
            or not ranking
            or not all(isinstance(i, int) and 0 <= i < len(accepted) for i in ranking)
        ):
            raise BadServiceResponse(
                f"{self.backend}: the reply of ai/rank has no valid 'ranking' (a list of "
                f"indices below {len(accepted)}): {str(ranking)[:200]}"
            )
        return list(ranking)

    # -- the wire -------------------------------------------------------------------------
    async def _listed(
        self, target: TargetFunction, endpoint: str, payload: Any, field: str, deadline: float
    ) -> list[Answer]:
        data = await self._request(target, endpoint, payload, deadline)
        items = data.get(field) if isinstance(data, dict) else None
        if not isinstance(items, list):
            error = data.get("error") if isinstance(data, dict) else None
            return [
                Answer(
                    problem=f"the reply of {endpoint} has no {field!r} list"
                    + (f" (error: {str(error)[:200]})" if error else "")
                )
            ]
        return [_candidate_object(item, number, endpoint) for number, item in enumerate(items, 1)]

    async def _single(
        self, target: TargetFunction, endpoint: str, payload: Any, deadline: float
    ) -> list[Answer]:
        data = await self._request(target, endpoint, payload, deadline)
        return [_candidate_object(data, 1, endpoint)]

    def _stable(self, payload: Any) -> Any:
        if isinstance(payload, list):
            return [self._stable(item) for item in payload]
        if isinstance(payload, dict):
            return {k: v for k, v in payload.items() if k not in _VOLATILE}
        return payload

    def _common(self, target: TargetFunction) -> dict[str, Any]:
        self._sequence += 1
        return {
            "trace_id": self._trace_id(target),
            "language": "python",
            "language_version": platform.python_version(),
            "codeflash_version": __version__,
            "call_sequence": self._sequence,
            "rerun_trace_id": None,
        }

    def _trace_id(self, target: TargetFunction) -> str:
        return self._trace_ids.setdefault(target.qualified_name, str(uuid.uuid4()))

    def _ref(self, target: TargetFunction, candidate: Candidate) -> str:
        """The service's id of a candidate (ours, for one it did not propose)."""
        answer = self._answer(target, candidate)
        return answer.ref if answer is not None and answer.ref else candidate.id

    def _testgen(self, target: TargetFunction, context: CodeContext, index: int) -> dict[str, Any]:
        *classes, name = target.qualname.split(".")
        return {
            "source_code_being_tested": context.read_writable + context.read_only,
            "function_to_optimize": {
                "function_name": name,
                "file_path": str(target.file),
                "parents": [{"name": c, "type": "ClassDef"} for c in classes],
                "starting_line": target.lineno,
                "ending_line": target.end_lineno,
                "starting_col": None,
                "ending_col": None,
                "is_async": target.is_async,
                "is_method": target.is_method,
                "language": "python",
                "doc_start_line": None,
            },
            "helper_function_names": list(context.helpers),
            "module_path": target.module,
            "test_module_path": f"tests.test_{name}__unit_test_{index}",
            "test_framework": "pytest",
            "test_timeout": 15,
            "test_index": index,
            "is_async": target.is_async,
            "is_numerical_code": _numerical(context),
            "class_name": classes[-1] if classes else None,
            "qualified_name": target.qualname,
            **self._common(target),
        }


def _as_answers(data: Any) -> list[Answer]:
    tests = data.get("generated_tests") if isinstance(data, dict) else None
    if not isinstance(tests, str):
        return [Answer(problem="the reply of ai/testgen has no 'generated_tests' text")]
    return [Answer(text=tests)]


def _candidate_object(item: Any, number: int, endpoint: str) -> Answer:
    """One ``{source_code, explanation, optimization_id, parent_id?, model?}`` object."""
    if not isinstance(item, dict):
        return Answer(problem=f"candidate {number} of the reply of {endpoint} is not an object")
    code = item.get("source_code")
    ref, parent, model = (item.get(k) for k in ("optimization_id", "parent_id", "model"))
    explanation = item.get("explanation")
    problem = None
    if not isinstance(code, str) or not code.strip():
        problem = f"candidate {number} of the reply of {endpoint} has no 'source_code'"
    return Answer(
        text=code if isinstance(code, str) else "",
        explanation=explanation if isinstance(explanation, str) else "",
        problem=problem,
        ref=ref if isinstance(ref, str) and ref else None,
        model=model if isinstance(model, str) and model else None,
        parent=parent if isinstance(parent, str) and parent else None,
    )


def _test_diff(difference: Difference) -> dict[str, Any]:
    scope = difference.get("scope", "return value").lower()
    if "pass" in scope or scope == "test outcome":
        kind = "did_pass"
    else:
        kind = "stdout" if scope in ("stdout", "stderr") else "return_value"
    where = [f"# input: {difference.get('input', '?')}"]
    if difference.get("test"):
        where.append(f"# test: {difference['test']}")
    return {
        "scope": kind,
        "original_pass": True,
        "candidate_pass": kind != "did_pass",
        "original_value": difference.get("expected", difference.get("detail", ""))[:1500],
        "candidate_value": difference.get("actual", "")[:1500],
        "test_src_code": "\n".join(where),
        "candidate_pytest_error": None,
        "original_pytest_error": None,
    }


def _numerical(context: CodeContext) -> bool:
    return bool(_NUMERICAL.search(context.read_writable + context.read_only))


def _gain(result: CandidateResult) -> str:
    return f"{((result.speedup or 1.0) - 1) * 100:.0f}%"


def _flat(markdown: str) -> str:
    """Markdown blocks as one text, each file after a ``# file: <path>`` line."""
    from ...source.codeblocks import parse_blocks

    try:
        blocks = parse_blocks(markdown)
    except CandidateError:
        return markdown
    return "\n".join(f"# file: {b.path or ''}\n{b.code}" for b in blocks)


def _diff(original: str, changed: str) -> str:
    return "".join(
        difflib.unified_diff(
            original.splitlines(keepends=True), changed.splitlines(keepends=True), "a", "b"
        )
    )
