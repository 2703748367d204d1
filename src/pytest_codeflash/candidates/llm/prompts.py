"""The prompts: what the plugin knows about a function, put into words for a language model.

Everything here is plain text built from plain data: the code context
(:class:`~pytest_codeflash.models.CodeContext`, already within its token budget), the
original's per-line profile, invariants of the captured inputs, the differences a rejected
candidate showed, and the figures of an accepted one.  The OpenAI protocol sends these
texts as chat messages; the Codeflash service protocol reuses the tables and code excerpts.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import TypedDict

from ...models import CandidateResult, CodeContext, TargetFunction

__all__ = [
    "Difference",
    "LineProfile",
    "Message",
    "explain_messages",
    "figures_text",
    "function_code",
    "human_time",
    "optimize_messages",
    "profile_table",
    "refine_messages",
    "repair_messages",
    "testgen_messages",
]

LineProfile = Mapping[int, tuple[int, int]]
"""The original's per-line profile: line number in its file -> (hits, total time in ns)."""

Message = dict[str, str]  # one chat message: {"role": ..., "content": ...}

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
VALUE_LIMIT = 1000  # characters of one input or value shown in a repair prompt
DIFFERENCES_SHOWN = 8


class Difference(TypedDict, total=False):
    """One call on which a candidate and the original differed (plain data, all text)."""

    scope: str  # what differed: "return value", "exception", "stdout", "argument state", ...
    input: str  # the call's arguments, as a repr
    expected: str  # what the original did
    actual: str  # what the candidate did
    test: str  # the test that made the call, if any
    detail: str  # what differed, in words, when expected and actual are not known apart


_RULES = """\
You are a Python performance engineer. You are shown a function with the code around it, \
and you write a faster version of it.

The new version must behave exactly like the original for every possible input: the same \
return values of the same types, the same exceptions with the same messages, the same \
printed output, and the same changes to its arguments, to the objects it receives and to \
global state. Being faster on typical inputs is worthless if it differs on any input, \
including empty, tiny, huge, unsorted or otherwise unusual ones.

Rules:
- Keep the function's name, parameters, defaults and decorators; type annotations may \
change.
- You may change the code shown as editable, and add helper functions, classes, constants \
and imports at module level. Use only the standard library and the packages the code \
already imports.
- Do not keep results between calls unless the original does, and do not change what is \
printed or logged.
- Do not change the code shown for reference only.

Answer format: first one or two sentences on what makes the new version faster. Then, for \
every file you change, one fenced code block whose info string is `python:` followed by the \
file's path exactly as given (for example ```python:src/pkg/mod.py), holding the complete \
new definitions you change or add and the imports they need. Definitions you leave \
unchanged may be left out."""

_EXPLAINER = (
    "You write short, precise explanations of code changes for pull request descriptions: "
    "plain text, no code blocks, no headings, no marketing language."
)

_TESTER = (
    "You write pytest tests for existing Python code. You answer with one complete test "
    "module in a single ```python code block."
)

HINTS = (
    "Start from the algorithm: look for a lower complexity, fewer passes over the data, or "
    "a better data structure (a set or dict instead of searching a list, for example).",
    "Look for repeated work: values computed again in every iteration, repeated lookups, "
    "copies that are not needed, results that are computed and thrown away.",
    "Lean on built-ins and the standard library, which run in C: comprehensions, str.join, "
    "sum/min/max/any/all, itertools, collections, bisect, heapq, functools.",
    "Cut the interpreter's overhead in the hottest loop: bind attributes and globals to "
    "locals, and avoid function calls and temporary objects in every iteration.",
    "Try an approach different from the most obvious rewrite; if the function is already "
    "close to optimal, make the smallest change that is measurably faster.",
)

TEST_HINTS = (
    "Typical inputs, shaped like the recorded calls, with a few larger ones.",
    "Edge cases and unusual but valid inputs: empty, single element, duplicates, negative "
    "numbers, unsorted data, None where the code allows it.",
)


