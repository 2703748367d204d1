"""``--codeflash-pr``: a real bare repository as the remote, a real server for the GitHub API.

The server (on 127.0.0.1) records every request; the user's branch, index and working tree
must be exactly as they were, and the token must appear in no output.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_codeflash.deliver.markdown import function_markdown
from pytest_codeflash.deliver.patches import make_patch
from pytest_codeflash.deliver.pr import GitHub, redact, repository_of, with_pull_requests
from pytest_codeflash.errors import PullRequestError
from pytest_codeflash.models import FunctionResult, Settings

from ..candidates.llm.server import Reply, ScriptedServer
from ..conftest import tree_digest
from . import test_apply
from .test_apply import OPTIMIZED, ORIGINAL, RUN, git

calc = test_apply.calc
RUN = (*RUN[:-1], "--codeflash-effort=medium")  # a budget that decides on a busy machine
repo = test_apply.repo
TOKEN = "ghp_sekret0123456789abcdefTOKEN"
PULLS = "/repos/octo/listy/pulls"
OPENED = Reply({"html_url": "https://github.example/octo/listy/pull/7", "number": 7}, 201)


@pytest.fixture
def github() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    return TOKEN


def with_remote(root: Path, tmp_path: Path) -> Path:
    """A bare repository in ``tmp_path`` as ``origin`` of ``root``, with main pushed."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    return remote


def user_state(root: Path) -> dict[str, object]:
    """What the user sees of the repository: branch, HEAD, index, status, files."""
    # Left aside: git's own database (the pushed branch's objects and ref), the saved patch,
    # and what pytester's subprocess writes beside the project (stdout, stderr, basetemp).
    ours = (".git/", ".codeflash/", "stdout", "stderr", "runpytest-")
    files = {k: v for k, v in tree_digest(root).items() if not k.startswith(ours)}
    status = git(root, "status", "--porcelain", "--untracked-files=all").splitlines()
    return {
        "branch": git(root, "symbolic-ref", "HEAD"),
        "head": git(root, "rev-parse", "HEAD"),
        "index": git(root, "ls-files", "--stage"),
        "status": [line for line in status if not line[3:].startswith(ours)],
        "worktrees": git(root, "worktree", "list", "--porcelain").count("worktree "),
        "files": files,
    }


# -- end to end -------------------------------------------------------------------------------


