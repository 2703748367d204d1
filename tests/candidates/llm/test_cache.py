"""The reply cache: keys, round trips, and files that cannot be read back."""

from __future__ import annotations

from pathlib import Path

from pytest_codeflash.candidates.llm.cache import ReplyCache, cache_key


def test_the_key_depends_on_everything_that_decides_the_reply() -> None:
    base = cache_key("openai", "http://h/v1/chat/completions", "m", {"a": 1, "b": [1, 2]})
    assert base == cache_key("openai", "http://h/v1/chat/completions", "m", {"b": [1, 2], "a": 1})
    others = {
        cache_key("codeflash-service", "http://h/v1/chat/completions", "m", {"a": 1, "b": [1, 2]}),
        cache_key("openai", "http://other/v1/chat/completions", "m", {"a": 1, "b": [1, 2]}),
        cache_key("openai", "http://h/v1/chat/completions", "m2", {"a": 1, "b": [1, 2]}),
        cache_key("openai", "http://h/v1/chat/completions", "m", {"a": 2, "b": [1, 2]}),
    }
    assert base not in others
    assert len(others) == 4


def test_round_trip_and_unreadable_files(tmp_path: Path) -> None:
    cache = ReplyCache(tmp_path / "cache")
    key = cache_key("openai", "u", "m", {})
    assert cache.get(key) is None
    cache.put(key, {"choices": ["é"]})
    assert cache.get(key) == {"choices": ["é"]}
    (path,) = (tmp_path / "cache").rglob("*.json")
    path.write_text("{truncated")
    assert cache.get(key) is None
    path.write_text('{"version": 0, "reply": 1}')
    assert cache.get(key) is None
    blocked = ReplyCache(path)  # a file where the directory should be: logged, not raised
    blocked.put(key, {})
    assert blocked.get(key) is None
