"""``--codeflash-pr``: a branch per optimized function (or one for the run), pushed, and a
pull request opened through the GitHub REST API.

The branch ``codeflash/<function>-<HEAD's short hash>`` is made from HEAD in a temporary
worktree (:func:`..source.gitops.push_branch`), so the user's branch, index and working
tree are never touched; only the optimized files are committed, from the function's patch.
The pull request goes against the current branch, its body is the function's Markdown.

The token comes from ``GITHUB_TOKEN`` and goes into the ``Authorization`` header only:
never into a message, the report, git's command line or a URL.  Pushing uses the remote's
own credentials (in GitHub Actions, those ``actions/checkout`` configured).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import GitError, PullRequestError
from ..models import FunctionResult, Settings, Summary
from ..source.gitops import Checkout, has_uncommitted_changes, pull_request_checkout, push_branch
from ..source.paths import relative_path
from .markdown import function_markdown, run_markdown

__all__ = ["GitHub", "preflight", "redact", "repository_of", "with_pull_requests"]

TOKEN_ENV = "GITHUB_TOKEN"
FOOTER = (
    "\n\n---\nOpened by [pytest-codeflash](https://github.com/pytest-codeflash/pytest-codeflash):"
    " the rewrite was verified against the original, call by call, and timed."
)


def preflight(settings: Settings) -> tuple[Checkout, tuple[str, str]]:
    """What ``--codeflash-pr`` needs from git, checked before the tests run.

    :raises PullRequestError: a detached HEAD, no such remote, no repository to name.
    """
    try:
        checkout = pull_request_checkout(settings.rootdir, settings.git_remote)
    except GitError as err:
        raise PullRequestError(redact(f"--codeflash-pr: {err}")) from None
    return checkout, repository_of(settings, checkout.remote_url)


def repository_of(settings: Settings, remote_url: str) -> tuple[str, str]:
    """``(owner, name)``: ``--codeflash-github-repo``, ``GITHUB_REPOSITORY``, or the remote."""
    given = settings.github_repo or os.environ.get("GITHUB_REPOSITORY", "").strip()
    if given and given.count("/") == 1 and all(given.split("/")):
        owner, name = given.split("/")
        return owner, name
    found = re.search(r"[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$", remote_url)
    if found and ("github" in remote_url or remote_url.startswith(("git@", "ssh://"))):
        return found.group(1), found.group(2)
    raise PullRequestError(
        f"--codeflash-pr: cannot tell the GitHub repository from remote "
        f"{settings.git_remote!r} ({redact(remote_url)}). Name it with "
        "--codeflash-github-repo=OWNER/NAME."
    )


def with_pull_requests(
    results: Sequence[FunctionResult], settings: Settings, progress: Callable[[str], None]
) -> list[FunctionResult]:
    """Open the pull requests for the optimized functions; each result says what became of it."""
    optimized = [r for r in results if r.status == "optimized" and r.patch]
    if not optimized:
        return list(results)
    outcome: dict[str, tuple[str | None, str | None]] = {}
    try:
        checkout, repository = preflight(settings)
    except PullRequestError as err:
        outcome = {r.qualified_name: (None, str(err)) for r in optimized}
        return _updated(results, outcome, progress)
    groups = [optimized] if settings.pr_mode == "single" else [[r] for r in optimized]
    with GitHub(settings.github_api_url, _token()) as github:
        for group in groups:
            ready = []
            for result in group:
                problem = _dirty(result, settings)
                if problem:
                    outcome[result.qualified_name] = (None, problem)
                else:
                    ready.append(result)
            if not ready:
                continue
            try:
                url = _open(ready, settings, checkout, repository, github)
            except (GitError, PullRequestError) as err:
                outcome.update({r.qualified_name: (None, str(err)) for r in ready})
            else:
                outcome.update({r.qualified_name: (url, None) for r in ready})
    return _updated(results, outcome, progress)


def _open(
    group: list[FunctionResult],
    settings: Settings,
    checkout: Checkout,
    repository: tuple[str, str],
    github: GitHub,
) -> str:
    directory = relative_path(settings.rootdir.resolve(), checkout.top)
    directory = "" if directory in (".", "") else directory
    if len(group) == 1 and settings.pr_mode != "single":
        (result,) = group
        name = result.qualified_name
        title = f"Speed up {name} {result.speedup or 0:.2f}x"
        body = function_markdown(result)
        branch = f"codeflash/{_ref_safe(name)}-{checkout.head[:7]}"
    else:
        names = ", ".join(r.qualified_name for r in group)
        title = f"Speed up {len(group)} function(s): {names}"[:240]
        body = run_markdown(Summary(state="finished", functions=group), "Faster functions")
        branch = f"codeflash/optimizations-{checkout.head[:7]}"
    message = f"{title}\n\nVerified and timed by pytest-codeflash.\n"
    patches = [(directory, r.patch or "") for r in group]
    push_branch(checkout, branch, patches, message)
    owner, name = repository
    return github.open_pull_request(owner, name, title, branch, checkout.branch, body + FOOTER)


def _dirty(result: FunctionResult, settings: Settings) -> str:
    try:
        dirty = has_uncommitted_changes(settings.rootdir / result.file)
    except GitError as err:
        return f"cannot check {result.file} for uncommitted changes: {err}"
    if dirty:
        return (
            f"{result.file} has uncommitted changes, and the pull request starts from HEAD, "
            "which is not the code that was verified; commit or stash them and run again"
        )
    return ""


def redact(text: str) -> str:
    """``text`` without the token, nor credentials written into a URL (``https://u:p@host``).

    git quotes a remote's URL in its errors, and a remote may carry a token in it.
    """
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        text = text.replace(token, "***")
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1***@", text)


def _updated(
    results: Sequence[FunctionResult],
    outcome: dict[str, tuple[str | None, str | None]],
    progress: Callable[[str], None],
) -> list[FunctionResult]:
    done = []
    for result in results:
        if result.qualified_name not in outcome:
            done.append(result)
            continue
        url, error = outcome[result.qualified_name]
        error = redact(error) if error else error
        if url:
            progress(f"{result.qualified_name}: pull request opened: {url}")
        else:
            progress(f"{result.qualified_name}: no pull request: {error}")
        done.append(result.model_copy(update={"pr_url": url, "pr_error": error}))
    return done


def _token() -> str:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise PullRequestError(f"--codeflash-pr needs a GitHub token in {TOKEN_ENV}")
    return token


def _ref_safe(name: str) -> str:
    """``name`` as a part of a git branch name (letters, digits, ``.``, ``_``, ``-``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "function"


class GitHub:
    """A thin client of the GitHub REST API: opens pull requests, says clearly why not."""

    def __init__(self, base_url: str, token: str, client: Any = None) -> None:
        import httpx

        self.base_url = base_url
        self.client = client or httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(30.0, connect=10.0),
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "pytest-codeflash",
            },
        )

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def open_pull_request(
        self, owner: str, repo: str, title: str, head: str, base: str, body: str
    ) -> str:
        """Open the pull request; its web address.

        :raises PullRequestError: the API cannot be reached, refuses, or answers nonsense.
        """
        import httpx

        path = f"/repos/{owner}/{repo}/pulls"
        payload = {"title": title, "head": head, "base": base, "body": body}
        try:
            reply = self.client.post(path, json=payload)
        except httpx.HTTPError as err:
            raise PullRequestError(
                f"cannot reach the GitHub API at {self.base_url} ({type(err).__name__}: {err}); "
                "check --codeflash-github-api-url and the network. The branch "
                f"{head} is pushed: open the pull request from it by hand"
            ) from None
        if reply.status_code != 201:
            raise PullRequestError(_refusal(reply.status_code, reply.text, owner, repo, head))
        try:
            data = reply.json()
            url = data["html_url"]
        except (ValueError, KeyError, TypeError):
            url = None
        if not isinstance(url, str) or not url:
            raise PullRequestError(
                f"the GitHub API at {self.base_url} answered 201 without a pull request's "
                f"html_url ({reply.text[:200]!r}); is --codeflash-github-api-url the REST API? "
                f"The branch {head} is pushed"
            )
        return url


def _refusal(status: int, text: str, owner: str, repo: str, head: str) -> str:
    try:
        import json

        data = json.loads(text)
        said = str(data.get("message", ""))
        said += "".join(
            f"; {e.get('message') or e}" for e in data.get("errors", []) if isinstance(e, dict)
        )
    except (ValueError, AttributeError, TypeError):
        said = text[:200]
    fix = {
        401: "the token in GITHUB_TOKEN was refused: check that it is valid",
        403: "the token may not open pull requests: it needs pull-requests: write (and "
        "contents: write to push)",
        404: f"no repository {owner}/{repo} the token can see: check --codeflash-github-repo",
        422: "GitHub would not open it (a pull request from this branch may exist already, or "
        "the base branch is not on GitHub)",
    }.get(status, "see GitHub's message")
    return (
        f"the GitHub API refused the pull request (HTTP {status}: {said or 'no message'}); "
        f"{fix}. The branch {head} is pushed"
    )
