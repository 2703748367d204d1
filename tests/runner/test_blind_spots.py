"""Differences the comparator used to miss: each of these passed as "identical" before.

Built in-process on modules made from source, like the runner does around the user's tests.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import types
from typing import Any

from pytest_codeflash.runner.calls import Args, clone_args, dump_args
from pytest_codeflash.runner.compare import compare_values
from pytest_codeflash.runner.differential import Differential
from pytest_codeflash.runner.generate import generate_and_compare, replay_generated
from pytest_codeflash.runner.measure import _maker
from pytest_codeflash.runner.overlay import load_shadow, share_sentinels
from pytest_codeflash.runner.placement import find_function
from pytest_codeflash.runner.reset import StateReset

from .twins import load_module, twin_differential

NAME = "blindmod"


def _module(source: str) -> types.ModuleType:
    return load_module(NAME, source, remember=True)  # tracebacks show the lines, as in the runner


def _differential(original: str, candidate: str) -> Differential:
    return twin_differential(NAME, original, candidate, remember=True, max_compared=1000)


def _kinds(differential: Differential) -> list[str]:
    return [d.kind for d in differential.tally.differences]


def test_an_unstable_result_leaves_argument_changes_compared() -> None:
    original = "import random\n\ndef f(items):\n    items.append(0)\n    return random.random()\n"
    candidate = original.replace("items.append(0)", "items.append(1)")
    # The result is the address of an object kept alive elsewhere: it differs between the
    # two original runs (a freed object's address may come back for the next one).
    fresh = "id(sys.__dict__.setdefault('_kept_alive', []).append(object()) or sys._kept_alive[-1])"
    unstable = "import sys\n" + original.replace("random.random()", fresh)
    differential = _differential(
        unstable, "import sys\n" + candidate.replace("random.random()", fresh)
    )
    differential.check((([5],), {}))
    assert differential.tally.unstable
    assert _kinds(differential) == ["argument mutation"]


def test_a_candidate_slow_on_a_generated_input_is_rejected() -> None:
    original = "def f(n):\n    return n * 2\n"
    slow = "import time\n\ndef f(n):\n    if n > 3:\n        time.sleep(0.5)\n    return n * 2\n"
    baseline = _differential(original, original)
    drawn = generate_and_compare(
        baseline,
        [dump_args(((4,), {})), dump_args(((9,), {})), dump_args(((12,), {}))],
        examples=30,
        seed=3,
        budget_s=20.0,
        call_limit_s=0.2,
    )
    assert drawn.inputs
    summary = replay_generated(_differential(original, slow), drawn, budget_s=20, call_limit_s=0.2)
    assert [d.kind for d in summary.differences] == ["timeout"]
    assert "did not finish within 0.2 s" in summary.differences[0].detail


def test_inputs_that_cannot_be_copied_are_counted_never_compared() -> None:
    differential = _differential("def f(lock):\n    return 1\n", "def f(lock):\n    return 2\n")
    differential.compare_call(((threading.Lock(),), {}), reraise=True)
    assert differential.tally.compared == 0
    assert differential.tally.summary().uncopyable_count == 1


def test_returned_lambdas_are_compared_by_what_they_do() -> None:
    plus_one = _module("def make():\n    return lambda x: x + 1\n").make()
    plus_two = _module("def make():\n    return lambda x: x + 2\n").make()
    mismatch = compare_values(plus_one, plus_two)
    assert mismatch is not None
    assert mismatch.detail == "another function body"
    assert (
        compare_values(plus_one, _module("def make():\n    return lambda x: x + 1\n").make())
        is None
    )


class Problem(Exception):
    pass


def test_exceptions_compare_attributes_notes_and_causes() -> None:
    def raised(code: int, note: str = "", cause: type[BaseException] = KeyError) -> Problem:
        error = Problem("bad")
        error.code = code  # type: ignore[attr-defined]
        if note:
            error.__notes__ = [note]  # type: ignore[attr-defined]  # add_note, from 3.11
        error.__cause__ = cause("x")
        return error

    assert compare_values(raised(1), raised(1)) is None
    assert compare_values(raised(1), raised(2)) is not None
    assert compare_values(raised(1, "hint"), raised(1, "other hint")) is not None
    assert compare_values(raised(1), raised(1, cause=ValueError)) is not None


def test_returning_the_callers_list_or_one_list_twice_is_aliasing() -> None:
    copy = "def f(items):\n    return list(items)\n"
    same = "def f(items):\n    return items\n"
    differential = _differential(copy, same)
    differential.check((([1, 2],), {}))
    assert _kinds(differential) == ["aliasing"]
    two = "def f(n):\n    return [[0] * n, [0] * n]\n"
    one = "def f(n):\n    row = [0] * n\n    return [row, row]\n"
    differential = _differential(two, one)
    differential.check(((3,), {}))
    assert _kinds(differential) == ["aliasing"]


def test_caches_in_defaults_closures_and_attributes_are_reset() -> None:
    module = _module(
        "def f(n, _seen={}):\n    _seen[n] = 1\n    return n\n\n"
        "def make():\n    cache = []\n    def g():\n        cache.append(1)\n    return g\n\n"
        "g = make()\n"
        "class C:\n    memo = {}\n"
    )
    module.g.__module__ = NAME
    reset = StateReset([module])
    module.f(1)
    module.g()
    module.C.memo["k"] = 1
    reset.reset()
    assert module.f.__defaults__ == ({},)
    assert module.g.__closure__[0].cell_contents == []
    assert module.C.memo == {}


def test_the_reset_shares_what_cannot_change_and_copies_the_rest() -> None:
    """Before every timed batch: a module's table of named tuples (tabulate's formats) is
    put back without rebuilding every tuple; a list inside a tuple, or a dict of them,
    still comes back fresh."""
    module = _module(
        "import collections\n\n"
        "Row = collections.namedtuple('Row', 'begin sep end')\n"
        "FORMATS = {'plain': Row('', '  ', ''), 'grid': Row('|', '|', '|')}\n"
        "MEMO = (1, [])\n"
    )
    plain, memo_list = module.FORMATS["plain"], module.MEMO[1]
    reset = StateReset([module])
    module.FORMATS["new"] = module.Row("x", "y", "z")
    module.MEMO[1].append("cached")
    reset.reset()
    assert module.FORMATS == {"plain": ("", "  ", ""), "grid": ("|", "|", "|")}
    assert module.FORMATS["plain"] is reset.saved[0]["FORMATS"]["plain"]  # shared, not rebuilt
    assert module.MEMO == (1, [])
    assert module.MEMO[1] is not memo_list
    module.FORMATS["plain"] = None
    reset.reset()
    assert module.FORMATS["plain"] == plain


def test_an_enums_members_are_left_alone_by_the_reset() -> None:
    module = _module(
        "import enum\n\n"
        "class Unit(enum.Enum):\n    SECONDS = 1\n    DAYS = 2\n\n"
        "class Registry:\n    seen = {}\n    default = None\n\n"
        "Registry.default = Registry()\n"
    )
    reset = StateReset([module])  # an enum refuses new values for its members
    module.Registry.seen["k"] = 1
    reset.reset()
    assert module.Unit.DAYS.value == 2
    assert module.Registry.seen == {}


def test_the_reset_leaves_descriptors_on_classes_alone() -> None:
    """toolz's ``instanceproperty`` gives ``None`` when read on the class: the reset read it
    so, and put ``None`` back in place of the descriptor (every ``curry`` broke)."""
    module = _module(
        "class InstanceProperty(property):\n"
        "    def __get__(self, obj, kind=None):\n"
        "        return None if obj is None else property.__get__(self, obj, kind)\n\n"
        "class Box:\n"
        "    memo = {}\n"
        "    size = InstanceProperty(lambda self: 3)\n"
    )
    reset = StateReset([module])
    module.Box.memo["k"] = 1
    reset.reset()
    assert module.Box().size == 3
    assert module.Box.memo == {}


def test_the_target_called_inside_the_originals_run_is_the_original() -> None:
    """The original can reach the target on the real module's objects (here a registry of
    nodes the test built): that inner call ran the candidate, so a candidate wrong only
    there gave the original's run the same wrong total, and the two agreed."""
    original = (
        "REGISTRY = {}\n\n"
        "class Node:\n"
        "    def __init__(self, value, children=()):\n"
        "        self.value, self.children = value, list(children)\n\n"
        "    def total(self):\n"
        "        result = self.value\n"
        "        for name in self.children:\n"
        "            result += REGISTRY[name].total()\n"
        "        return result\n"
    )
    wrong_for_leaves = original.replace("result = self.value\n", "result = self.value + 1\n")
    wrong_for_leaves = wrong_for_leaves.replace(
        "        return result", "        return result - 1 if self.children else result"
    )
    differential = twin_differential(
        NAME, original, wrong_for_leaves, qualname="Node.total", remember=True
    )
    real = sys.modules[NAME]
    differential.install(*find_function(real, "Node.total"))
    real.REGISTRY.update(a=real.Node(1), b=real.Node(2, ["a"]))
    root: Args = ((real.Node(10, ["a", "b"]),), {})
    differential.check(root)
    assert _kinds(differential) == ["return value"]
    # Timing too: a batch of the original times the original's inner calls, not the
    # candidate's (which would make both sides cost the same there).
    with differential.unwrapped():
        for side, total in ((differential.original, 14), (differential.candidate, 16)):
            (thunk,) = _maker(differential, side, dump_args(root), None)(1)
            assert thunk() == total


