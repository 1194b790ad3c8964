"""The known providers. Adding one: a module with `create(config, client)`, a catalog file, a test file, a line here."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import Provider, ProviderConfig

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    name: str
    default_base_url: str
    needs_key: bool = True

    @property
    def key_env(self) -> str | None:
        return f"{self.name.upper()}_API_KEY" if self.needs_key else None

    @property
    def base_url_env(self) -> str | None:
        return f"{self.name.upper()}_BASE_URL" if self.needs_key else None


PROVIDERS: dict[str, ProviderInfo] = {
    p.name: p
    for p in (
        ProviderInfo("sandbox", "", needs_key=False),
        ProviderInfo("vicsee", "https://vicsee.com"),
        ProviderInfo("nanogpt", "https://nano-gpt.com"),
        ProviderInfo("mountsea", "https://api.mountsea.ai"),
        ProviderInfo("uniall", "https://api.uniall.ai"),
    )
}


def create(config: ProviderConfig, client: httpx.AsyncClient) -> Provider:
    """Import the adapter module only when it is first needed (keeps start-up fast)."""
    module = importlib.import_module(f"providers.{config.name}")
    return module.create(config, client)
