"""The engine: the registry, candidates from every rule, and the composition of accepted ones."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from pytest_codeflash.candidates.rules import compose, generate, rule_names
from pytest_codeflash.candidates.rules.base import Rule
from pytest_codeflash.candidates.rules.engine import generate as run_rules
from pytest_codeflash.candidates.rules.engine import parse_id
from pytest_codeflash.candidates.rules.registry import RULES

from .harness import target

SOURCE = textwrap.dedent(
    """\
    \"\"\"Helpers.\"\"\"


    def total_length(words):
        \"\"\"The sum of the words' lengths.\"\"\"
        total = sum([len(w) for w in words])  # a comment stays
        return total


    def untouched():
        return 1
    """
)

FAMILIES = {
    "membership", "seen-set", "string-join", "regex-precompile", "loop-invariant", "loop-sink",
    "precompute", "comprehension", "sorted-min-max", "top-k", "deque", "dict-lookup", "counter",
    "join-index", "memoise", "call-cache", "reduction", "bisect", "drop-copy", "numpy-vectorise",
}  # fmt: skip


def test_registry_names_every_family_once_with_a_plain_explanation() -> None:
    assert rule_names() == [rule.name for rule in RULES]
    assert set(rule_names()) == FAMILIES
    for rule in RULES:
        assert rule.explanation.endswith(".")
        assert rule.explanation.count(". ") == 0, rule.name  # one sentence


def test_candidates_name_their_rule_and_keep_every_other_byte() -> None:
    candidates = generate(target("total_length"), SOURCE)
    assert [c.id for c in candidates] == ["reduction"]
    (candidate,) = candidates
    assert candidate.source == "rules:reduction"
    assert candidate.explanation == RULES[[r.name for r in RULES].index("reduction")].explanation
    assert candidate.module_source == SOURCE.replace(
        "sum([len(w) for w in words])", "sum(map(len, words))"
    )


def test_several_sites_number_the_proposals() -> None:
    source = textwrap.dedent(
        """\
        def f(a, b):
            return any([x for x in a]), all([y > 0 for y in b])
        """
    )
    ids = [c.id for c in generate(target(), source)]
    assert ids == ["reduction", "reduction-2", "reduction-3"]
    assert parse_id("rules:reduction-3") == (RULES[[r.name for r in RULES].index("reduction")], 2)
    assert parse_id("reduction-1") is None
    assert parse_id("no-such-rule") is None


class _Broken(Rule):
    name = "broken"
    explanation = "Never works."

    def rewrite(self, function: object, context: object) -> list[object]:  # type: ignore[override]
        raise RuntimeError("bug in a rule")


def test_a_failing_rule_is_reported_and_skipped() -> None:
    seen: list[str] = []
    found = run_rules(
        target("total_length"),
        SOURCE,
        rules=[_Broken(), *RULES],
        on_error=lambda rule, error: seen.append(f"{rule.name}: {error}"),
    )
    assert seen == ["broken: bug in a rule"]
    assert [c.id for c in found] == ["reduction"]


def test_unparsable_sources_and_missing_targets_give_nothing() -> None:
    assert generate(target(), "def f(:\n") == []
    assert generate(target("missing"), SOURCE) == []


def test_identical_outputs_are_proposed_once() -> None:
    source = textwrap.dedent(
        """\
        def f(words):
            return max([w for w in words])
        """
    )
    assert [c.id for c in generate(target(), source)] == ["reduction"]


COMPOSABLE = textwrap.dedent(
    """\
    def f(items, table):
        out = []
        for x in items:
            if x in list(table.keys()):
                out.append(x)
        return out, max([x for x in items])
    """
)


def test_compose_applies_accepted_rules_in_turn() -> None:
    combined = compose(target(), COMPOSABLE, ["reduction", "rules:membership"])
    assert combined is not None
    assert combined.id == "combined"
    assert combined.source == "rules:reduction+membership"
    assert "if x in table:" in combined.module_source
    assert "max(items)" in combined.module_source
    assert combined.explanation.endswith(".")


@pytest.mark.parametrize("names", [["reduction"], ["reduction", "reduction-2"], ["nope", "x"]])
def test_compose_needs_two_rules_that_still_apply(names: list[str]) -> None:
    assert compose(target(), COMPOSABLE, names) is None


def test_importing_the_package_does_not_import_libcst() -> None:
    code = "import sys, pytest_codeflash.candidates.rules; print('libcst' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


READS_ITS_LOCALS = """\
def f(rows, sep):
    out = ""
    for row in rows:
        out += str(row) + sep
    return locals()


def g(rows, sep):
    out = ""
    for row in rows:
        out += str(row) + sep
    return out
"""


def test_a_function_that_returns_its_locals_gets_no_rewrite_adding_one() -> None:
    """parse's ``extract_format`` returns ``locals()``: string-join's ``_out_parts`` would be
    in it, a difference for certain, so the rule's proposal is not a candidate."""
    assert generate(target("f"), READS_ITS_LOCALS) == []
    assert [c.id for c in generate(target("g"), READS_ITS_LOCALS)][:1] == ["string-join"]
