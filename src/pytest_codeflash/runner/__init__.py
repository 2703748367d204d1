"""The isolated runner.

``sandbox`` is the parent side: it copies the project, scrubs the environment, starts the
child with its limits and reads back its JSON results.  Everything else runs inside the
runner's subprocess (``child`` is its pytest plugin) and imports only the standard library
and the user's code, never pydantic or libcst, because the child is started many times:

- ``overlay``: serves the candidate's source for the target module from memory;
- ``guard``: the audit hook that keeps writes inside the sandbox and notices secret reads;
- ``determinism``: identical clocks, randomness and uuids for original and candidate;
- ``calls``, ``differential``: one call observed, and original-twice-then-candidate;
- ``compare``, ``outcomes``, ``compare_arrays``: the strict comparator;
- ``replay``, ``generate``, ``scale``, ``coverage_probe``: the other verification inputs;
- ``timing``: interleaved, calibrated timing (decided with ``pytest_codeflash.runner.stats``).
"""
