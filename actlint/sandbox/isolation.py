"""User code in worker processes: a file that kills its interpreter costs one file, not the run.

:class:`IsolatedWorkers` runs tasks (one file each) in ``jobs`` long-lived worker
processes, forked from actlint once torch is imported, so a worker starts in milliseconds
and keeps the modules it imported for the next file. The parent watches each worker:

* a worker that dies (``os._exit``, a segfault in a C extension, the OOM killer) turns its
  file into one failure line (:func:`~actlint.sandbox.exits.describe_exit`) and a fresh
  worker takes the next file;
* every :func:`~actlint.sandbox.fence.time_limit` inside the worker is announced to the
  parent, which kills the worker once the limit is past by :func:`grace` (a C loop
  that never returns to Python, or user code that replaced SIGALRM, cannot outlast it);
* the worker's stdout is its stderr, SIGINT is the parent's to handle (Ctrl-C stops the run
  once), and it leaves with ``os._exit``, so no ``atexit`` handler of the user's ever runs.

Results come back in task order as soon as they and every earlier one are done, so output
streams and stays identical whatever ``jobs`` is. Only the ``actlint`` command forks
(:func:`own_this_process`); where ``fork`` is unavailable (Windows, macOS) or the caller is
another program's process, :func:`isolation_available` is False and callers lint in-process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterator, Sequence

from actlint.sandbox.exits import describe_exit
from actlint.sandbox.fence import announce_deadlines

#: How long past an announced time limit the parent waits before killing the worker (the
#: worker's own SIGALRM limit normally fires first and reports a clean one-line error):
#: half the limit, within these bounds.
GRACE_SECONDS = (2.0, 10.0)


def grace(seconds: float) -> float:
    low, high = GRACE_SECONDS
    return min(high, max(low, seconds / 2))


@dataclass(frozen=True)
class WorkerFailure:
    """A task whose worker died, was stopped, or raised past actlint's own error handling."""

    message: str


#: Set by the ``actlint`` command (:func:`own_this_process`): this process runs no torch op of its own.
_OWNED = False


def own_this_process() -> None:
    """Declare this process actlint's own command: it imports torch but never runs an op itself.

    Forking is safe only from such a process: a process whose OpenMP thread pool has run
    (a test runner, a notebook that calls the CLI in-process) forks children that hang in
    their first parallel op (GNU libgomp is not fork-safe). Elsewhere actlint lints in-process.
    """
    global _OWNED
    _OWNED = True


def isolation_available() -> bool:
    """Can user code run in forked workers here? (The ``actlint`` command on Linux; elsewhere in-process.)"""
    return _OWNED and sys.platform.startswith("linux") and hasattr(os, "fork")


