"""The reply cache: ``<rootdir>/.codeflash/llm-cache/``, one JSON file per request.

A reply is found again by a hash of everything that decides it: the wire protocol, the
endpoint, the model and the request's payload (prompt, sampling settings, ...).  Payload
fields that change from run to run without changing the question (trace ids, counters) are
left out by the caller.  Only the parsed JSON body of a successful reply is stored: never a
header, so never an API key.  A file that cannot be read back is a miss, not an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["CACHE_DIR", "ReplyCache", "cache_key"]

CACHE_DIR = Path(".codeflash") / "llm-cache"
_VERSION = 1
log = logging.getLogger(__name__)


def cache_key(protocol: str, endpoint: str, model: str, payload: Any) -> str:
    """The hex SHA-256 of the request's identity, as canonical JSON."""
    identity = {
        "version": _VERSION,
        "protocol": protocol,
        "endpoint": endpoint,
        "model": model,
        "payload": payload,
    }
    text = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ReplyCache:
    """Replies on disk under ``directory``, keyed by :func:`cache_key`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        """The stored reply, or ``None`` if there is none (or it is unreadable)."""
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            log.debug("ignoring unreadable cached reply %s: %s", path, err)
            return None
        if not isinstance(data, dict) or data.get("version") != _VERSION or "reply" not in data:
            return None
        return data["reply"]

    def put(self, key: str, reply: Any) -> None:
        """Store ``reply`` atomically; a cache that cannot be written is only logged."""
        path = self._path(key)
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": _VERSION, "reply": reply}, handle, ensure_ascii=False)
            os.replace(tmp, path)
        except OSError as err:
            log.warning("cannot write the LLM reply cache at %s: %s", path, err)
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
