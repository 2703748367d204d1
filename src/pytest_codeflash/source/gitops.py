"""Git operations (GitPython), kept in one module and imported only when needed."""

from __future__ import annotations

from pathlib import Path

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
    try:
        repo = git.Repo(rootdir, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ConfigError(
            f"{flag}: {rootdir} is not inside a git repository, so nothing can be compared "
            "with that ref. Run it in a git checkout, or drop --codeflash-changed-since."
        ) from None
    top = Path(repo.working_tree_dir or rootdir).resolve()
    try:
        repo.git.rev_parse("--git-dir")  # does git accept the repository at all?
    except git.GitCommandError as err:
        raise ConfigError(f"{flag}: {describe_failure(err, top)}") from None
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
