"""Errors that end a lint run (or one file of it) with a one-line message and exit code 2."""


class UserError(Exception):
    """A problem with the user's input (file, model, flags, config).

    The message is shown to the user as a single line, without a traceback.
    """

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(" ".join(str(message).split()))
        self.file = file

    @property
    def message(self) -> str:
        return str(self)


class NoModelError(UserError):
    """A file with no model actlint can build on its own: nothing found, or only classes
    that need constructor arguments. Directory walks and the pre-commit hook skip such
    files (building-block modules); naming the file explicitly reports it."""


def one_line(exc: BaseException) -> str:
    """Render an exception as ``TypeName: message`` on one line (for user-facing errors)."""
    text = " ".join(str(exc).split())
    # torch appends the fx node and a pointer to its tooling; the first sentence is the point.
    for marker in (" While executing %", " Original traceback:", " from user code:"):
        if marker in text:
            text = text[: text.index(marker)]
    name = type(exc).__name__
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{name}: {text}" if text else name
