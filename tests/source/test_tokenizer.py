"""The cl100k_base table shipped in the package: OpenAI's, checked, and no download (#17)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from pytest_codeflash.errors import ContextError
from pytest_codeflash.source import tokenizer


def test_known_token_ids() -> None:
    encoding = tokenizer.cl100k_base()
    # Published examples of cl100k_base (tiktoken's README and OpenAI's cookbook).
    assert encoding.encode("hello world") == [15339, 1917]
    assert encoding.encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    assert encoding.n_vocab == 100277
    assert tokenizer.count_tokens("x <|endoftext|>") == len(
        encoding.encode("x <|endoftext|>", disallowed_special=())
    )


def test_no_download_and_no_cache_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    tokenizer.cl100k_base.cache_clear()
    try:
        assert tokenizer.count_tokens("def f(): pass") > 0
    finally:
        tokenizer.cl100k_base.cache_clear()
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_table_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokenizer, "CL100K_SHA256", "0" * 64)
    tokenizer.cl100k_base.cache_clear()
    try:
        with pytest.raises(ContextError, match="damaged"):
            tokenizer.cl100k_base()
    finally:
        tokenizer.cl100k_base.cache_clear()
