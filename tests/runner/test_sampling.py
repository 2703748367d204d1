"""Which calls in the tests are compared, and how large values are compared (#15).

In-process, on modules made from source, like the runner's differential check.
"""

from __future__ import annotations

import sys
from typing import Any

from pytest_codeflash.runner.differential import Differential
from pytest_codeflash.runner.digest import LARGE, digest, rough_size, same_bytes, same_large
from pytest_codeflash.runner.outcomes import Outcome, compare_outcomes
from pytest_codeflash.runner.sampling import FIRST_PAST_BUDGET, CallSampler

from .twins import load_module, twin_differential

NAME = "samplemod"


def _differential(original: str, candidate: str, *, is_method: bool = False) -> Differential:
    return twin_differential(
        NAME,
        original,
        candidate,
        qualname="Box.pop" if is_method else "f",
        max_compared=1000,
        max_inputs=10,
    )


# -- the sampler ------------------------------------------------------------------------------
def _chosen(sampler: CallSampler, test: str, calls: int) -> list[int]:
    chosen = []
    for index in range(calls):
        if sampler.should_compare(test):
            with sampler.timed():
                chosen.append(index)
    return chosen


def test_the_first_calls_of_each_test_and_a_fixed_sample_of_the_rest_are_compared() -> None:
    sampler = CallSampler(first=10, one_in=20)
    chosen = _chosen(sampler, "t::a", 1000)
    assert chosen[:10] == list(range(10))
    assert 20 < len(chosen) < 100  # about one in 20 of the 990 after the first ten
    assert sampler.only_executed == 1000 - len(chosen)
    assert _chosen(CallSampler(first=10, one_in=20), "t::a", 1000) == chosen  # deterministic
    assert _chosen(sampler, "t::b", 5) == [0, 1, 2, 3, 4]  # a new test starts again
    assert sampler.sampled_tests == {"t::a"}
    assert sampler.most_calls == 1000
    assert sampler.describe() == ("compared the first 10 calls per test and one in 20 after")


def test_past_the_budget_only_each_tests_first_call_is_compared() -> None:
    sampler = CallSampler(first=10, one_in=1, budget_s=1.0)
    sampler.spent_s = 1.0  # as if the comparisons so far had taken a second
    assert _chosen(sampler, "t::a", 50) == list(range(FIRST_PAST_BUDGET))
    assert sampler.over_budget
    assert "past 1 s of comparisons" in sampler.describe()


def test_the_total_limit_holds_across_tests() -> None:
    sampler = CallSampler(first=10, one_in=1, limit=15)
    assert len(_chosen(sampler, "t::a", 10) + _chosen(sampler, "t::b", 10)) == 15


def test_calls_not_compared_still_run_the_candidate_for_the_test() -> None:
    original = "def f(x):\n    return x * 2\n"
    differential = _differential(original, original)
    differential.current_test = "t::many"
    wrapper = differential.wrapper()
    assert [wrapper(i) for i in range(300)] == [i * 2 for i in range(300)]
    tally = differential.tally
    assert tally.compared + tally.unchecked == 300
    assert 100 < tally.compared < 120  # the first 100 and about one in 50 of the rest
    summary = tally.summary()
    assert summary.unchecked == tally.unchecked
    assert summary.sampled_tests == 1
    assert summary.most_calls_per_test == 300
    assert summary.sampling.startswith("compared the first 100 calls per test")


def test_a_wrong_candidate_in_the_compared_calls_is_still_caught() -> None:
    differential = _differential("def f(x):\n    return x\n", "def f(x):\n    return x + 1\n")
    differential.current_test = "t::many"
    wrapper = differential.wrapper()
    for i in range(300):
        wrapper(i)
    assert differential.tally.differences[0].kind == "return value"


# -- large values: digests --------------------------------------------------------------------
BOX = """\
class Box:
    def __init__(self, n):
        self.items = list(range(n))

    def pop(self, index):
        return self.items.pop(index)
"""


