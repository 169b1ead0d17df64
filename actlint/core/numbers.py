"""How numbers are written: JSON-safe values in reports, short forms in messages."""

from __future__ import annotations

import math
from typing import Any


def json_number(value: float | None) -> float | str | None:
    """JSON-safe number: NaN/Inf become strings (JSON has no such literals), 6 significant digits."""
    if value is None:
        return None
    if math.isfinite(value):
        return float(f"{value:.6g}")
    return str(value)


def short_number(value: Any) -> str:
    """A value as a message shows it: floats to 3 significant digits, strings quoted."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.3g}"
    return repr(value) if isinstance(value, str) else str(value)


__all__ = ["json_number", "short_number"]
