"""The one thin HTTP client of the language-model back-ends, around ``httpx.AsyncClient``.

It posts JSON and returns parsed JSON, or raises a typed error that says what happened and
what to do (:mod:`pytest_codeflash.errors`): :class:`ServiceUnavailable` (cannot connect,
rate limited or server errors after the retries), :class:`ServiceTimeout` (no reply in
time), :class:`BadServiceResponse` (not JSON, too large), :class:`ServiceError` (the server
refused the request: a bad key, a wrong URL or model).  It never returns an empty result
for a failure.

Connection errors, 429 and 5xx are retried with exponential backoff and jitter; a
``Retry-After`` header is honoured.  Every attempt is bounded by the connect and read
timeouts and by the caller's deadline.  The API key lives only in the ``httpx`` client's
headers (which ``httpx`` masks in ``repr``), and every message built here is scrubbed of it.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from ... import __version__
from ...errors import BadServiceResponse, ServiceError, ServiceTimeout, ServiceUnavailable

__all__ = ["MAX_REPLY_BYTES", "Reply", "RetryPolicy", "ServiceClient", "make_http_client"]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
MAX_REPLY_BYTES = 8 * 1024 * 1024
MAX_RETRY_AFTER_S = 120.0  # a server asking to wait longer than this has failed for this run
_RETRIED_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to try again after a retryable failure."""

    attempts: int = 4  # in all, the first one included
    base_s: float = 0.5  # backoff before the 2nd attempt; doubles each time
    cap_s: float = 20.0  # longest backoff


@dataclass(frozen=True)
class Reply:
    """A successful reply: its JSON body and how many attempts it took."""

    data: Any
    attempts: int