def test_large_values_equal_by_their_bytes_across_the_two_modules() -> None:
    first, second = load_module(NAME, BOX), load_module(NAME, BOX)
    a, b = first.Box(5000), second.Box(5000)
    assert rough_size(a) >= LARGE
    assert same_large(a, b)  # the classes are the same by name, in different modules
    b.items[4321] = -1
    assert not same_large(a, b)
    assert not same_large(first.Box(3), first.Box(3))  # small values are compared as before


def test_a_value_whose_pickle_may_leave_state_out_is_not_digested() -> None:
    class Hidden:
        def __init__(self) -> None:
            self.items = list(range(5000))
            self.secret = 1

        def __getstate__(self) -> dict[str, Any]:
            return {"items": self.items}

    assert digest(Hidden()) is None
    assert not same_large(Hidden(), Hidden())


TABLES = """\
import functools


def line(width, pad=1):
    return "-" * (width + pad)


FORMATS = {name: (name, line, functools.partial(line, pad=2)) for name in "abc"}
"""


def test_module_tables_with_functions_equal_by_their_bytes_across_the_two_modules() -> None:
    """A module's tables of functions and partials (tabulate's formats), in the original's
    private module and in the candidate's: equal by their bytes, functions by name, with
    their defaults; a global compared this way is never walked node by node."""
    first, second = load_module(NAME, TABLES), load_module(NAME, TABLES)
    assert same_bytes(first.FORMATS, second.FORMATS)
    other = load_module(NAME, TABLES.replace("pad=1", "pad=3"))
    assert not same_bytes(first.FORMATS, other.FORMATS)  # another default: compared exactly
    assert digest([lambda: 1]) is None  # a lambda is known by its code: compared exactly
    same = compare_outcomes(
        Outcome(globals_after={"FORMATS": first.FORMATS}),
        Outcome(globals_after={"FORMATS": second.FORMATS}),
    )
    assert same is None
    found = compare_outcomes(
        Outcome(globals_after={"FORMATS": first.FORMATS}),
        Outcome(globals_after={"FORMATS": other.FORMATS}),
    )
    assert found is not None
    assert found.kind == "global state"


def test_a_large_self_that_differs_is_still_described_exactly() -> None:
    first, second = load_module(NAME, BOX), load_module(NAME, BOX)
    a, b = first.Box(5000), second.Box(5000)
    b.items[4321] = -1
    found = compare_outcomes(Outcome(self_after=a), Outcome(self_after=b))
    assert found is not None
    assert found.kind == "self state"
    assert "4321" in found.describe()
    assert compare_outcomes(Outcome(self_after=a), Outcome(self_after=second.Box(5000))) is None


def test_a_method_on_a_large_instance_is_compared_and_fed_to_the_test() -> None:
    differential = _differential(BOX, BOX, is_method=True)
    differential.current_test = "t::pops"
    box = sys.modules[NAME].Box(5000)
    wrapper = differential.wrapper()
    popped = [wrapper(box, len(box.items) // 2) for _ in range(200)]
    assert popped[:3] == [2500, 2499, 2501]
    assert len(box.items) == 4800
    assert not differential.tally.differences
    assert differential.tally.unchecked > 0


SLOW_SOURCE = """\
import time

def f(n):
    time.sleep(0.02)
    return n
"""


def test_replaying_the_captured_calls_stops_at_its_budget() -> None:
    """Each replay runs the original twice and the candidate once; past the budget the
    rest are left out (their calls were compared in the tests already), the first never."""
    from pytest_codeflash.runner.calls import dump_args
    from pytest_codeflash.runner.replay import verify_replayed

    from .twins import twin_differential

    differential = twin_differential("slowreplay", SLOW_SOURCE, SLOW_SOURCE)
    inputs = [dump_args(((n,), {})) for n in range(20)]
    summary, usable, _ = verify_replayed(differential, inputs, lambda _: None, 0.1)
    assert 1 <= len(usable) < 20
    assert summary.compared == len(usable)
    assert summary.inputs == 20
    whole, all_usable, _ = verify_replayed(differential, inputs[:3], lambda _: None, 0.0)
    assert len(all_usable) == 3
    assert whole.compared == 3
    _, first, _ = verify_replayed(differential, inputs, lambda _: None, 1e-9)
    assert len(first) == 1