@pytest.mark.usefixtures("token")
def test_pull_request_end_to_end(
    calc: pytest.Pytester, tmp_path: Path, github: ScriptedServer
) -> None:
    remote = with_remote(calc.path, tmp_path)
    before = user_state(calc.path)
    head = str(before["head"]).strip()
    github.script(PULLS, OPENED)
    report, markdown = tmp_path / "r.json", tmp_path / "r.md"
    result = calc.runpytest_subprocess(
        *RUN,
        "--codeflash-pr",
        f"--codeflash-github-api-url={github.url}",
        "--codeflash-github-repo=octo/listy",
        f"--codeflash-report={report}",
        f"--codeflash-report-md={markdown}",
    )
    result.stdout.fnmatch_lines(
        [
            "codeflash: listy.core.unique: pull request opened: "
            "https://github.example/octo/listy/pull/7",
            "*pull request: https://github.example/octo/listy/pull/7",
        ]
    )
    (request,) = github.requests(PULLS)
    branch = f"codeflash/listy.core.unique-{head[:7]}"
    assert request.method == "POST"
    headers = {key.lower(): value for key, value in request.headers.items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert (request.body["head"], request.body["base"]) == (branch, "main")
    body = request.body["body"]
    assert body.startswith("# `listy.core.unique`: ")
    assert "**What changed.** user candidate fast.py" in body
    assert "## Runtime" in body
    assert "| replayed calls |" in body
    assert "```diff\n--- a/src/listy/core.py" in body
    # Only the optimized file changed on the pushed branch, starting from the user's HEAD.
    changed = git(remote, "diff", "--name-only", "main", branch).split()
    assert changed == ["src/listy/core.py"]
    assert git(remote, "rev-parse", f"{branch}~1").strip() == head
    assert "return list(dict.fromkeys(items))" in git(remote, "show", f"{branch}:src/listy/core.py")
    # Nothing of the user's moved: branch, HEAD, index, status, files; no worktree left.
    assert user_state(calc.path) == before
    function = json.loads(report.read_text())["functions"][0]
    assert function["pr_url"] == "https://github.example/octo/listy/pull/7"
    assert function["pr_error"] is None
    outputs = [result.stdout.str(), result.stderr.str(), report.read_text(), markdown.read_text()]
    outputs += [p.read_text() for p in (calc.path / ".codeflash").rglob("*.patch")]
    outputs.append(git(remote, "log", "--format=%B%n%an%n%ae", branch))
    assert all(TOKEN not in text for text in outputs)


@pytest.mark.usefixtures("token")
@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("detach", "HEAD is detached (at *), and a pull request needs a branch*"),
        ("no-remote", "*there is no git remote 'origin' to push to (remotes: none)*"),
        ("no-repo", "*cannot tell the GitHub repository from remote 'origin'*"),
    ],
)
def test_refusals_stop_before_the_tests(
    calc: pytest.Pytester, tmp_path: Path, setup: str, message: str
) -> None:
    if setup != "no-remote":
        with_remote(calc.path, tmp_path)
    if setup == "detach":
        git(calc.path, "checkout", "-q", "--detach")
    repo_option = [] if setup == "no-repo" else ["--codeflash-github-repo=octo/listy"]
    result = calc.runpytest(*RUN, "--codeflash-pr", *repo_option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --codeflash-pr: {message}"])
    assert "Traceback" not in result.stderr.str()
    assert TOKEN not in result.stderr.str() + result.stdout.str()


# -- with_pull_requests on a repository of its own ----------------------------------------------


def _optimized(root: Path, rel: str = "pkg/mod.py", name: str = "pkg.mod.f") -> FunctionResult:
    original = (root / rel).read_text()
    optimized = original.replace("sorted(x)[0]", "min(x)").replace("X = 1", "X = 2")
    return FunctionResult(
        qualified_name=name,
        file=rel,
        status="optimized",
        reason="faster",
        speedup=2.0,
        patch=make_patch(rel, original, optimized),
    )


def _settings(root: Path, api: str, **values: Any) -> Settings:
    return Settings(  # type: ignore[arg-type]
        rootdir=root, pr=True, github_api_url=api, github_repo="octo/listy", **values
    )


@pytest.mark.usefixtures("token")
def test_a_dirty_target_gets_no_pull_request_and_says_why(
    repo: Path, tmp_path: Path, github: ScriptedServer
) -> None:
    with_remote(repo, tmp_path)
    (repo / "pkg" / "mod.py").write_text(ORIGINAL + "# local edit\n")
    lines: list[str] = []
    (done,) = with_pull_requests([_optimized(repo)], _settings(repo, github.url), lines.append)
    assert done.pr_url is None
    assert done.pr_error is not None
    assert done.pr_error.startswith("pkg/mod.py has uncommitted changes")
    assert lines == [f"pkg.mod.f: no pull request: {done.pr_error}"]
    assert github.requests() == []


@pytest.mark.usefixtures("token")
def test_single_opens_one_pull_request_for_the_run(
    repo: Path, tmp_path: Path, github: ScriptedServer
) -> None:
    remote = with_remote(repo, tmp_path)
    github.script(PULLS, OPENED)
    results = [_optimized(repo), _optimized(repo, "pkg/util.py", "pkg.util.g")]
    done = with_pull_requests(results, _settings(repo, github.url, pr_mode="single"), print)
    assert {r.pr_url for r in done} == {"https://github.example/octo/listy/pull/7"}
    (request,) = github.requests(PULLS)
    assert request.body["head"].startswith("codeflash/optimizations-")
    assert "`pkg.mod.f`" in request.body["body"]
    assert "`pkg.util.g`" in request.body["body"]
    changed = git(remote, "diff", "--name-only", "main", request.body["head"]).split()
    assert changed == ["pkg/mod.py", "pkg/util.py"]
    assert (repo / "pkg" / "mod.py").read_text() == ORIGINAL


@pytest.mark.usefixtures("token")
def test_a_second_run_from_the_same_commit_is_refused_by_name(
    repo: Path, tmp_path: Path, github: ScriptedServer
) -> None:
    with_remote(repo, tmp_path)
    github.script(PULLS, OPENED)
    settings = _settings(repo, github.url)
    with_pull_requests([_optimized(repo)], settings, print)
    (again,) = with_pull_requests([_optimized(repo)], settings, print)
    assert again.pr_error is not None
    assert "already exists" in again.pr_error
    assert "git branch -D codeflash/pkg.mod.f-" in again.pr_error


# -- the GitHub client --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "fragments"),
    [
        (
            Reply({"message": "Validation Failed", "errors": [{"message": "A PR exists"}]}, 422),
            ["HTTP 422: Validation Failed; A PR exists", "may exist already"],
        ),
        (Reply({"message": "Bad credentials"}, 401), ["HTTP 401: Bad credentials", "refused"]),
        (Reply(raw=b"<html>proxy</html>", status=201), ["answered 201 without", "REST API"]),
        (Reply(raw=b"oops", status=502), ["HTTP 502: oops"]),
    ],
)
def test_github_refusals_are_one_clear_message(
    github: ScriptedServer, reply: Reply, fragments: list[str]
) -> None:
    github.script(PULLS, reply)
    with GitHub(github.url, TOKEN) as client, pytest.raises(PullRequestError) as info:
        client.open_pull_request("octo", "listy", "title", "codeflash/x-1", "main", "body")
    message = str(info.value)
    assert all(fragment in message for fragment in fragments), message
    assert TOKEN not in message
    assert "The branch codeflash/x-1 is pushed" in message