def make_http_client(
    base_url: str,
    *,
    api_key: str | None,
    read_timeout_s: float,
    concurrency: int,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A pooled ``httpx.AsyncClient`` for ``base_url`` with explicit timeouts.

    ``api_key`` goes into an ``Authorization: Bearer`` header, and nowhere else.
    """
    sent = {"user-agent": f"pytest-codeflash/{__version__}", **(headers or {})}
    if api_key:
        sent["authorization"] = f"Bearer {api_key}"
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        headers=sent,
        timeout=httpx.Timeout(read_timeout_s, connect=min(CONNECT_TIMEOUT_S, read_timeout_s)),
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        transport=transport,
        follow_redirects=False,
    )


class ServiceClient:
    """POSTs JSON to one service and returns its JSON reply, with retries and a deadline.

    :param label: how messages name the service, e.g. ``openai``.
    :param secret: the API key, scrubbed from every message.
    :param hints: the fix to suggest, by HTTP status (``401``, ``404``, ...).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        label: str,
        secret: str | None = None,
        hints: Mapping[int, str] | None = None,
        retry: RetryPolicy | None = None,
        max_reply_bytes: int = MAX_REPLY_BYTES,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.http = http
        self.label = label
        self.secret = secret or None
        self.hints = dict(hints or {})
        self.retry = retry or RetryPolicy()
        self.max_reply_bytes = max_reply_bytes
        self._sleep = sleep
        self._jitter = jitter

    async def aclose(self) -> None:
        await self.http.aclose()

    def url(self, path: str) -> str:
        """The full URL of ``path`` (relative to the base URL), for messages."""
        return f"{str(self.http.base_url).rstrip('/')}/{path.lstrip('/')}"

    async def post(self, path: str, payload: Any, *, deadline: float | None = None) -> Reply:
        """POST ``payload`` as JSON to ``path``; the parsed reply, or a typed error.

        :param deadline: a :func:`time.monotonic` time by which everything must be done,
            retries and backoff included.
        """
        url = self.url(path)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        attempts = self.retry.attempts
        for attempt in range(1, attempts + 1):
            remaining = self._remaining(deadline, url)
            wait: float | None = None
            try:
                status, headers, raw = await asyncio.wait_for(
                    self._send(path, body, remaining), remaining
                )
            except asyncio.TimeoutError:
                raise ServiceTimeout(self._scrub(f"{self.label}: {_deadline_text(url)}")) from None
            except httpx.ConnectTimeout as err:
                problem: ServiceError = ServiceUnavailable(self._unreachable(url, err))
            except httpx.TimeoutException as err:
                read = self.http.timeout.read
                if remaining is not None and (read is None or read >= remaining):
                    # The read timeout was cut to what the deadline left: the deadline ran out.
                    text = f"{self.label}: {_deadline_text(url)}"
                    raise ServiceTimeout(self._scrub(text)) from err
                raise ServiceTimeout(
                    self._scrub(
                        f"{self.label}: {url} sent no reply within {_read_timeout(self.http)} s. "
                        "The model may be overloaded or the reply too long: raise "
                        "--codeflash-llm-timeout, or lower --codeflash-llm-max-tokens."
                    )
                ) from err
            except httpx.TransportError as err:
                problem = ServiceUnavailable(self._unreachable(url, err))
            else:
                log.debug("%s: POST %s -> HTTP %s (attempt %d)", self.label, url, status, attempt)
                if 200 <= status < 300:
                    return Reply(self._json(raw, url), attempt)
                problem = self._refused(status, raw, url)
                if status not in _RETRIED_STATUS and status < 500:
                    raise problem
                wait = retry_after(headers.get("retry-after"))
            if attempt == attempts:
                raise type(problem)(f"{problem} (gave up after {attempts} attempts)")
            delay = self._delay(attempt, wait, problem)
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise type(problem)(f"{problem} (no time left for another attempt)")
            log.debug("%s: retrying %s in %.2f s: %s", self.label, url, delay, problem)
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- one attempt ----------------------------------------------------------------------
    async def _send(
        self, path: str, body: bytes, remaining: float | None
    ) -> tuple[int, httpx.Headers, bytes]:
        timeout = self.http.timeout
        if remaining is not None:
            timeout = httpx.Timeout(
                connect=_clamp(timeout.connect, remaining),
                read=_clamp(timeout.read, remaining),
                write=_clamp(timeout.write, remaining),
                pool=_clamp(timeout.pool, remaining),
            )
        request = self.http.build_request(
            "POST",
            path.lstrip("/"),
            content=body,
            headers={"content-type": "application/json"},
            timeout=timeout,
        )
        response = await self.http.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_reply_bytes:
                raise self._too_large(request.url)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_reply_bytes:
                    raise self._too_large(request.url)
                chunks.append(chunk)
        finally:
            await response.aclose()
        return response.status_code, response.headers, b"".join(chunks)

    # -- messages -------------------------------------------------------------------------
    def _remaining(self, deadline: float | None, url: str) -> float | None:
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise ServiceTimeout(self._scrub(f"{self.label}: {_deadline_text(url)}"))
        return left

    def _delay(self, attempt: int, wait: float | None, problem: ServiceError) -> float:
        backoff = min(self.retry.cap_s, self.retry.base_s * 2.0 ** (attempt - 1))
        jittered = backoff / 2 + self._jitter() * backoff / 2
        if wait is None:
            return jittered
        if wait > MAX_RETRY_AFTER_S:
            raise type(problem)(
                f"{problem} (the server asks to wait {wait:.0f} s before trying again, longer "
                f"than the {MAX_RETRY_AFTER_S:.0f} s this run waits)"
            )
        return max(wait, jittered)

    def _json(self, raw: bytes, url: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError as err:
            raise BadServiceResponse(
                self._scrub(
                    f"{self.label}: {url} answered with something that is not JSON "
                    f"({_excerpt(raw)}). Check that the URL points at the API itself."
                )
            ) from err

    def _refused(self, status: int, raw: bytes, url: str) -> ServiceError:
        detail = _error_detail(raw)
        text = f"{self.label}: {url} answered HTTP {status}" + (f": {detail}" if detail else "")
        hint = self.hints.get(status, "")
        if status == 429 or status >= 500 or status in _RETRIED_STATUS:
            return ServiceUnavailable(self._scrub(f"{text}. {hint}".rstrip(". ") + "."))
        return ServiceError(self._scrub(f"{text}. {hint}".rstrip(". ") + "."))

    def _unreachable(self, url: str, err: Exception) -> str:
        reason = str(err) or type(err).__name__
        return self._scrub(
            f"{self.label}: cannot reach {url} ({reason}). Check that the server is running "
            "and that the URL is right."
        )

    def _too_large(self, url: object) -> BadServiceResponse:
        return BadServiceResponse(
            self._scrub(
                f"{self.label}: the reply from {url} is larger than "
                f"{self.max_reply_bytes // 1024} KiB, so it was not read. Lower "
                "--codeflash-llm-max-tokens or --codeflash-llm-candidates."
            )
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self.secret, "***") if self.secret else text


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if any."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _clamp(value: float | None, limit: float) -> float:
    return limit if value is None else min(value, limit)


def _read_timeout(http: httpx.AsyncClient) -> str:
    return f"{http.timeout.read:g}" if http.timeout.read is not None else "?"


def _deadline_text(url: str) -> str:
    return (
        f"no complete reply from {url} before this function's deadline for language-model "
        "requests ran out. Use a lower --codeflash-effort (fewer requests) or a faster model."
    )


def _excerpt(raw: bytes, limit: int = 120) -> str:
    text = raw[: limit * 4].decode("utf-8", "replace").strip()
    shown = text[:limit] + ("..." if len(text) > limit else "")
    return repr(shown) if shown else "an empty body"


def _error_detail(raw: bytes) -> str:
    """The message of an error reply (``{"error": ...}`` or ``{"detail": ...}``), shortened."""
    try:
        data = json.loads(raw)
    except ValueError:
        return _excerpt(raw) if raw.strip() else ""
    found: Any = data
    if isinstance(data, dict):
        found = data.get("error", data.get("detail", data.get("message", data)))
        if isinstance(found, dict):
            found = found.get("message", found)
    text = found if isinstance(found, str) else json.dumps(found)
    return text[:300] + ("..." if len(text) > 300 else "")
