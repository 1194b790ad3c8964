"""VicSee's response shapes, read leniently: the live model list (`GET /api/v1/models`, merged with the bundled
catalog), task results, and the daily-quota headers.

The model list's shape is not documented (PROVIDER_FACTS §1.5, §5 row 3): `data` may be an array or `{models: [...]}`,
and each entry is read for the keys seen or hinted at (`id`, `type`/`mediaType`, `credits`/`cost`, `maxImages`, ...).
Unknown keys are ignored; an entry we cannot use is skipped, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError

from .base import MODES, UNIFIED_FIELDS, ModelSpec, ParamSpec, TaskResult
from .http import retry_after_seconds
from .parse import is_url, urls_in

PROVIDER = "vicsee"

_LIST_FIELDS = frozenset({"image_urls", "reference_image_urls", "reference_video_urls", "reference_audio_urls"})
_TYPES: dict[str, str] = {"duration": "number", "audio": "boolean", "seed": "integer"}

# A model only the live list knows: every unified argument passes through under its own name (VicSee's wire names
# ARE the unified names), and anything in `extra` is sent as given (strict=False).
LENIENT_PARAMS: dict[str, ParamSpec] = {
    name: ParamSpec(type="array" if name in _LIST_FIELDS else _TYPES.get(name, "string"), field=name)  # type: ignore[arg-type]
    for name in UNIFIED_FIELDS
}


def entries(body: Any) -> list[dict[str, Any]] | None:
    """The model entries of a `/models` response, or None when it is not a model list at all."""
    if isinstance(body, dict):
        envelope: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
        if envelope.get("success") is False:
            return None
        body = envelope.get("data", envelope)
    if isinstance(body, dict):
        inner: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
        body = inner.get("models", inner.get("items"))
    if not isinstance(body, list):
        return None
    items: list[Any] = body  # pyright: ignore[reportUnknownVariableType]
    return [item for item in items if isinstance(item, dict)]


def _text(entry: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _media_type(entry: dict[str, Any], model_id: str) -> str | None:
    kind = (_text(entry, "type", "mediaType", "media_type", "category", "outputType") or "").lower()
    if kind in ("image", "video"):
        return kind
    if kind:
        return None  # music, audio, tools...: nothing our tools can return
    if "video" in model_id:
        return "video"
    if "image" in model_id:
        return "image"
    return None


def _modes(model_id: str, media_type: str) -> list[str]:
    found = [mode for mode in MODES if model_id.endswith(mode) or f"-{mode}-" in model_id]
    if found:
        return found
    return ["text-to-video"] if media_type == "video" else ["text-to-image"]


def price(entry: dict[str, Any]) -> str | None:
    """The credit cost as a short string, whatever form it takes."""
    for key in ("credits", "cost", "price", "creditCost", "credit_cost"):
        value = entry.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            return f"{value:g} credits"
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
        if isinstance(value, dict | list):
            return f"credits: {json.dumps(value, separators=(',', ':'))[:200]}"
    return None


def lenient_spec(entry: dict[str, Any]) -> ModelSpec | None:
    """A pass-through spec for a model only the live list knows; None when the entry is unusable."""
    model_id = _text(entry, "id", "model", "slug")
    if model_id is None:
        return None
    media_type = _media_type(entry, model_id)
    if media_type is None:
        return None
    notes = ["Listed live by VicSee but not in the bundled catalog: options are passed through unchecked."]
    max_images = entry.get("maxImages", entry.get("max_images"))
    if isinstance(max_images, int) and not isinstance(max_images, bool):
        notes.append(f"maxImages: {max_images}.")
    about = _text(entry, "description", "summary")
    if about:
        notes.append(about[:300])
    try:
        return ModelSpec(
            id=model_id,
            provider=PROVIDER,
            name=_text(entry, "name", "displayName", "title") or "",
            media_type=media_type,  # type: ignore[arg-type]
            modes=_modes(model_id, media_type),  # type: ignore[arg-type]
            params=dict(LENIENT_PARAMS),
            price=price(entry),
            description=" ".join(notes),
            strict=False,
        )
    except ValidationError:
        return None


def merge(catalog: list[ModelSpec], live: list[dict[str, Any]], media_type: str | None = None) -> list[ModelSpec]:
    """The bundled catalog (it wins for the models it knows; a missing price is filled from the live list), then
    the models only the live list has, as lenient specs."""
    by_id = {_text(e, "id", "model", "slug"): e for e in live}
    out: list[ModelSpec] = []
    for spec in catalog:
        if media_type in ("image", "video") and spec.media_type != media_type:
            continue
        entry = by_id.get(spec.id)
        live_price = price(entry) if entry is not None else None
        out.append(spec.model_copy(update={"price": live_price}) if spec.price is None and live_price else spec)
    known = {spec.id for spec in catalog}
    for entry in live:
        spec = lenient_spec(entry)
        if spec is not None and spec.id not in known:
            known.add(spec.id)
            out.append(spec)
    return out


# --- quota -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateLimit:
    """VicSee's daily quota as the last response reported it (`X-RateLimit-Limit/-Remaining/-Reset`)."""

    limit: int | None = None
    remaining: int | None = None
    reset: str | None = None  # ISO time

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimit | None:
        if "x-ratelimit-remaining" not in headers and "x-ratelimit-reset" not in headers:
            return None
        limit, left = (_int(headers.get(f"x-ratelimit-{name}")) for name in ("limit", "remaining"))
        return cls(limit, left, headers.get("x-ratelimit-reset") or None)

    def seconds_to_reset(self) -> float | None:
        if not self.reset:
            return None
        try:
            when = datetime.fromisoformat(self.reset)
        except ValueError:
            return retry_after_seconds(self.reset)  # an HTTP date or a number of seconds
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())

    def __str__(self) -> str:
        left = "an unknown number of" if self.remaining is None else str(self.remaining)
        of = f" (of {self.limit})" if self.limit is not None else ""
        resets = f", resets at {self.reset}" if self.reset else ""
        return f"{left} VicSee requests left today{of}{resets}"


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


# --- task results ------------------------------------------------------------------------------------------


def result(data: dict[str, Any]) -> TaskResult | None:
    """`data.result.url` first, then any other URL found in `data.result`; None when there is none."""
    raw: Any = data.get("result")
    fields: dict[str, Any] = raw if isinstance(raw, dict) else {}  # pyright: ignore[reportUnknownVariableType]
    first = fields.get("url")
    urls = urls_in(raw)
    if is_url(first):
        urls = [first, *(u for u in urls if u != first)]
    if not urls:
        return None
    kind = data.get("mediaType") or data.get("media_type") or fields.get("type")
    return TaskResult(url=urls[0], urls=urls, media_type=kind if kind in ("image", "video") else None)


def number(data: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
