"""Find the functions worth tracing: eligible functions in the project's own source files.

Used when ``--codeflash`` is given without ``--codeflash-target``.  It runs once per run, in
the main pytest process (under xdist the controller hands the result to its workers), before
any test runs.  Files are parsed with libcst (:mod:`.eligibility`), never imported.  Results
are cached per file in pytest's cache, keyed by size and modification time, so a file that
did not change is not parsed again.

The scope is ``module-root`` when it is set; otherwise the top-level packages and modules
under the project's import roots (the rootdir, ``src/`` and ``sys.path`` entries inside the
rootdir) that the test code imports.  Tests (and ``tests-root``), conftest files, virtual
environments, site-packages, build and dist directories and ``ignore-paths`` (paths or globs)
are never in it.  Functions marked ``# codeflash: skip`` or matching an ``exclude`` glob are
listed as excluded, not traced.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConfigError
from ..records import SkippedFunction, TargetFunction
from ..source.paths import ENV_DIRS, project_import_roots, relative_path, walk_python_files
from .exclude import excluded_by

CACHE_KEY = "codeflash/discovery"
CACHE_VERSION = 2  # 2: skip markers
# Folders that never hold the user's own modules.
TEST_DIRS = frozenset({"tests", "test"})
NOT_SOURCE = frozenset({"conftest", "setup", "noxfile"})
TEST_FILES = ("test_*.py", "*_test.py")
SCAN_CAP = 20_000  # directory entries looked at per walk, so a huge tree stays fast
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+([A-Za-z_]\w*)|import[ \t]+([^\n#;]+))", re.M)


class Cache(Protocol):
    """The part of pytest's ``config.cache`` used here."""

    def get(self, key: str, default: Any) -> Any: ...

    def set(self, key: str, value: object) -> None: ...


