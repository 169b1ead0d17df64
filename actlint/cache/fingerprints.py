"""What a cached result depends on, as short hashes: file contents, options, the environment."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import platform
import sys
from pathlib import Path
from typing import Any

from actlint.core.version import __version__

_PACKAGE = Path(__file__).resolve().parent.parent


def file_digest(path: str) -> str | None:
    """sha256 of a file's bytes, or None when it cannot be read (gone: the entry is stale)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def options_digest(options: Any) -> str:
    """The run's options (rules, severities, rule options, inputs, probe settings, per-file
    configuration): their repr is deterministic (frozen dataclasses all the way down)."""
    return hashlib.sha256(repr(options).encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def environment_digest() -> str:
    """actlint's version and its own source files, torch's and Python's versions, the machine.

    actlint's sources count (size and modification time of every module) so that a
    development checkout never replays a result an older version of a rule produced.
    """
    parts = [__version__, _torch_version(), sys.version, platform.machine()]
    for path in sorted(_PACKAGE.rglob("*")):
        if path.suffix in (".py", ".j2", ".css", ".json"):
            stat = path.stat()
            parts.append(f"{path.relative_to(_PACKAGE)}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _torch_version() -> str:
    """torch's version without importing torch (the replay of an unchanged run never does)."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "none"
