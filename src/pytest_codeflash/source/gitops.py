"""Git operations (GitPython), kept in one module and imported only when needed."""

from __future__ import annotations

from pathlib import Path


def has_uncommitted_changes(path: Path) -> bool:
    """Whether ``path`` differs from HEAD in its git repository (False outside git).

    Staged, unstaged and untracked (not ignored) all count, as does a repository without
    any commit yet.
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
        if not repo.head.is_valid():
            return True
        return bool(repo.git.status("--porcelain", "--untracked-files=all", "--", rel).strip())
    finally:
        repo.close()


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
    top = Path(repo.working_tree_dir or rootdir).resolve()
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
