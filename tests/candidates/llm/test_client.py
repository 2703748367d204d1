"""The HTTP client: retries, backoff, Retry-After, timeouts, deadlines, limits, the key."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Coroutine
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, TypeVar

import pytest

from pytest_codeflash.candidates.llm.client import (
    Reply,
    RetryPolicy,
    ServiceClient,
    make_http_client,
    retry_after,
)
from pytest_codeflash.errors import (
    BadServiceResponse,
    ServiceError,
    ServiceTimeout,
    ServiceUnavailable,
)

from .conftest import KEY
from .server import Reply as Scripted
from .server import ScriptedServer, Seen

T = TypeVar("T")
PATH = "/v1/thing"


def _client(url: str, *, read_timeout_s: float = 5.0, **options: Any) -> ServiceClient:
    http = make_http_client(url + "/v1", api_key=KEY, read_timeout_s=read_timeout_s, concurrency=2)
    options.setdefault("retry", RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05))
    return ServiceClient(http, label="test", secret=KEY, **options)


def _run(client: ServiceClient, coro: Coroutine[Any, Any, T]) -> T:
    async def main() -> T:
        try:
            return await coro
        finally:
            await client.aclose()

    return asyncio.run(main())


class Sleeps:
    """Records the backoff delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def test_server_errors_are_retried_with_growing_backoff(openai_server: ScriptedServer) -> None:
    openai_server.script(PATH, Scripted({}, 500), Scripted({}, 502), Scripted({"ok": 1}))
    sleeps = Sleeps()
    client = _client(
        openai_server.url,
        retry=RetryPolicy(4, base_s=1.0, cap_s=30),
        sleep=sleeps,
        jitter=lambda: 1.0,
    )
    reply = _run(client, client.post("thing", {"q": 1}))
    assert reply == Reply({"ok": 1}, attempts=3)
    assert sleeps.delays == [1.0, 2.0]
    seen = openai_server.requests(PATH)
    assert [s.body for s in seen] == [{"q": 1}] * 3
    assert seen[0].headers["content-type"] == "application/json"
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("header", ["3", "http-date"])
def test_429_waits_as_long_as_retry_after_says(openai_server: ScriptedServer, header: str) -> None:
    if header == "http-date":
        header = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=4), usegmt=True)
    openai_server.script(PATH, Scripted({}, 429, {"Retry-After": header}), Scripted({"ok": 1}))
    sleeps = Sleeps()
    client = _client(openai_server.url, sleep=sleeps)
    assert _run(client, client.post("thing", {})).attempts == 2
    (delay,) = sleeps.delays
    assert 2.0 <= delay <= 4.0


def test_a_retry_after_beyond_the_limit_fails_at_once(openai_server: ScriptedServer) -> None:
    openai_server.script(PATH, Scripted({"error": "slow down"}, 429, {"Retry-After": "3600"}))
    client = _client(openai_server.url, sleep=Sleeps())
    with pytest.raises(ServiceUnavailable, match=r"HTTP 429: slow down.*wait 3600 s"):
        _run(client, client.post("thing", {}))


def test_persistent_errors_give_up_after_the_attempts(openai_server: ScriptedServer) -> None:
    openai_server.default(PATH, lambda seen: Scripted({"error": {"message": "overloaded"}}, 503))
    client = _client(openai_server.url)
    with pytest.raises(ServiceUnavailable) as raised:
        _run(client, client.post("thing", {}))
    assert str(raised.value) == (
        f"test: {openai_server.url}/v1/thing answered HTTP 503: overloaded. "
        "(gave up after 3 attempts)"
    )
    assert len(openai_server.requests()) == 3


def test_a_reply_slower_than_the_read_timeout(openai_server: ScriptedServer) -> None:
    openai_server.script(PATH, Scripted({"ok": 1}, delay=1.0))
    client = _client(openai_server.url, read_timeout_s=0.2)
    with pytest.raises(
        ServiceTimeout, match=r"sent no reply within 0.2 s.*--codeflash-llm-timeout"
    ):
        _run(client, client.post("thing", {}))
    assert len(openai_server.requests()) == 1  # a slow server is not asked again


def test_the_deadline_bounds_everything(openai_server: ScriptedServer) -> None:
    openai_server.default(PATH, lambda seen: Scripted({}, 500))
    retry = RetryPolicy(10, base_s=1.0, cap_s=1.0)
    client = _client(openai_server.url, retry=retry, jitter=lambda: 1.0)
    with pytest.raises(ServiceUnavailable, match="no time left for another attempt"):
        _run(client, client.post("thing", {}, deadline=time.monotonic() + 1.9))
    # Ten attempts were allowed, each 1 s after the last: the deadline stopped them.
    assert 1 <= len(openai_server.requests(PATH)) <= 2
    openai_server.default(PATH, lambda seen: Scripted({}, 200, delay=1.0))
    client = _client(openai_server.url)
    with pytest.raises(ServiceTimeout, match="deadline for language-model requests ran out"):
        _run(client, client.post("thing", {}, deadline=time.monotonic() + 0.3))


def test_a_server_that_is_not_there() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = _client(f"http://127.0.0.1:{port}")
    with pytest.raises(ServiceUnavailable, match=r"cannot reach http://127.0.0.1:\d+/v1/thing"):
        _run(client, client.post("thing", {}))


def test_a_huge_reply_is_not_read(openai_server: ScriptedServer) -> None:
    openai_server.script(PATH, Scripted({"text": "x" * 100_000}))
    client = _client(openai_server.url, max_reply_bytes=10_000)
    with pytest.raises(BadServiceResponse, match="larger than 9 KiB, so it was not read"):
        _run(client, client.post("thing", {}))


def test_a_reply_that_is_not_json(openai_server: ScriptedServer) -> None:
    openai_server.script(PATH, Scripted(raw=b"<html>Gateway</html>"))
    client = _client(openai_server.url)
    with pytest.raises(BadServiceResponse, match=r"not JSON \('<html>Gateway</html>'\)"):
        _run(client, client.post("thing", {}))


def test_a_refusal_is_not_retried_and_the_key_is_never_shown(
    openai_server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def echo(seen: Seen) -> Scripted:
        return Scripted({"error": f"no access with {json.dumps(seen.headers)}"}, 401)

    openai_server.default(PATH, echo)
    client = _client(openai_server.url, hints={401: "Check the key"})
    with pytest.raises(ServiceError) as raised:
        _run(client, client.post("thing", {}))
    assert type(raised.value) is ServiceError
    assert "answered HTTP 401" in str(raised.value)
    assert "Bearer ***" in str(raised.value)
    assert str(raised.value).endswith("Check the key.")
    assert len(openai_server.requests()) == 1
    assert KEY not in str(raised.value)
    assert KEY not in caplog.text
    assert KEY not in repr(client.http.headers)


def test_retry_after_forms() -> None:
    assert retry_after(None) is None
    assert retry_after("2.5") == 2.5
    assert retry_after("-1") == 0.0
    assert retry_after("soon") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
