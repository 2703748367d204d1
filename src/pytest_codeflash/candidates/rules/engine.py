"""Run the rules on one target: single-rule candidates, and the composition of accepted ones."""

from __future__ import annotations

import ast
import functools
import logging
import symtable
from collections.abc import Callable, Sequence

import libcst as cst

from ...errors import CandidateError
from ...models import Candidate, TargetFunction
from ...source.replace import merge_candidate
from .base import Rule
from .registry import RULES

__all__ = ["COMPOSED_ID", "compose", "generate", "parse_id"]

log = logging.getLogger(__name__)
COMPOSED_ID = "combined"
OnError = Callable[[Rule, Exception], None]


def _log_error(rule: Rule, error: Exception) -> None:
    # A bug in one rule must not cost the user the other rules' candidates.
    log.warning("codeflash: rule %s failed: %s: %s", rule.name, type(error).__name__, error)


def generate(
    target: TargetFunction,
    original_source: str,
    rules: Sequence[Rule] = RULES,
    on_error: OnError = _log_error,
) -> list[Candidate]:
    """Every rule's rewrites of ``target`` as candidates, without no-ops, failures and repeats.

    :param on_error: called when a rule raises; the rule's proposals are skipped.
    """
    module = _parse(original_source)
    if module is None:
        return []
    seen = {_normalise(original_source)}
    own_names = _names_it_reads_back(original_source, target.qualname)
    candidates: list[Candidate] = []
    for rule in rules:
        try:
            proposals = rule.propose(module, target)
        except Exception as error:
            on_error(rule, error)
            continue
        for index, proposal in enumerate(proposals):
            merged = _merged(original_source, module, proposal, target)
            if merged is None or _normalise(merged) in seen:
                continue
            seen.add(_normalise(merged))
            if own_names is not None and _local_names(merged, target.qualname) != own_names:
                continue  # its locals() would return other names: a difference for certain
            # The number is the proposal's position, so compose() can find it again.
            suffix = "" if index == 0 else f"-{index + 1}"
            candidates.append(
                Candidate(
                    id=f"{rule.name}{suffix}",
                    source=f"rules:{rule.name}",
                    module_source=merged,
                    explanation=rule.explanation,
                )
            )
    return candidates


def parse_id(candidate_id: str, rules: Sequence[Rule] = RULES) -> tuple[Rule, int] | None:
    """The rule and proposal index (0-based) behind a candidate id like ``membership-2``."""
    name = candidate_id.removeprefix("rules:")
    by_name = {rule.name: rule for rule in rules}
    if name in by_name:
        return by_name[name], 0
    base, _, number = name.rpartition("-")
    if base in by_name and number.isdigit() and int(number) >= 2:
        return by_name[base], int(number) - 1
    return None


def compose(
    target: TargetFunction,
    original_source: str,
    rule_names: Sequence[str],
    rules: Sequence[Rule] = RULES,
) -> Candidate | None:
    """One candidate applying several accepted rules in turn, or ``None`` if fewer than two apply.

    :param rule_names: ids of accepted rule candidates (``membership``, ``loop-sink-2``, with or
        without the ``rules:`` prefix) or rule names, best first: each rule is applied to the
        module the previous ones produced, taking the same proposal number when that rule still
        offers it, else its first proposal.
    """
    module = original = _parse(original_source)
    if module is None or original is None:
        return None
    applied: list[Rule] = []
    for name in rule_names:
        found = parse_id(name, rules)
        if found is None or found[0] in applied:
            continue
        rule, index = found
        try:
            proposals = rule.propose(module, target)
        except Exception as error:
            _log_error(rule, error)
            continue
        if not proposals:
            continue
        usable = [p for p in proposals if _merged(original_source, original, p, target) is not None]
        if not usable:
            continue
        chosen = proposals[index] if index < len(proposals) else usable[0]
        module = chosen if chosen in usable else usable[0]
        applied.append(rule)
    if len(applied) < 2:
        return None
    merged = _merged(original_source, original, module, target)
    if merged is None:
        return None
    names = ", ".join(rule.name for rule in applied)
    return Candidate(
        id=COMPOSED_ID,
        source="rules:" + "+".join(rule.name for rule in applied),
        module_source=merged,
        explanation=f"Applies the verified rewrites {names} together, so their savings add up.",
    )


@functools.lru_cache(maxsize=4)
def _parse(source: str) -> cst.Module | None:
    """The module's tree; the same (immutable) tree for every target of one module."""
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError:
        return None


def _merged(
    original_source: str, original: cst.Module, proposal: cst.Module, target: TargetFunction
) -> str | None:
    """The proposal merged into the original (its other bytes kept), or ``None`` if unusable.

    Only the statements the rule made or changed are merged: the others are the original's
    own nodes (a rule rebuilds the module around them), and comparing every one of them
    with itself again costs seconds on a module of thousands of lines.
    """
    kept = {id(statement) for statement in original.body}
    changed = [statement for statement in proposal.body if id(statement) not in kept]
    try:
        merged = merge_candidate(original_source, cst.Module(body=changed).code, target)
    except CandidateError:
        return None
    return None if merged == original_source else merged


def _names_it_reads_back(source: str, qualname: str) -> frozenset[str] | None:
    """The function's local names if its own code reads the built-in ``locals`` or ``vars``
    (parse's ``extract_format`` returns ``locals()``): a rule that adds a local changes what
    they return.  (``vars(obj)`` counts too: a rewrite fewer, never a wrong one.)"""
    table = _function_table(source, qualname)
    if table is None:
        return None
    if not any(
        table.lookup(name).is_global()
        for name in ("locals", "vars")
        if name in table.get_identifiers()
    ):
        return None
    return frozenset(table.get_locals())


def _local_names(source: str, qualname: str) -> frozenset[str] | None:
    table = _function_table(source, qualname)
    return None if table is None else frozenset(table.get_locals())


def _function_table(source: str, qualname: str) -> symtable.Function | None:
    """The symbol table of the function ``qualname`` in ``source`` (the last of that name)."""
    try:
        table: symtable.SymbolTable = symtable.symtable(source, "<candidate>", "exec")
    except (SyntaxError, ValueError):
        return None
    for part in qualname.split("."):
        found = [child for child in table.get_children() if child.get_name() == part]
        if not found:
            return None
        table = found[-1]
    return table if isinstance(table, symtable.Function) else None


def _normalise(source: str) -> str:
    try:
        return ast.dump(ast.parse(source))
    except (SyntaxError, ValueError):
        return source
