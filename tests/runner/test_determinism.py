"""Tests for the runner's determinism patches.

The patches are process-global, so every test runs its with-block in-process but the
``_restored`` fixture checks afterwards that every patched attribute and generator state is
back.  Behaviour that depends on interpreter start-up (hash seed, numpy not imported) runs
in a subprocess.
"""

from __future__ import annotations

import datetime
import os
import pickle
import random
import secrets
import subprocess
import sys
import tempfile
import textwrap
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_codeflash.runner.determinism import (
    REAL_PERF_COUNTER_NS,
    Determinism,
    DeterministicDate,
    DeterministicDatetime,
    child_environment,
)

np = pytest.importorskip("numpy")
import numpy.random  # noqa: E402  (numpy 2 loads it lazily; the tests below use it)

PATCHED = [
    (time, name)
    for name in (
        "time",
        "time_ns",
        "perf_counter",
        "perf_counter_ns",
        "monotonic",
        "monotonic_ns",
        "process_time",
        "process_time_ns",
        "localtime",
        "gmtime",
        "ctime",
        "strftime",
    )
] + [
    (os, "urandom"),
    (random, "_urandom"),
    (random, "seed"),
    (random.Random, "seed"),
    (uuid, "uuid4"),
    (uuid, "uuid1"),
    (tempfile, "_name_sequence"),
    (numpy.random, "seed"),
    (numpy.random, "default_rng"),
]

SOURCE_FROM_IMPORT = """
from datetime import date, datetime, timezone
from time import perf_counter, time
from os import urandom
from uuid import uuid1, uuid4
from numpy.random import default_rng

def sample():
    return [datetime.now(), datetime.now(timezone.utc), datetime.utcnow(), datetime.today(),
            date.today(), time(), perf_counter(), urandom(3), uuid4(), uuid1(),
            default_rng().integers(0, 10**9)]
"""

SOURCE_MODULE_IMPORT = """
import datetime as dt

def sample():
    return [dt.datetime.now(), dt.datetime.now(dt.timezone.utc), dt.date.today(),
            dt.datetime.today()]
"""


def _snapshot() -> list[object]:
    return [vars(owner).get(name) for owner, name in PATCHED]


@pytest.fixture(autouse=True)
def _restored() -> Iterator[None]:
    """Fail the test if anything stays patched or a generator's state changed."""
    before = _snapshot()
    random_state = random.getstate()
    numpy_state = np.random.get_state()
    yield
    assert _snapshot() == before
    assert random.getstate() == random_state
    after = np.random.get_state()
    assert after[0] == numpy_state[0]
    assert (after[1] == numpy_state[1]).all()
    assert after[2:] == numpy_state[2:]


def _module(source: str, name: str = "user_mod") -> types.ModuleType:
    module = types.ModuleType(name)
    exec(textwrap.dedent(source), vars(module))
    return module


def _everything(*modules: types.ModuleType) -> list[Any]:
    values: list[Any] = [
        time.time(),
        time.time_ns(),
        time.perf_counter(),
        time.monotonic(),
        time.monotonic_ns(),
        time.process_time(),
        time.strftime("%Y-%m-%d %H:%M:%S"),
        time.localtime(),
        uuid.uuid4(),
        uuid.uuid1(),
        random.random(),
        random.Random().random(),
        os.urandom(8),
        secrets.token_hex(8),
        secrets.token_bytes(4),
        secrets.token_urlsafe(4),
        secrets.randbelow(10**9),
        secrets.randbits(30),
        secrets.choice("abcdefghijklmnop"),
        random.SystemRandom().random(),
        np.random.rand(3).tolist(),
        np.random.normal(),
        np.random.default_rng().random(),
        np.random.RandomState().rand(),
        np.random.Generator(np.random.PCG64()).integers(0, 10**9),
    ]
    for module in modules:
        values.extend(module.sample())
    return values


def test_two_activations_see_identical_values() -> None:
    from_import = _module(SOURCE_FROM_IMPORT, "from_import")
    module_import = _module(SOURCE_MODULE_IMPORT, "module_import")
    det = Determinism()
    det.prepare_module(from_import)
    det.prepare_module(module_import)
    runs = []
    for _ in range(3):
        with det:
            runs.append(_everything(from_import, module_import))
    assert runs[0] == runs[1] == runs[2]


def test_two_instances_with_same_seed_agree_and_other_seeds_differ() -> None:
    with Determinism(seed=7):
        first = _everything()
    with Determinism(seed=7):
        second = _everything()
    with Determinism(seed=8):
        third = _everything()
    assert first == second
    assert first[8:] != third[8:]  # the clocks are seed-independent; the streams are not


