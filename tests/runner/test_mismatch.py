"""How differences and values are shown: short reprs that never raise."""

from __future__ import annotations

from pytest_codeflash.runner.mismatch import short_repr

# --- short_repr --------------------------------------------------------------------------------


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no")


def test_short_repr_is_short_and_never_raises() -> None:
    assert short_repr([1, "a"]) == "[1, 'a']"
    assert len(short_repr("x" * 1000)) <= 80
    assert len(short_repr(list(range(1000)), limit=30)) <= 30
    assert "..." in short_repr("x" * 1000, limit=20)
    assert short_repr(BadRepr()).startswith("<")
    assert short_repr(10**5000).startswith("<unreprable int")
