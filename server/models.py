"""How models are shown to the agent: the list_models output, free-text ranking, and "did you mean"."""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from providers import registry
from providers.base import ModelSpec, Provider
from providers.catalog import describe
from providers.errors import AuthError, InvalidArgument

from .config import Settings

if TYPE_CHECKING:
    import httpx


class ModelInfo(BaseModel):
    id: str
    provider: str
    media_type: str
    mode: str = Field(description="The main mode; modes lists all")
    modes: list[str]
    required: list[str]
    options: dict[str, dict[str, Any]]
    price: str | None = None
    description: str | None = None
    enabled: bool
    enable_with: str | None = Field(default=None, description="The variable that enables this provider")


class ProviderStatus(BaseModel):
    name: str
    enabled: bool
    enable_with: str | None = None
    models: int


class ModelList(BaseModel):
    models: list[ModelInfo]
    total: int = Field(description="Matches before the limit")
    providers: list[ProviderStatus]


def unknown_model(text: str, known: list[str]) -> str:
    close = difflib.get_close_matches(text, known, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return f"unknown model {text!r}.{hint} Call list_models to see the available ids ('<provider>/<model>')."


_WORD = re.compile(r"[a-z0-9:.]+")


def rank(models: list[ModelInfo], query: str) -> list[ModelInfo]:
    """Order models by how many query words their id, modes, options and description contain."""
    words: list[str] = _WORD.findall(query.lower())
    synonyms = {"t2v": "text-to-video", "i2v": "image-to-video", "cheap": "free", "sound": "audio"}

    def score(m: ModelInfo) -> float:
        hay = " ".join(
            [m.id, m.media_type, " ".join(m.modes), m.description or "", m.price or "", repr(m.options)]
        ).lower()
        total = 0.0
        for word in words:
            term = synonyms.get(word, word)
            if term in hay:
                total += 2.0 if term in m.id.lower() else 1.0
        return total + (0.5 if m.enabled else 0.0)

    scored = [(score(m), i, m) for i, m in enumerate(models)]
    scored = [s for s in scored if s[0] > 0.5]
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [m for _, _, m in scored]


class Providers:
    """The adapters, created on first use (importing one costs start-up time), and model lookup across them."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self.active: dict[str, Provider] = {}

    def get(self, name: str) -> Provider:
        if name not in registry.PROVIDERS:
            raise InvalidArgument("model", f"unknown provider {name!r}; providers: {', '.join(registry.PROVIDERS)}")
        if not self.settings.enabled(name):
            env = registry.PROVIDERS[name].key_env
            raise AuthError(f"provider {name} is not enabled: set {env} in the server's environment", provider=name)
        if name not in self.active:
            self.active[name] = registry.create(self.settings.providers[name], self.client)
        return self.active[name]

    def bundled(self, name: str) -> list[ModelSpec]:
        if self.settings.enabled(name):
            return self.get(name).models()
        config = self.settings.providers[name]
        return registry.create(config, self.client).models()

    async def models(self, name: str) -> list[ModelSpec]:
        return await self.get(name).live_models() if self.settings.enabled(name) else self.bundled(name)

    async def resolve(self, model: str) -> ModelSpec:
        text = model.strip()
        if "/" in text:
            prefix, _, local = text.partition("/")
            self.get(prefix)
            specs = self.get(prefix).models()
            found = next((m for m in specs if m.id == local), None)
            if found is None:
                specs = await self.get(prefix).live_models()
                found = next((m for m in specs if m.id == local), None)
            if found is None:
                raise InvalidArgument("model", unknown_model(text, [m.full_id for m in specs]))
            return found
        enabled = [n for n in registry.PROVIDERS if self.settings.enabled(n)]
        candidates = [m for n in enabled for m in self.get(n).models() if m.id == text]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            ids = ", ".join(m.full_id for m in candidates)
            raise InvalidArgument("model", f"{text!r} is offered by several providers; use one of: {ids}")
        every = [m.full_id for n in enabled for m in self.get(n).models()]
        raise InvalidArgument("model", unknown_model(text, every))

    async def listing(
        self,
        provider: str | None = None,
        media_type: str | None = None,
        mode: str | None = None,
        query: str | None = None,
        limit: int = 50,
    ) -> ModelList:
        names = list(registry.PROVIDERS)
        if provider is not None:
            if provider not in registry.PROVIDERS:
                raise InvalidArgument("provider", f"unknown provider {provider!r}; providers: {', '.join(names)}")
            names = [provider]
        statuses: list[ProviderStatus] = []
        infos: list[ModelInfo] = []
        for name in names:
            specs = await self.models(name)
            enabled = self.settings.enabled(name)
            env = registry.PROVIDERS[name].key_env
            statuses.append(
                ProviderStatus(name=name, enabled=enabled, enable_with=None if enabled else env, models=len(specs))
            )
            for spec in specs:
                if media_type and spec.media_type != media_type:
                    continue
                if mode and mode not in spec.modes:
                    continue
                shape = describe(spec)
                infos.append(
                    ModelInfo(
                        id=spec.full_id,
                        provider=name,
                        media_type=spec.media_type,
                        mode=spec.modes[0],
                        modes=list(spec.modes),
                        required=shape["required"],
                        options=shape["options"],
                        price=spec.price,
                        description=spec.description or spec.name or None,
                        enabled=enabled,
                        enable_with=None if enabled else env,
                    )
                )
        if query:
            infos = rank(infos, query)
        else:
            infos.sort(key=lambda m: (not m.enabled, m.provider != "sandbox"))
        return ModelList(models=infos[:limit], total=len(infos), providers=statuses)

    async def aclose(self) -> None:
        for provider in self.active.values():
            await provider.aclose()