def test_virtual_clocks_start_fixed_and_advance() -> None:
    with Determinism(epoch=1_000_000.5):
        assert time.time() == 1_000_000.5
        assert time.time() == pytest.approx(1_000_000.500001, abs=1e-9)
        assert time.time_ns() == 1_000_000_500_002_000
        start = time.perf_counter()
        deadline = time.monotonic() + 0.001
        while time.monotonic() < deadline:  # must terminate on the virtual clock
            pass
        assert time.perf_counter() > start


def test_sleep_really_sleeps_and_advances_the_virtual_clocks() -> None:
    with Determinism():
        wall, mono = time.time(), time.monotonic()
        real_start = REAL_PERF_COUNTER_NS()
        time.sleep(0.01)
        assert REAL_PERF_COUNTER_NS() - real_start >= 9_000_000
        assert time.time() - wall == pytest.approx(0.01, abs=1e-5)
        assert time.monotonic() - mono == pytest.approx(0.01, abs=1e-5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**64), epoch=st.floats(0, 4e9, allow_nan=False))
def test_any_seed_and_epoch_repeat_exactly(seed: int, epoch: float) -> None:
    det = Determinism(seed=seed, epoch=epoch)
    runs = []
    for _ in range(2):
        with det:
            runs.append([time.time(), uuid.uuid1(), os.urandom(4), random.random()])
    assert runs[0] == runs[1]
    assert runs[0][0] == round(epoch * 1_000_000) / 1_000_000


def test_perf_counter_ns_is_never_patched() -> None:
    real = time.perf_counter_ns
    assert real is REAL_PERF_COUNTER_NS
    with Determinism():
        assert time.perf_counter_ns is REAL_PERF_COUNTER_NS
        first = time.perf_counter_ns()
        assert time.perf_counter_ns() >= first


def test_real_functions_are_back_after_exit() -> None:
    real_time, real_urandom, real_uuid4 = time.time, os.urandom, uuid.uuid4
    with Determinism():
        assert time.time is not real_time
        assert os.urandom is not real_urandom
        assert uuid.uuid4 is not real_uuid4
    assert time.time is real_time
    assert os.urandom is real_urandom
    assert uuid.uuid4 is real_uuid4
    assert abs(time.time() - datetime.datetime.now().timestamp()) < 60


def test_prepared_names_pass_through_when_inactive() -> None:
    module = _module(SOURCE_FROM_IMPORT)
    Determinism().prepare_module(module)
    assert module.datetime is DeterministicDatetime
    assert module.date is DeterministicDate
    assert module.timezone is datetime.timezone
    now = module.datetime.now()
    assert type(now) is datetime.datetime
    assert abs(now.timestamp() - time.time()) < 60
    assert module.date.today() == datetime.date.today()
    assert abs(module.time() - time.time()) < 60
    assert module.uuid4() != module.uuid4()
    assert len(module.urandom(5)) == 5


def test_datetime_module_proxy() -> None:
    module = _module(SOURCE_MODULE_IMPORT)
    Determinism().prepare_module(module)
    assert module.dt is not datetime
    assert module.dt.datetime is DeterministicDatetime
    assert module.dt.date is DeterministicDate
    assert module.dt.timedelta is datetime.timedelta
    assert module.dt.MINYEAR == datetime.MINYEAR


def test_datetime_results_are_real_types() -> None:
    module = _module(SOURCE_FROM_IMPORT)
    det = Determinism(epoch=0.0)
    det.prepare_module(module)
    with det:
        local, aware, utc, today_dt, today = module.sample()[:5]
    for value in (local, aware, utc, today_dt):
        assert type(value) is datetime.datetime
        assert isinstance(value, module.datetime)
    assert type(today) is datetime.date
    assert aware.tzinfo is datetime.timezone.utc
    assert aware == datetime.datetime(1970, 1, 1, 0, 0, 0, 1, datetime.timezone.utc)
    assert utc == datetime.datetime(1970, 1, 1, 0, 0, 0, 2)
    assert local.tzinfo is None
    assert pickle.loads(pickle.dumps(local)) == local


