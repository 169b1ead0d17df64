"""Output formats, one module each (ruff style): text, json, sarif, html."""

from __future__ import annotations

from typing import Callable, TextIO

from actlint.core.results import LintRun

Reporter = Callable[[LintRun, TextIO], None]


def get_reporter(name: str) -> Reporter:
    """The reporter for ``--format NAME`` (imported lazily)."""
    if name == "text":
        from actlint.report.text import write_text

        return write_text
    if name == "json":
        from actlint.report.json import write_json

        return write_json
    if name == "sarif":
        from actlint.report.sarif import write_sarif

        return write_sarif
    if name == "html":
        from actlint.report.html import write_html

        return write_html
    raise ValueError(f"unknown format {name!r}")


FORMATS = ("text", "json", "sarif", "html")
