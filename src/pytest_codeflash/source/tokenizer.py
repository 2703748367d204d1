"""Token counts with OpenAI's ``cl100k_base`` encoding, from a table shipped in this package.

tiktoken downloads an encoding's table the first time it is used; a plugin that must work
offline cannot.  ``data/cl100k_base.tiktoken`` is that table (OpenAI's, under tiktoken's MIT
licence, see ``data/cl100k_base.NOTICE``): it is checked against the SHA-256 that tiktoken
itself expects, read here without writing any cache, and handed to tiktoken's tokenizer.
Imported only when a code context is measured.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from importlib import resources
from typing import TYPE_CHECKING

from ..errors import ContextError

if TYPE_CHECKING:
    import tiktoken

__all__ = ["CL100K_SHA256", "cl100k_base", "count_tokens"]

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# The pattern and special tokens of cl100k_base, as tiktoken_ext.openai_public defines them.
_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


@functools.lru_cache(maxsize=1)
def cl100k_base() -> tiktoken.Encoding:
    """The ``cl100k_base`` encoding, built once from the shipped table.

    :raises ContextError: the table is missing or is not the one tiktoken expects.
    """
    import tiktoken

    table = resources.files("pytest_codeflash") / "data" / "cl100k_base.tiktoken"
    try:
        data = table.read_bytes()
    except OSError as err:
        raise ContextError(
            f"cannot read the tokenizer table {table} ({err}); reinstall pytest-codeflash"
        ) from err
    if hashlib.sha256(data).hexdigest() != CL100K_SHA256:
        raise ContextError(
            f"the tokenizer table {table} is damaged (its SHA-256 is not cl100k_base's); "
            "reinstall pytest-codeflash"
        )
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }
    return tiktoken.Encoding(
        name="cl100k_base", pat_str=_PATTERN, mergeable_ranks=ranks, special_tokens=_SPECIAL
    )


def count_tokens(text: str) -> int:
    """Tokens in ``text`` with cl100k_base (special-token text counts as plain text)."""
    return len(cl100k_base().encode(text, disallowed_special=()))