def _installed(original: str, candidate: str, qualname: str = "f", **options: Any) -> Any:
    """A differential with its wrapper in place on the real module, as in the runner."""
    differential = twin_differential(
        NAME, original, candidate, qualname=qualname, remember=True, **options
    )
    differential.install(*find_function(sys.modules[NAME], qualname))
    return differential


def _walk(lookup: str, registry: str) -> Differential:
    """``walk`` calls what the registry ``VISIT`` names for each child (``lookup`` reads it),
    against a candidate that is wrong for a childless node: only the original's inner call,
    through the registry, tells them apart.  Checked on one tree of two nodes."""
    original = (
        "def walk(node):\n"
        "    total = node['value']\n"
        "    for child in node['children']:\n"
        f"        total += {lookup}[child['kind']](child)\n"
        "    return total\n\n"
        "def leaf(node):\n    return node['value']\n\n"
        f"{registry}\n"
    )
    wrong_for_childless = original.replace(
        "    return total\n", "    return total + (not node['children'])\n"
    )
    differential: Differential = _installed(original, wrong_for_childless, qualname="walk")
    inner = {"kind": "tree", "value": 2, "children": []}
    differential.check((({"kind": "tree", "value": 1, "children": [inner]},), {}))
    return differential


def test_a_registry_among_the_globals_holds_the_original_in_the_originals_copy() -> None:
    """``VISIT = {"tree": walk}`` is copied into the original's module with the real
    module's ``walk`` in it: the original's inner calls ran the candidate."""
    differential = _walk("VISIT", "VISIT = {'tree': walk, 'leaf': leaf}")
    assert _kinds(differential) == ["return value"]


