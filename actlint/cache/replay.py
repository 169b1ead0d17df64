"""Replaying a whole run: the same command over unchanged files prints the stored report.

The per-file cache (:mod:`.store`) saves the lint; this saves the rest, ``import torch``
included, which is most of what an unchanged run costs. An entry is keyed by the
command's parsed options, the working directory, the configuration files' contents, the
environment variables that shape the output, whether stdout is a terminal, and actlint's
and torch's versions; it is valid while every file the run read has the same content and
every folder it walked lists the same Python files with the same sizes and times (a new
file, or one edited to define a model, is a new run). Only runs without errors are stored,
and only what goes to stdout (text, JSON or SARIF) is replayed, with the exit code.
Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from actlint.cache.fingerprints import environment_digest, file_digest
from actlint.cache.store import FORMAT

#: Environment variables that change what a run prints.
_OUTPUT_ENVIRONMENT = ("NO_COLOR", "FORCE_COLOR", "CI", "PYTHONHASHSEED")
#: Folders a listing never enters (caches, VCS data; virtualenvs are found by their pyvenv.cfg).
_SKIPPED = {".git", ".hg", ".svn", "__pycache__", ".actlint_cache", ".ruff_cache", ".mypy_cache", ".pytest_cache",
            "node_modules"}


def listing_digest(folder: str) -> str:
    """The Python files under ``folder``: names, sizes and modification times (no contents)."""
    entries = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED and not os.path.exists(os.path.join(root, d, "pyvenv.cfg")))
        for name in sorted(files):
            if name.endswith((".py", ".ipynb")):
                path = os.path.join(root, name)
                with contextlib.suppress(OSError):
                    stat = os.stat(path)
                    entries.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


class CommandReplay:
    """The stored output of one command in ``directory``."""

    def __init__(self, directory: str | Path, parameters: Mapping[str, Any], config_files: Iterable[str],
                 stdout_is_terminal: bool) -> None:
        self.directory = Path(directory)
        key = {
            "format": FORMAT, "environment": environment_digest(), "cwd": os.getcwd(),
            "parameters": json.dumps(dict(parameters), sort_keys=True, default=str),
            "config": sorted((path, file_digest(path)) for path in config_files),
            "variables": {name: os.environ.get(name) for name in _OUTPUT_ENVIRONMENT},
            "terminal": stdout_is_terminal,
        }
        self.key = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    @property
    def _entry(self) -> Path:
        return self.directory / f"v{FORMAT}" / "runs" / f"{self.key}.pickle"

    def lookup(self) -> tuple[str, int] | None:
        """(stdout, exit code) of the stored run when nothing it read or walked changed; else None."""
        try:
            with open(self._entry, "rb") as fh:
                entry = pickle.load(fh)
        except Exception:  # noqa: BLE001 - missing, partial or foreign: run for real
            return None
        if any(file_digest(path) != digest for path, digest in entry["files"]):
            return None
        if any(listing_digest(folder) != digest for folder, digest in entry["folders"]):
            return None
        return entry["stdout"], entry["exit"]

    def store(self, stdout: str, exit_code: int, files: Sequence[str], paths: Sequence[str]) -> None:
        """Keep a finished run's stdout and exit code, with what it read (``files``) and walked."""
        digests = [(path, file_digest(path)) for path in sorted(set(files))]
        if any(d is None for _, d in digests):
            return
        folders = [(folder, listing_digest(folder)) for folder in sorted({p for p in paths if os.path.isdir(p)})]
        entry = {"files": digests, "folders": folders, "stdout": stdout, "exit": exit_code}
        try:
            self._entry.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self._entry.parent, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                pickle.dump(entry, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self._entry)
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temporary)


class RecordingStream:
    """Writes through to ``target`` and keeps a copy (what a replay prints again)."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        isatty = getattr(self.target, "isatty", None)
        return bool(isatty and isatty())

    def getvalue(self) -> str:
        return "".join(self.parts)
