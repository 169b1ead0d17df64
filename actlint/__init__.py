"""actlint: a linter and advisor for PyTorch model architectures.

The package reads top to bottom in the order data flows; each stage is a folder:

* ``files``: which files a run covers, and the text check that skips files without models;
* ``sandbox``: the fence user code runs in, and the guard that leaves a model as it was;
* ``loader``: run the user's file under a load plan and build its models;
* ``source``: read the file's training code (the loss, optimizer, clipping, input scaling);
* ``trace``: record the model as a dataflow graph (torch.fx, or one executed forward pass);
* ``graph``: the tracer-independent GraphView, the op table and the shared graph queries;
* ``rules``: the rule classes, their registry, the engine, suppressions and confirmation;
* ``probe``: seeded runs that measure gradient flow, linearity and a few training steps;
* ``report``: the text, JSON, SARIF and HTML reports.

``core`` holds the records every stage passes along (errors, locations, findings, results).
On top: ``cli`` and ``api`` (the two front doors), ``options`` (what shapes a run),
``config`` (pyproject.toml / actlint.toml) and ``pipeline`` (which wires the stages).
"""

from actlint.core.version import SCHEMA_VERSION, __version__

#: The Python API (actlint.api), imported on first use: `actlint --help`, `actlint rules`
#: and `actlint explain` import this package and must not pay for importing torch.
_API = ("lint", "check", "LintResult", "LintError")


def __getattr__(name: str):
    if name in _API:
        from actlint import api

        return getattr(api, name)
    raise AttributeError(f"module 'actlint' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])


__all__ = ["__version__", "SCHEMA_VERSION", *_API]
