"""Tests that read, freeze or patch the clock pass with an equivalent candidate.

One pytest run evaluates a correct and a wrong candidate of a function that reads
``date.today()``, ``datetime.now()`` and ``time.time()``, under tests that read the real
clock themselves, monkeypatch the module's ``time`` or its ``date``, freeze time with
freezegun, and sleep.
"""

from __future__ import annotations

import json

import pytest

from ..conftest import src_project

MODULE = '''\
import time
from datetime import date, datetime


def stamp(items):
    """Today, now and the items without repeats, in first-seen order."""
    today, moment, now = date.today(), datetime.now(), time.time()
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return today, moment, now, out
'''

FAST = MODULE.replace(
    """    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return today, moment, now, out""",
    """    return today, moment, now, list(dict.fromkeys(items))""",
)

# Reads the clock once more: the same results under a frozen clock, not under a moving one.
TWICE = FAST.replace("datetime.now(), time.time()", "datetime.now(), (time.time(), time.time())[1]")
assert TWICE != FAST

TESTS = """\
import time
from datetime import date, datetime

from freezegun import freeze_time

from clocked import core
from clocked.core import stamp

ITEMS = [(i * 7919) % 300 for i in range(2000)]


def test_the_real_clock():
    today, moment, now, out = stamp(ITEMS)
    assert today == date.today()
    assert abs(moment - datetime.now()).total_seconds() < 30
    assert abs(now - time.time()) < 30
    assert len(out) == 300


def test_monkeypatched_time(monkeypatch):
    monkeypatch.setattr(core.time, "time", lambda: 1000.0)
    assert stamp(ITEMS)[2] == 1000.0


class Y2K(date):
    @classmethod
    def today(cls):
        return date(2000, 1, 1)


def test_monkeypatched_date(monkeypatch):
    monkeypatch.setattr(core, "date", Y2K)
    assert stamp(ITEMS)[0] == date(2000, 1, 1)


def test_frozen_time():
    with freeze_time("2012-01-14 12:00:00"):
        today, moment, now, _ = stamp(ITEMS)
    assert today == date(2012, 1, 14)
    assert moment == datetime(2012, 1, 14, 12)


def test_sleep_then_read():
    before = time.time()
    time.sleep(0.01)
    assert stamp(ITEMS)[2] >= before
"""


@pytest.fixture
def clocked(pytester: pytest.Pytester) -> pytest.Pytester:
    src_project(pytester, "clocked", MODULE, testpaths=True)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_core.py").write_text(TESTS)
    (pytester.path / "fast.py").write_text(FAST)
    (pytester.path / "twice.py").write_text(TWICE)
    return pytester


def test_clock_reading_tests_pass_with_an_equivalent_candidate(clocked: pytest.Pytester) -> None:
    result = clocked.runpytest_subprocess(
        "--codeflash-target=clocked.core.stamp",
        "--codeflash-candidate=fast.py",
        "--codeflash-candidate=twice.py",
        "--codeflash-effort=low",
        "--codeflash-report=report.json",
    )
    result.assert_outcomes(passed=5)
    (function,) = json.loads((clocked.path / "report.json").read_text())["functions"]
    verdicts = {c["id"]: c for c in function["candidates"]}
    assert len(function["tests"]) == 5  # every test calls it, and passed with the original
    fast = verdicts["fast.py"]
    assert "test failed" not in fast["reason"]
    assert fast["verdict"] == "accepted", fast["reason"]
    twice = verdicts["twice.py"]
    assert twice["verdict"] == "rejected"
    assert "return value differs" in twice["reason"], twice["reason"]
