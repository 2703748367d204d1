"""Candidate sources that ask a language model: ``openai`` and ``codeflash-service``.

Each is a pytest plugin, registered by the session when its back-end is chosen
(``--codeflash-backend=openai``, ``codeflash-service``, or a combination such as
``rules,openai``).  A source offers an asynchronous API (see :class:`LLMSource`):
``optimize``, ``repair``, ``refine``, ``explain`` and ``generate_tests``, run from
synchronous code with ``source.run(...)`` or started with ``source.submit(...)``;
:class:`LLMRounds` makes it a candidate source of the evaluation loop, which asks while the
baseline runs and verifies the answers as they arrive.

Importing this package is cheap: httpx, libcst and tiktoken load on the first request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .effort import EFFORT_PLANS, EffortPlan
from .prompts import Difference, LineProfile
from .rounds import LLMRounds
from .source import LLMSource

if TYPE_CHECKING:
    import pytest

    from ...models import LLMUsage, Settings, TargetFunction

__all__ = [
    "EFFORT_PLANS",
    "Difference",
    "EffortPlan",
    "LLMRounds",
    "LLMSource",
    "LineProfile",
    "register_sources",
    "usage_of",
]


def register_sources(
    pluginmanager: pytest.PytestPluginManager, settings: Settings
) -> list[LLMSource]:
    """Create and register the sources of the chosen language-model back-ends.

    :raises ConfigError: a back-end's settings or API key are missing or wrong; the message
        names the fix.
    """
    sources: list[LLMSource] = []
    if "openai" in settings.backends:
        from .openai import OpenAISource

        sources.append(OpenAISource.from_settings(settings))
    if "codeflash-service" in settings.backends:
        from .service import ServiceSource

        sources.append(ServiceSource.from_settings(settings))
    for source in sources:
        name = f"codeflash-{source.backend}"
        if not pluginmanager.has_plugin(name):
            pluginmanager.register(source, name)
    return sources


def usage_of(sources: Sequence[LLMSource], target: TargetFunction) -> LLMUsage | None:
    """What all ``sources`` spent on ``target``, summed; ``None`` if they never asked."""
    from ...models import LLMUsage

    found = [usage for usage in (s.usage(target) for s in sources) if usage is not None]
    if not found:
        return None
    return LLMUsage(
        requests=sum(u.requests for u in found),
        cached=sum(u.cached for u in found),
        failed=sum(u.failed for u in found),
        prompt_tokens=sum(u.prompt_tokens for u in found),
        completion_tokens=sum(u.completion_tokens for u in found),
        errors=[error for u in found for error in u.errors],
    )
