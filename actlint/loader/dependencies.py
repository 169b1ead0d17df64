"""The local source files a lint read: the model file and the modules its code imported.

The result cache replays a file's result only while every one of these is unchanged. A
module is local when its file lies outside the standard library and the installed packages
(a sibling ``layers.py``, the user's package, an editable install). Recorded every time
user code runs (:func:`note_imported_modules`), of every local module then imported, so a
module an earlier file imported into the same worker is counted too: more files than
strictly needed, never fewer.
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
from pathlib import Path
from typing import Iterator

_recording: list[set[str]] = []


#: actlint's own package (an editable install lies outside site-packages): the cache's
#: environment fingerprint covers it.
_ACTLINT = Path(__file__).resolve().parent.parent


def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")} | {sys.prefix, sys.base_prefix}
    return tuple(str(Path(r).resolve()) + os.sep for r in roots if r) + (str(_ACTLINT) + os.sep,)


@contextlib.contextmanager
def recording_files_read() -> Iterator[set[str]]:
    """Collect, into the yielded set, the local files user code imports inside the block."""
    files: set[str] = set()
    _recording.append(files)
    try:
        yield files
    finally:
        _recording.remove(files)


def note_imported_modules() -> None:
    """Add the local modules now in ``sys.modules`` to every recording in progress."""
    if not _recording:
        return
    installed = _installed_roots()
    found = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or not os.path.isabs(path) or not path.endswith(".py") \
                or getattr(module, "__name__", "").startswith("_actlint_user_"):
            continue  # (some extension-backed modules carry a bare file name)
        if not path.startswith(installed) and not str(Path(path).resolve()).startswith(installed):
            found.add(str(Path(path).resolve()))
    for files in _recording:
        files |= found
