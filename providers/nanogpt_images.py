"""NanoGPT images: the synchronous OpenAI-compatible `POST /v1/images/generations`, presented as a task that is
already `completed`, plus the JSON helpers and live-list parsing the video side shares.

The result is saved under `output_dir` (a `b64_json` result has no URL, so the file is the result) and a small
record `<output_dir>/.nanogpt/<id>.json` lets `fetch(id)` answer after a restart: NanoGPT keeps no image jobs.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import uuid
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx

from .base import MediaInput, ModelSpec, ParamSpec, Task, TaskResult, task_id
from .errors import InvalidArgument, MediagenError, NotFoundError, UpstreamError
from .http import Http
from .parse import items, num, obj, text
from .sniff import EXTENSIONS, sniff_image

log = logging.getLogger("mediagen.nanogpt")

NAME = "nanogpt"
INLINE_LIMIT = 4 * 1024 * 1024  # NanoGPT's cap for base64 uploads, measured on the encoded data URI
IMAGE_TIMEOUT = httpx.Timeout(240.0, connect=15.0)  # generation happens inside the request
IMAGE_ID = re.compile(r"^img_[0-9a-f]{32}$")
_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21", "5:4", "4:5")
_SIZE = re.compile(r"^\s*(\d+)\s*[x*]\s*(\d+)\s*$")


def price_text(pricing: Any) -> str | None:
    """A live `pricing` object (its shape varies by model) as one short line."""
    data = obj(pricing)
    currency = text(data.get("currency")) or "USD"
    parts: list[str] = []
    for key, value in data.items():
        if key in ("currency", "unit"):
            continue
        if num(value) is not None:
            parts.append(f"{key} {value}")
        elif isinstance(value, dict):
            inner = [f"{k} {v}" for k, v in obj(value).items() if num(v) is not None]
            if inner:
                parts.append(f"{key}: {', '.join(inner[:6])}")
    if not parts:
        return None
    line = f"{currency} " + "; ".join(parts)
    return line if len(line) <= 200 else line[:197] + "..."


# ---- inline media ----


def inline_uri(media: MediaInput, field: str, advice: str) -> str:
    """The data URI for an inline input, refused (before any request) when larger than NanoGPT's 4 MB."""
    uri = media.data_uri()
    if len(uri) > INLINE_LIMIT:
        size = len(uri) / (1024 * 1024)
        raise InvalidArgument(
            field, f"the inline image is {size:.1f} MB base64-encoded; NanoGPT takes at most 4 MB. {advice}"
        )
    return uri


def sniff(head: bytes) -> str | None:
    """The file extension of image bytes, or None when they are not an image."""
    mime = sniff_image(head)
    return EXTENSIONS[mime] if mime else None


# ---- sizes ----


def ratio_name(size: str) -> str | None:
    """The common aspect ratio a `WxH` size has (within 3%), e.g. 1376x768 -> 16:9."""
    match = _SIZE.match(size)
    if not match or not int(match.group(2)):
        return None
    actual = int(match.group(1)) / int(match.group(2))
    for name in _RATIOS:
        w, h = name.split(":")
        if abs(actual / (int(w) / int(h)) - 1) <= 0.03:
            return name
    return None


def size_for(model: ModelSpec, ratio: str) -> str:
    param = model.params.get("size")
    sizes = [v for v in (param.values or []) if isinstance(v, str)] if param else []
    for size in sizes:
        if ratio_name(size) == ratio:
            return size
    known = sorted({r for r in map(ratio_name, sizes) if r})
    allowed = f"sizes with a known ratio: {', '.join(known)}" if known else "no sizes with a known ratio"
    raise InvalidArgument(
        "aspect_ratio", f"{ratio} cannot be mapped to a size of {model.full_id} ({allowed}); pass resolution as WxH"
    )


# ---- the request body ----

_ADVICE = "Compress or resize it: this endpoint takes inline images only."


def image_body(model: ModelSpec, wire: dict[str, Any]) -> dict[str, Any]:
    wire = dict(wire)
    body: dict[str, Any] = {"prompt": wire.pop("prompt", ""), "model": model.id, "n": 1, "response_format": "url"}
    ratio = wire.pop("aspect_ratio", None)
    if isinstance(ratio, str):
        body["size"] = size_for(model, ratio)
    for key, value in wire.items():
        if isinstance(value, MediaInput):
            value = [value]
        if isinstance(value, list) and value and all(isinstance(v, MediaInput) for v in value):  # pyright: ignore[reportUnknownVariableType]
            param = model.params.get(key)
            field = param.field if param and param.field else f"extra.{key}"
            uris = [_inline_only(m, f"{field}[{i}]") for i, m in enumerate(value)]  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            if len(uris) == 1:
                body["imageDataUrl"] = uris[0]
            else:
                body["imageDataUrls"] = uris
            continue
        body[key] = value
    return body


def _inline_only(media: MediaInput, field: str) -> str:
    if media.is_remote:
        raise InvalidArgument(
            field, "NanoGPT's image endpoint takes inline images only: pass a local file or a data: URI (at most 4 MB)"
        )
    return inline_uri(media, field, _ADVICE)


# ---- the flow ----


