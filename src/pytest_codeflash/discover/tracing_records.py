"""What the tracer records per function, and what its event handlers need of the tracer.

A leaf module: :mod:`.tracing` and :mod:`.tracing_events` both import it, and it imports
neither.  Standard library only, like the rest of tracing.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(eq=False, slots=True)
class TargetTrace:
    """What the test run showed about one function (times in nanoseconds)."""

    module: str
    qualname: str
    file: str | None = None
    code: types.CodeType | None = None
    calls: int = 0
    own_ns: int = 0
    total_ns: int = 0
    cpu_ns: int = 0  # CPU time of the calls whose CPU time was measured ...
    cpu_wall_ns: int = 0  # ... and their wall time
    cpu_probes: int = 0
    tests: set[str] = field(default_factory=set)
    samples: list[bytes] = field(default_factory=list)
    samples_skipped: int = 0
    # bookkeeping of the hot path
    depth: int = 0
    last_test: str = ""
    next_sample: int = 1
    resumable: bool = False
    start_offset: int = -1
    attempts: int = 0
    activations: int = 0  # starts and resumptions measured exactly
    sampled: bool = False  # only its starts are seen now; the sampler measures its time
    sample_cost_ns: int = 0  # time spent keeping its inputs
    refused: int = 0  # its latest calls whose inputs pickle failed on, in a row
    resumes: int = 0  # resumptions seen exactly (a generator's)
    fast_calls: int = 0  # calls counted by the profiler (before 3.12), not seen exactly
    # From the last runs (see .tracing_cache): its exact starts, and whether its inputs are
    # all it will get (then none is sampled now).
    credit: int = 0
    runs: int = 0  # the last runs that called it
    settled: bool = False

    @property
    def cpu_ratio(self) -> float:
        return min(1.0, self.cpu_ns / self.cpu_wall_ns) if self.cpu_wall_ns else 0.0

    @property
    def own_cpu_ns(self) -> int:
        return int(self.own_ns * self.cpu_ratio)

    @property
    def total_cpu_ns(self) -> int:
        return int(self.total_ns * self.cpu_ratio)


# The traced functions' records by the ``id()`` of their code objects.  Not by the code
# objects: hashing one hashes its constants and names (and from 3.12 its line table) on every
# lookup, up to a microsecond each, and the hooks and the sampler look up every frame they
# see.  An id is safe: each record keeps its code object alive, and a live object's id is
# its own.
ByCode = dict[int, TargetTrace]


class TracerState(Protocol):
    """The part of :class:`.tracing.Tracer` that the event handlers and the sampler use.

    ``_by_code`` maps the ``id()`` of each traced code object to its record; ``_stacks``
    holds, per thread, the activations being measured (see :func:`.tracing_events.handlers`).
    """

    current_test: str
    _by_code: ByCode
    _stacks: dict[int, list[list[Any]]]
    _tool: int | None
    _fast_threads: set[int]  # threads whose calls the profiler sees now (before 3.12)
    _phases: Any  # the tests' thread's FastPhases or CountedPhases (before 3.12), or None
    windows_open: int  # windows open now (see Tracer.window) ...
    window_since: int  # ... since when the outermost one is (perf_counter_ns) ...
    window_thread: int | None  # ... the thread that opens them, once one has opened ...
    window_ns: int  # ... and the time spent in those closed so far

    def sample(
        self, trace: TargetTrace, frame: types.FrameType | Mapping[str, Any], calls: int = -1
    ) -> None: ...

    def to_sampled(self, trace: TargetTrace) -> None: ...
