"""The ``openai`` back-end: chat completions at any OpenAI-compatible base URL.

One request is ``POST <base>/chat/completions`` with a system and a user message (see
:mod:`.prompts`) and ``n`` choices (``--codeflash-llm-candidates``, 1 by default since many
local servers answer one choice whatever ``n`` says).  A function's candidates come from
several requests side by side, each with a different angle of attack, so that they differ
even at temperature 0.  OpenAI itself and the servers that copy its API work alike: Ollama
(``http://localhost:11434/v1``), vLLM, llama.cpp's server, LM Studio, LiteLLM.

The key comes from the first of ``CODEFLASH_LLM_API_KEY`` and ``OPENAI_API_KEY`` that is
set (or the variable ``--codeflash-llm-api-key-env`` names); a local server needs none.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...errors import BadServiceResponse, CandidateError, ConfigError
from ...models import Candidate, CodeContext, Settings, TargetFunction
from .source import Answer, LLMSource

if TYPE_CHECKING:
    from ...models import CandidateResult
    from .prompts import Difference, LineProfile, Message

__all__ = ["OpenAISource", "read_choices"]

_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL)  # reasoning models' scratchpad


class OpenAISource(LLMSource):
    """Candidates from an OpenAI-compatible chat-completions API."""

    backend = "openai"
    stem = "openai"

    @classmethod
    def from_settings(
        cls, settings: Settings, environ: Mapping[str, str] | None = None, **options: Any
    ) -> OpenAISource:
        """The source the settings describe, its key read from ``environ``.

        :raises ConfigError: the hosted OpenAI API without a key, or a key variable named
            explicitly that is not set.
        """
        key, name = _api_key(settings, os.environ if environ is None else environ)
        return cls(
            settings,
            base_url=settings.llm_url,
            model=settings.llm_model,
            api_key=key,
            hints=_hints(settings, name),
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
        from .prompts import optimize_messages

        self._contexts.setdefault(target.qualified_name, context)
        total = self.plan.profile_candidates if line_profile else self.plan.candidates
        per = min(self.settings.llm_candidates, total)
        count = -(-total // per)
        deadline = self._deadline()
        requests = [
            self._complete(
                target,
                optimize_messages(
                    target,
                    source,
                    context,
                    index=index,
                    total=count,
                    line_profile=line_profile,
                    invariants=invariants,
                ),
                min(per, total - (index - 1) * per),
                deadline,
            )
            for index in range(1, count + 1)
        ]
        stem = f"{self.stem}-lp" if line_profile else self.stem
        return self._candidates(target, source, stem, await self._gather(requests))

    async def repair(
        self,
        target: TargetFunction,
        source: str,
        candidate: Candidate,
        differences: Sequence[Difference],
    ) -> list[Candidate]:
        from .prompts import repair_messages

        context = self.context_for(target)
        rewrite = self._rewrite(target, source, candidate)
        messages = repair_messages(target, source, context, rewrite, differences)
        answers = await self._gather([self._complete(target, messages, 1, self._deadline())])
        return self._candidates(target, source, f"{candidate.id}-fix", answers)

    async def refine(
        self,
        target: TargetFunction,
        source: str,
        accepted: Sequence[tuple[Candidate, CandidateResult]],
    ) -> list[Candidate]:
        from .prompts import figures_text, refine_messages

        context = self.context_for(target)
        deadline = self._deadline()

        async def refined(candidate: Candidate, result: CandidateResult) -> list[Answer]:
            rewrite = self._rewrite(target, source, candidate)
            messages = refine_messages(target, source, context, rewrite, figures_text(result))
            answers = await self._complete(target, messages, 1, deadline)
            # Each answer's id names the candidate it refines.
            return [replace(answer, stem=f"{candidate.id}-refined") for answer in answers]

        answers = await self._gather([refined(c, r) for c, r in accepted])
        return self._candidates(target, source, f"{self.stem}-refined", answers)

    async def explain(
        self, target: TargetFunction, source: str, candidate: Candidate, figures: CandidateResult
    ) -> str:
        from .prompts import explain_messages, figures_text

        context = self.context_for(target)
        rewrite = self._rewrite(target, source, candidate)
        messages = explain_messages(target, source, context, rewrite, figures_text(figures))
        (answer, *_) = await self._gather([self._complete(target, messages, 1, self._deadline())])
        text = _THINKING.sub("", answer.text).strip()
        if answer.problem or not text:
            raise BadServiceResponse(
                f"{self.backend}: no explanation for {candidate.id}: {answer.problem or 'empty'}"
            )
        return text

    async def generate_tests(
        self, target: TargetFunction, context: CodeContext, examples: Sequence[str]
    ) -> list[str]:
        from .parse import extract_test_module
        from .prompts import testgen_messages

        self._contexts.setdefault(target.qualified_name, context)
        total = self.plan.tests
        deadline = self._deadline()
        requests = [
            self._complete(
                target,
                testgen_messages(target, context, examples, index=index, total=total),
                1,
                deadline,
            )
            for index in range(1, total + 1)
        ]
        tests: list[str] = []
        problems: list[str] = []
        for answer in await self._gather(requests):
            try:
                if answer.problem:
                    raise CandidateError(answer.problem)
                tests.append(extract_test_module(answer.text))
            except CandidateError as err:
                problems.append(str(err))
        self._note(target, [f"generated test module dropped: {p}" for p in problems])
        if not tests:
            raise BadServiceResponse(
                f"{self.backend}: none of the {len(problems)} answer(s) held a usable test "
                f"module for {target.qualified_name}: {'; '.join(problems)}"
            )
        return tests

    # -- the wire -------------------------------------------------------------------------
    async def _complete(
        self, target: TargetFunction, messages: list[Message], n: int, deadline: float
    ) -> list[Answer]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.settings.llm_max_tokens,
        }
        if n > 1:
            payload["n"] = n
        if self.settings.llm_temperature is not None:
            payload["temperature"] = self.settings.llm_temperature
        data = await self._request(target, "chat/completions", payload, deadline)
        return read_choices(data, self.settings.llm_max_tokens)

    def _tokens(self, data: Any) -> tuple[int, int]:
        usage = data.get("usage") if isinstance(data, dict) else None
        if not isinstance(usage, dict):
            return 0, 0
        return _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))


def read_choices(data: Any, max_tokens: int) -> list[Answer]:
    """The answers in a chat-completions reply; a reply without usable ones says why."""
    if not isinstance(data, dict):
        return [Answer(problem=f"the reply is not a JSON object but {type(data).__name__}")]
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        error = data.get("error")
        detail = error.get("message") if isinstance(error, dict) else error
        what = "an empty 'choices' list" if choices == [] else "no 'choices' list"
        said = f" (error: {str(detail)[:200]})" if detail else ""
        return [Answer(problem=f"the reply has {what}{said}")]
    answers = []
    for number, choice in enumerate(choices, 1):
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # content given as parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        problem: str | None = None
        if not isinstance(content, str) or not content.strip():
            refusal = message.get("refusal") if isinstance(message, dict) else None
            problem = f"choice {number} of the reply has no message content" + (
                f" (the model refused: {str(refusal)[:200]})" if refusal else ""
            )
            content = ""
        elif isinstance(choice, dict) and choice.get("finish_reason") == "length":
            problem = (
                f"choice {number} of the reply was cut off at --codeflash-llm-max-tokens="
                f"{max_tokens}; raise it"
            )
        answers.append(Answer(text=_THINKING.sub("", content), problem=problem))
    return answers


def _api_key(settings: Settings, environ: Mapping[str, str]) -> tuple[str | None, str]:
    names = settings.llm_api_key_env
    for name in names:
        if environ.get(name, "").strip():
            return environ[name].strip(), name
    defaults = Settings.default("llm_api_key_env")
    if tuple(names) != tuple(defaults):
        raise ConfigError(
            f"--codeflash-llm-api-key-env={names[0]}: the environment variable {names[0]} is "
            "not set or empty. Export the API key in it, or drop the option for a local "
            "server that needs no key."
        )
    if settings.llm_url == Settings.default("llm_url"):
        raise ConfigError(
            f"--codeflash-backend=openai asks {settings.llm_url}, which needs an API key, but "
            f"none of {', '.join(names)} is set. Export the key in one of them, name another "
            "variable with --codeflash-llm-api-key-env=NAME, or point --codeflash-llm-url at "
            "a local server (e.g. http://localhost:11434/v1 for Ollama)."
        )
    return None, names[0]


def _hints(settings: Settings, key_name: str) -> dict[int, str]:
    auth = (
        f"The server refused the API key: check the key in ${key_name}, or name another "
        "variable with --codeflash-llm-api-key-env=NAME"
    )
    return {
        400: f"Check --codeflash-llm-model={settings.llm_model} and the sampling options "
        "(--codeflash-llm-candidates, --codeflash-llm-temperature, --codeflash-llm-max-tokens)",
        401: auth,
        403: auth,
        404: f"Check --codeflash-llm-url={settings.llm_url} (it usually ends in /v1) and that "
        f"the server serves the model {settings.llm_model!r} (--codeflash-llm-model)",
        429: "The server limits requests: lower --codeflash-llm-concurrency or try later",
    }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