def test_stand_ins_behave_like_the_real_classes() -> None:
    built = DeterministicDatetime(2020, 1, 2, 3, 4, 5, 6)
    assert type(built) is datetime.datetime
    assert built == datetime.datetime(2020, 1, 2, 3, 4, 5, 6)
    assert type(DeterministicDate(2020, 1, 2)) is datetime.date
    assert type(DeterministicDatetime.fromisoformat("2020-01-02T03:04:05")) is datetime.datetime
    assert type(DeterministicDatetime.strptime("2020", "%Y")) is datetime.datetime
    assert isinstance(datetime.datetime(2020, 1, 1), DeterministicDatetime)
    assert isinstance(datetime.datetime(2020, 1, 1), DeterministicDate)
    assert not isinstance(datetime.date(2020, 1, 1), DeterministicDatetime)
    assert isinstance(datetime.date(2020, 1, 1), DeterministicDate)
    assert issubclass(datetime.datetime, DeterministicDatetime)
    assert issubclass(DeterministicDatetime, datetime.datetime)
    assert not issubclass(datetime.date, DeterministicDatetime)


def test_user_subclass_of_a_stand_in_keeps_its_type() -> None:
    class Stamp(DeterministicDatetime):
        pass

    class Day(DeterministicDate):
        pass

    assert not isinstance(datetime.datetime(2020, 1, 1), Stamp)
    with Determinism(epoch=86_400.0 * 365):
        stamp = Stamp.now(datetime.timezone.utc)
        day = Day.today()
    assert type(stamp) is Stamp
    assert stamp == datetime.datetime(1971, 1, 1, tzinfo=datetime.timezone.utc)
    assert type(day) is Day


def test_uuids_are_valid() -> None:
    with Determinism():
        fours = [uuid.uuid4() for _ in range(5)]
        ones = [uuid.uuid1() for _ in range(5)]
        explicit = uuid.uuid1(node=0x123456789ABC, clock_seq=5)
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in fours)
    assert all(u.version == 1 and u.variant == uuid.RFC_4122 for u in ones)
    assert len(set(fours)) == len(set(ones)) == 5
    assert [u.time for u in ones] == sorted(u.time for u in ones)
    assert explicit.node == 0x123456789ABC
    assert explicit.clock_seq == 5


def test_temporary_file_names_repeat(tmp_path: Path) -> None:
    names = []
    for _ in range(2):
        with Determinism(), tempfile.NamedTemporaryFile(dir=tmp_path) as handle:
            names.append(handle.name)
    assert names[0] == names[1]


def test_urandom_validates_its_argument() -> None:
    with Determinism():
        assert os.urandom(0) == b""
        with pytest.raises(ValueError, match="negative"):
            os.urandom(-1)
        with pytest.raises(TypeError):
            os.urandom(1.5)  # type: ignore[arg-type]


def test_explicit_seeds_are_honoured() -> None:
    with Determinism(seed=1):
        seeded = np.random.default_rng(42).random()
        rng = random.Random(42).random()
    assert seeded == np.random.default_rng(42).random()
    assert rng == random.Random(42).random()


def _draw_then_fail() -> None:
    with Determinism():
        random.random()
        np.random.rand()
        raise ZeroDivisionError


def test_exception_in_block_restores_everything() -> None:
    real_time = time.time
    with pytest.raises(ZeroDivisionError):
        _draw_then_fail()
    assert time.time is real_time


def test_activations_do_not_nest() -> None:
    outer, inner = Determinism(), Determinism()
    with outer:
        with pytest.raises(RuntimeError, match="already active"):
            inner.__enter__()
        with pytest.raises(RuntimeError, match="already active"), outer:
            pass  # pragma: no cover
        assert time.time() == 1_700_000_000.0  # the outer activation is untouched


def test_child_environment_fixes_the_hash_seed() -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "random"}
    child = child_environment(env)
    assert child["PYTHONHASHSEED"] == "0"
    assert env["PYTHONHASHSEED"] == "random"
    code = "print(hash('codeflash'), list({'a', 'b', 'c', 'd'}))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], env=child, capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(outputs) == 1


def test_asyncio_sleep_finishes_while_active() -> None:
    code = textwrap.dedent(
        """
        import asyncio, time
        from pytest_codeflash.runner.determinism import Determinism

        async def main():
            with Determinism():
                await asyncio.wait_for(asyncio.sleep(0.02), timeout=5)
                return time.time()

        print(asyncio.run(main()))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1700000000.0"


def test_without_numpy_imported_activation_does_not_import_it() -> None:
    code = textwrap.dedent(
        """
        import sys, random
        from pytest_codeflash.runner.determinism import Determinism
        det = Determinism()
        with det:
            first = random.random()
        with det:
            assert random.random() == first
        assert "numpy" not in sys.modules, "numpy was imported"
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
