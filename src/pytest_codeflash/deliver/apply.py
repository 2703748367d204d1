"""Deliver accepted optimizations: a patch file each, or (opt-in) written into the files.

Without ``--codeflash-apply`` every optimization is saved as
``.codeflash/patches/<timestamp>-<function>.patch`` (``git apply`` compatible).  With it the
optimized modules are written over the originals, each with an atomic replace (a temporary
file in the same directory, then a rename) that keeps the file's permission bits and line
endings, and then the ``formatter-cmds`` of ``[tool.codeflash]`` are run on them.

Apply refuses, writing nothing and saving the patch instead, when a file changed since the
run read it, or has uncommitted changes in git (unless ``--codeflash-apply-force``).  A
failing formatter is reported and leaves the optimized, unformatted code in place.
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ApplyError, GitError
from ..models import Delivery, FileChange, FunctionResult, Settings, TargetFunction
from ..source.paths import relative_path
from .patches import make_patch, same_newlines

__all__ = [
    "PATCH_DIR",
    "Delivery",
    "Optimization",
    "apply_optimization",
    "atomic_write",
    "deliver",
    "run_formatters",
    "with_delivery",
    "write_patch",
]

PATCH_DIR = Path(".codeflash") / "patches"
FORMATTER_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Optimization:
    """An accepted optimization: the target module's original and optimized sources, and
    the candidate's changes to other modules (its helpers), if any.
    """

    target: TargetFunction
    result: FunctionResult
    original: str
    optimized: str
    other_files: tuple[FileChange, ...] = ()

    def changes(self, rootdir: Path) -> list[FileChange]:
        """Every file this optimization changes, the target's module first."""
        target = FileChange(
            path=relative_path(self.target.file, rootdir),
            module=self.target.module,
            original=self.original,
            merged=self.optimized,
        )
        return [target, *self.other_files]


def deliver(optimizations: Sequence[Optimization], settings: Settings) -> list[Delivery]:
    """Apply each optimization (with ``--codeflash-apply``) or save its patch; say what.

    A delivery's ``applied`` is ``None`` without ``--codeflash-apply``, ``False`` when apply
    refused (``error`` says why; the patch is saved instead).
    """
    done = []
    for item in optimizations:
        name = item.result.qualified_name
        if not settings.apply:
            patch = _shown(write_patch(item, settings), settings)
            done.append(Delivery(qualified_name=name, patch_file=patch))
            continue
        try:
            notes = apply_optimization(item, settings)
        except ApplyError as err:
            patch = _shown(write_patch(item, settings), settings)
            refused = Delivery(qualified_name=name, applied=False, patch_file=patch, error=str(err))
            done.append(refused)
            continue
        files = [change.path for change in item.changes(settings.rootdir)]
        done.append(Delivery(qualified_name=name, applied=True, files=files, notes=notes))
    return done


def write_patch(item: Optimization, settings: Settings) -> Path:
    """Write ``.codeflash/patches/<timestamp>-<function>.patch`` under the rootdir."""
    directory = settings.rootdir / PATCH_DIR
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"{stamp}-{item.result.qualified_name}.patch"
    text = "".join(
        make_patch(change.path, change.original, change.merged)
        for change in item.changes(settings.rootdir)
    )
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


def apply_optimization(item: Optimization, settings: Settings) -> list[str]:
    """Write the optimized modules over the originals, only if that is safe; then format.

    :returns: notes on the formatters that failed (the optimized code stays, unformatted).
    :raises ApplyError: a file changed since the run read it, has uncommitted changes
        (without ``--codeflash-apply-force``), git cannot tell (a git failure, named), or a
        file cannot be written; nothing is left written.
    """
    root = settings.rootdir
    changes = item.changes(root)
    for change in changes:
        if _read(root / change.path) != change.original:
            raise ApplyError(
                f"{change.path} changed since the run started; re-run to optimize the new "
                "version (nothing was written)"
            )
    if not settings.apply_force:
        from ..source.gitops import has_uncommitted_changes

        for change in changes:
            try:
                dirty = has_uncommitted_changes(root / change.path)
            except GitError as err:  # a git failure is named as one, never "uncommitted"
                raise ApplyError(
                    f"cannot check {change.path} for uncommitted changes: {err} (nothing was "
                    "written; --codeflash-apply-force writes without this check)"
                ) from err
            if dirty:
                raise ApplyError(
                    f"{change.path} has uncommitted changes; commit or stash them first, or "
                    "pass --codeflash-apply-force (nothing was written)"
                )
    _write_all(root, changes)
    return run_formatters([root / change.path for change in changes], settings)


