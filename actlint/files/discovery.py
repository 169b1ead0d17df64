"""Which files a run covers: gitignore-style patterns and the directory walk.

Patterns follow ``.gitignore`` syntax, the way ruff's ``exclude`` and ``per-file-ignores``
read them:

* a pattern without a slash (``build``, ``*_test.py``) matches a file or directory name at
  any depth below the pattern's base directory;
* a pattern with a slash (``models/legacy``, ``/scratch.py``, ``tests/**/*.py``) is
  anchored at the base directory (the folder holding ``pyproject.toml`` for patterns from
  the configuration, the working directory for patterns given on the command line);
* ``*`` and ``?`` never cross a ``/``, ``**`` does; ``[abc]`` is a character class;
* a trailing ``/`` matches directories only; a leading ``!`` re-includes what an earlier
  pattern of the same list excluded (the last matching pattern wins).

A directory that matches excludes everything below it. Walking a directory also honours
the ``.gitignore`` files of the git repository it is in (``respect-gitignore``), and
always skips virtualenvs (folders holding ``pyvenv.cfg``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

#: Folders and files never walked into unless ``exclude`` replaces this list (ruff's
#: defaults, plus ``__pycache__`` and ``build``).
DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints",
    ".mypy_cache", ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache",
    ".svn", ".tox", ".venv", ".vscode", "__pycache__", "__pypackages__", "_build",
    "buck-out", "build", "dist", "node_modules", "site-packages", "venv",
)


@dataclass(frozen=True)
class GlobPattern:
    """One gitignore-style pattern, anchored at ``base``."""

    text: str  # as the user wrote it (for messages)
    base: Path  # absolute directory the pattern is relative to
    regex: re.Pattern[str]
    anchored: bool  # matched against the path relative to base, else against the name
    directory_only: bool
    negated: bool
    # Name patterns from a .gitignore apply below its folder only; configured name
    # patterns (``.venv``) apply wherever a walk goes, as in ruff.
    scoped: bool = False

    @classmethod
    def parse(cls, text: str, base: Path, *, scoped: bool = False) -> "GlobPattern":
        """Compile ``text``; raises ValueError for an empty pattern."""
        body = text.strip()
        negated = body.startswith("!")
        if negated:
            body = body[1:]
        directory_only = body.endswith("/")
        body = body.rstrip("/")
        if not body:
            raise ValueError(f"empty pattern {text!r}")
        anchored = "/" in body
        body = body.lstrip("/")
        return cls(text, Path(os.path.abspath(base)), re.compile(_glob_regex(body) + r"\Z"),
                   anchored, directory_only, negated, scoped)

    def matches(self, path: Path, is_dir: bool) -> bool:
        """Does the pattern match ``path`` itself (an absolute path)?"""
        if self.directory_only and not is_dir:
            return False
        if not (self.anchored or self.scoped):
            return self.regex.match(path.name) is not None
        relative = _relative(path, self.base)
        if relative is None or relative == ".":
            return False
        return self.regex.match(relative if self.anchored else path.name) is not None


def _glob_regex(glob: str) -> str:
    """Regular expression for a gitignore glob (without anchors and trailing slash)."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")  # zero or more directories
            i += 3
        elif glob.startswith("/**", i) and i + 3 == n:
            out.append("/.*")  # everything inside
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and _class_end(glob, i) is not None:
            end = _class_end(glob, i)
            inner = glob[i + 1:end]
            if inner.startswith("!"):
                inner = "^" + inner[1:]
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            i = end + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _class_end(glob: str, start: int) -> int | None:
    """Index of the ``]`` closing the character class opened at ``start``, if any."""
    i = start + 1
    if glob[i:i + 1] == "!":
        i += 1
    if glob[i:i + 1] == "]":  # a leading ] is a literal member
        i += 1
    end = glob.find("]", i)
    return end if end != -1 else None


def _relative(path: Path, base: Path) -> str | None:
    """``path`` relative to ``base`` in POSIX form, or None when it is not below it."""
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return None


@dataclass(frozen=True)
class PatternList:
    """An ordered list of patterns where the last match wins (``!`` re-includes)."""

    patterns: tuple[GlobPattern, ...] = ()

    @classmethod
    def parse(cls, texts: Iterable[str], base: Path, *, scoped: bool = False) -> "PatternList":
        return cls(tuple(GlobPattern.parse(t, base, scoped=scoped) for t in texts))

    def __add__(self, other: "PatternList") -> "PatternList":
        return PatternList(self.patterns + other.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: Path, is_dir: bool) -> bool:
        """Is ``path`` itself matched (ignoring its parent directories)?"""
        verdict = False
        for pattern in self.patterns:
            if pattern.negated == verdict and pattern.matches(path, is_dir):
                verdict = not pattern.negated
        return verdict

    def matches_path(self, path: Path, is_dir: bool = False, *, within: Path | None = None) -> bool:
        """Is ``path`` or one of its parent directories (below ``within``) matched?

        Parents above ``within`` are not looked at, so a project checked out under
        ``~/build/`` is not excluded by the pattern ``build``.
        """
        path = Path(os.path.abspath(path))
        if self.matches(path, is_dir):
            return True
        stop = Path(os.path.abspath(within)) if within is not None else None
        for parent in path.parents:
            if stop is not None and (parent == stop or _relative(parent, stop) is None):
                break
            if self.matches(parent, True):
                return True
        return False


