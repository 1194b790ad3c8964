"""Reading provider bodies leniently, and writing media into request bodies.

Provider answers are untrusted and loosely shaped (PROVIDER_FACTS.md §5): these readers never raise on an
unexpected type, they answer "nothing here" instead.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard, cast

from .base import MediaInput

_MAX_DEPTH = 12


def obj(value: Any) -> dict[str, Any]:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    return cast("list[Any]", value) if isinstance(value, list) else []


def text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def num(value: Any) -> float | None:
    """A finite number given as a number or numeric text ("40", "40%"); booleans are not numbers."""
    if isinstance(value, str):
        value = value.strip().rstrip("%")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def progress(value: Any) -> float | None:
    """A percentage clamped to 0-100, or None."""
    number = num(value)
    return None if number is None else max(0.0, min(100.0, number))


def message_of(value: Any) -> str | None:
    """An error given as a string or as an object with a message."""
    if isinstance(value, dict):
        data = obj(value)
        return text(data.get("message")) or text(data.get("error")) or text(data.get("detail"))
    return text(value)


def is_url(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def urls_in(value: Any, _depth: int = 0) -> list[str]:
    """Every http(s) URL anywhere inside `value`, depth first, each once (the last resort for result URLs)."""
    if is_url(value):
        return [value]
    if _depth > _MAX_DEPTH:
        return []
    children = list(obj(value).values()) if isinstance(value, dict) else items(value)
    found: list[str] = []
    for child in children:
        found += [u for u in urls_in(child, _depth + 1) if u not in found]
    return found


def to_wire(value: Any) -> Any:
    """A validated param value as JSON: media become their URL or data URI, lists item by item."""
    if isinstance(value, MediaInput):
        return value.wire()
    if isinstance(value, list):
        return [to_wire(v) for v in items(value)]
    return value