def _write_all(root: Path, changes: Sequence[FileChange]) -> None:
    """Write every change, or (if one write fails) none: earlier ones are rolled back."""
    written: list[FileChange] = []
    try:
        for change in changes:
            data = same_newlines(change.merged, change.original)
            atomic_write(root / change.path, data.encode("utf-8", "surrogateescape"))
            written.append(change)
    except OSError as err:
        for change in written:
            atomic_write(root / change.path, change.original.encode("utf-8", "surrogateescape"))
        raise ApplyError(
            f"cannot write {err.filename or 'a file'} ({err.strerror}); nothing was written"
        ) from err


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path``'s content in one rename, keeping its permission bits."""
    mode = path.stat().st_mode
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".codeflash"
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run_formatters(paths: Sequence[Path], settings: Settings) -> list[str]:
    """Run each ``formatter-cmds`` command on each file, ``$file`` replaced by its path.

    Commands are split like a shell would (no shell runs them) and run from the rootdir.
    A command that fails, cannot be started, times out or leaves a file that no longer
    parses is reported in the returned notes, and that file gets back its unformatted
    content.  ``["disabled"]`` turns formatting off.
    """
    commands = [c for c in settings.formatter_cmds if c.strip()]
    if [c.strip().lower() for c in commands] == ["disabled"]:
        return []
    notes = []
    for path in paths:
        for command in commands:
            note = _format(path, command, settings.rootdir)
            if note:
                notes.append(note)
    return notes


def _format(path: Path, command: str, rootdir: Path) -> str:
    """Run one formatter on one file; return what went wrong, or ``""``."""
    shown = relative_path(path, rootdir)
    keeps = f"{shown} keeps the optimized code unformatted"
    try:
        args = [part.replace("$file", str(path)) for part in shlex.split(command)]
    except ValueError as err:
        return f"formatter {command!r} was not run ({err}); fix it in formatter-cmds; {keeps}"
    if not args:
        return ""
    before = path.read_bytes()
    try:
        done = subprocess.run(
            args,
            cwd=rootdir,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=FORMATTER_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        return f"formatter {command!r} failed: {args[0]!r} was not found; {keeps}"
    except subprocess.TimeoutExpired:
        _restore(path, before)
        return f"formatter {command!r} timed out after {FORMATTER_TIMEOUT_S:.0f} s; {keeps}"
    except OSError as err:
        return f"formatter {command!r} could not start ({err.strerror}); {keeps}"
    if done.returncode != 0:
        _restore(path, before)
        output = (done.stderr or done.stdout).strip().splitlines()
        last = f": {output[-1][:200]}" if output else ""
        return f"formatter {command!r} failed (exit code {done.returncode}{last}); {keeps}"
    try:
        ast.parse(path.read_bytes())
    except (SyntaxError, ValueError) as err:
        _restore(path, before)
        return f"formatter {command!r} left {shown} unparsable ({err}); {keeps}"
    return ""


def _restore(path: Path, before: bytes) -> None:
    if path.read_bytes() != before:
        atomic_write(path, before)


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return None


def _shown(path: Path, settings: Settings) -> str:
    return relative_path(path, settings.rootdir)


def with_delivery(result: FunctionResult, delivery: Delivery | None) -> FunctionResult:
    """``result`` with what became of its optimization (the report's delivery fields)."""
    if delivery is None:
        return result
    return result.model_copy(
        update={
            "patch_file": delivery.patch_file,
            "applied": delivery.applied,
            "applied_files": list(delivery.files),
            "apply_error": delivery.error,
            "apply_notes": list(delivery.notes),
        }
    )
