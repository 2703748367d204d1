"""Git operations (GitPython), kept in one module and imported only when needed."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import GitError


def has_uncommitted_changes(path: Path) -> bool:
    """Whether ``path`` differs from HEAD in its git repository (False outside git).

    Staged, unstaged and untracked (not ignored) all count, as does a repository without
    any commit yet.

    :raises GitError: git fails or refuses the repository (never taken for a change).
    """
    try:
        import git
    except ImportError:  # pragma: no cover - GitPython is a dependency (no git executable)
        return False
    try:
        repo = git.Repo(path.parent, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return False
    try:
        top = Path(repo.working_tree_dir or ".").resolve()
        rel = path.resolve().relative_to(top).as_posix()
        try:
            # Asked first: git itself says whether it accepts the repository.
            status = repo.git.status("--porcelain", "--untracked-files=all", "--", rel)
        except git.GitCommandError as err:
            raise GitError(describe_failure(err, top)) from err
        if not repo.head.is_valid():
            return True
        return bool(status.strip())
    finally:
        repo.close()


def describe_failure(err: Exception, top: Path) -> str:
    """What git said, as a sentence with the fix when it is a known refusal."""
    text = str(getattr(err, "stderr", "") or err)
    if "dubious ownership" in text:
        return (
            f"git refuses the repository at {top}: it belongs to another user than the one "
            'running pytest ("dubious ownership"). If you trust it, mark it safe with: '
            f"git config --global --add safe.directory {top}"
        )
    said = next(
        (line.strip(" '\"") for line in text.splitlines() if "fatal:" in line or "error:" in line),
        text.strip().splitlines()[0] if text.strip() else type(err).__name__,
    )
    if "stderr:" in said:
        said = said.split("stderr:", 1)[1].strip(" '\"")
    code = getattr(err, "status", None)
    return f"git failed in {top}" + (f" (exit code {code})" if code else "") + f": {said}"


def _open_repo(
    rootdir: Path, so: str, option: str, refuse: Callable[[str], Exception]
) -> tuple[Any, Path]:
    """The repository around ``rootdir`` and its top folder, once git accepts it.

    Otherwise ``refuse(text)`` is raised: not a repository (so ``so``; the fix is a checkout,
    or dropping ``option``), or git's own refusal as :func:`describe_failure` words it.
    """
    import git

    try:
        repo = git.Repo(rootdir, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise refuse(
            f"{rootdir} is not inside a git repository, so {so}. Run it in a git checkout, or "
            f"drop {option}."
        ) from None
    top = Path(repo.working_tree_dir or rootdir).resolve()
    try:
        repo.git.rev_parse("--git-dir")  # does git accept the repository at all?
    except git.GitCommandError as err:
        repo.close()
        raise refuse(describe_failure(err, top)) from None
    return repo, top


# -- --codeflash-changed-since -----------------------------------------------------------------
def changed_lines(rootdir: Path, ref: str) -> dict[Path, set[int]]:
    """Lines of each file that changed since ``ref``: committed, staged, unstaged, untracked.

    The diff is taken from the merge base of ``ref`` and HEAD (so on a branch, changes that
    were made on ``ref`` meanwhile do not count) to the working tree.  Keys are resolved
    absolute paths; a new file counts as changed on every line (``{0}`` stands for "all").

    :raises ConfigError: if ``rootdir`` is not in a git repository or ``ref`` is unknown.
    """
    import git

    from ..errors import ConfigError

    flag = f"--codeflash-changed-since={ref}"
    repo, top = _open_repo(
        rootdir,
        "nothing can be compared with that ref",
        "--codeflash-changed-since",
        lambda text: ConfigError(f"{flag}: {text}"),
    )
    try:
        commit = repo.commit(ref)
    except (git.BadName, git.GitCommandError, ValueError):
        raise ConfigError(
            f"{flag}: {ref!r} is not a commit, branch or tag of the repository at "
            f"{repo.working_tree_dir}. Name an existing ref, e.g. HEAD~1 or origin/main; in "
            f"CI, fetch it first (git fetch origin main, or a checkout with enough history)."
        ) from None
    try:
        bases = repo.merge_base(commit, "HEAD") if repo.head.is_valid() else []
    except git.GitCommandError:  # shallow clone without the common history
        bases = []
    base = bases[0] if bases else commit
    diff = repo.git.diff(base.hexsha, "--unified=0", "--no-color", "--no-ext-diff", "--no-renames")
    changed = _parse_diff(diff, top)
    for rel in repo.untracked_files:
        changed.setdefault((top / rel).resolve(), set()).add(0)
    return changed


def _parse_diff(diff: str, top: Path) -> dict[Path, set[int]]:
    """The new-side line numbers of each hunk of a ``--unified=0`` diff."""
    changed: dict[Path, set[int]] = {}
    current: set[int] | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            name = line[4:]
            current = (
                None
                if name == "/dev/null"
                else changed.setdefault((top / name.removeprefix("b/")).resolve(), set())
            )
        elif line.startswith("@@ ") and current is not None:
            new = line.split(" ")[2]  # +start[,count]
            start, _, count = new[1:].partition(",")
            first, size = int(start), int(count or 1)
            # A pure deletion (count 0) sits between two lines: both count as touched.
            current.update(range(first, first + size) if size else (first, first + 1))
    return changed


# -- --codeflash-pr ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Checkout:
    """Where a pull request starts: the repository, its current branch and HEAD, the remote."""

    top: Path
    branch: str
    head: str  # the full commit hash of HEAD
    remote: str
    remote_url: str


def pull_request_checkout(rootdir: Path, remote: str) -> Checkout:
    """The checkout a pull request is opened from, or a refusal that says how to fix it.

    :raises GitError: not a git repository, a detached HEAD, no commit yet, or no such remote.
    """

    repo, top = _open_repo(rootdir, "no branch can be pushed", "--codeflash-pr", GitError)
    try:
        if not repo.head.is_valid():
            raise GitError(f"the repository at {top} has no commit yet; commit your code first")
        head = repo.head.commit.hexsha
        if repo.head.is_detached:
            raise GitError(
                f"HEAD is detached (at {head[:7]}), and a pull request needs a branch to go "
                "into. Check out the branch first (git switch NAME); in GitHub Actions, "
                "check out the pull request's branch: actions/checkout with ref: "
                "${{ github.head_ref }}."
            )
        names = [r.name for r in repo.remotes]
        if remote not in names:
            known = ", ".join(names) if names else "none"
            raise GitError(
                f"there is no git remote {remote!r} to push to (remotes: {known}). Add it (git "
                "remote add origin URL) or name another with git-remote in [tool.codeflash]."
            )
        url = repo.git.remote("get-url", remote).strip()
        return Checkout(top, repo.head.reference.name, head, remote, url)
    finally:
        repo.close()


def push_branch(
    checkout: Checkout, branch: str, patches: list[tuple[str, str]], message: str
) -> str:
    """Commit ``patches`` on a new ``branch`` from HEAD in a temporary worktree; push it.

    ``patches`` are ``(rootdir-relative directory, unified diff)`` pairs (``git apply``
    form).  The user's branch, index and working tree are never touched: the branch is
    made in a worktree of its own, removed afterwards.

    :returns: the new commit's hash.
    :raises GitError: the branch exists, a patch does not apply to HEAD, or the push fails.
    """
    import git

    repo = git.Repo(checkout.top)
    folder = Path(tempfile.mkdtemp(prefix="codeflash-pr-"))
    worktree = folder / "tree"
    keep_branch = True  # unless a step after its creation fails
    try:
        try:
            repo.git.worktree("add", "-q", "-b", branch, str(worktree), checkout.head)
        except git.GitCommandError as err:
            if "already exists" in str(err.stderr):
                raise GitError(
                    f"a branch {branch} already exists (an earlier --codeflash-pr from the "
                    f"same commit?); delete it (git branch -D {branch}) to open it again"
                ) from None
            raise GitError(describe_failure(err, checkout.top)) from None
        tree = git.Repo(worktree)
        try:
            return _commit_and_push(tree, checkout, branch, patches, message, folder)
        except GitError:
            keep_branch = False
            raise
        finally:
            tree.close()
    finally:
        with contextlib.suppress(git.GitCommandError):
            repo.git.worktree("remove", "--force", str(worktree))
        with contextlib.suppress(git.GitCommandError):
            repo.git.worktree("prune")
        if not keep_branch:  # a branch that went nowhere would block the next attempt
            with contextlib.suppress(git.GitCommandError):
                repo.git.branch("-D", branch)
        shutil.rmtree(folder, ignore_errors=True)
        repo.close()


def _commit_and_push(
    tree: Any,
    checkout: Checkout,
    branch: str,
    patches: list[tuple[str, str]],
    message: str,
    folder: Path,
) -> str:
    import git

    for number, (directory, patch) in enumerate(patches):
        patch_file = folder / f"{number}.patch"
        patch_file.write_bytes(patch.encode("utf-8", "surrogateescape"))
        where = [f"--directory={directory}"] if directory else []
        try:
            tree.git.apply("--index", *where, str(patch_file))
        except git.GitCommandError as err:
            raise GitError(
                "the optimization does not apply to the committed file (HEAD "
                f"{checkout.head[:7]}): {describe_failure(err, checkout.top)}"
            ) from None
    try:
        tree.git.commit("-q", "--no-verify", "-m", message, env=_identity(tree))
        commit = str(tree.head.commit.hexsha)
        tree.git.push("-q", checkout.remote, f"refs/heads/{branch}:refs/heads/{branch}")
    except git.GitCommandError as err:
        raise GitError(describe_failure(err, checkout.top)) from None
    return commit


def _identity(tree: Any) -> dict[str, str]:
    """The configured author, or a stand-in so that a CI machine without one can commit."""
    import git

    def configured(key: str) -> str:
        try:
            return str(tree.git.config(key)).strip()
        except git.GitCommandError:
            return ""

    name = configured("user.name") or "pytest-codeflash"
    email = configured("user.email") or "pytest-codeflash@users.noreply.github.com"
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