def test_a_registry_of_tuples_is_not_shared_where_it_holds_the_target() -> None:
    """The immutable parts of the globals are shared with the original's module, not copied;
    a tuple that holds the target is not one of them: the copy holds the original."""
    differential = _walk(
        "dict(VISIT)",
        "VISIT = (('tree', walk), ('leaf', leaf))\n"
        "import collections\n"
        "Row = collections.namedtuple('Row', 'begin end')\n"
        "ROWS = {'plain': Row('', '')}",
    )
    assert _kinds(differential) == ["return value"]
    mine, theirs = vars(differential.original.module), vars(sys.modules[NAME])
    assert mine["VISIT"][1] is theirs["VISIT"][1]  # ('leaf', leaf): shared
    assert mine["ROWS"] is not theirs["ROWS"]  # a dict: copied, and its named tuple shared
    assert mine["ROWS"]["plain"] is theirs["ROWS"]["plain"]
    assert mine["VISIT"][0][1] is differential.original.function


def test_a_call_from_another_task_meanwhile_is_the_tests_own() -> None:
    """While the original of one call runs, another task's call of the target runs the
    candidate (uncompared), as the test would see it: not the original."""
    original = "import asyncio\n\nasync def f(x):\n    await asyncio.sleep(0)\n    return x * 2\n"
    wrong = original.replace("return x * 2", "return 0 if x == 977 else x * 2")
    _installed(original, wrong, is_async=True)
    real = sys.modules[NAME]

    async def both() -> list[int]:
        return list(await asyncio.gather(real.f(1), real.f(977)))

    assert asyncio.run(both()) == [2, 0]


