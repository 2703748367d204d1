"""The rule engine as a candidate source: a ``pytest_codeflash_generate_candidates`` plugin.

Registered by the session like any third-party source would be.  Importing this module is
cheap; libcst and the rules load on the first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ...models import Candidate, CandidateResult, Settings, TargetFunction

__all__ = ["RulesSource"]


class RulesSource:
    """Proposes the built-in rules' rewrites when the ``rules`` back-end is chosen."""

    @pytest.hookimpl
    def pytest_codeflash_generate_candidates(
        self, target: TargetFunction, original_source: str, settings: Settings
    ) -> list[Candidate]:
        """The rules' candidates for ``target``.

        With ``--codeflash-candidate`` files and no explicit ``--codeflash-backend``, the user
        asked to judge their own rewrites, so the rules stay quiet.
        """
        if "rules" not in settings.backends:
            return []
        if settings.candidates and not settings.backend_explicit:
            return []
        from .engine import generate

        return generate(target, original_source)

    @pytest.hookimpl
    def pytest_codeflash_combine_candidates(
        self,
        target: TargetFunction,
        original_source: str,
        results: list[CandidateResult],
        settings: Settings,
    ) -> list[Candidate]:
        """The accepted rules, applied together, as one more candidate (or none)."""
        accepted = sorted(
            (r for r in results if r.verdict == "accepted" and r.source.startswith("rules:")),
            key=lambda r: -(r.speedup or 0.0),
        )
        if len(accepted) < 2:
            return []
        from .engine import compose

        combined = compose(target, original_source, [r.id for r in accepted])
        return [combined] if combined is not None else []
