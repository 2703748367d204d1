"""``--codeflash-shard=K/N``: a deterministic share of the chosen functions, for CI matrices.

Each of N jobs runs the whole test suite (the profile) and then evaluates only its share.
The share of a function is fixed by its qualified name alone (a hash), never by its rank,
so jobs whose timings differ still split the functions the same way: every function is
evaluated by exactly one job, whatever order the ranking put it in there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..records import TargetFunction

__all__ = ["shard_of", "take_shard"]


def shard_of(qualified_name: str, count: int) -> int:
    """The shard (1 to ``count``) that evaluates the function named ``qualified_name``."""
    digest = hashlib.sha256(qualified_name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def take_shard(
    targets: Sequence[TargetFunction], shard: tuple[int, int] | None
) -> list[TargetFunction]:
    """The targets of shard ``(K, N)``, in their ranked order; all of them without a shard."""
    if shard is None:
        return list(targets)
    index, count = shard
    return [t for t in targets if shard_of(t.qualified_name, count) == index]