def _serve(conn: Connection, run_task: Callable[[Any], Any]) -> None:
    """A worker's life: answer tasks until told to stop (or the parent is gone); the process
    then leaves through ``os._exit`` (:meth:`_ForkedProcess.start`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.dup2(2, 1)  # whatever the user's code writes to fd 1 lands on stderr
    except OSError:
        pass
    announce_deadlines(lambda event, seconds, what: conn.send(("limit", event, seconds, what)))
    try:
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError):
                break
            if task is None:
                break
            index, payload = task
            try:
                answer: tuple = ("done", index, run_task(payload))
            except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt/SystemExit raised by user code too
                answer = ("raised", index, f"{type(exc).__name__}: {exc}".rstrip(": "))
            try:
                conn.send(answer)
            except Exception as exc:  # noqa: BLE001 - a result that cannot be pickled
                conn.send(("raised", index, f"its result could not be sent back ({type(exc).__name__}: {exc})"))
    finally:
        sys.stderr.flush()


class _ForkedProcess:
    """A child made with a bare ``os.fork`` (what multiprocessing's Process does, minus its start-up).

    multiprocessing's child closes ``sys.stdin`` first, which hangs forever when another
    thread of the parent was reading stdin at the fork (a language server's reader thread
    holds the stream's lock, and that thread does not exist in the child). This child
    touches none of the parent's standard streams: it gets fresh ones on the same file
    descriptors (stdout's pointing at stderr).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exitcode: int | None = None

    @classmethod
    def start(cls, body: Callable[[], None], close_in_child: Connection) -> "_ForkedProcess":
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        pid = os.fork()
        if pid == 0:  # the child
            try:
                close_in_child.close()  # the parent's end: EOF reaches the child when the parent is gone
                sys.stdin = open(os.devnull, encoding="utf-8")
                sys.stderr = open(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
                sys.stdout = sys.stderr
                body()
            finally:
                os._exit(0)
        return cls(pid)

    def _reap(self, flags: int) -> None:
        if self.exitcode is not None:
            return
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            self.exitcode = -1 if self.exitcode is None else self.exitcode
            return
        if pid:
            self.exitcode = os.waitstatus_to_exitcode(status)

    def is_alive(self) -> bool:
        self._reap(os.WNOHANG)
        return self.exitcode is None

    def kill(self) -> None:
        if self.is_alive():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_alive():
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(0.005)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    task: int | None = None
    limits: list[tuple[float, float, str]] = field(default_factory=list)  # (deadline, seconds, what)
    last_heard: float = 0.0
    last_stage: str | None = None  # the innermost limit entered last (what the task was doing)
    cancelled: bool = False  # stopped by IsolatedWorkers.cancel()

    def stage(self) -> str | None:
        return self.limits[-1][2] if self.limits else self.last_stage

    def deadline(self, idle_limit: float) -> float:
        if self.limits:
            return min(d for d, _, _ in self.limits)
        return self.last_heard + idle_limit

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        if not self.conn.closed:
            self.conn.close()


class IsolatedWorkers:
    """``jobs`` forked workers running ``run_task(payload)``; see the module docstring.

    ``idle_limit``: the longest a worker may run with no time limit announced before it is
    considered hung. ``label(payload)`` names a task in failure messages.
    """

    def __init__(self, run_task: Callable[[Any], Any], jobs: int = 1, idle_limit: float = 600.0, *,
                 keep: bool = False) -> None:
        self.run_task = run_task
        self.jobs = max(1, jobs)
        self.idle_limit = idle_limit
        #: Keep idle workers between :meth:`results` calls (a long-lived server), until :meth:`close`.
        self.keep = keep
        self._workers: list[_Worker] = []

    def cancel(self) -> None:
        """Stop the tasks running now (from another thread): their results come back as
        :class:`WorkerFailure` and fresh workers take any later task."""
        for worker in list(self._workers):
            if worker.task is not None:
                worker.cancelled = True
                if worker.process.is_alive():
                    worker.process.kill()

    def close(self) -> None:
        """Let every worker go."""
        for worker in self._workers:
            self._close(worker)
        self._workers = []

    def _start(self) -> _Worker:
        parent, child = multiprocessing.Pipe()
        process = _ForkedProcess.start(lambda: _serve(child, self.run_task), close_in_child=parent)
        child.close()
        return _Worker(process, parent, last_heard=time.monotonic())

    def results(self, payloads: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """``(index, result or WorkerFailure)`` for every payload, in order, each as soon as it can be."""
        pending = list(range(len(payloads)))[::-1]  # a stack: pop() gives the next index
        done: dict[int, Any] = {}
        workers = self._workers
        emitted = 0
        try:
            while emitted < len(payloads):
                workers[:] = [w for w in workers if not w.conn.closed]  # stopped ones are replaced
                while pending and len(workers) < self.jobs:
                    workers.append(self._start())
                for worker in workers:
                    if worker.task is None and pending:
                        worker.task = pending.pop()
                        worker.limits.clear()
                        worker.last_stage = None
                        worker.last_heard = time.monotonic()
                        worker.conn.send((worker.task, payloads[worker.task]))
                busy = [w for w in workers if w.task is not None]
                if busy:
                    timeout = max(0.0, min(w.deadline(self.idle_limit) for w in busy) - time.monotonic())
                    ready = wait([w.conn for w in busy], timeout=timeout)
                    for worker in busy:
                        if worker.conn in ready:
                            self._hear(worker, done)
                        elif time.monotonic() >= worker.deadline(self.idle_limit):
                            done[worker.task] = WorkerFailure(self._overdue(worker))
                            worker.task = None
                            worker.stop()
                while emitted in done:
                    yield emitted, done.pop(emitted)
                    emitted += 1
        finally:
            for worker in workers:
                if not self.keep or worker.task is not None:  # a task abandoned half-way: its worker goes
                    self._close(worker)
            workers[:] = [w for w in workers if not w.conn.closed]

    def _hear(self, worker: _Worker, done: dict[int, Any]) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(5)
            done[worker.task] = WorkerFailure("cancelled" if worker.cancelled
                                              else describe_exit(worker.process.exitcode, worker.stage()))
            worker.task = None
            worker.stop()
            return
        worker.last_heard = time.monotonic()
        kind = message[0]
        if kind == "limit":
            _, event, seconds, what = message
            if event == "enter":
                worker.limits.append((time.monotonic() + seconds + grace(seconds), seconds, what))
                worker.last_stage = what
            elif worker.limits:
                worker.limits.pop()
        elif kind == "done":
            done[message[1]] = message[2]
            worker.task = None
        else:  # "raised"
            stage = worker.stage()
            done[message[1]] = WorkerFailure(f"user code raised {message[2]}" + (f" while {stage}" if stage else ""))
            worker.task = None

    def _overdue(self, worker: _Worker) -> str:
        if worker.limits:
            _, seconds, what = min(worker.limits)
            return f"{what} did not finish within {seconds:g}s (the worker was stopped)"
        return f"no answer for {self.idle_limit:g}s (the worker was stopped)"

    def _close(self, worker: _Worker) -> None:
        if worker.process.is_alive() and worker.task is None:
            try:
                worker.conn.send(None)
            except OSError:
                pass
            worker.process.join(2)
        worker.stop()