def optimize_messages(
    target: TargetFunction,
    source: str,
    context: CodeContext,
    *,
    index: int,
    total: int,
    line_profile: LineProfile | None = None,
    invariants: Sequence[str] | None = None,
) -> list[Message]:
    """The chat messages asking for proposal ``index`` (from 1) of ``total``."""
    name = target.qualname
    parts = [
        f"Make `{name}` faster. It is defined in `{_file(context)}`"
        + (" (a method)." if target.is_method else "."),
        _context_sections(context),
    ]
    if line_profile:
        parts.append(
            f"## Where the original spends its time\n\nMeasured on the inputs of the project's "
            f"tests: hits and time of each line of `{name}`.\n\n"
            + profile_table(source, line_profile)
        )
    if invariants:
        listed = "\n".join(f"- {fact}" for fact in invariants)
        parts.append(
            "## What holds for every input seen\n\nTrue of every call the project's tests "
            "made; the rewrite must still handle other inputs exactly like the original.\n\n"
            + listed
        )
    hint = HINTS[(index - 1) % len(HINTS)]
    if line_profile:
        hint = "Focus on the lines that take most of the time in the profile. " + hint
    parts.append(f"## This proposal ({index} of {total})\n\n{hint}")
    return _chat(_RULES, parts)


def repair_messages(
    target: TargetFunction,
    source: str,
    context: CodeContext,
    rewrite: str,
    differences: Sequence[Difference],
) -> list[Message]:
    """Ask to fix ``rewrite`` (markdown code) so that it no longer differs."""
    name = target.qualname
    listed = "\n".join(
        _difference(number, difference)
        for number, difference in enumerate(differences[:DIFFERENCES_SHOWN], 1)
    )
    more = len(differences) - DIFFERENCES_SHOWN
    if more > 0:
        listed += f"\n\n({more} more difference(s) not shown.)"
    parts = [
        f"A faster rewrite of `{name}` was tested against the original and behaves "
        "differently on some inputs. Fix the rewrite so that it behaves exactly like the "
        "original on every input, keeping as much of its speed as you can.",
        f"## The original\n\n{_block(context, function_code(source, target.qualname))}",
        f"## The rewrite\n\n{rewrite.strip()}",
        f"## Where they differ\n\n{listed or '(no details were recorded)'}",
        _reference_section(context),
    ]
    return _chat(_RULES, parts)


def refine_messages(
    target: TargetFunction,
    source: str,
    context: CodeContext,
    rewrite: str,
    figures: str,
) -> list[Message]:
    """Ask to improve a verified rewrite further (faster, and smaller where possible)."""
    parts = [
        f"This rewrite of `{target.qualname}` is verified to behave exactly like the original "
        f"and is faster: {figures}. Improve it further: make it faster still if you can, "
        "and undo any of its changes that do not contribute to the speed-up, so the change "
        "stays small and easy to review. It must keep behaving exactly like the original.",
        f"## The original\n\n{_block(context, function_code(source, target.qualname))}",
        f"## The verified rewrite\n\n{rewrite.strip()}",
        _reference_section(context),
    ]
    return _chat(_RULES, parts)


def explain_messages(
    target: TargetFunction, source: str, context: CodeContext, rewrite: str, figures: str
) -> list[Message]:
    """Ask for a short explanation of why an accepted rewrite is faster."""
    parts = [
        f"Explain in two to four sentences why the new version of `{target.qualname}` is "
        "faster than the original, for a reader who knows Python: name the key change and "
        "why it saves time. Reply with plain text only.",
        f"## The original\n\n{_block(context, function_code(source, target.qualname))}",
        f"## The new version\n\n{rewrite.strip()}",
        f"## Measured\n\n{figures}",
    ]
    return _chat(_EXPLAINER, parts)


def testgen_messages(
    target: TargetFunction,
    context: CodeContext,
    examples: Sequence[str],
    *,
    index: int,
    total: int,
) -> list[Message]:
    """Ask for test module ``index`` (from 1) of ``total`` exercising the target."""
    top = target.qualname.split(".")[0]
    recorded = "\n".join(f"- `{example}`" for example in examples[:20]) or "(none recorded)"
    parts = [
        f"Write a pytest test module that exercises `{target.qualname}` thoroughly. It will "
        "check that a faster rewrite behaves exactly like the current code.\n\n"
        f"- Import what you test from `{target.module}` "
        f"(`from {target.module} import {top}`).\n"
        "- Each test calls it with concrete inputs and asserts on the exact result, or on "
        "the exact exception with `pytest.raises`. Assert what the code shown does, not what "
        "it perhaps should do.\n"
        "- Tests must be deterministic and fast (well under a second each), and must not use "
        "the network, sleep, or write files outside pytest's `tmp_path`.",
        _context_sections(context),
        f"## Calls recorded while the project's tests ran\n\n{recorded}",
        f"## Focus of this module ({index} of {total})\n\n"
        + TEST_HINTS[(index - 1) % len(TEST_HINTS)],
    ]
    return _chat(_TESTER, parts)


