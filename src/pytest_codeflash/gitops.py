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
