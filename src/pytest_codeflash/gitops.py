"""Git operations (GitPython), kept in one module and imported only when needed."""

from __future__ import annotations

from pathlib import Path


def has_uncommitted_changes(path: Path) -> bool:
    """Whether ``path`` differs from HEAD in its git repository (False outside git)."""
    try:
        import git
    except ImportError:  # pragma: no cover - GitPython is a dependency
        return False
    try:
        repo = git.Repo(path.parent, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return False
    rel = path.resolve().relative_to(Path(repo.working_tree_dir or ".").resolve()).as_posix()
    if rel in repo.untracked_files:
        return True
    if not repo.head.is_valid():
        return True
    return bool(repo.index.diff(None, paths=[rel]) or repo.index.diff("HEAD", paths=[rel]))
