"""Human-readable sizes: the one place bytes become `1.5 KB` (1024-based, as DESIGN §4 defines)."""

from __future__ import annotations

_UNITS = ("B", "KB", "MB", "GB", "TB")


def format_bytes(value: float) -> str:
    """`73 B`, `1.5 KB`, `-2.0 MB`: whole bytes below 1 KB, one decimal above."""
    sign = "-" if value < 0 else ""
    size = abs(float(value))
    if size < 1024:
        text = f"{size:.0f}" if size >= 10 or size == int(size) else f"{size:.1f}"
        return f"{sign}{text} B"
    for unit in _UNITS[1:]:
        size /= 1024
        if size < 1024 or unit == _UNITS[-1]:
            return f"{sign}{size:.1f} {unit}"
    raise AssertionError("unreachable")


__all__ = ["format_bytes"]
