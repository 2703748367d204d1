"""Generated tests: modules a candidate source wrote, kept test by test if the original passes.

The modules are written into each run's copy of the project (``codeflash_generated_tests/``,
passed to the sandbox as files), never into the user's tree.  One baseline-mode run of
them with the original decides which tests to keep; the kept ones then run, beside the
user's own tests, for every candidate evaluated afterwards, so that their calls are compared
call by call like any other.  They add verification inputs; they never replace the user's
tests, which a candidate must still pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..models import GeneratedTests, TargetFunction
from ..runner.sandbox import ChildRun

__all__ = ["DIRECTORY", "GeneratedTestSet"]

DIRECTORY = "codeflash_generated_tests"


class GeneratedTestSet:
    """The generated tests kept so far for one function, and what became of all of them."""

    def __init__(self) -> None:
        self.tests: list[str] = []  # node ids of the kept tests
        self.files: dict[str, str] = {}  # their modules, by path in the project copy
        self.report: GeneratedTests | None = None
        self._count = 0

    def files_for(self, target: TargetFunction, modules: Sequence[str]) -> dict[str, str]:
        """Paths in the project copy for ``modules``, named after the target.

        Names are unique within the run: pytest's default import mode puts the directory
        on ``sys.path``, so a module's base name must not repeat a test module's.
        """
        stem = re.sub(r"\W", "_", target.qualified_name)
        files = {}
        for text in modules:
            self._count += 1
            files[f"{DIRECTORY}/test_codeflash_{stem}_{self._count}.py"] = text
        return files

    def record(self, run: ChildRun, files: dict[str, str]) -> GeneratedTests:
        """Sort the tests of ``files`` by their outcome in the original's ``run``; keep those
        that passed for the candidates to come."""
        result = run.result
        error = None
        if run.timed_out:
            error = f"the generated tests did not finish in {run.wall_s:.0f} s with the original"
        elif result is None or result.phase == "started":
            error = "the runner failed on the generated tests with the original"
        outcomes = result.tests if result is not None and error is None else {}
        kept = [test for test, outcome in outcomes.items() if outcome == "passed"]
        dropped = [test for test, outcome in outcomes.items() if outcome != "passed"]
        ran = {test.split("::", 1)[0] for test in outcomes}
        dropped += [path for path in files if path not in ran]  # did not even collect
        batch = GeneratedTests(kept=kept, dropped=dropped, error=error)
        self.tests += kept
        paths = {test.split("::", 1)[0] for test in kept}
        self.files.update({path: text for path, text in files.items() if path in paths})
        before = self.report or GeneratedTests()
        self.report = GeneratedTests(
            kept=[*before.kept, *kept],
            dropped=[*before.dropped, *dropped],
            error=error or before.error,
        )
        return batch

    def failed(self, reason: str) -> None:
        """No generated tests could be had (the source failed): say why in the report."""
        before = self.report or GeneratedTests()
        self.report = before.model_copy(update={"error": before.error or reason})