# -- pieces shared with the Codeflash service protocol ----------------------------------------
def profile_table(source: str, line_profile: LineProfile) -> str:
    """The per-line profile as a markdown table, with each line's code."""
    lines = source.splitlines()
    total = sum(time for _, time in line_profile.values()) or 1
    rows = ["| Line | Hits | Time (ms) | % of time | Code |", "| ---: | ---: | ---: | ---: | --- |"]
    for number in sorted(line_profile):
        hits, time_ns = line_profile[number]
        code = lines[number - 1].rstrip() if 0 < number <= len(lines) else ""
        code = code.replace("|", "\\|").replace("`", "'")
        rows.append(
            f"| {number} | {hits} | {time_ns / 1e6:.3f} | {100 * time_ns / total:.1f} | `{code}` |"
        )
    return "\n".join(rows)


def function_code(module_source: str, qualname: str) -> str:
    """The source of the function ``qualname`` (decorators included) in ``module_source``.

    A method comes with the headers of the classes around it, so the excerpt is valid
    Python that a model can echo back and the merge can place.  Empty if it is not found.
    """
    try:
        tree = ast.parse(module_source)
    except (SyntaxError, ValueError):
        return ""
    lines = module_source.splitlines()
    body: Sequence[ast.stmt] = tree.body
    headers: list[str] = []
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, _DEFS) and n.name == part), None)
        if node is None:
            return ""
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        if isinstance(node, ast.ClassDef):
            headers += lines[start - 1 : node.body[0].lineno - 1]
            body = node.body
            continue
        end = node.end_lineno or node.lineno
        return "\n".join([*headers, *lines[start - 1 : end]]) + "\n"
    return ""


def figures_text(result: CandidateResult) -> str:
    """What the verification measured of an accepted candidate, in one line of words."""
    parts = []
    if result.speedup:
        speed = f"{result.speedup:.2f}x as fast as the original"
        if result.speedup_ci:
            low, high = result.speedup_ci
            speed += f" (95% confidence interval {low:.2f}x to {high:.2f}x)"
        parts.append(speed)
    if result.baseline_ns and result.candidate_ns:
        parts.append(
            f"{human_time(result.baseline_ns)} before and {human_time(result.candidate_ns)} "
            "after, on the captured inputs"
        )
    if result.speedup_by_scale:
        scales = ", ".join(f"{k}: {v:.2f}x" for k, v in result.speedup_by_scale.items())
        parts.append(f"on larger inputs {scales}")
    if result.calls_compared:
        parts.append(f"identical behaviour on {result.calls_compared} compared call(s)")
    return "; ".join(parts) or "faster, with identical behaviour"


def human_time(ns: float) -> str:
    """``ns`` nanoseconds in words, e.g. ``45.3 milliseconds``."""
    for unit, size in (("seconds", 1e9), ("milliseconds", 1e6), ("microseconds", 1e3)):
        if ns >= size:
            return f"{ns / size:.3g} {unit}"
    return f"{ns:.0f} nanoseconds"


def _chat(system: str, parts: Sequence[str]) -> list[Message]:
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "\n\n".join(part.strip() for part in parts if part)},
    ]


def _file(context: CodeContext) -> str:
    return context.files[0] if context.files else "its module"


def _block(context: CodeContext, code: str) -> str:
    return f"```python:{_file(context)}\n{code.rstrip()}\n```"


def _context_sections(context: CodeContext) -> str:
    return f"## Code you may change\n\n{context.read_writable.strip()}\n\n" + _reference_section(
        context
    )


def _reference_section(context: CodeContext) -> str:
    shown = context.read_only.strip() or "(none)"
    return f"## Code for reference only (do not change it)\n\n{shown}"


def _difference(number: int, difference: Difference) -> str:
    scope = difference.get("scope", "result")
    text = f"{number}. {scope} for input `{_short(difference.get('input', '?'))}`: "
    if "expected" in difference or "actual" in difference or "detail" not in difference:
        text += (
            f"the original gave `{_short(difference.get('expected', '?'))}`, the rewrite "
            f"gave `{_short(difference.get('actual', '?'))}`"
        )
    else:
        text += _short(difference["detail"])
    if difference.get("test"):
        text += f" (in test {difference['test']})"
    return text


def _short(value: str) -> str:
    value = value.replace("`", "'")
    return value if len(value) <= VALUE_LIMIT else value[:VALUE_LIMIT] + "...(truncated)"