@dataclass
class Discovery:
    """The eligible functions found, what was skipped, and how many files were read."""

    functions: list[TargetFunction] = field(default_factory=list)
    skipped: list[SkippedFunction] = field(default_factory=list)
    files: int = 0

    def to_json(self) -> str:
        """Plain JSON, for xdist workers (``workerinput``) and the cache."""
        return json.dumps(
            {
                "functions": [f.to_json() for f in self.functions],
                "skipped": [asdict(s) for s in self.skipped],
                "files": self.files,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Discovery:
        data = json.loads(text)
        return cls(
            [TargetFunction.from_json(f) for f in data.get("functions", [])],
            [SkippedFunction(**s) for s in data.get("skipped", [])],
            int(data.get("files", 0)),
        )


@dataclass(frozen=True)
class SourceFile:
    """A file in scope and the module name it is imported under."""

    path: Path
    module: str


def discover(
    rootdir: Path,
    *,
    module_root: str | None = None,
    ignore_paths: Sequence[str] = (),
    test_args: Sequence[str] = (),
    invocation_dir: Path | None = None,
    cache: Cache | None = None,
    tests_root: str | None = None,
    exclude: Sequence[str] = (),
) -> Discovery:
    """Find the eligible functions of the project at ``rootdir``.

    :param module_root: ``[tool.codeflash] module-root``, relative to ``rootdir``.
    :param ignore_paths: files or folders (or globs of them), relative to ``rootdir``, left out.
    :param test_args: pytest's ``config.args``: where the tests are, to learn what they import.
    :param cache: pytest's ``config.cache``, or ``None`` to parse every file.
    :param tests_root: ``[tool.codeflash] tests-root``: more test code, never source.
    :param exclude: qualified-name globs of functions listed as excluded instead of found.
    :raises ConfigError: if ``module_root`` or ``tests_root`` is not a directory.
    """
    root = rootdir.resolve()
    ignored = ignored_paths(root, ignore_paths)
    test_args = list(test_args)
    if tests_root:
        tests = _directory(root, tests_root, "tests-root", '"tests"')
        ignored.append(tests)
        test_args.append(str(tests))
    result = Discovery()
    files = source_files(root, module_root, ignored, test_args, invocation_dir or root, result)
    cached = _load_cache(cache)
    fresh: dict[str, Any] = {}
    for source in files:
        entry = _scan_cached(source, root, cached)
        fresh[str(source.path)] = entry
        result.functions.extend(TargetFunction.from_json(f) for f in entry["functions"])
        result.skipped.extend(SkippedFunction(**s) for s in entry["skipped"])
    result.files = len(files)
    if cache is not None and fresh != cached:
        cache.set(CACHE_KEY, {"version": CACHE_VERSION, "files": fresh})
    if exclude:
        _exclude(result, exclude, root)
    return result


def _exclude(result: Discovery, patterns: Sequence[str], root: Path) -> None:
    kept = []
    for function in result.functions:
        pattern = excluded_by(function.qualified_name, patterns)
        if pattern is None:
            kept.append(function)
            continue
        where = f"{relative_path(function.file, root)}:{function.lineno}"
        reason = f"excluded by the exclude pattern {pattern!r}"
        result.skipped.append(
            SkippedFunction(name=function.qualified_name, where=where, reason=reason, excluded=True)
        )
    result.functions = kept


def ignored_paths(root: Path, ignore_paths: Sequence[str]) -> list[Path]:
    """``ignore-paths`` resolved: each a path relative to ``root``, or a glob of them."""
    ignored: list[Path] = []
    for entry in ignore_paths:
        if any(char in entry for char in "*?["):
            ignored.extend(p.resolve() for p in sorted(root.glob(entry)))
        else:
            ignored.append((root / entry).resolve())
    return ignored


def _directory(root: Path, value: str, key: str, example: str) -> Path:
    path = (root / value).resolve()
    if not path.is_dir():
        raise ConfigError(
            f"[tool.codeflash] {key} = {value!r}: {path} is not a directory. Give a folder "
            f"relative to the rootdir (e.g. {key} = {example})."
        )
    return path


# -- what to read ----------------------------------------------------------------------------


def source_files(
    root: Path,
    module_root: str | None,
    ignored: Sequence[Path],
    test_args: Sequence[str],
    invocation_dir: Path,
    result: Discovery,
) -> list[SourceFile]:
    """The project's source files in scope, each with its module name."""
    if module_root:
        base = (root / module_root).resolve()
        if not base.is_dir():
            raise ConfigError(
                f"[tool.codeflash] module-root = {module_root!r}: {base} is not a directory. "
                "Give the folder that holds your top-level package, relative to the rootdir "
                '(e.g. module-root = "src").'
            )
        if (base / "__init__.py").is_file():
            import_root = base.parent
            while (import_root / "__init__.py").is_file():
                import_root = import_root.parent
            tops = {import_root: [base]}
        else:
            tops = {base: _top_level(base, ignored)}
    else:
        tops = _default_tops(root, ignored, test_args, invocation_dir)
    files: list[SourceFile] = []
    seen: set[Path] = set()
    budget = [SCAN_CAP]
    for import_root, entries in tops.items():
        for entry in entries:
            for path in [entry] if entry.is_file() else _walk(entry, budget, ignored, True):
                module = _module_name(path, import_root)
                if path not in seen and module:
                    seen.add(path)
                    files.append(SourceFile(path, module))
    if budget[0] < 0:
        result.skipped.append(_skip("...", ".", f"stopped listing files after {SCAN_CAP} entries"))
    return files


def import_roots(root: Path) -> list[Path]:
    """The project's import roots, environments left out, deepest first.

    Deepest first, so a file belongs to the innermost root (``src/pkg/mod.py`` is ``pkg.mod``).
    """
    roots = [path for path in project_import_roots(root) if not _excluded_dir(path, root)]
    return sorted(roots, key=lambda p: len(p.parts), reverse=True)


def _default_tops(
    root: Path, ignored: Sequence[Path], test_args: Sequence[str], invocation_dir: Path
) -> dict[Path, list[Path]]:
    """Top-level packages and modules per import root, limited to those the tests import."""
    roots = import_roots(root)
    tops: dict[Path, list[Path]] = {}
    claimed: set[Path] = set()
    for import_root in roots:
        entries = [e for e in _top_level(import_root, ignored) if e not in claimed]
        claimed.update(entries)
        tops[import_root] = entries
    test_paths = _test_paths(test_args, invocation_dir)
    wanted = imported_names(_test_files(test_paths, root))
    # Tests inside a package (pkg/tests/) or doctests: the package holding them is wanted too.
    holding = {
        e for es in tops.values() for e in es if any(e == p or e in p.parents for p in test_paths)
    }
    chosen = {r: [e for e in es if _stem(e) in wanted or e in holding] for r, es in tops.items()}
    if not any(chosen.values()):
        return tops
    return chosen


def _top_level(import_root: Path, ignored: Sequence[Path]) -> list[Path]:
    """Importable packages and modules directly inside ``import_root``, tests excluded."""
    entries = []
    try:
        children = sorted(import_root.iterdir())
    except OSError:
        return []
    for child in children:
        name = _stem(child)
        if not name.isidentifier() or name in NOT_SOURCE or _is_ignored(child, ignored):
            continue
        if child.is_dir():
            if name in TEST_DIRS or name in ENV_DIRS or not (child / "__init__.py").is_file():
                continue
            if (child / "pyvenv.cfg").exists():
                continue
            entries.append(child)
        elif child.suffix == ".py" and not _is_test_file(child.name):
            entries.append(child)
    return entries


def _walk(top: Path, budget: list[int], ignored: Sequence[Path], source: bool) -> Iterator[Path]:
    """``.py`` files under ``top``; with ``source``, tests and non-importable folders left out."""

    def keep_dir(path: Path) -> bool:
        name = path.name
        return not (source and (name in TEST_DIRS or not name.isidentifier())) and not (
            _is_ignored(path, ignored)
        )

    for path in walk_python_files(top, budget, keep_dir):
        if _is_ignored(path, ignored):
            continue
        if source and (_is_test_file(path.name) or _stem(path) in NOT_SOURCE):
            continue
        yield path


def _test_paths(test_args: Sequence[str], invocation_dir: Path) -> list[Path]:
    paths = []
    for arg in test_args:
        path = Path(arg.split("::", 1)[0])
        path = path if path.is_absolute() else invocation_dir / path
        if path.exists():
            paths.append(path.resolve())
    return paths


def _test_files(test_paths: Iterable[Path], root: Path) -> Iterator[Path]:
    """Test code under the test paths: test files, conftest files, files in test folders."""
    budget = [SCAN_CAP]
    yield from (p for p in (root / "conftest.py",) if p.is_file())
    for top in test_paths:
        for path in [top] if top.is_file() else _walk(top, budget, (), False):
            in_test_dir = any(part in TEST_DIRS for part in path.parent.parts)
            if in_test_dir or _is_test_file(path.name) or path.name == "conftest.py":
                yield path


def imported_names(files: Iterable[Path]) -> set[str]:
    """Top-level names imported (``import x.y``, ``from x import y``) anywhere in ``files``."""
    names: set[str] = set()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for match in _IMPORT.finditer(text):
            if match.group(1):
                names.add(match.group(1))
                continue
            for part in match.group(2).split(","):
                head = part.strip().split(".", 1)[0].split(" ", 1)[0]
                if head.isidentifier():
                    names.add(head)
    return names


def _module_name(path: Path, import_root: Path) -> str:
    parts = list(path.relative_to(import_root).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else ""


def _stem(path: Path) -> str:
    return path.stem if path.suffix == ".py" else path.name


def _is_test_file(name: str) -> bool:
    return name == "conftest.py" or any(fnmatch.fnmatch(name, p) for p in TEST_FILES)


def _is_ignored(path: Path, ignored: Sequence[Path]) -> bool:
    return any(path == i or i in path.parents for i in ignored)


def _excluded_dir(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return any(p in ENV_DIRS or p in TEST_DIRS or p.startswith(".") for p in parts)


# -- parsing, with the cache -----------------------------------------------------------------


def _load_cache(cache: Cache | None) -> dict[str, Any]:
    if cache is None:
        return {}
    data = cache.get(CACHE_KEY, None)
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _scan_cached(source: SourceFile, root: Path, cached: dict[str, Any]) -> dict[str, Any]:
    try:
        stat = source.path.stat()
    except OSError as err:
        return _entry(source, 0, 0, [], [_file_skip(source, root, f"cannot read: {err}")])
    entry = cached.get(str(source.path))
    if (
        isinstance(entry, dict)
        and entry.get("module") == source.module
        and entry.get("mtime_ns") == stat.st_mtime_ns
        and entry.get("size") == stat.st_size
    ):
        return entry
    from .eligibility import scan_source

    rel = relative_path(source.path, root)
    try:
        text = source.path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return _entry(
            source, stat.st_mtime_ns, stat.st_size, [], [_file_skip(source, root, str(err))]
        )
    functions, skipped = scan_source(text, source.module, source.path, rel)
    return _entry(
        source,
        stat.st_mtime_ns,
        stat.st_size,
        [f.to_json() for f in functions],
        [asdict(s) for s in skipped],
    )


def _entry(
    source: SourceFile, mtime_ns: int, size: int, functions: list[Any], skipped: list[Any]
) -> dict[str, Any]:
    return {
        "module": source.module,
        "mtime_ns": mtime_ns,
        "size": size,
        "functions": functions,
        "skipped": skipped,
    }


def _file_skip(source: SourceFile, root: Path, reason: str) -> dict[str, Any]:
    return asdict(_skip(source.module, relative_path(source.path, root), reason))


def _skip(name: str, where: str, reason: str) -> SkippedFunction:
    return SkippedFunction(name=name, where=where, reason=reason, stage="discovery")
