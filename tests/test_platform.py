"""Where pytest-codeflash runs: POSIX only, said clearly elsewhere."""

from __future__ import annotations

import os

import pytest

from pytest_codeflash.options import resolve


def test_non_posix_platform_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "name", "nt")
    with pytest.raises(pytest.UsageError) as info:
        resolve._check_platform()
    monkeypatch.undo()
    message = str(info.value)
    assert message.startswith("--codeflash needs a POSIX system such as Linux or macOS")
    assert "(os.name 'nt')" in message
    assert "process session and resource limits (setsid, setrlimit, killpg)" in message
    assert "without --codeflash your tests run as usual" in message


def test_posix_platform_passes() -> None:
    resolve._check_platform()
