"""``ResultCache``: stored lint results, keyed and validated by content hashes.

An entry is found by the hash of (target as given, working directory, options, environment)
and holds the result with the list of files the lint read and their sha256: the model file
and every local module its code imported (anything outside the standard library and the
installed packages). A lookup re-hashes those files; one changed or gone, and the entry is
not used. Results with errors are not stored (a timeout or a crash is not a property of the
file). Entries are written to a temporary file and renamed, so concurrent runs and ``-j``
workers never read half an entry; an unreadable entry is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from actlint.cache.fingerprints import environment_digest, file_digest, options_digest
from actlint.core.results import ModelResult, RunError

#: Bump when the entry layout changes.
FORMAT = 1
DEFAULT_DIRECTORY = ".actlint_cache"


def cache_folder(config_file: Path | None, fallback: Path) -> Path:
    """Where the cache lives: ``cache-dir`` of the configuration file (relative to its folder),
    else ``.actlint_cache`` beside it, else in ``fallback``. Read straight from the TOML, so an
    unchanged run can be replayed before anything imports torch; a bad value falls back here
    and is reported by the configuration's own validation."""
    if config_file is None:
        return fallback / DEFAULT_DIRECTORY
    try:
        table = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        table = {}
    if config_file.name == "pyproject.toml":
        table = table.get("tool", {}).get("actlint", {})
    folder = table.get("cache-dir") if isinstance(table, dict) else None
    return config_file.parent / (folder if isinstance(folder, str) and folder.strip() else DEFAULT_DIRECTORY)


class ResultCache:
    """The cache in ``directory`` for runs with ``options``."""

    def __init__(self, directory: str | Path, options: Any) -> None:
        self.directory = Path(directory)
        self._options = options_digest(options)
        self.hits = 0
        self.misses = 0

    def _entry(self, target: str) -> Path:
        key = hashlib.sha256("\0".join([str(FORMAT), environment_digest(), self._options, os.getcwd(), target])
                             .encode()).hexdigest()
        return self.directory / f"v{FORMAT}" / key[:2] / f"{key[2:]}.pickle"

    def lookup(self, target: str) -> tuple[tuple[list[ModelResult], list[RunError]], list[str]] | None:
        """The stored result of ``target`` and the files it read, when every one is unchanged; else None."""
        try:
            with open(self._entry(target), "rb") as fh:
                entry = pickle.load(fh)
        except Exception:  # noqa: BLE001 - missing, partial or from another version: a miss
            self.misses += 1
            return None
        if any(file_digest(path) != digest for path, digest in entry["files"]):
            self.misses += 1
            return None
        self.hits += 1
        return (entry["models"], []), [path for path, _ in entry["files"]]

    def store(self, target: str, models: Sequence[ModelResult], errors: Sequence[RunError],
              files: Sequence[str]) -> None:
        """Keep ``target``'s result, read from ``files`` (not stored when it has errors)."""
        if errors:
            return
        digests = [(path, file_digest(path)) for path in sorted(set(files))]
        if any(d is None for _, d in digests):
            return
        portable = [m.portable() for m in models]
        path = self._entry(target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._mark_directory()
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                pickle.dump({"files": digests, "models": portable}, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except OSError:  # a read-only checkout: no cache, no error
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temporary)

    def _mark_directory(self) -> None:
        """A .gitignore and CACHEDIR.TAG in the cache folder, as ruff and pytest write them."""
        ignore = self.directory / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Created by actlint automatically.\n*\n", encoding="utf-8")
            (self.directory / "CACHEDIR.TAG").write_text(
                "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by actlint.\n",
                encoding="utf-8")
