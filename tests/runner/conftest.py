"""Fixtures for the runner's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .twins import forget_loaded


@pytest.fixture(autouse=True)
def _forget_twins() -> Iterator[None]:
    """Modules the test made from source (``twins.load_module``) are not importable after it."""
    yield
    forget_loaded()
