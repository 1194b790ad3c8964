"""The provider interface: requests, model specs, tasks, and the `Provider` protocol.

`providers/` is a plain async library: it never imports `mcp` and never reads the environment.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

MediaType = Literal["image", "video"]
Mode = Literal[
    "text-to-image",
    "image-to-image",
    "text-to-video",
    "image-to-video",
    "reference-to-video",
    "first-last-frame",
    "video-edit",
]
MODES: tuple[str, ...] = Mode.__args__  # pyright: ignore[reportAttributeAccessIssue]
Status = Literal["pending", "processing", "completed", "failed"]
WireType = Literal["string", "integer", "number", "boolean", "array", "object", "any"]

# The unified `generate` arguments (seed 000 plus negative_prompt and seed) that a model param may be fed by.
UNIFIED_FIELDS: tuple[str, ...] = (
    "prompt",
    "image_urls",
    "reference_image_urls",
    "reference_video_urls",
    "reference_audio_urls",
    "video_url",
    "audio_setting",
    "duration",
    "aspect_ratio",
    "resolution",
    "output_format",
    "audio",
    "negative_prompt",
    "seed",
)


_STEP = 3 * 256 * 1024  # a multiple of 3, so the chunks encode without padding


def encode_data_uri(data: bytes, mime: str) -> bytearray:
    """`data:<mime>;base64,...` built in one preallocated buffer (a 20 MB image costs one copy, not three)."""
    prefix = f"data:{mime};base64,".encode("ascii")
    out = bytearray(len(prefix) + 4 * ((len(data) + 2) // 3))
    out[: len(prefix)] = prefix
    pos = len(prefix)
    with memoryview(data) as view:
        for start in range(0, len(view), _STEP):
            chunk = binascii.b2a_base64(view[start : start + _STEP], newline=False)
            out[pos : pos + len(chunk)] = chunk
            pos += len(chunk)
    return out


@dataclass(frozen=True, slots=True)
class MediaInput:
    """One image/video/audio input: a remote URL, or bytes we hold (a vetted local file or a data URI).

    Large local files are kept only as their ready data URI (`encoded`); `raw()` decodes them when an adapter
    needs the bytes (an upload)."""

    url: str | None = None
    data: bytes | None = None
    mime: str | None = None
    local: bool = False  # read from the user's disk (so an upload endpoint may be preferable)
    encoded: str | None = None

    @classmethod
    def inline(cls, data: bytes, mime: str, *, local: bool = False) -> MediaInput:
        return cls(encoded=encode_data_uri(data, mime).decode("ascii"), mime=mime, local=local)

    @property
    def is_remote(self) -> bool:
        return self.url is not None

    @property
    def size(self) -> int:
        """Bytes of the media itself (not of its base64 form)."""
        if self.data is not None:
            return len(self.data)
        if self.encoded is not None:
            payload = len(self.encoded) - self.encoded.index(",") - 1
            return payload * 3 // 4 - self.encoded[-2:].count("=")
        return 0

    def raw(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.encoded is not None:
            return base64.b64decode(self.encoded.partition(",")[2])
        raise ValueError("not an inline input")

    def data_uri(self) -> str:
        if self.encoded is not None:
            return self.encoded
        if self.data is None:
            raise ValueError("not an inline input")
        return encode_data_uri(self.data, self.mime or "application/octet-stream").decode("ascii")

    def wire(self) -> str:
        """The value to send: the URL as given, or a base64 data URI."""
        return self.url if self.url is not None else self.data_uri()


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """The unified `generate` arguments after local files were vetted and read."""

    prompt: str | None = None
    image_urls: tuple[MediaInput, ...] = ()
    reference_image_urls: tuple[MediaInput, ...] = ()
    reference_video_urls: tuple[MediaInput, ...] = ()
    reference_audio_urls: tuple[MediaInput, ...] = ()
    video_url: MediaInput | None = None
    audio_setting: str | None = None
    duration: float | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    output_format: str | None = None
    audio: bool | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=lambda: {})

    def given(self) -> dict[str, Any]:
        """The unified fields the caller actually set (lists non-empty, scalars not None)."""
        out: dict[str, Any] = {}
        for name in UNIFIED_FIELDS:
            value = getattr(self, name)
            if value is None or value == ():
                continue
            out[name] = value
        return out


class ParamSpec(BaseModel):
    """One wire parameter of a model, as the provider documents it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: WireType = "string"
    required: bool = False
    default: Any = None
    values: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    max_items: int | None = None
    # The unified argument that feeds this param: "duration", "audio", "image_urls[0]", "reference_image_urls", ...
    # None: settable only through `extra` under the wire name.
    field: str | None = None
    description: str = ""


class ModelSpec(BaseModel):
    """One model as data: what it makes, which params it takes, and what it needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str  # the provider's own model id
    provider: str
    name: str = ""
    media_type: MediaType
    modes: list[Mode]
    params: dict[str, ParamSpec] = Field(default_factory=lambda: {})
    # Groups of params of which exactly one must be given (Kling: prompt XOR multi_prompt).
    one_of: list[list[str]] = Field(default_factory=lambda: [])
    # Groups of params that must not be combined (WAN 2.7-image: image_url vs video_url).
    exclusive: list[list[str]] = Field(default_factory=lambda: [])
    price: str | None = None
    description: str = ""
    # False for models known only from a live list: unknown params pass through unchecked.
    strict: bool = True
    endpoint: str | None = None  # provider-specific routing hint (e.g. Mountsea "image" or "video")

    @property
    def full_id(self) -> str:
        return f"{self.provider}/{self.id}"

    def required_params(self) -> list[str]:
        return [name for name, p in self.params.items() if p.required]


class TaskResult(BaseModel):
    url: str | None = None
    urls: list[str] = Field(default_factory=lambda: [])
    media_type: MediaType | None = None


class TaskError(BaseModel):
    code: str
    message: str
    retryable: bool = False


class Task(BaseModel):
    """The task object of DESIGN.md, as `generate` and `get_task` return it."""

    task_id: str
    provider: str
    model: str | None = None
    status: Status
    progress: float | None = None
    result: TaskResult | None = None
    files: list[str] = Field(default_factory=lambda: [])
    error: TaskError | None = None
    credits_used: float | None = None
    credits_remaining: float | None = None
    cost_unit: str | None = None
    poll_after_seconds: float | None = None
    next_action: str = ""

    @property
    def native_id(self) -> str:
        return self.task_id.split(":", 1)[1]

    @property
    def terminal(self) -> bool:
        return self.status in ("completed", "failed")


def task_id(provider: str, native_id: str) -> str:
    return f"{provider}:{native_id}"


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """What an adapter is given: its key (None = disabled) and origin. Read from the environment by server/config."""

    name: str
    api_key: str | None
    base_url: str
    output_dir: str = ""
    sandbox_delay: float = 2.0


class Provider(Protocol):
    """An adapter. It receives a ready `httpx.AsyncClient`; it never builds one."""

    name: str

    def models(self) -> list[ModelSpec]:
        """The bundled catalog (no I/O)."""
        ...

    async def live_models(self) -> list[ModelSpec]:
        """The catalog merged with what the provider lists live (cached); the bundled one on failure."""
        ...

    async def submit(self, model: ModelSpec, request: GenerateRequest) -> Task:
        """Validate (raising `InvalidArgument` before any request), then submit once."""
        ...

    async def fetch(self, native_id: str) -> Task:
        """The task's current state."""
        ...

    async def aclose(self) -> None: ...
