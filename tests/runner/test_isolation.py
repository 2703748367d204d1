"""Hostile and broken candidates are rejected with the right reason; nothing outside changes.

One real run evaluates every hostile candidate (each in its own runner process), then the
assertions look at the report and at the file system around the project.
"""

from __future__ import annotations

import json

import pytest

from ..conftest import tree_digest

FAST_BODY = """
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
"""

HOSTILE = {
    "loops.py": "def unique(items):\n    while True:\n        pass\n",
    "exits.py": "import os\n\ndef unique(items):\n    os._exit(3)\n",
    "sysexit.py": "import sys\n\ndef unique(items):\n    sys.exit(1)\n",
    "segfault.py": "import ctypes\n\ndef unique(items):\n    return ctypes.string_at(0)\n",
    "memory.py": "def unique(items):\n    block = bytearray(1 << 40)\n    return [block]\n",
    "escapes.py": (
        "import pathlib\n\ndef unique(items):\n"
        "    pathlib.Path({marker!r}).write_text('x')\n" + FAST_BODY
    ),
    "deletes.py": (
        "import os\n\ndef unique(items):\n"
        "    try:\n        os.remove({canary!r})\n    except OSError:\n        pass\n" + FAST_BODY
    ),
    # Equal values, untouched arguments: only the test's identity check can see the aliasing.
    "aliases.py": "def unique(items):\n    if len(set(items)) == len(items):\n"
    "        return items\n" + FAST_BODY,
    "leaks.py": "import os\n\ndef unique(items):\n    os.environ.get('OPENAI_API_KEY')\n"
    + FAST_BODY,
}

EXPECTED = {
    "loops.py": "timeout:",
    "exits.py": "crash: the runner process exited with code 3",
    "sysexit.py": "raised SystemExit(1) but the original returned",
    "segfault.py": "crash: the runner process killed by SIGSEGV",
    "memory.py": "resource limit: the candidate hit the memory limit",
    "escapes.py": "unsafe: tried to open",
    "deletes.py": "unsafe: tried to os.remove",
    "aliases.py": "aliasing differs: the original returns a new object (#0), the candidate the",
    "leaks.py": "unsafe: reads secret environment variable(s) OPENAI_API_KEY",
}


def test_hostile_candidates_are_contained(
    listy: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = listy.path.parent
    canary = outside / "CANARY.txt"
    canary.write_text("keep me")
    marker = outside / "ESCAPED.marker"
    for name, source in HOSTILE.items():
        text = source.replace("{marker!r}", repr(str(marker))).replace(
            "{canary!r}", repr(str(canary))
        )
        (listy.path / "candidates" / name).write_text(text)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-must-not-leak")
    before_outside = sorted(p.name for p in outside.iterdir())
    before = tree_digest(listy.path)
    result = listy.runpytest_subprocess(
        "--codeflash-target=listy.core.unique",
        *[f"--codeflash-candidate=candidates/{name}" for name in HOSTILE],
        "--codeflash-report=report.json",
        "--codeflash-timeout=5",
        "--codeflash-effort=low",
    )
    result.assert_outcomes(passed=5)
    report = json.loads((listy.path / "report.json").read_text())
    reasons = {c["id"]: c["reason"] for c in report["functions"][0]["candidates"]}
    verdicts = {c["id"]: c["verdict"] for c in report["functions"][0]["candidates"]}
    for name, fragment in EXPECTED.items():
        assert verdicts[name] == "rejected", (name, reasons[name])
        assert fragment in reasons[name], (name, reasons[name])
    assert canary.read_text() == "keep me"
    assert sorted(p.name for p in outside.iterdir()) == before_outside
    after = tree_digest(listy.path)
    assert {p: d for p, d in after.items() if p in before} == before
    assert "sk-test-must-not-leak" not in result.stdout.str()
    assert "sk-test-must-not-leak" not in (listy.path / "report.json").read_text()
