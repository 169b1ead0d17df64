"""actlint: a linter and advisor for PyTorch model architectures."""

__version__ = "0.1.0"

# The JSON/SARIF document version (bumped only when the public contract changes).
SCHEMA_VERSION = "1"

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
