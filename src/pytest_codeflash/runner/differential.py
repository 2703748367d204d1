"""Differential execution: every call runs the original twice and the candidate once
(in the baseline, where the candidate is the original, its run is the second).

Runs inside the runner process.  ``Differential.wrapper`` replaces the target in the
candidate module, so the user's tests call it exactly as they called the original.  For each
outermost call it clones the inputs, runs the original's private copy twice (differences
between those two runs mark unstable outputs), runs the candidate on the caller's real
inputs, compares the three outcomes and hands the candidate's result back to the test.
All three runs start from the same deterministic state and the same module globals.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import inspect
import pickle
import random
import types
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from .calls import (
    Args,
    Uncopyable,
    clone_args,
    data_globals,
    dump_stored,
    live_args,
    materialise_iterators,
    observe,
    replay_outcome,
    rewind_source,
    snapshot,
)
from .determinism import REAL_MONOTONIC, REAL_TIME, Determinism
from .fidelity import check_copy
from .guard import Guard
from .invariants import ArgsShape
from .mismatch import describe_input
from .outcomes import (
    RANDOM_STATE,
    Difference,
    Outcome,
    compare_outcomes,
    compare_stable,
    resource_limit,
)
from .placement import install
from .protocol import DifferenceRecord, tool_error
from .sampling import CallSampler
from .tally import Side, Tally

if TYPE_CHECKING:
    from .reset import StateReset

MAX_RECORDED_DIFFERENCES = 20
_MISSING: Any = object()
MAX_FINGERPRINTED = 1 << 20  # bytes of pickled globals


class Differential:
    """Compare the original and the candidate call by call."""

    def __init__(
        self,
        *,
        module_name: str,
        original: Side,
        candidate: Side,
        determinism: Determinism,
        guard: Guard | None,
        is_method: bool,
        is_generator: bool,
        is_async: bool,
        rel_tol: float,
        hook: Callable[[object, object], bool | None] | None,
        max_compared: int,
        max_inputs: int,
    ) -> None:
        self.module_name = module_name
        self.original = original
        self.candidate = candidate
        self.determinism = determinism
        self.guard = guard
        self.is_method = is_method
        self.is_generator = is_generator
        self.is_async = is_async
        self.rel_tol = rel_tol
        self.hook = hook
        self.max_compared = max_compared
        self.max_inputs = max_inputs
        self.tally = Tally(sampler=CallSampler(limit=max_compared))
        self.current_test = ""
        self.enabled = True
        self.self_check = False  # the baseline run: see compare_call
        # On generated inputs both sides may fail on ill-typed values (the interpreter's own
        # wording of a TypeError or AttributeError is not the function's behaviour then).
        self.lenient_type_errors = False
        self.outside = False  # the input breaks an invariant: a difference is only a note
        self.invariants: ArgsShape | None = None  # of the captured calls, once known
        self._placement: tuple[Any, str, Any] = (candidate.module, "", None)
        self._depth = 0
        # The side whose run is under way in this thread or task ("original", "candidate",
        # or ""): a call made meanwhile by another thread or task is the test's own.
        self._running: contextvars.ContextVar[str] = contextvars.ContextVar(
            "codeflash_running", default=""
        )
        self._timed = ""  # the side a timed batch runs (see timing), inside unwrapped()
        self._frozen: dict[int, object] = {}  # immutable parts of globals, by id: kept alive
        self._as_original: dict[int, Any] = {}  # the candidate's target -> the original's
        # The modules' state as imported (a reset.StateReset), for timing to tell a cache
        # the checks filled from state the tests set up; None when it could not be taken.
        self.cold_state: StateReset | None = None
        self._input = ""
        self._input_keys: set[bytes] = set()
        # Globals both modules define: the caller's changes to them are copied to the
        # original's private module before each call, and their final values are compared.
        self.shared_globals = sorted(
            set(data_globals(original.module)) & set(vars(candidate.module))
        )
        # Where the virtual clocks start for a call: None in the tests (the real time when the
        # call starts, so the test's own code and the function agree on "now"); a fixed time
        # for inputs replayed outside the tests, the same in every run of one function.
        self.replay_clock: tuple[float, float] | None = None
        # The modules' names as imported: what a test replaces later (monkeypatch.setattr on
        # the module) is given to the original's private module too, see _sync_patches.
        self._as_imported: dict[str, Any] = {}
        self._shadow_as_imported: dict[str, Any] = {}

    def globals_fingerprint(self) -> bytes | None:
        """A digest of the shared globals' names and values as the next call will see them
        (``None`` when they do not pickle, or pickle too large to be worth comparing)."""
        namespace = vars(self.candidate.module)
        state = {name: namespace[name] for name in self.shared_globals if name in namespace}
        try:
            data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return None
        return hashlib.sha256(data).digest() if len(data) <= MAX_FINGERPRINTED else None

    # -- the wrapper installed in place of the target -------------------------------------
    def install(self, owner: Any, name: str, raw: Any) -> None:
        """Replace the candidate's target (``raw``, found on ``owner``) by the wrapper."""
        self._placement = (owner, name, raw)
        wrapper = self.wrapper()
        install(owner, name, raw, wrapper)
        # A registry among the globals holds the target (``{"tree": walk}``): in the
        # original's copy it is the original.
        self._as_original = {id(self.candidate.function): self.original.function}
        self._as_original[id(wrapper)] = self.original.function
        self._as_imported = dict(vars(self.candidate.module))
        self._shadow_as_imported = dict(vars(self.original.module))

    @contextmanager
    def unwrapped(self) -> Iterator[None]:
        """Put the plain candidate back for the block, so timing measures it alone."""
        owner, name, raw = self._placement
        wrapped = inspect.getattr_static(owner, name)
        setattr(owner, name, raw)
        self.enabled = False
        try:
            yield
        finally:
            setattr(owner, name, wrapped)
            self.enabled = True
            self._timed = ""

    def timing(self, side: Side) -> None:
        """Inside :meth:`unwrapped`, before a timed batch of ``side``: the target on the
        real module is that side's, so a batch of the original that reaches it on the real
        module's objects times the original there too, not the candidate."""
        self._timed = "original" if side is self.original else "candidate"
        owner, name, raw = self._placement
        if not name:  # not installed (a test of our own)
            return
        if side is self.original:
            install(owner, name, raw, self.original.function)
        else:
            setattr(owner, name, raw)

    def wrapper(self) -> Callable[..., Any]:
        """A callable with the candidate's signature that runs the comparison."""
        target = self.candidate.function
        if self.is_async:

            @functools.wraps(target)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if not self._should_compare():
                    return await self._plain(target)(*args, **kwargs)
                with self.tally.sampler.timed():
                    return await self._compare_async((args, kwargs), reraise=True)

            return async_wrapper

        @functools.wraps(target)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self._should_compare():
                return self._plain(target)(*args, **kwargs)
            with self.tally.sampler.timed():
                return self.compare_call((args, kwargs), reraise=True)

        return wrapper

    def _plain(self, target: Callable[..., Any]) -> Callable[..., Any]:
        """What a call not compared runs: the candidate, except inside a run of the
        original, which reaches the target on the real module's objects (a registry, a
        singleton) and must see the original there, not the candidate's behaviour."""
        if self._depth > 0 and self._running.get() == "original":
            return self.original.function
        if not self.enabled and self._timed == "original":  # a reference kept elsewhere
            return self.original.function
        return target

    def _should_compare(self) -> bool:
        if self._depth > 0 or not self.enabled:
            return False  # a recursive or nested call: only outermost calls are compared
        if self.tally.sampler.should_compare(self.current_test):
            return True
        self.tally.unchecked += 1  # only run: the test still sees its result
        return False

    # -- one comparison -------------------------------------------------------------------
    def compare_call(
        self, args: Args, *, reraise: bool, once: bool = False, expected: Outcome | None = None
    ) -> Any:
        """Run original, original, candidate on ``args``; record; return the candidate's result.

        ``once``: the original is known to be stable on these inputs (the baseline run
        checked it twice), so it runs once; nothing is masked as unstable then.
        ``expected``: what the original did on these inputs, stored by the baseline run
        (stable, and from the same random state); the original does not run at all.
        ``self_check`` (the baseline run): the candidate's run is the original's second.
        """
        self._depth += 1
        try:
            return self._compare_call(args, reraise, once, expected)
        finally:
            self._depth -= 1

    def _start_clock(self) -> None:
        """Start the virtual clocks of this call's runs (see ``replay_clock``)."""
        if self.replay_clock is None:
            self.determinism.start_clock(REAL_TIME(), REAL_MONOTONIC())
        else:
            self.determinism.start_clock(*self.replay_clock)

    def _compare_call(self, args: Args, reraise: bool, once: bool, expected: Outcome | None) -> Any:
        self._start_clock()
        try:
            args = materialise_iterators(args)
            self._remember_input(args)
            self._input = describe_input(args, self.is_method)  # before anything mutates it
            caller_state = random.getstate()
            if expected is not None:
                first = second = expected
            else:
                first = self._run_original(args, caller_state, check=True)
                one_run = once or self.self_check
                second = first if one_run else self._run_original(args, caller_state)
        except Exception as err:  # inputs that cannot be copied, or our own code failed
            if isinstance(err, Uncopyable):
                self.tally.uncopyable.append(f"{self.current_test}: {err}")
            else:
                self.tally.tool_errors.append(tool_error("comparison", err))
            if not reraise:  # outside the tests nothing needs the candidate's own result
                return None
            return self.candidate.function(*live_args(args)[0], **live_args(args)[1])
        live = live_args(args)
        outcome = self._run(self.candidate, live, "candidate", caller_state)
        rewind_source(args, live)  # the caller's iterators: where the candidate left them
        second = outcome if self.self_check and expected is None and not once else second
        random.setstate(outcome.globals_after[RANDOM_STATE])  # type: ignore[arg-type]
        try:
            self._judge(args, first, second, outcome)
        except Exception as err:
            self.tally.tool_errors.append(tool_error("comparison", err))
        if reraise:
            return replay_outcome(outcome)
        return outcome

    def check(
        self, args: Args, *, once: bool = False, expected: Outcome | None = None
    ) -> Outcome | None:
        """Compare one call outside the tests (replay, generated, scaled inputs): the
        candidate's outcome, ``None`` for coroutines, inputs that cannot be copied and our
        own failures (see :meth:`compare_call` for ``once`` and ``expected``)."""
        if not self.is_async:
            outcome = self.compare_call(args, reraise=False, once=once, expected=expected)
            return outcome if isinstance(outcome, Outcome) else None
        import asyncio

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._compare_async(args, reraise=False))
        finally:
            loop.close()
        return None

    async def _compare_async(self, args: Args, *, reraise: bool) -> Any:
        self._depth += 1
        self._start_clock()
        try:
            args = materialise_iterators(args)
            self._remember_input(args)
            self._input = describe_input(args, self.is_method)
            caller_state = random.getstate()
            outcomes = []
            for side, call_args in (
                (self.original, None),
                (self.original, None),
                (self.candidate, args),
            ):
                if call_args is None:
                    call_args = clone_args(args, self.module_name, side.module)
                    self._sync_globals()
                else:
                    call_args = live_args(call_args)
                coroutine = side.function(*call_args[0], **call_args[1])
                outcomes.append(await self._await(coroutine, side, call_args, caller_state))
            self._judge(args, *outcomes)
            return replay_outcome(outcomes[2]) if reraise else outcomes[2]
        except Uncopyable as err:
            self.tally.uncopyable.append(f"{self.current_test}: {err}")
            return await self.candidate.function(*args[0], **args[1])
        finally:
            self._depth -= 1

    async def _await(self, coroutine: Any, side: Side, args: Args, random_state: Any) -> Outcome:
        phase = "original" if side is self.original else "candidate"
        outcome = Outcome()
        with self._around(phase, random_state)():
            try:
                outcome.returned = await coroutine
            except (Exception, SystemExit) as exc:
                outcome.raised = exc
            outcome.globals_after[RANDOM_STATE] = random.getstate()
        outcome.args_after = tuple(args[0][1:] if self.is_method else args[0])
        if self.is_method and args[0]:
            outcome.self_after = args[0][0]
        outcome.kwargs_after = dict(args[1])
        return outcome

    def _run_original(self, args: Args, random_state: Any, check: bool = False) -> Outcome:
        cloned = clone_args(args, self.module_name, self.original.module)
        if check:  # a difference would be the copy's, not the candidate's (see .fidelity)
            check_copy(args, cloned, self.original.module, self.candidate.module, self.is_method)
        self._sync_globals()
        return self._run(self.original, cloned, "original", random_state)

    def _run(self, side: Side, args: Args, phase: str, random_state: Any) -> Outcome:
        return observe(
            side.function,
            args,
            module=side.module,
            global_names=self.shared_globals,
            is_method=self.is_method,
            is_generator=self.is_generator,
            around=self._around(phase, random_state),
        )

    def _around(self, phase: str, random_state: Any) -> Callable[[], AbstractContextManager[None]]:
        @contextmanager
        def around() -> Iterator[None]:
            running = self._running.set(phase)
            try:
                with self.determinism:
                    # The call sees the caller's random state (tests that seed still work),
                    # the same for all three runs; everything else from the patched sources.
                    random.setstate(random_state)
                    if self.guard is None:
                        yield
                    else:
                        with self.guard.phase_of(phase):
                            yield
            finally:
                self._running.reset(running)

        return around

    def _sync_globals(self) -> None:
        """Give the original's private module the caller's current module state (its
        immutable parts shared, see reset.sharing_memo)."""
        from .reset import sharing_memo

        source, target = vars(self.candidate.module), vars(self.original.module)
        values = [source[name] for name in self.shared_globals if name in source]
        memo = sharing_memo(values, self._frozen, self._as_original)
        for name in self.shared_globals:
            if name in source:
                target[name] = snapshot(source[name], memo)
        self._sync_patches(source, target)

    def _sync_patches(self, source: dict[str, Any], target: dict[str, Any]) -> None:
        """Mirror the test's replacements of module names in the original's private module.

        A test that does ``monkeypatch.setattr(mod, "date", FakeDate)`` changed what the
        function sees; the original must see the same.  Data globals are copied above; this
        covers the rest (functions, classes, modules), and puts the original's own value back
        once the test restores the name.
        """
        if not self._as_imported:
            return
        shared = set(self.shared_globals)
        for name, value in source.items():
            if name in shared or name.startswith("__"):
                continue
            imported = self._as_imported.get(name, _MISSING)
            if imported is _MISSING and not _is_code(value):
                continue  # data the function created at run time: each side keeps its own
            if imported is value:
                own = self._shadow_as_imported.get(name, _MISSING)
                if own is not _MISSING and target.get(name, _MISSING) is not own:
                    target[name] = own
            else:
                target[name] = value

    def _remember_input(self, args: Args) -> None:
        if len(self.tally.inputs) >= self.max_inputs:
            return
        try:
            data = dump_stored(args, self.module_name)
        except Exception:
            return
        if data not in self._input_keys:
            self._input_keys.add(data)
            self.tally.inputs.append(data)

    def _judge(self, args: Args, first: Outcome, second: Outcome, actual: Outcome) -> None:
        self.tally.compared += 1
        # One outcome twice (the original ran once, or a kept outcome): nothing to compare.
        unstable = (
            None
            if first is second
            else compare_outcomes(first, second, rel_tol=self.rel_tol, hook=self.hook)
        )
        if unstable is not None and unstable.kind == "unverifiable":
            # Not instability: the values cannot be compared at all, so nothing is verified.
            difference: Difference | None = unstable
        elif unstable is not None:
            self.tally.unstable[unstable.kind] = self.tally.unstable.get(unstable.kind, 0) + 1
            difference = compare_stable(first, second, actual, self.rel_tol, self.hook)
            if difference is None and unstable.kind in ("return value", "yielded values"):
                self.tally.fully_unstable += 1
        else:
            difference = compare_outcomes(first, actual, rel_tol=self.rel_tol, hook=self.hook)
        if difference is None or self._same_failure(first, actual, difference):
            return
        kind, detail = difference.kind, difference.describe()
        if kind == "global state" and RANDOM_STATE in detail:
            detail = (
                "global state differs: the random module's global generator is left in a "
                "different state (the candidate reseeds it or draws from it differently)"
            )
        limit = resource_limit(first, actual)
        if limit:
            kind, detail = "resource limit", limit
        found = difference.mismatch
        self.record(kind, detail, *((found.expected, found.actual) if found else ("", "")))

    def record(self, kind: str, detail: str, expected: str = "", actual: str = "") -> None:
        """Record a difference on the current input (a note when it is outside the
        captured calls' invariants)."""
        record = DifferenceRecord(self.current_test, self._input, kind, detail, expected, actual)
        found = self.tally.notes if self.outside else self.tally.differences
        if len(found) < MAX_RECORDED_DIFFERENCES:
            found.append(record)

    def _same_failure(self, expected: Outcome, actual: Outcome, difference: Difference) -> bool:
        """On a generated input, the interpreter's own wording of a TypeError or
        AttributeError on an ill-typed value is not the function's behaviour; one the
        function raises itself (a ``raise`` statement in its module) is."""
        if not self.lenient_type_errors or difference.kind != "exception":
            return False
        raised = expected.raised
        if not isinstance(raised, (TypeError, AttributeError)):
            return False
        if type(raised) is not type(actual.raised):
            return False
        return not (_raised_by_own_code(raised) or _raised_by_own_code(actual.raised))


def _raised_by_own_code(error: BaseException | None) -> bool:
    """Whether ``error`` came from a ``raise`` statement (not from the interpreter)."""
    import linecache

    tb = error.__traceback__ if error is not None else None
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    line = linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
    return line.lstrip().startswith("raise")


def _is_code(value: object) -> bool:
    """Functions, classes, modules: what a module binds that is not data."""
    return callable(value) or isinstance(value, types.ModuleType)
