"""Reading and writing the user's file for a fix: the same text the lint read, written back atomically.

The loader decodes files as Python does (BOM, PEP 263 coding line, universal newlines);
writing back keeps the file's encoding, byte-order mark and line endings, so a fix
changes the lines it edits and nothing else.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

from actlint.fixes.edits import Fix, digest


class NotWritable(Exception):
    """The file must not be rewritten; the message says why, in one line."""


@dataclass(frozen=True)
class FileOnDisk:
    """A file's decoded text as the loader sees it, and how to encode it back."""

    path: Path
    text: str  # decoded, with "\n" line endings (as the loader and the fixes see it)
    encoding: str  # "utf-8", "utf-8-sig" (a BOM), or the file's coding line
    newline: str  # the line ending the file uses: "\n", "\r\n" or "\r"

    @property
    def digest(self) -> str:
        return digest(self.text)

    def encoded(self, text: str) -> bytes:
        """``text`` (with "\n" endings) as this file's bytes."""
        if self.newline != "\n":
            text = text.replace("\n", self.newline)
        return text.encode(self.encoding)


def read_for_fix(shown: str, resolved: str) -> FileOnDisk:
    """The file named ``shown`` (resolving to ``resolved``), refusing what must not be rewritten."""
    named = Path(shown)
    if named.is_symlink():
        raise NotWritable(f"a symbolic link (to {os.readlink(named)}); actlint does not rewrite through links, "
                          f"fix the file it points to")
    path = Path(resolved)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NotWritable(f"cannot read it again ({exc.strerror or exc})") from None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = importlib.util.decode_source(raw)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        raise NotWritable(f"cannot decode it again ({exc})") from None
    return FileOnDisk(path, text, encoding, _newline(raw))


def read_unchanged(fix: Fix) -> FileOnDisk:
    """The file ``fix`` edits, as :func:`read_for_fix` reads it, refused unless it still reads
    exactly as the lint that made the fix read it."""
    disk = read_for_fix(fix.shown or fix.file, fix.file)
    if disk.digest != fix.source_digest:
        raise NotWritable("the file changed on disk since actlint read it")
    return disk


def _newline(raw: bytes) -> str:
    """The file's first line ending (a file that mixes them is written with the first one)."""
    for index, byte in enumerate(raw):
        if byte == 0x0A:
            return "\n"
        if byte == 0x0D:
            return "\r\n" if raw[index + 1:index + 2] == b"\n" else "\r"
    return "\n"


def write_atomically(file: FileOnDisk, text: str) -> None:
    """Replace the file's contents with ``text``: a temporary file beside it, then a rename.

    A reader (an editor, a test runner, a crash half-way) sees the old file or the new one,
    never a half-written one. The file's permission bits are kept.
    """
    data = file.encoded(text)
    mode = file.path.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(prefix=f".{file.path.name}.", suffix=".actlint-fix", dir=file.path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, file.path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def compiles(text: str, path: Path) -> str | None:
    """None when ``text`` is valid Python, else the one-line syntax error."""
    try:
        compile(text, str(path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
