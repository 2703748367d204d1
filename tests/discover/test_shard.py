"""Shards split the chosen functions the same way, whatever order the ranking gave them."""

from __future__ import annotations

from pathlib import Path

from pytest_codeflash.discover.shard import take_shard
from pytest_codeflash.models import TargetFunction

TARGETS = [
    TargetFunction(module=f"pkg.m{i % 3}", qualname=f"f{i}", file=Path("m.py"), lineno=1)
    for i in range(40)
]


def test_shards_cover_every_function_once() -> None:
    shares = [take_shard(TARGETS, (k, 4)) for k in range(1, 5)]
    names = [t.qualified_name for share in shares for t in share]
    assert sorted(names) == sorted(t.qualified_name for t in TARGETS)
    assert all(share for share in shares)  # 40 functions: every shard gets some


def test_a_share_depends_on_the_name_not_the_rank() -> None:
    share = {t.qualified_name for t in take_shard(TARGETS, (2, 3))}
    reordered = {t.qualified_name for t in take_shard(TARGETS[::-1], (2, 3))}
    assert share == reordered
    ranked = take_shard(TARGETS, (2, 3))
    assert ranked == [t for t in TARGETS if t.qualified_name in share]  # ranked order kept


def test_no_shard_is_everything() -> None:
    assert take_shard(TARGETS, None) == TARGETS
    assert take_shard(TARGETS, (1, 1)) == TARGETS