def test_an_unreachable_api_is_named() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with GitHub(f"http://127.0.0.1:{port}", TOKEN) as client, pytest.raises(PullRequestError) as e:
        client.open_pull_request("octo", "listy", "t", "codeflash/x-1", "main", "b")
    assert f"cannot reach the GitHub API at http://127.0.0.1:{port}" in str(e.value)
    assert TOKEN not in str(e.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("git@github.com:octo/listy.git", ("octo", "listy")),
        ("https://github.com/octo/listy", ("octo", "listy")),
        ("https://github.com/octo/listy.git", ("octo", "listy")),
        ("ssh://git@ghe.example.com/octo/listy.git", ("octo", "listy")),
    ],
)
def test_the_repository_is_read_from_the_remote(
    url: str, expected: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    assert repository_of(Settings(rootdir=tmp_path), url) == expected
    monkeypatch.setenv("GITHUB_REPOSITORY", "other/name")
    assert repository_of(Settings(rootdir=tmp_path), url) == ("other", "name")


@pytest.mark.usefixtures("token")
def test_credentials_in_a_remote_url_never_reach_a_message(repo: Path, tmp_path: Path) -> None:
    missing = tmp_path / "gone.git"  # a push there fails, and git quotes the URL
    git(repo, "remote", "add", "origin", f"file://user:{TOKEN}@localhost{missing}")
    lines: list[str] = []
    settings = _settings(repo, "http://127.0.0.1:9")
    (done,) = with_pull_requests([_optimized(repo)], settings, lines.append)
    assert done.pr_error is not None
    assert TOKEN not in done.pr_error + "".join(lines)
    assert git(repo, "branch", "--list", "codeflash/*") == ""  # nothing left to block a retry
    assert redact(f"https://x-access-token:{TOKEN}@github.com/o/r") == "https://***@github.com/o/r"


def test_markdown_of_a_function_is_the_body(repo: Path) -> None:
    body = function_markdown(_optimized(repo))
    assert body.startswith("# `pkg.mod.f`: 2.00x faster")
    assert "```diff" in body
    assert OPTIMIZED.strip().splitlines()[-1].strip() in body  # + return min(x)
