"""``python -m actlint`` entry point."""

from actlint.cli import run

if __name__ == "__main__":  # pragma: no cover - exercised through subprocess tests
    run()
