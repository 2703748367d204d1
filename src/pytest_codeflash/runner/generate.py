"""Generated inputs: Hypothesis strategies grown from the captured calls, run differentially.

Runs inside the runner process, after the tests and the replay agreed.  Each captured input
becomes a strategy of the same shape: numbers near the captured ones (negatives, zero, the
int-valued float), strings edited the way a careless rewrite breaks them (case, inserted,
deleted and replaced characters, unicode, empty), containers smaller, larger, with
duplicates, and dicts with keys dropped.  Every example goes through the same
original-twice-then-candidate comparison as a test call, under a per-call time limit so an
input that makes the original slow is skipped rather than blamed on the candidate.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .calls import Args, dump_args, load_args, load_outcome
from .differential import Differential
from .outcomes import Outcome, compare_outcomes

MAX_LIST = 64
EXAMPLES = {"low": 60, "medium": 200, "high": 600}


class SlowCall(BaseException):
    """Raised by the per-call alarm; BaseException so user code's ``except Exception`` misses."""


def generate_and_compare(
    differential: Differential,
    inputs: list[bytes],
    *,
    examples: int,
    seed: int,
    budget_s: float,
    call_limit_s: float,
    keep_outcomes: bool = False,
    private: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Compare original and candidate on generated inputs; stop at the first difference.

    The summary's ``inputs`` holds every example that was checked in time, pickled (see
    :func:`.calls.dump_args`): the baseline run draws them once, with the original on both
    sides, and each candidate's run replays them (:func:`replay_generated`) instead of
    paying for Hypothesis again.  With ``keep_outcomes`` (the baseline run) it also keeps
    what the original did on each (see :class:`StoredOutcomes`; ``private`` are strings,
    such as this run's directory, that make an outcome this run's own).
    """
    import hypothesis
    from hypothesis import strategies as st

    module = differential.candidate.module
    name = differential.module_name
    captured = []
    for data in inputs:
        try:
            captured.append(load_args(data, name, module))
        except Exception:
            continue
    summary: dict[str, Any] = {"examples": 0, "skipped_slow": 0, "differences": [], "from": ""}
    fill_pool([list(args[0]) + list(args[1].values()) for args in captured])
    strategies = [_args_strategy(args, differential.is_method) for args in captured]
    summary["from"] = "captured calls"
    if not strategies:
        from_annotations = annotation_strategy(
            differential.original.function, differential.is_method
        )
        if from_annotations is None:
            summary["from"] = "nothing: no captured call and no complete type annotations"
            return summary
        strategies, summary["from"] = [from_annotations], "type annotations"
    generated: list[bytes] = summary.setdefault("inputs", [])
    stable: list[bool] = summary.setdefault("stable", [])
    stored = StoredOutcomes(summary, private)
    guard = differential.guard
    kept: set[bytes] = set()
    tally = differential.tally
    deadline = time.monotonic() + budget_s
    before = len(tally.differences)

    @hypothesis.settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.seed(seed)
    @hypothesis.given(st.one_of(strategies))
    def check(args: Args) -> None:
        if time.monotonic() > deadline or len(differential.tally.differences) > before:
            return
        try:
            data: bytes | None = dump_args(args)  # before the call can mutate them
        except Exception:
            data = None
        marks = (sum(tally.unstable.values()), len(tally.differences))
        state = random.getstate()
        fingerprint = differential.globals_fingerprint() if keep_outcomes else None
        events = guard.events if guard is not None else 0
        in_time, outcome = _check_in_time(differential, args, call_limit_s, summary)
        if in_time and data is not None and data not in kept:
            kept.add(data)
            generated.append(data)
            stable.append((sum(tally.unstable.values()), len(tally.differences)) == marks)
            # Kept only if stable, and if the guard saw nothing: the candidate's run must see
            # the original's blocked operations and secret reads to forgive them.
            quiet = guard is None or guard.events == events
            keep = keep_outcomes and stable[-1] and quiet and fingerprint is not None
            stored.add(differential, outcome if keep else None, state, fingerprint)

    with _lenient(differential):
        check()
    summary["differences"] = differential.tally.differences[before:]
    return summary


def generate_per_spec(
    differential: Differential,
    inputs: list[bytes],
    spec: dict[str, Any],
    *,
    keep_outcomes: bool = False,
) -> dict[str, Any]:
    """:func:`generate_and_compare` with the runner spec's example count, seed and limits.

    The directory of this run (the parent of its allowed roots) is private to it: an outcome
    that mentions it would differ in any other run.
    """
    generation = spec.get("generation") or {}
    runs = {os.path.dirname(root) for root in spec.get("allowed_roots", ())}
    private = tuple(runs) + tuple(os.path.basename(run) for run in runs)
    return generate_and_compare(
        differential,
        inputs,
        examples=int(generation.get("examples", 0)),
        seed=int(spec.get("seed", 0)),
        budget_s=float(generation.get("budget_s", 5.0)),
        call_limit_s=float(generation.get("call_limit_s", 1.0)),
        keep_outcomes=keep_outcomes,
        private=tuple(mark for mark in private if mark),
    )


def replay_generated(
    differential: Differential, drawn: dict[str, Any], *, budget_s: float, call_limit_s: float
) -> dict[str, Any]:
    """Compare original and candidate on the inputs the baseline run generated.

    ``drawn`` is the baseline's summary of :func:`generate_and_compare`; inputs that were
    too slow for the original there were already left out.  Where the baseline stored what
    the original did (see :class:`StoredOutcomes`), the original does not run again; where
    it only saw the original give the same outcome twice (``stable``), it runs once.
    """
    name, module = differential.module_name, differential.candidate.module
    summary: dict[str, Any] = {
        "examples": 0,
        "skipped_slow": int(drawn.get("skipped_slow", 0)),
        "differences": [],
        "from": str(drawn.get("from", "")),
    }
    deadline = time.monotonic() + budget_s
    before = len(differential.tally.differences)
    inputs, stable = list(drawn.get("inputs", ())), list(drawn.get("stable", ()))
    stored = StoredOutcomes(drawn)
    with _lenient(differential):
        for index, data in enumerate(inputs):
            if time.monotonic() > deadline or len(differential.tally.differences) > before:
                break
            try:
                args = load_args(data, name, module)
            except Exception:
                continue
            expected = stored.load(differential, index)
            once = index < len(stable) and stable[index] is True
            _check_in_time(differential, args, call_limit_s, summary, once=once, expected=expected)
    summary["differences"] = differential.tally.differences[before:]
    return summary


class StoredOutcomes:
    """What the original did on each generated input, kept by the baseline run for replays.

    Lives in the generation summary, a list entry per input: ``expected`` (the pickled
    :class:`Outcome`, or ``None``), ``fingerprints`` (a digest of the shared module globals
    before the call, see :meth:`Differential.globals_fingerprint`) and ``state_of`` (an
    index into ``random_states``, the distinct ``random`` states the calls started from).
    An outcome is kept only when the original gave it twice, it survives pickling unchanged
    by the strict comparison and mentions nothing private to the baseline's run.  A replay
    uses it only if the globals are as they were then, and restores the random state first.
    """

    KEYS = ("expected", "fingerprints", "random_states", "state_of")
    MAX_BYTES = 16 << 20  # all outcomes together; past it, replays run the original again

    def __init__(self, summary: dict[str, Any], private: tuple[str, ...] = ()) -> None:
        self.expected: list[bytes | None] = summary.setdefault("expected", [])
        self.fingerprints: list[bytes | None] = summary.setdefault("fingerprints", [])
        self.states: list[Any] = summary.setdefault("random_states", [])
        self.state_of: list[int] = summary.setdefault("state_of", [])
        self.private = tuple(mark.encode() for mark in private)
        self.size = sum(len(data) for data in self.expected if data)

    def add(
        self,
        differential: Differential,
        outcome: Outcome | None,
        state: Any,
        fingerprint: bytes | None,
    ) -> None:
        data = self._dump(differential, outcome) if self.size < self.MAX_BYTES else None
        self.size += len(data) if data else 0
        self.expected.append(data if self.size <= self.MAX_BYTES else None)
        self.fingerprints.append(fingerprint)
        if not self.states or self.states[-1] != state:
            self.states.append(state)
        self.state_of.append(len(self.states) - 1)

    def load(self, differential: Differential, index: int) -> Outcome | None:
        """The stored outcome of input ``index``, with the random state it started from set;
        ``None`` if there is none, or the module's globals are not what they were."""
        known = min(len(self.expected), len(self.fingerprints), len(self.state_of))
        if index >= known or self.expected[index] is None:
            return None
        if self.fingerprints[index] != differential.globals_fingerprint():
            return None
        try:
            outcome = load_outcome(
                self.expected[index],  # type: ignore[arg-type]
                differential.module_name,
                differential.original.module,
            )
            random.setstate(self.states[self.state_of[index]])
        except Exception:
            return None
        return outcome

    def _dump(self, differential: Differential, outcome: Outcome | None) -> bytes | None:
        if outcome is None:
            return None
        try:
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            if any(mark in data for mark in self.private):
                return None
            restored = load_outcome(data, differential.module_name, differential.original.module)
            same = compare_outcomes(restored, outcome, hook=differential.hook)
        except Exception:
            return None
        return data if same is None else None


