"""One line for a worker process that ended while running the user's code.

``the file ended its process with exit code 3 while loading model.py``;
``the interpreter crashed (SIGSEGV) while building Net()``.
"""

from __future__ import annotations

import signal

#: Signals that mean the interpreter itself crashed (as opposed to being stopped).
_CRASHES = {"SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT", "SIGSYS"}


def describe_exit(exitcode: int | None, stage: str | None) -> str:
    """Why a worker is gone, from its exit code (negative: the signal that ended it)."""
    during = f" while {stage}" if stage else ""
    if exitcode is None:
        return f"the worker process stopped answering{during}"
    if exitcode >= 0:
        return f"the file ended its process with exit code {exitcode}{during}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    if name in _CRASHES:
        return f"the interpreter crashed ({name}){during}"
    if name == "SIGKILL":
        return f"the process was killed (SIGKILL; out of memory?){during}"
    return f"the process was ended by {name}{during}"