class NanoImages:
    def __init__(self, http: Http, *, output_dir: str) -> None:
        self.http = http
        self.output_dir = Path(output_dir or ".")
        self.records = self.output_dir / ".nanogpt"

    async def generate(self, model: ModelSpec, wire: dict[str, Any]) -> Task:
        body = image_body(model, wire)
        _, answer = await self.http.post_json("/v1/images/generations", json=body, timeout=IMAGE_TIMEOUT)
        payload = obj(answer)
        entries = [obj(e) for e in items(payload.get("data"))]
        native = f"img_{uuid.uuid4().hex}"
        files: list[str] = []
        urls: list[str] = []
        for index, entry in enumerate(entries):
            url = text(entry.get("url"))
            data = _decode(entry.get("b64_json"))
            if url:
                urls.append(url)  # the server saves URL results (with its private-address checks on every hop)
            if data is not None:
                name = _file_name(model.id, native, index, sniff(data[:16]) or "png")
                try:
                    files.append(await anyio.to_thread.run_sync(self._save, name, data))
                except OSError as exc:
                    if not url:  # the bytes exist nowhere else: say so rather than lose them quietly
                        raise MediagenError(
                            f"NanoGPT made the image but it could not be saved under {self.output_dir}: "
                            f"{exc.strerror or exc}",
                            provider=NAME,
                            code="output_dir",
                        ) from exc
                    log.warning("nanogpt: could not save the image result: %s", exc)
        if not files and not urls:
            raise UpstreamError(
                "NanoGPT answered without an image (no url or b64_json in data)", provider=NAME, retryable=False
            )
        cost = num(payload.get("cost"))
        record: dict[str, Any] = {
            "id": native,
            "model": model.id,
            "files": files,
            "urls": urls,
            "cost": cost,
            "cost_unit": text(payload.get("paymentSource")) or ("USD" if cost is not None else None),
            "remaining": num(payload.get("remainingBalance")),
        }
        try:
            await anyio.to_thread.run_sync(self._write_record, record)
        except OSError as exc:  # the task is still returned; only a later fetch of this id will not find it
            log.warning("nanogpt: could not write the image record: %s", exc)
        return _task(record)

    def load(self, native_id: str) -> Task:
        if not IMAGE_ID.match(native_id):
            raise NotFoundError(f"no NanoGPT image {native_id!r}", provider=NAME)
        try:
            record = obj(json.loads((self.records / f"{native_id}.json").read_text("utf-8")))
        except (OSError, ValueError):
            raise NotFoundError(f"no NanoGPT image {native_id!r} under {self.output_dir}", provider=NAME) from None
        return _task(record)

    def _save(self, name: str, data: bytes) -> str:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / name
        _atomic_write(path, data)
        return str(path)

    def _write_record(self, record: dict[str, Any]) -> None:
        self.records.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.records / f"{record['id']}.json", json.dumps(record).encode("utf-8"))


def _decode(value: Any) -> bytes | None:
    raw = text(value)
    if raw is None:
        return None
    raw = raw.partition(",")[2] if raw.startswith("data:") else raw
    try:
        data = base64.b64decode(raw, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise UpstreamError("NanoGPT sent b64_json that is not valid base64", provider=NAME, retryable=False) from exc
    if sniff(data[:16]) is None:
        raise UpstreamError("NanoGPT sent b64_json that is not an image", provider=NAME, retryable=False)
    return data


def _file_name(model_id: str, native: str, index: int, ext: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-.") or "image"
    return f"nanogpt-{safe}-{native}{f'-{index}' if index else ''}.{ext}"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _task(record: dict[str, Any]) -> Task:
    files = [f for f in (text(p) for p in items(record.get("files"))) if f and Path(f).exists()]
    urls = [u for u in (text(p) for p in items(record.get("urls"))) if u]
    shown = urls or [Path(f).as_uri() for f in files]
    return Task(
        task_id=task_id(NAME, str(record.get("id"))),
        provider=NAME,
        model=f"{NAME}/{record.get('model')}" if text(record.get("model")) else None,
        status="completed",
        progress=100,
        result=TaskResult(url=shown[0] if shown else None, urls=shown, media_type="image"),
        files=files,
        credits_used=num(record.get("cost")),
        credits_remaining=num(record.get("remaining")),
        cost_unit=text(record.get("cost_unit")),
    )


# ---- the live image list ----


def image_spec(entry: dict[str, Any]) -> ModelSpec | None:
    """A lenient ModelSpec from one `/api/v1/image-models` entry (None when it has no usable id)."""
    model_id = text(entry.get("id"))
    if not model_id:
        return None
    caps = obj(entry.get("capabilities"))
    supported = obj(entry.get("supported_parameters"))
    sizes = [s for s in (text(v) for v in items(supported.get("resolutions"))) if s]
    params: dict[str, ParamSpec] = {
        "prompt": ParamSpec(type="string", required=True, field="prompt"),
        "size": ParamSpec(type="string", field="resolution", values=sizes or None, description="Sent as size"),
        "seed": ParamSpec(type="integer", field="seed"),
    }
    ratios = list(dict.fromkeys(r for r in map(ratio_name, sizes) if r))
    exclusive: list[list[str]] = []
    if ratios:
        params["aspect_ratio"] = ParamSpec(
            type="string", field="aspect_ratio", values=ratios, description="Mapped to the size with that ratio"
        )
        exclusive.append(["size", "aspect_ratio"])
    modes: list[Any] = ["text-to-image"]
    if caps.get("image_to_image") is True or caps.get("inpainting") is True:
        modes.append("image-to-image")
        params["imageDataUrls"] = ParamSpec(
            type="array", field="image_urls", description="Local files or data: URIs (at most 4 MB each)"
        )
    return ModelSpec(
        id=model_id,
        provider=NAME,
        name=text(entry.get("name")) or model_id,
        media_type="image",
        modes=modes,
        params=params,
        exclusive=exclusive,
        price=price_text(entry.get("pricing")),
        description=(
            (text(entry.get("description")) or "") + " (from NanoGPT's live list; options not checked)"
        ).strip(),
        strict=False,
    )