@dataclass(frozen=True)
class FileFilter:
    """Which files a run skips: configured excludes, ``.gitignore`` files, virtualenvs.

    ``root`` is the project folder (the configuration's, else the working directory):
    explicit file arguments are checked against their parent folders up to it when
    ``force_exclude`` is set (pre-commit passes every changed file by name).
    """

    exclude: PatternList = field(default_factory=PatternList)
    root: Path = field(default_factory=Path.cwd)
    respect_gitignore: bool = True
    force_exclude: bool = False

    @classmethod
    def default(cls, root: Path | None = None) -> "FileFilter":
        root = Path(os.path.abspath(root or Path.cwd()))
        return cls(PatternList.parse(DEFAULT_EXCLUDE, root), root)

    def skips_argument(self, path: Path) -> bool:
        """Is a file named on the command line excluded? Only with ``force_exclude``."""
        if not self.force_exclude:
            return False
        path = Path(os.path.abspath(path))
        if self.exclude.matches_path(path, path.is_dir(), within=self.root):
            return True
        return self.respect_gitignore and _GitIgnores.for_path(path).matches_path(path, path.is_dir())

    def iter_python_files(self, directory: Path) -> Iterator[Path]:
        """``.py`` files below ``directory`` in sorted order, minus everything excluded.

        Paths are yielded as ``directory / relative`` (so they display as the user wrote
        the directory); matching uses absolute paths.
        """
        top = Path(os.path.abspath(directory))
        ignores = _GitIgnores.for_path(top) if self.respect_gitignore else None
        for root, dirs, files in os.walk(directory):
            here = Path(os.path.abspath(root))
            if ignores is not None:
                ignores = ignores.entering(here)
            kept = []
            for d in sorted(dirs):
                full = here / d
                if (full / "pyvenv.cfg").exists() or self._excluded(full, True, ignores):
                    continue
                kept.append(d)
            dirs[:] = kept
            for name in sorted(files):
                if name.endswith(".py") and not self._excluded(here / name, False, ignores):
                    yield Path(root, name)

    def _excluded(self, path: Path, is_dir: bool, ignores: "_GitIgnores | None") -> bool:
        return self.exclude.matches(path, is_dir) or (ignores is not None and ignores.matches(path, is_dir))


@dataclass(frozen=True)
class _GitIgnores:
    """The ``.gitignore`` patterns that apply inside one git repository (none outside one)."""

    repository: Path | None
    patterns: PatternList = field(default_factory=PatternList)
    loaded: frozenset[Path] = frozenset()

    @classmethod
    def for_path(cls, path: Path) -> "_GitIgnores":
        """Patterns from the repository root down to ``path`` (a file or directory)."""
        path = Path(os.path.abspath(path))
        repository = next((p for p in (path, *path.parents) if (p / ".git").exists()), None)
        ignores = cls(repository)
        if repository is None:
            return ignores
        chain = [repository]
        relative = path.relative_to(repository).parts
        for part in relative[:-1] if not path.is_dir() else relative:
            chain.append(chain[-1] / part)
        for folder in chain:
            ignores = ignores.entering(folder)
        return ignores

    def entering(self, folder: Path) -> "_GitIgnores":
        """These patterns plus ``folder/.gitignore`` (read once)."""
        if self.repository is None or folder in self.loaded:
            return self
        gitignore = folder / ".gitignore"
        added = PatternList()
        if gitignore.is_file():
            added = PatternList.parse(_gitignore_lines(gitignore), folder, scoped=True)
        return _GitIgnores(self.repository, self.patterns + added, self.loaded | {folder})

    def matches(self, path: Path, is_dir: bool) -> bool:
        return bool(self.patterns) and self.patterns.matches(path, is_dir)

    def matches_path(self, path: Path, is_dir: bool) -> bool:
        return bool(self.patterns) and self.patterns.matches_path(path, is_dir, within=self.repository)


def _gitignore_lines(path: Path) -> list[str]:
    """Pattern lines of a ``.gitignore`` (comments, blanks and undecodable files skipped)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines = []
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith("\\#"):  # an escaped # starts a pattern, not a comment
            line = line[1:]
        elif line.startswith("#"):
            continue
        if line.strip("/!"):
            lines.append(line)
    return lines


__all__ = ["DEFAULT_EXCLUDE", "FileFilter", "GlobPattern", "PatternList"]
