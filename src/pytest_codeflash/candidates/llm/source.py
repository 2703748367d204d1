"""What the language-model sources share: the public API, requests, cache and usage.

A source is a pytest plugin (registered by the session, like the rule engine, and closed
when pytest ends) that speaks one wire protocol: :class:`~.openai.OpenAISource` or
:class:`~.service.ServiceSource`.  The evaluation loop uses it through
:class:`~.rounds.LLMRounds`, which decides what to ask at each step.
Its API is asynchronous, so that requests run side by side and may overlap other work::

    source.run(source.optimize(target, module_source, context))      # wait for it
    future = source.submit(source.optimize(target, module_source, context))  # overlap
    ...
    candidates = future.result()

:meth:`~LLMSource.run` and :meth:`~LLMSource.submit` use one event loop in a thread of the
source's own and one pooled HTTP client; at most ``--codeflash-llm-concurrency`` requests
are in flight at once.  Every public call gets a deadline from the effort's plan
(:mod:`.effort`) for all its requests together.

Failures raise :class:`~pytest_codeflash.errors.ServiceError` (or a subclass) only when a
call got nothing at all; a failed request among several is recorded in the function's
usage, and a reply that cannot be used becomes a candidate with a ``rejection``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pytest

from ...errors import BadServiceResponse, ServiceError
from ...models import Candidate, CodeContext, LLMUsage, Settings, TargetFunction
from .cache import CACHE_DIR, ReplyCache, cache_key
from .effort import EFFORT_PLANS, EffortPlan
from .runtime import LoopThread

if TYPE_CHECKING:
    import httpx

    from ...models import CandidateResult
    from .client import RetryPolicy, ServiceClient
    from .prompts import Difference, LineProfile

__all__ = ["Answer", "LLMSource"]

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """One proposed rewrite as a protocol read it from a reply, before it is parsed.

    ``problem`` marks an answer known to be unusable (no choices, no code field, ...);
    ``ref`` is the service's own id for it and ``parent`` its parent's, ``model`` the model
    that wrote it, ``stem`` the first part of its candidate's id when it differs from the
    call's (a refinement's parent).
    """

    text: str = ""
    explanation: str = ""
    problem: str | None = None
    ref: str | None = None
    model: str | None = None
    parent: str | None = None
    stem: str | None = None


@dataclass
class _Tally:
    requests: int = 0
    cached: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: list[str] = field(default_factory=list)


class LLMSource:
    """A candidate source that asks a language model; subclasses speak one protocol."""

    backend: ClassVar[str]  # the --codeflash-backend name
    stem: ClassVar[str]  # first part of its candidates' ids

    def __init__(
        self,
        settings: Settings,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        hints: Mapping[int, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        max_reply_bytes: int | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.cache = None if settings.llm_no_cache else ReplyCache(settings.rootdir / CACHE_DIR)
        self._api_key = api_key
        self._hints = dict(hints or {})
        self._transport = transport
        self._retry = retry
        self._max_reply_bytes = max_reply_bytes
        self._loop = LoopThread(f"codeflash-{self.backend}")
        self._client: ServiceClient | None = None
        self._slots: asyncio.Semaphore | None = None
        self._refused: ServiceError | None = None
        self._tallies: dict[str, _Tally] = {}
        self._contexts: dict[str, CodeContext] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._answers: dict[tuple[str, str], Answer] = {}

    def __repr__(self) -> str:  # never shows the key
        return f"<{type(self).__name__} {self.base_url} model={self.model!r}>"

    @property
    def plan(self) -> EffortPlan:
        """How much this run asks for per function (``--codeflash-effort``)."""
        return EFFORT_PLANS[self.settings.effort]

    # -- the public API: subclasses implement it for their protocol ------------------------
    async def optimize(
        self,
        target: TargetFunction,
        source: str,
        context: CodeContext,
        *,
        line_profile: LineProfile | None = None,
        invariants: Sequence[str] | None = None,
    ) -> list[Candidate]:
        """Faster versions of ``target``: ``plan.candidates`` of them, or with a
        ``line_profile`` of the original (line -> (hits, ns)) ``plan.profile_candidates``
        guided by it.  ``source`` is the target's module source."""
        raise NotImplementedError

    async def repair(
        self,
        target: TargetFunction,
        source: str,
        candidate: Candidate,
        differences: Sequence[Difference],
    ) -> list[Candidate]:
        """Fixed versions of a ``candidate`` that differed from the original on some calls."""
        raise NotImplementedError

    async def refine(
        self,
        target: TargetFunction,
        source: str,
        accepted: Sequence[tuple[Candidate, CandidateResult]],
    ) -> list[Candidate]:
        """Improved versions of accepted candidates (one request or item each)."""
        raise NotImplementedError

    async def explain(
        self, target: TargetFunction, source: str, candidate: Candidate, figures: CandidateResult
    ) -> str:
        """A short explanation of why an accepted ``candidate`` is faster."""
        raise NotImplementedError

    async def generate_tests(
        self, target: TargetFunction, context: CodeContext, examples: Sequence[str]
    ) -> list[str]:
        """``plan.tests`` pytest test modules (sources) exercising ``target``.

        ``examples`` are captured calls written as Python, e.g. ``"f([3, 1]) -> [1, 3]"``.
        The tests are not run here: keep only those that pass on the original.
        """
        raise NotImplementedError

    # -- from synchronous code ------------------------------------------------------------
    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one of the API's coroutines on the source's loop and wait for its result."""
        return self._loop.run(coro)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start one of the API's coroutines on the source's loop; returns at once."""
        return self._loop.submit(coro)

    def close(self) -> None:
        """Close the HTTP client and stop the loop's thread (idempotent)."""
        self._loop.close(self._aclose)

    def usage(self, target: TargetFunction) -> LLMUsage | None:
        """What the requests about ``target`` cost so far, or ``None`` if there were none."""
        tally = self._tallies.get(target.qualified_name)
        if tally is None:
            return None
        return LLMUsage(
            requests=tally.requests,
            cached=tally.cached,
            failed=tally.failed,
            prompt_tokens=tally.prompt_tokens,
            completion_tokens=tally.completion_tokens,
            errors=list(tally.errors),
        )

    def context_for(self, target: TargetFunction) -> CodeContext:
        """The target's code context (extracted once per run)."""
        found = self._contexts.get(target.qualified_name)
        if found is None:
            from ...source.context import extract_context

            found = extract_context(target, self.settings.rootdir)
            self._contexts[target.qualified_name] = found
        return found

    # -- pytest hooks ---------------------------------------------------------------------
    @pytest.hookimpl
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.close()

    # -- for the protocols ----------------------------------------------------------------
    def _deadline(self) -> float:
        return time.monotonic() + self.plan.deadline_s

    async def _request(
        self, target: TargetFunction, endpoint: str, payload: Any, deadline: float
    ) -> Any:
        """POST ``payload`` (or take the cached reply); count it in the target's usage."""
        tally = self._tallies.setdefault(target.qualified_name, _Tally())
        if self._refused is not None:
            raise ServiceError(f"{self._refused} (not asked again in this run)")
        key = cache_key(
            self.backend, f"{self.base_url}/{endpoint}", self.model, self._stable(payload)
        )
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            tally.requests += 1
            tally.cached += 1
            return hit
        client = self._service()
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.settings.llm_concurrency)
        async with self._slots:
            tally.requests += 1
            try:
                reply = await client.post(endpoint, payload, deadline=deadline)
            except ServiceError as err:
                tally.failed += 1
                tally.errors.append(str(err))
                if type(err) is ServiceError:  # refused (key, URL, model): same for all
                    self._refused = err
                raise
        prompt, completion = self._tokens(reply.data)
        tally.prompt_tokens += prompt
        tally.completion_tokens += completion
        if self.cache is not None:
            self.cache.put(key, reply.data)
        return reply.data

    def _stable(self, payload: Any) -> Any:
        """The payload without what changes between runs but not the answer (cache key)."""
        return payload

    def _tokens(self, data: Any) -> tuple[int, int]:
        """(prompt, completion) tokens a reply reports having used."""
        return 0, 0

    async def _gather(self, requests: Sequence[Coroutine[Any, Any, list[Answer]]]) -> list[Answer]:
        """Run ``requests`` side by side; raise only if none of them gave an answer."""
        results = await asyncio.gather(*requests, return_exceptions=True)
        answers: list[Answer] = []
        failures: list[ServiceError] = []
        for result in results:
            if isinstance(result, BadServiceResponse):
                answers.append(Answer(problem=str(result)))
            elif isinstance(result, ServiceError):
                failures.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                answers.extend(result)
        if failures and not answers:
            first = failures[0]
            if len(requests) == 1:
                raise first
            raise type(first)(f"{first} ({len(failures)} of {len(requests)} requests failed)")
        return answers

    def _candidates(
        self, target: TargetFunction, source: str, stem: str, answers: Sequence[Answer]
    ) -> list[Candidate]:
        """Parse and merge each answer into a candidate, ids ``<stem>-1``, ``<stem>-2``..."""
        from .parse import Proposal, to_candidate

        candidates = []
        for answer in answers:
            candidate_id = self._next_id(target, answer.stem or stem)
            proposal = Proposal(candidate_id, answer.text, answer.explanation, answer.problem)
            candidate = to_candidate(
                proposal, target, self.settings.rootdir, source, label=self._label(answer)
            )
            self._answers[(target.qualified_name, candidate_id)] = answer
            candidates.append(candidate)
        return candidates

    def _note(self, target: TargetFunction, notes: Sequence[str]) -> None:
        """Record problems that dropped something without failing the call."""
        if notes:
            self._tallies.setdefault(target.qualified_name, _Tally()).errors.extend(notes)

    def _label(self, answer: Answer) -> str:
        """The candidate's ``source`` in the report: the back-end and the model."""
        model = answer.model or self.model
        return f"{self.backend}:{model}" if model else self.backend

    def _next_id(self, target: TargetFunction, stem: str) -> str:
        key = (target.qualified_name, stem)
        self._ids[key] = self._ids.get(key, 0) + 1
        return f"{stem}-{self._ids[key]}"

    def _answer(self, target: TargetFunction, candidate: Candidate) -> Answer | None:
        return self._answers.get((target.qualified_name, candidate.id))

    def _rewrite(self, target: TargetFunction, source: str, candidate: Candidate) -> str:
        """A candidate's code as markdown blocks: as its model wrote it, else its changes."""
        from ...errors import CandidateError
        from ...source.codeblocks import CodeBlock, parse_blocks, render_blocks
        from ...source.replace import changed_functions
        from .prompts import function_code

        path = self._path(target)
        answer = self._answer(target, candidate)
        if answer is not None and answer.text:
            try:
                blocks = parse_blocks(answer.text)
                return render_blocks(CodeBlock(b.path or path, b.code) for b in blocks)
            except CandidateError:
                pass
        try:
            names = changed_functions(source, candidate.module_source) or [target.qualname]
        except CandidateError:
            names = [target.qualname]
        code = "\n\n".join(function_code(candidate.module_source, name) for name in names)
        return render_blocks([CodeBlock(path, code)])

    def _path(self, target: TargetFunction) -> str:
        from ...source.paths import relative_path

        return relative_path(target.file.resolve(), self.settings.rootdir.resolve())

    def _service(self) -> ServiceClient:
        if self._client is None:
            from .client import ServiceClient, make_http_client

            http = make_http_client(
                self.base_url,
                api_key=self._api_key,
                read_timeout_s=self.settings.llm_timeout,
                concurrency=self.settings.llm_concurrency,
                transport=self._transport,
            )
            extra: dict[str, Any] = {}
            if self._max_reply_bytes is not None:
                extra["max_reply_bytes"] = self._max_reply_bytes
            self._client = ServiceClient(
                http,
                label=self.backend,
                secret=self._api_key,
                hints=self._hints,
                retry=self._retry,
                **extra,
            )
        return self._client

    async def _aclose(self) -> None:
        self._slots = None  # bound to this loop; a later use starts a new one
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