def public_summary(drawn: dict[str, Any]) -> dict[str, Any]:
    """The generation summary without the inputs and outcomes kept for replays."""
    internal = ("inputs", "stable", *StoredOutcomes.KEYS)
    return {key: value for key, value in drawn.items() if key not in internal}


def _check_in_time(
    differential: Differential,
    args: Args,
    call_limit_s: float,
    summary: dict[str, Any],
    *,
    once: bool = False,
    expected: Outcome | None = None,
) -> tuple[bool, Outcome | None]:
    """One differential check of a generated input: whether it finished in time, and the
    candidate's outcome."""
    differential.current_test = "generated input"
    try:
        with time_limit(call_limit_s):
            outcome = differential.check(args, once=once, expected=expected)
    except SlowCall:
        summary["skipped_slow"] += 1
        return False, None
    summary["examples"] += 1
    return True, outcome


@contextlib.contextmanager
def _lenient(differential: Differential) -> Iterator[None]:
    """On generated inputs both sides may fail alike on ill-typed values (see Differential)."""
    differential.lenient_type_errors = True
    try:
        yield
    finally:
        differential.lenient_type_errors = False


def annotation_strategy(function: Callable[..., Any], is_method: bool) -> Any:
    """Arguments built from the parameters' type annotations, or None if any is missing."""
    import inspect
    import typing

    from hypothesis import strategies as st

    if is_method:
        return None  # no instance to call it on
    try:
        hints = typing.get_type_hints(function)
        parameters = list(inspect.signature(function).parameters.values())
    except Exception:
        return None
    positional = []
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.name not in hints:
            if parameter.default is parameter.empty:
                return None
            continue
        if parameter.kind is parameter.KEYWORD_ONLY:
            return None
        positional.append(st.from_type(hints[parameter.name]))
    return st.tuples(st.tuples(*positional), st.just({}))