def test_a_timed_batch_of_the_original_runs_the_original_through_kept_references() -> None:
    """Another module that imported the target holds the wrapper: in a timed batch of the
    original, a call through it runs the original, not the candidate."""
    original = "def f(n):\n    if n <= 0:\n        return 0\n    return 1 + HELPER(n - 1)\n"
    wrong = original.replace("return 0\n", "return 100\n")
    differential = _installed(original, wrong)
    real = sys.modules[NAME]
    kept = real.f  # the wrapper, as ``from mod import f`` elsewhere would hold it
    vars(real)["HELPER"] = vars(differential.original.module)["HELPER"] = kept
    with differential.unwrapped():
        for side, result in ((differential.original, 3), (differential.candidate, 103)):
            (thunk,) = _maker(differential, side, dump_args(((3,), {})), None)(1)
            assert thunk() == result


def test_sentinels_survive_the_copy_of_inputs_that_do_not_pickle() -> None:
    source = "_MISSING = object()\n\ndef f(items, key):\n    return items\n"
    real = _module(source)
    shadow = load_shadow(NAME, source, real, f"<{NAME} original>")
    share_sentinels(shadow, real)
    key = lambda item: item  # noqa: E731 - a lambda does not pickle: deepcopy copies
    (items, kept), _ = clone_args((([real._MISSING], key), {}), NAME, shadow)
    assert items[0] is real._MISSING
    assert kept is key


def test_the_reset_leaves_protocol_classes_alone() -> None:
    module = _module(
        "from typing import Protocol\n\n"
        "class Sized(Protocol):\n    limits = []\n\n    def size(self) -> int: ...\n"
    )
    StateReset([module]).reset()  # isinstance() on a Protocol raises TypeError


def _pair(differential: Differential, args: tuple[Any, ...]) -> tuple[Any, Any]:
    """Timing's thunk makers for original and candidate on ``args``."""
    data = dump_args((args, {}))
    return (
        _maker(differential, differential.original, data, None),
        _maker(differential, differential.candidate, data, None),
    )


def test_a_cache_the_checks_filled_is_timed_cold() -> None:
    """The checks before timing fill a memo the candidate keeps in a module global: from
    the state at the start of timing its calls change nothing, so it looked stateless and
    was timed warm (a 5x "speed-up").  From the state as imported, it fills."""
    original = "def f(n):\n    return sum(range(n))\n"
    candidate = (
        "_MEMO = {}\n\ndef f(n):\n"
        "    if n not in _MEMO:\n        _MEMO[n] = sum(range(n))\n    return _MEMO[n]\n"
    )
    differential = _installed(original, candidate)
    real = sys.modules[NAME]
    cold = StateReset([differential.original.module, real])
    differential.check(((500,), {}))  # the checks: the memo is warm now
    assert real._MEMO == {500: 124750}
    with differential.unwrapped():
        pairs = [_pair(differential, (500,))]
        reset = StateReset([differential.original.module, real])
        assert not reset.detects_state(pairs)  # warm: nothing changes
        assert reset.detects_state(pairs, cold=cold)
        reset.reset()
        assert real._MEMO == {}


def test_state_the_original_leaves_too_is_not_called_the_candidates_cache() -> None:
    original = "LOG = []\n\ndef f(n):\n    LOG.append(n)\n    return n\n"
    differential = _installed(original, original.replace("return n", "return n + 0"))
    real = sys.modules[NAME]
    cold = StateReset([differential.original.module, real])
    with differential.unwrapped():
        assert not cold.candidate_fills([_pair(differential, (5,))])


def test_a_table_built_on_the_first_call_is_set_up_not_a_memo() -> None:
    """A lookup table filled once, whatever the input, is amortised in real use: timed
    as the state at the start of timing has it, not rebuilt before every call."""
    original = "def f(n):\n    return n * n\n"
    candidate = (
        "_TABLE = {}\n\ndef f(n):\n    if not _TABLE:\n"
        "        _TABLE.update((i, i * i) for i in range(100))\n    return _TABLE[n]\n"
    )
    differential = _installed(original, candidate)
    cold = StateReset([differential.original.module, sys.modules[NAME]])
    with differential.unwrapped():
        assert not cold.candidate_fills([_pair(differential, (n,)) for n in (3, 4, 5)])
        assert cold.candidate_fills([_pair(differential, (3,))])  # one input: cannot tell


