"""Targets of every shape through the real runner: methods, async, generators, nondeterminism.

Each case is one pytest run with a correct and a wrong candidate; the wrong one must be
rejected for the right kind of difference, and the run must never call the correct one wrong.
"""

from __future__ import annotations

import json

import pytest

from ..conftest import src_project

MODULE = """\
import random
import time
import uuid
from datetime import datetime


class Tally:
    def __init__(self, items):
        self.items = list(items)
        self.calls = 0

    def count(self, value):
        self.calls += 1
        found = 0
        for item in self.items:
            if item == value:
                found += 1
        return found


async def total(values):
    result = 0
    for value in values:
        result += value
    return result


def evens(limit):
    for number in range(limit):
        if number % 2 == 0:
            yield number


_MISSING = object()


def lookup(table, key, default=_MISSING):
    for k, v in table:
        if k == key:
            return v
    if default is _MISSING:
        raise KeyError(key)
    return default


def stamp(name):
    parts = [name]
    parts.append(repr(time.time()))
    parts.append(str(uuid.uuid4()))
    parts.append(repr(random.random()))
    parts.append(datetime.now().isoformat())
    return "|".join(parts)
"""

TESTS = """\
import asyncio

import pytest

from shapes.core import Tally, evens, lookup, stamp, total


def test_count():
    tally = Tally([1, 2, 2, 3] * 50)
    assert tally.count(2) == 100
    assert tally.count(9) == 0


def test_total():
    assert asyncio.run(total(list(range(300)))) == 44850


def test_evens():
    assert list(evens(10)) == [0, 2, 4, 6, 8]
    assert sum(evens(500)) == 62250


def test_lookup():
    table = [(i, i * 2) for i in range(300)]
    assert lookup(table, 299) == 598
    assert lookup(table, -1, None) is None
    with pytest.raises(KeyError):
        lookup(table, -1)


def test_stamp():
    assert stamp("job").startswith("job|")
"""

CASES = {
    "shapes.core.Tally.count": (
        "    def count(self, value):\n"
        "        self.calls += 1\n"
        "        return self.items.count(value)\n",
        "    def count(self, value):\n        return self.items.count(value)\n",
        "self state differs",
    ),
    "shapes.core.total": (
        "async def total(values):\n    return sum(values)\n",
        "async def total(values):\n    return float(sum(values))\n",
        "return value differs",
    ),
    "shapes.core.evens": (
        "def evens(limit):\n    yield from range(0, limit, 2)\n",
        "def evens(limit):\n    yield from range(0, limit + 1, 2)\n",
        "yielded",
    ),
    # A sentinel default: the original's copy of the module shares the real one, or
    # ``default is _MISSING`` comes out otherwise than in the user's run.
    "shapes.core.lookup": (
        "def lookup(table, key, default=_MISSING):\n    missing = _MISSING\n"
        "    for k, v in table:\n        if k == key:\n            return v\n"
        "    if default is missing:\n        raise KeyError(key)\n    return default\n",
        "def lookup(table, key, default=_MISSING):\n"
        "    for k, v in table:\n        if k == key:\n            return v\n"
        "    if default is _MISSING:\n        raise LookupError(key)\n    return default\n",
        "exception differs",
    ),
    "shapes.core.stamp": (
        "def stamp(name):\n    return '|'.join([name, repr(time.time()), str(uuid.uuid4()),"
        " repr(random.random()), datetime.now().isoformat()])\n",
        "def stamp(name):\n    uuid.uuid4()\n    return '|'.join([name, repr(time.time()),"
        " str(uuid.uuid4()), repr(random.random()), datetime.now().isoformat()])\n",
        "return value differs",
    ),
}


@pytest.mark.parametrize("target", sorted(CASES))
def test_shapes(pytester: pytest.Pytester, target: str) -> None:
    good, bad, kind = CASES[target]
    src_project(pytester, "shapes", MODULE)
    pytester.makepyfile(test_shapes=TESTS)
    if target.endswith("Tally.count"):
        good, bad = (f"class Tally:\n{code}" for code in (good, bad))
    (pytester.path / "good.py").write_text(good)
    (pytester.path / "bad.py").write_text(bad)
    result = pytester.runpytest_subprocess(
        f"--codeflash-target={target}",
        "--codeflash-candidate=good.py",
        "--codeflash-candidate=bad.py",
        "--codeflash-report=report.json",
        "--codeflash-effort=low",
    )
    result.assert_outcomes(passed=5)
    (function,) = json.loads((pytester.path / "report.json").read_text())["functions"]
    verdicts = {c["id"]: c for c in function["candidates"]}
    assert verdicts["bad.py"]["verdict"] == "rejected"
    assert kind in verdicts["bad.py"]["reason"], verdicts["bad.py"]["reason"]
    good_reason = verdicts["good.py"]["reason"]
    # The correct rewrite is never called different; it may be too small to be faster, and
    # on a busy machine its timing may say slower or run out of rounds.
    assert "differs" not in good_reason
    timing = ("not ", "slower", "undecided")
    assert good_reason.startswith((*timing, "1.", "2.", "3.", "4.", "5.", "6.", "7.", "8.", "9."))
    assert function["unstable"] == []


HOOK_MODULE = """\
import threading


class Account:
    def __init__(self, owner, balance):
        self.owner = owner
        self.balance = balance
        self.lock = threading.Lock()


def open_accounts(owners):
    accounts = []
    for owner in owners:
        if owner not in [a.owner for a in accounts]:
            accounts.append(Account(owner, 0))
    return accounts
"""

HOOK_CONFTEST = """\
import threading


def pytest_codeflash_compare(original, candidate):
    lock_type = type(threading.Lock())
    if isinstance(original, lock_type) and isinstance(candidate, lock_type):
        return original.locked() == candidate.locked()
    return None
"""

HOOK_CANDIDATE = """\
def open_accounts(owners):
    seen = set()
    accounts = []
    for owner in owners:
        if owner not in seen:
            seen.add(owner)
            accounts.append(Account(owner, 0))
    return accounts
"""


@pytest.mark.parametrize("with_hook", [True, False])
def test_compare_hook_teaches_new_types(pytester: pytest.Pytester, with_hook: bool) -> None:
    """A value holding a lock is unverifiable, unless a conftest hook says how to compare it."""
    src_project(pytester, "bank", HOOK_MODULE)
    pytester.makepyfile(
        test_bank="from bank.core import open_accounts\n\n"
        "def test_open():\n"
        "    owners = [f'o{i % 150}' for i in range(600)]\n"
        "    assert len(open_accounts(owners)) == 150\n"
    )
    if with_hook:
        pytester.makeconftest(HOOK_CONFTEST)
    (pytester.path / "fast.py").write_text(HOOK_CANDIDATE)
    result = pytester.runpytest_subprocess(
        "--codeflash-target=bank.core.open_accounts",
        "--codeflash-candidate=fast.py",
        "--codeflash-report=report.json",
        "--codeflash-effort=low",
    )
    result.assert_outcomes(passed=1)
    (function,) = json.loads((pytester.path / "report.json").read_text())["functions"]
    (candidate,) = function["candidates"]
    if with_hook:
        assert candidate["verdict"] == "accepted", candidate["reason"]
    else:
        assert candidate["verdict"] == "rejected"
        assert "cannot verify" in candidate["reason"], candidate["reason"]