class time_limit:
    """Interrupt the block with ``SlowCall`` after ``seconds`` (main thread only)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> None:
        if self.armed:
            signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: object) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)

    @staticmethod
    def _fire(signum: int, frame: object) -> None:
        raise SlowCall


def _args_strategy(args: Args, is_method: bool) -> Any:
    from hypothesis import strategies as st

    positional, keywords = args
    fixed = positional[:1] if is_method else ()
    varied = positional[1:] if is_method else positional
    parts = [st.just(value) for value in fixed] + [_strategy(value, 0) for value in varied]
    kw = {key: _strategy(value, 0) for key, value in keywords.items()}
    return st.tuples(st.tuples(*parts), st.fixed_dictionaries(kw))


def _strategy(value: Any, depth: int) -> Any:
    """A strategy for values shaped like ``value`` (the value itself always included)."""
    from hypothesis import strategies as st

    kind = type(value)
    if depth > 3:
        return st.just(value)
    maker = _MAKERS.get(kind)
    if maker is None:
        return st.just(value)
    return st.one_of(st.just(value), maker(value, depth))


def _ints(value: int, depth: int) -> Any:
    from hypothesis import strategies as st

    span = max(abs(value) * 2, 10)
    near = st.integers(-span, span)
    choices: list[Any] = [near, st.sampled_from([0, 1, -1, value + 1, value - 1, -value])]
    if depth == 0:
        # An int argument given as a float is a classic untested path (range(n), indexing);
        # inside containers it would only mix types the function never sees.
        choices.append(near.map(float))
    return st.one_of(choices)


def _floats(value: float, depth: int) -> Any:
    from hypothesis import strategies as st

    span = max(abs(value) * 2, 10.0)
    return st.one_of(
        st.floats(-span, span),
        st.sampled_from(
            [
                0.0,
                -0.0,
                -value,
                value * 2,
                float(int(value)) if value == value and abs(value) < 1e18 else 0.0,
                float("nan"),
                float("inf"),
            ]
        ),
    )


def _texts(value: str, depth: int) -> Any:
    from hypothesis import strategies as st

    alphabet = sorted(set(value)) or ["a"]
    chars = st.sampled_from(alphabet) | st.characters()
    edits = st.lists(
        st.tuples(
            st.sampled_from(["insert", "delete", "replace"]),
            st.integers(0, max(len(value), 1)),
            chars,
        ),
        max_size=3,
    )
    edited = edits.map(lambda ops: _apply_edits(value, ops))
    pool = [st.sampled_from(_POOL)] if _POOL else []
    return st.one_of(
        *pool,
        edited,
        st.sampled_from(
            [
                value.upper(),
                value.lower(),
                value.swapcase(),
                value.strip(),
                f" {value} ",
                value * 2,
                value[: len(value) // 2],
                "",
            ]
        ),
        st.text(chars, max_size=max(2 * len(value), 4)),
    )


def _apply_edits(text: str, ops: list[tuple[str, int, str]]) -> str:
    for op, index, char in ops:
        index = min(index, len(text))
        if op == "insert":
            text = text[:index] + char + text[index:]
        elif op == "delete" and text:
            text = text[: min(index, len(text) - 1)] + text[min(index, len(text) - 1) + 1 :]
        elif op == "replace" and text:
            at = min(index, len(text) - 1)
            text = text[:at] + char + text[at + 1 :]
    return text


def _bytes(value: bytes, depth: int) -> Any:
    from hypothesis import strategies as st

    return st.one_of(
        st.binary(max_size=max(2 * len(value), 4)),
        st.sampled_from([b"", value * 2, value[: len(value) // 2]]),
    )


def _elements(items: Any, depth: int) -> Any:
    from hypothesis import strategies as st

    sample = list(items)[:20]
    if not sample:
        return st.nothing()  # unknown element type: only the captured (empty) value is used
    return st.one_of([_strategy(item, depth + 1) for item in sample])


def _lists(value: list[Any], depth: int) -> Any:
    from hypothesis import strategies as st

    if not value:
        return st.just(value)  # the element type is unknown
    size = min(max(2 * len(value), 4), MAX_LIST)
    grown = st.lists(_elements(value, depth), max_size=size)
    variants = [value[:1], value + value, value[::-1], value[: len(value) // 2]]
    twins = _with_twins(value)
    if twins is not None:
        variants += [twins, twins[::-1]]
    choices = [grown, st.sampled_from(variants), grown.map(lambda extra: value + extra)]
    phrases = [p for p in _POOL if " " in p]
    if phrases and all(type(item) is str for item in value):
        # A phrase next to one of its own words: overlapping matches are what string
        # searches get wrong (a keyword inside a longer keyword, a prefix of another).
        overlapping = st.sampled_from(phrases).flatmap(
            lambda phrase: st.permutations([phrase, *st_words(phrase)])
        )
        choices.append(overlapping.map(list))
        choices.append(st.tuples(overlapping, grown).map(lambda pair: [*pair[0], *pair[1]]))
    return st.one_of(choices)


def _with_twins(value: list[Any]) -> list[Any] | None:
    """``value`` with equal values of a hashable and an unhashable type side by side.

    A ``set`` and a ``frozenset`` with the same elements compare equal, yet only one of them
    hashes: exactly where de-duplication and caching rewrites split equal values.  Applied
    to lists that already mix hashable and unhashable items (so the function takes any
    values that support ``==``); None when there is nothing to pair.
    """
    if not any(_hashable(item) for item in value) or all(_hashable(i) for i in value):
        return None
    twinned: list[Any] = []
    for item in value:
        twinned.append(item)
        if type(item) in (set, frozenset):
            twinned.append(frozenset(item) if type(item) is set else set(item))
        elif type(item) is list and all(_hashable(element) for element in item):
            twinned += [set(item), frozenset(item)]
    return twinned if len(twinned) > len(value) else None


def st_words(phrase: str) -> list[str]:
    """One or two words of ``phrase`` (as many as keep the permutation small)."""
    words = phrase.split()
    return [words[-1]] if len(words) < 3 else [words[0], words[-1]]


_POOL: list[str] = []
"""Strings seen anywhere in the captured calls, their words and short phrases."""


def fill_pool(values: list[Any], limit: int = 200) -> None:
    """Collect the strings of the captured inputs, with their words and word pairs."""
    found: dict[str, None] = {}

    def visit(value: Any, depth: int) -> None:
        if len(found) >= limit or depth > 4:
            return
        if isinstance(value, str):
            words = value.split()
            for piece in [
                value,
                *words,
                *(" ".join(words[i : i + 2]) for i in range(len(words) - 1)),
            ]:
                if piece and len(piece) <= 80:
                    found.setdefault(piece, None)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in list(value)[:50]:
                visit(item, depth + 1)
        elif isinstance(value, dict):
            for key, item in list(value.items())[:50]:
                visit(key, depth + 1)
                visit(item, depth + 1)

    for value in values:
        visit(value, 0)
    _POOL[:] = list(found)[:limit]


def _tuples(value: tuple[Any, ...], depth: int) -> Any:
    from hypothesis import strategies as st

    if 0 < len(value) <= 8:
        return st.tuples(*[_strategy(item, depth + 1) for item in value])
    return _lists(list(value), depth).map(tuple)


def _dicts(value: dict[Any, Any], depth: int) -> Any:
    from hypothesis import strategies as st

    keys = list(value)[:20]
    if not keys:
        return st.just(value)
    values = st.fixed_dictionaries({k: _strategy(value[k], depth + 1) for k in keys})
    dropped = st.sets(st.sampled_from(keys)).map(
        lambda gone: {k: v for k, v in value.items() if k not in gone}
    )
    return st.one_of(values, dropped)


def _sets(value: set[Any] | frozenset[Any], depth: int) -> Any:
    from hypothesis import strategies as st

    if not value:
        return st.just(value)
    try:
        elements = _elements(value, depth).filter(_hashable)
        return st.sets(elements, max_size=min(max(2 * len(value), 4), MAX_LIST)).map(type(value))
    except Exception:
        return st.just(value)


def _hashable(item: object) -> bool:
    try:
        hash(item)
    except TypeError:
        return False
    return True


_MAKERS: dict[type, Callable[[Any, int], Any]] = {
    bool: lambda value, depth: __import__("hypothesis").strategies.booleans(),
    int: _ints,
    float: _floats,
    str: _texts,
    bytes: _bytes,
    list: _lists,
    tuple: _tuples,
    dict: _dicts,
    set: _sets,
    frozenset: _sets,
}
