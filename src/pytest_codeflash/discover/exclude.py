"""What the user excluded from optimization: ``exclude`` globs of qualified names."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

__all__ = ["excluded_by"]


def excluded_by(qualified_name: str, patterns: Sequence[str]) -> str | None:
    """The first ``exclude`` glob that matches ``qualified_name`` (case-sensitive), if any."""
    return next((p for p in patterns if fnmatch.fnmatchcase(qualified_name, p)), None)
