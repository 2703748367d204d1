"""Strategies of generated inputs: helpers that shape strings."""

from __future__ import annotations

from pytest_codeflash.runner.strategies import st_words


def test_words_of_a_phrase_of_only_whitespace_are_none() -> None:
    assert st_words("   ") == []
    assert st_words("one two three") == ["one", "three"]
    assert st_words("one two") == ["two"]
