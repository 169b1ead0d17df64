"""Run the user's code fenced: it never sees actlint's argv, stdin or stdout, never hangs it.

While user code runs under :func:`fenced`:

* ``sys.argv`` is ``[file, *script_args]`` (argparse sees the script's own arguments only);
* stdin is empty (``input()`` raises ``EOFError`` instead of waiting);
* ``print`` and anything else written to ``sys.stdout`` or ``sys.stderr`` goes to stderr,
  and the last few kilobytes are kept so errors can quote them (argparse's messages);
* the network is off (a linter never downloads: a dataset or a checkpoint that slipped
  past the load plan fails fast instead of fetching gigabytes);
* the working directory is restored afterwards (``os.chdir`` in a script);
* threads it starts are daemon threads, so they never keep actlint running;
* :func:`time_limit` stops a statement that runs too long.

The CLI additionally keeps file descriptor 1 for its report (:func:`report_stdout`), so
output written below Python (C extensions, ``os.system``) cannot corrupt a JSON document,
and its process exits without waiting for any other thread user code left behind.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator, Sequence, TextIO


class UserCodeTimeout(BaseException):
    """Raised inside user code that outran its time limit.

    A BaseException (like KeyboardInterrupt) so that ``except Exception`` in user code does
    not swallow it; the timer also fires again every few milliseconds until the fenced
    block is left, so even a bare ``except:`` cannot keep the code running.
    """

    def __init__(self, seconds: float, what: str) -> None:
        super().__init__(f"{what} did not finish within {seconds:g}s")
        self.seconds = seconds
        self.what = what


_REFIRE_SECONDS = 0.05
_deadlines: list[tuple[float, float, str]] = []  # (deadline, seconds, what), innermost last


def _on_alarm(signum: int, frame: object) -> None:
    if not _deadlines:
        return
    deadline, seconds, what = min(_deadlines)
    if time.monotonic() >= deadline - 1e-3:
        raise UserCodeTimeout(seconds, what)
    _arm()  # fired early (an outer limit was re-armed): wait for the rest


def _arm() -> None:
    if not _deadlines:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    remaining = max(min(_deadlines)[0] - time.monotonic(), 1e-3)
    signal.setitimer(signal.ITIMER_REAL, remaining, _REFIRE_SECONDS)


def can_limit_time() -> bool:
    """True where a time limit can interrupt Python code: the main thread, with SIGALRM."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def time_limit(seconds: float | None, what: str = "user code") -> Iterator[None]:
    """Raise :class:`UserCodeTimeout` in the block once ``seconds`` have passed.

    Limits nest (the earliest deadline wins). Outside the main thread (the Python API
    called from a worker thread) no signal can interrupt the code, and the block runs
    without a limit.
    """
    if seconds is not None and seconds > 0 and _deadline_listener is not None:
        # An isolated worker tells its parent, which enforces the limit from outside too
        # (a C loop that never returns to Python, a user's own SIGALRM handler).
        with _announced(seconds, what):
            yield from _limited(seconds, what)
        return
    yield from _limited(seconds, what)


#: Called with ("enter" | "exit", seconds, what) around every time limit (see :func:`announce_deadlines`).
_deadline_listener = None


def announce_deadlines(listener) -> None:
    """Report every :func:`time_limit` to ``listener(event, seconds, what)`` (``event``: "enter" or
    "exit"); None stops. An isolated worker process forwards them to the parent that watches it."""
    global _deadline_listener
    _deadline_listener = listener


@contextlib.contextmanager
def _announced(seconds: float, what: str) -> Iterator[None]:
    listener = _deadline_listener
    listener("enter", seconds, what)
    try:
        yield
    finally:
        listener("exit", seconds, what)


def _limited(seconds: float | None, what: str) -> Iterator[None]:
    """The body of :func:`time_limit`: SIGALRM in the main thread, nothing elsewhere."""
    if seconds is None or seconds <= 0 or not can_limit_time():
        yield
        return
    entry = (time.monotonic() + seconds, seconds, what)
    previous = signal.getsignal(signal.SIGALRM) if not _deadlines else None
    if not _deadlines:
        signal.signal(signal.SIGALRM, _on_alarm)
    _deadlines.append(entry)
    _arm()
    try:
        yield
    finally:
        _deadlines.remove(entry)
        _arm()
        if not _deadlines:
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)


class _Tee(io.TextIOBase):
    """Holds what user code writes and replays it on ``target``; keeps the last characters.

    Holding (rather than writing through) lets actlint drop output it has turned into a
    one-line message of its own (argparse's usage text) and output of the throw-away meta
    build; past ``limit`` characters it writes through.
    """

    def __init__(self, target: TextIO, keep: int = 8192, limit: int = 1 << 20) -> None:
        self._target = target
        self._keep = keep
        self._limit = limit
        self._pending: list[str] = []
        self._pending_size = 0
        self.tail = ""
        self.lines = 0

    def write(self, text: str) -> int:  # type: ignore[override]
        self._pending.append(text)
        self._pending_size += len(text)
        self.tail = (self.tail + text)[-self._keep:]
        self.lines += text.count("\n")
        if self._pending_size > self._limit:
            self.replay()
        return len(text)

    def replay(self) -> None:
        """Write what is held to the target (stderr)."""
        text, self._pending, self._pending_size = "".join(self._pending), [], 0
        if text:
            try:
                self._target.write(text)
                self._target.flush()
            except (OSError, ValueError):  # a closed stream must not break the user's print
                pass

    def drop(self) -> None:
        """Forget what is held (actlint said it better, or it came from a throw-away build)."""
        self.lines -= "".join(self._pending).count("\n")
        self._pending, self._pending_size = [], 0

    def flush(self) -> None:
        pass  # held until replay()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", None) or "utf-8"


