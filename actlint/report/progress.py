"""The one-line progress display on stderr: ``[3/30] 10% models/resnet.py  12s``.

Shown only when stderr is a terminal and ``CI`` is not set, for the text format; it is
cleared before each file's report is written to stdout (both usually go to the same
terminal) and drawn again after, and a ticker keeps the elapsed time moving while a slow
file runs. Decision: a few lines of our own rather than click's progress bar (which owns
the line and cannot interleave with streamed output) or rich (a dependency with its own
rendering stack for one status line).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Sequence, TextIO

_CLEAR = "\r\x1b[K"


def progress_wanted(stream: TextIO, output_format: str) -> bool:
    """A terminal, not CI, and a format whose output is read by a person."""
    if output_format != "text" or os.environ.get("CI"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class ProgressLine:
    """Files done / total, the file being linted, the time since the start."""

    def __init__(self, stream: TextIO, tick: float = 0.5) -> None:
        self.stream = stream
        self.targets: Sequence[str] = ()
        self.done = 0
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._shown = False
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, args=(tick,), daemon=True, name="actlint-progress")

    def begin(self, targets: Sequence[str]) -> None:
        self.targets = list(targets)
        self.start = time.monotonic()
        self._draw()
        self._ticker.start()

    def file_done(self) -> None:
        with self._lock:
            self.done += 1
        self._draw()

    def clear(self) -> None:
        """Take the line away (before stdout output, and at the end)."""
        with self._lock:
            if self._shown:
                self.stream.write(_CLEAR)
                self.stream.flush()
                self._shown = False

    def finish(self) -> None:
        self._stop.set()
        self.clear()

    def text(self) -> str:
        total = len(self.targets)
        current = self.targets[self.done] if self.done < total else ""
        percent = int(100 * self.done / total) if total else 100
        elapsed = int(time.monotonic() - self.start)
        return f"[{self.done}/{total}] {percent}% {current}  {elapsed}s"

    def _draw(self) -> None:
        with self._lock:
            if self._stop.is_set() or not self.targets:
                return
            width = _columns() - 1
            self.stream.write(_CLEAR + self.text()[:width])
            self.stream.flush()
            self._shown = True

    def _tick(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            self._draw()


def _columns() -> int:
    try:
        return os.get_terminal_size(2).columns
    except OSError:
        return 80
