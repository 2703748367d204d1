"""``python -m pytest_codeflash merge``: shard reports become one JSON and one Markdown report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_codeflash.deliver.merge import main, merge_reports
from pytest_codeflash.models import FunctionResult, Report


def report(path: Path, *functions: FunctionResult) -> Path:
    path.write_text(Report(functions=list(functions)).model_dump_json())
    return path


def function(
    name: str, status: Any = "not_optimized", speedup: float | None = None
) -> FunctionResult:
    return FunctionResult(
        qualified_name=name,
        file="m.py",
        status=status,
        reason="r",
        speedup=speedup,
    )


def test_functions_of_every_shard_once_the_most_telling_kept(tmp_path: Path) -> None:
    first = report(tmp_path / "1.json", function("a"), function("b", "skipped"))
    second = report(tmp_path / "2.json", function("c", "optimized", 2.0), function("b", "error"))
    third = report(tmp_path / "3.json", function("c", "optimized", 3.0), function("a", "skipped"))
    merged = merge_reports([first, second, third])
    assert [(f.qualified_name, f.status, f.speedup) for f in merged.functions] == [
        ("a", "not_optimized", None),
        ("b", "error", None),
        ("c", "optimized", 3.0),
    ]


def test_the_command_writes_both_reports(tmp_path: Path) -> None:
    first = report(tmp_path / "1.json", function("pkg.a"))
    second = report(tmp_path / "2.json", function("pkg.b", "optimized", 2.5))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_codeflash",
            "merge",
            str(first),
            str(second),
            "--json",
            "all.json",
            "--md",
            "all.md",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "merged 2 report(s): 2 function(s)",
        "JSON report written to all.json",
        "Markdown report written to all.md",
    ]
    names = [
        f["qualified_name"] for f in json.loads((tmp_path / "all.json").read_text())["functions"]
    ]
    assert names == ["pkg.a", "pkg.b"]
    assert (
        (tmp_path / "all.md")
        .read_text()
        .startswith("# pytest-codeflash: 1 of 2 function(s) optimized")
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read {path}: No such file or directory"),
        ("{not json", "{path} is not a pytest-codeflash JSON report"),
        ('{"schema_version": 2, "functions": []}', "{path} is not a pytest-codeflash JSON report"),
    ],
)
def test_bad_input_is_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "shard.json"
    if content is not None:
        path.write_text(content)
    assert main(["merge", str(path), "--json", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pytest_codeflash merge: error: " + message.format(path=path))
    assert "Traceback" not in err
    assert not (tmp_path / "o.json").exists()


def test_pr_without_a_token_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    path = report(tmp_path / "1.json", function("a", "optimized", 2.0))
    assert main(["merge", str(path), "--pr"]) == 2
    assert "--pr needs a GitHub token in the GITHUB_TOKEN" in capsys.readouterr().err
