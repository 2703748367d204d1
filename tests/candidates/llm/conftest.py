"""Fixtures: one scripted server per protocol, a small project, sources talking to them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_codeflash.candidates.llm.client import RetryPolicy
from pytest_codeflash.candidates.llm.openai import OpenAISource
from pytest_codeflash.candidates.llm.service import ServiceSource
from pytest_codeflash.models import CodeContext, Settings, TargetFunction
from pytest_codeflash.source.context import extract_context

from ...conftest import SLOW_MODULE
from .server import ScriptedServer

KEY = "sk-test-0123456789-SECRET-abcdef"
SERVICE_KEY = "cf-test-0123456789-SECRET-abcdef"
FAST_RETRY = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05)


@pytest.fixture(scope="session")
def _servers() -> Iterator[dict[str, ScriptedServer]]:
    servers = {"openai": ScriptedServer(), "service": ScriptedServer()}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture
def openai_server(_servers: dict[str, ScriptedServer]) -> Iterator[ScriptedServer]:
    """The OpenAI-compatible server, its script and log empty."""
    _servers["openai"].reset()
    yield _servers["openai"]
    _servers["openai"].reset()


@pytest.fixture
def service_server(_servers: dict[str, ScriptedServer]) -> Iterator[ScriptedServer]:
    """The Codeflash-service stand-in, its script and log empty."""
    _servers["service"].reset()
    yield _servers["service"]
    _servers["service"].reset()


class Project:
    """A src-layout project with a slow ``listy.core.unique``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        package = root / "src" / "listy"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        self.file = package / "core.py"
        self.file.write_text(SLOW_MODULE)
        self.source = SLOW_MODULE
        self.target = TargetFunction(
            module="listy.core", qualname="unique", file=self.file, lineno=4, end_lineno=10
        )
        self._context: CodeContext | None = None

    @property
    def context(self) -> CodeContext:
        if self._context is None:
            self._context = extract_context(self.target, self.root)
        return self._context

    def settings(self, **values: Any) -> Settings:
        return Settings(rootdir=self.root, **{"effort": "low", **values})


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


@pytest.fixture
def openai_source(
    project: Project, openai_server: ScriptedServer
) -> Iterator[Callable[..., OpenAISource]]:
    """Make an ``openai`` source for the project that talks to the scripted server."""
    made: list[OpenAISource] = []

    def make(**values: Any) -> OpenAISource:
        options = {"retry": values.pop("retry", FAST_RETRY)}
        if "max_reply_bytes" in values:
            options["max_reply_bytes"] = values.pop("max_reply_bytes")
        values.setdefault("llm_url", f"{openai_server.url}/v1")
        settings = project.settings(**{"backends": ("openai",), **values})
        source = OpenAISource.from_settings(settings, {"CODEFLASH_LLM_API_KEY": KEY}, **options)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


@pytest.fixture
def service_source(
    project: Project, service_server: ScriptedServer
) -> Iterator[Callable[..., ServiceSource]]:
    """Make a ``codeflash-service`` source for the project that talks to the stand-in."""
    made: list[ServiceSource] = []

    def make(**values: Any) -> ServiceSource:
        values.setdefault("service_url", service_server.url)
        settings = project.settings(backends=("codeflash-service",), **values)
        source = ServiceSource.from_settings(
            settings, {"CODEFLASH_API_KEY": SERVICE_KEY}, retry=FAST_RETRY
        )
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()