def test_a_memo_a_descriptor_keeps_for_its_class_is_reset() -> None:
    module = _module(
        "class Slot:\n    def __init__(self):\n        self.data = {}\n\n"
        "    def __get__(self, obj, owner=None):\n        return self.data\n\n"
        "class Poly:\n    scratch = Slot()\n"
    )
    reset = StateReset([module])
    module.Poly.scratch["k"] = 1
    reset.reset()
    assert module.Poly.scratch == {}


def test_a_typeerror_the_function_raises_itself_keeps_its_message() -> None:
    original = (
        "def f(x):\n    if not isinstance(x, int):\n        raise TypeError('need an int')\n"
        "    return x\n"
    )
    candidate = original.replace("need an int", "an int, please")
    differential = _differential(original, candidate)
    differential.lenient_type_errors = True
    differential.check((("text",), {}))
    assert _kinds(differential) == ["exception"]
    interpreter = _differential(
        "def f(x):\n    return len(x)\n", "def f(x):\n    return sum(1 for _ in x)\n"
    )
    interpreter.lenient_type_errors = True
    interpreter.check(((5,), {}))  # both fail on the ill-typed value, in their own words
    assert _kinds(interpreter) == [], interpreter.tally.differences


def test_sets_and_dicts_of_an_enum_each_side_defines_compare_by_member() -> None:
    source = (
        "import enum\n\n"
        "class Unit(enum.Enum):\n    MICRO = 0\n    MILLI = 1\n    SECOND = 2\n    DAY = 3\n\n"
        "def f(low, keep):\n"
        "    kept = set(keep)\n"
        "    for unit in Unit:\n"
        "        if unit == low:\n            break\n"
        "        kept.add(unit)\n"
        "    return kept, {unit: unit.value for unit in sorted(kept, key=lambda u: u.value)}\n"
    )
    hoisted = source.replace("        kept.add(unit)\n", "        add(unit)\n").replace(
        "    for unit in Unit:\n", "    add = kept.add\n    for unit in Unit:\n"
    )
    differential = _differential(source, hoisted)
    mine = differential.candidate.module  # the name the runner imports; each side gets its own
    differential.check(((mine.Unit.SECOND, [mine.Unit.DAY]), {}))
    assert _kinds(differential) == [], differential.tally.differences
    dropped = source.replace(
        "        kept.add(unit)\n", "        kept.add(unit) if unit.value else None\n"
    )
    differential = _differential(source, dropped)
    differential.check(((mine.Unit.SECOND, [mine.Unit.DAY]), {}))
    assert _kinds(differential) == ["return value"]


def test_c_objects_without_eq_compare_by_what_they_pickle_as() -> None:
    import operator

    from pytest_codeflash.runner.compare import compare_values

    assert compare_values(operator.itemgetter(0), operator.itemgetter(0)) is None
    differs = compare_values(operator.itemgetter(0), operator.itemgetter(1))
    assert differs is not None
    assert differs.path == ".__reduce__()[1][0]"
    assert compare_values(operator.methodcaller("m", 1), operator.methodcaller("m", 2))


def test_c_iterators_compare_by_their_position_without_being_read() -> None:
    import itertools

    from pytest_codeflash.runner.compare import compare_values

    counter = itertools.count(5)
    assert compare_values(counter, itertools.count(5)) is None
    assert next(counter) == 5  # not consumed by the comparison
    assert compare_values(itertools.count(5), itertools.count(6)) is not None
    ahead = iter([1, 2, 3])
    next(ahead)
    assert compare_values(iter([1, 2, 3]), ahead) is not None


def test_generated_inputs_slower_than_hypothesis_default_deadline_are_no_error() -> None:
    # Calls of about a quarter of a second (case43's realistic size) passed Hypothesis's
    # default 200 ms deadline and made the whole generation a FlakyFailure.
    slow = (
        "def f(n):\n    total = 0\n    for i in range(3_000_000):\n"
        "        total += i\n    return n * 2\n"
    )
    differential = _differential(slow, slow)
    drawn = generate_and_compare(
        differential,
        [dump_args(((4,), {})), dump_args(((9,), {})), dump_args(((12,), {}))],
        examples=1,
        seed=3,
        budget_s=5.0,
        call_limit_s=2.0,
    )
    assert drawn.summary.examples >= 1
