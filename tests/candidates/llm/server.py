"""A real HTTP server on 127.0.0.1 that answers with scripted replies, for both protocols.

Replies are queued per path (``script``); a path with an empty queue falls back to its
``default`` responder, else to 404.  Every request is recorded (path, headers, JSON body),
and so is the largest number of requests in flight at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted reply: JSON (``body``) or bytes (``raw``), after ``delay`` seconds."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def prompt(self) -> str:
        """The user message of a chat-completions request."""
        return str(self.body["messages"][-1]["content"])


Responder = Callable[[Seen], Reply]


class ScriptedServer:
    """A threaded HTTP server with scripted replies; ``url`` is its base URL."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[Reply]] = defaultdict(deque)
        self.defaults: dict[str, Responder] = {}
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = _Quiet(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, path: str, *replies: Reply) -> None:
        self.queues[path].extend(replies)

    def default(self, path: str, responder: Responder) -> None:
        self.defaults[path] = responder

    def requests(self, path: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if path is None or s.path == path]

    def reset(self) -> None:
        with self.lock:
            self.queues.clear()
            self.defaults.clear()
            self.seen.clear()
            self.max_in_flight = 0

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def answer(self, seen: Seen) -> Reply:
        with self.lock:
            self.seen.append(seen)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            queue = self.queues.get(seen.path)
            reply = queue.popleft() if queue else None
            responder = self.defaults.get(seen.path)
        if reply is None:
            reply = responder(seen) if responder else Reply({"error": "not scripted"}, 404)
        return reply

    def done(self) -> None:
        with self.lock:
            self.in_flight -= 1


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up early is part of the script (timeouts)


def _handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._serve("POST")

        def do_GET(self) -> None:
            self._serve("GET")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            seen = Seen(method, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            reply = server.answer(seen)
            try:
                time.sleep(reply.delay)
                data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (a timeout test): nothing to answer
                self.close_connection = True
            finally:
                server.done()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def chat(*contents: str | None, usage: tuple[int, int] = (100, 50), **choice: Any) -> Reply:
    """A chat-completions reply with one choice per content."""
    choices = [
        {"index": i, "message": {"role": "assistant", "content": c}, "finish_reason": "stop"}
        | choice
        for i, c in enumerate(contents)
    ]
    return Reply(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "scripted",
            "choices": choices,
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]},
        }
    )


def answer(code: str, path: str | None = "src/listy/core.py", prose: str = "Uses a set.") -> str:
    """A model's markdown answer: a sentence, then the code in a fenced block."""
    tag = f"python:{path}" if path else "python"
    return f"{prose}\n\n```{tag}\n{code.rstrip()}\n```\n"


def by_proposal(*replies: Reply) -> Responder:
    """Answer proposal k (``## This proposal (k of n)``) with ``replies[k - 1]``.

    Requests run side by side and arrive in any order; this keeps the script deterministic.
    """

    def respond(seen: Seen) -> Reply:
        index = int(seen.prompt.split("## This proposal (")[1].split(" of ")[0])
        return replies[index - 1]

    return respond


def choices(content: str) -> Responder:
    """Answer every chat request with as many choices as its ``n`` asks, all ``content``."""

    def respond(seen: Seen) -> Reply:
        return chat(*[content] * int(seen.body.get("n", 1)))

    return respond