class NetworkBlocked(OSError):
    """What a socket connection attempt raises while user code runs."""


def _blocked(*args: object, **kwargs: object) -> None:
    raise NetworkBlocked("network access is disabled while actlint runs your file (a linter never downloads)")


@dataclass
class FenceLog:
    """What the user's code did inside the fence (for the one-line load note and errors)."""

    output_lines: int = 0
    output_tail: str = ""
    threads_started: list[str] = field(default_factory=list)
    active: "_Tee | None" = field(default=None, repr=False)

    def current_tail(self) -> str:
        """The output so far, including the block still running."""
        return (self.output_tail + (self.active.tail if self.active is not None else ""))[-8192:]

    def replay(self) -> None:
        """Show the user's output held so far (on stderr)."""
        if self.active is not None:
            self.active.replay()

    def drop(self) -> None:
        """Drop the user's output held since the last replay."""
        if self.active is not None:
            self.active.drop()


@contextlib.contextmanager
def fenced(argv0: str, script_args: Sequence[str] = (), log: FenceLog | None = None) -> Iterator[FenceLog]:
    """Run the block as the user's script would run, without reaching actlint's own I/O."""
    log = log if log is not None else FenceLog()
    saved = (sys.argv, sys.stdin, sys.stdout, sys.stderr)
    saved_cwd = _cwd()
    saved_net = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo)
    threads_before = set(threading.enumerate())
    real_stderr = sys.stderr
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    tee = _Tee(real_stderr)
    log.active = tee
    sys.argv = [argv0, *script_args]
    sys.stdin = io.StringIO("")
    sys.stdout = tee  # type: ignore[assignment]
    sys.stderr = tee  # type: ignore[assignment]
    socket.socket.connect = _blocked  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _blocked  # type: ignore[method-assign,assignment]
    socket.create_connection = _blocked  # type: ignore[assignment]
    socket.getaddrinfo = _blocked  # type: ignore[assignment]
    original_start = threading.Thread.start

    def start_as_daemon(thread: threading.Thread) -> None:
        # Threads the user's code starts must never keep actlint running after its report.
        with contextlib.suppress(RuntimeError):
            thread.daemon = True
        log.threads_started.append(thread.name)
        original_start(thread)

    threading.Thread.start = start_as_daemon  # type: ignore[method-assign]
    try:
        yield log
    finally:
        threading.Thread.start = original_start  # type: ignore[method-assign]
        tee.replay()
        log.active = None
        sys.argv, sys.stdin, sys.stdout, sys.stderr = saved
        (socket.socket.connect, socket.socket.connect_ex,  # type: ignore[method-assign]
         socket.create_connection, socket.getaddrinfo) = saved_net
        if saved_cwd is not None and _cwd() != saved_cwd:
            with contextlib.suppress(OSError):
                os.chdir(saved_cwd)
        log.output_lines += tee.lines
        log.output_tail = (log.output_tail + tee.tail)[-8192:]
        log.threads_started += [t.name for t in set(threading.enumerate()) - threads_before
                                if t.is_alive() and t.name not in log.threads_started]


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


@contextlib.contextmanager
def report_stdout() -> Iterator[TextIO]:
    """The stream the CLI writes its report to; everything else written to stdout goes to stderr.

    File descriptor 1 is duplicated for the report and pointed at stderr while the block
    runs, so output from C code or child processes of the user's file lands on stderr too.
    Where stdout is no real file (tests' in-memory streams) Python-level redirection only.
    """
    original = sys.stdout
    try:
        fd = original.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        fd = -1
    if fd != 1:
        sys.stdout = sys.stderr
        try:
            yield original
        finally:
            sys.stdout = original
        return
    original.flush()
    report_fd = os.dup(1)
    os.dup2(2, 1)
    report = os.fdopen(report_fd, "w", encoding=getattr(original, "encoding", None) or "utf-8",
                       errors="replace", closefd=False)
    sys.stdout = sys.stderr
    try:
        yield report
    finally:
        with contextlib.suppress(OSError, ValueError):
            report.flush()
        sys.stdout = original
        os.dup2(report_fd, 1)
        os.close(report_fd)


def user_threads_alive() -> bool:
    """Non-daemon threads besides the main one: threads a user's file started and left running."""
    main = threading.main_thread()
    return any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate())


__all__ = [
    "UserCodeTimeout", "time_limit", "can_limit_time", "fenced", "FenceLog", "NetworkBlocked",
    "report_stdout", "user_threads_alive",
]
