"""Verdicts that need no run: a candidate that is unusable, unchanged, or seen before.

Pure functions; :class:`~.evaluation.Evaluation` asks before it starts a runner.
"""

from __future__ import annotations

from ..models import Candidate, CandidateResult
from ..source.normalise import candidate_key
from .verdicts import rejected

__all__ = ["known_verdict"]


def known_verdict(
    candidate: Candidate, original_key: str, seen: dict[str, CandidateResult]
) -> CandidateResult | None:
    """The verdict on a candidate that needs no run: unusable, unchanged, or seen before."""
    if candidate.rejection:
        return rejected(candidate, candidate.rejection)
    if candidate.other_files:
        # The runner overlays the target's module only; helper changes elsewhere would go
        # unverified, so such a candidate cannot be accepted yet.
        others = ", ".join(str(change.path) for change in candidate.other_files)
        return rejected(
            candidate,
            f"unverifiable: the candidate also changes {others}, and the runner verifies "
            "changes to the target's module only",
        )
    key = candidate_key(candidate)
    if key == original_key:
        return rejected(candidate, "no change: the candidate's code is the same as the original's")
    first = seen.get(key)
    if first is None:
        return None
    return first.model_copy(
        update={
            "id": candidate.id,
            "source": candidate.source,
            "duplicate_of": first.id,
            "evaluation_s": None,
            "phases_s": None,
        }
    )
