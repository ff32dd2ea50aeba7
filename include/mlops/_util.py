"""Small pure helpers shared by the lifecycle modules (no I/O, no third-party imports)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any


def utc_now_iso() -> str:
    """The current UTC time to the second, e.g. ``2026-02-17T03:00:00+00:00``."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def finite_float(value: Any) -> float | None:
    """``float(value)``, or ``None`` if it is not a number or not finite (JSON-safe)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def fmt_value(value: Any, digits: int = 4) -> str:
    """A table cell: ``-`` for None, floats to ``digits`` decimals, anything else as ``str``."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
