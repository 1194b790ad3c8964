"""The one place that reads the environment."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from providers.base import ProviderConfig
from providers.registry import PROVIDERS

log = logging.getLogger("mediagen")

APP_NAME = "mediagen-mcp"


def _user_data_dir() -> Path:
    # platformdirs would be a dependency for three lines; this follows the same conventions.
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif os.uname().sysname == "Darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_NAME


def origin(value: str, name: str) -> str:
    """`scheme://host[:port]`; a path someone added is dropped with a warning (the adapters append the paths)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an origin such as https://example.com, got {value!r}")
    if parts.path.strip("/"):
        log.warning("%s: ignoring the path %r; the adapter appends the documented paths", name, parts.path)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Settings:
    providers: dict[str, ProviderConfig]
    output_dir: Path
    data_dir: Path
    allowed_dirs: tuple[Path, ...]
    max_upload_bytes: int = 20 * 1024 * 1024
    allow_private_urls: bool = False
    http_token: str | None = None
    sandbox_delay: float = 2.0
    db_path: Path = Path("tasks.db")
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def enabled(self, provider: str) -> bool:
        config = self.providers.get(provider)
        return config is not None and (provider == "sandbox" or config.api_key is not None)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = _user_data_dir()
        output_dir = Path(env.get("MEDIAGEN_OUTPUT_DIR") or data_dir / "outputs").expanduser().resolve()
        allowed_raw = env.get("MEDIAGEN_ALLOWED_DIRS", "")
        allowed = [Path(p).expanduser() for p in allowed_raw.split(os.pathsep) if p.strip()]
        if not allowed:
            allowed = [Path.cwd(), output_dir]
        max_mb = float(env.get("MEDIAGEN_MAX_UPLOAD_MB") or 20)
        delay = float(env.get("MEDIAGEN_SANDBOX_DELAY") or 2)
        token = (env.get("MEDIAGEN_HTTP_TOKEN") or "").strip() or None
        configs: dict[str, ProviderConfig] = {}
        secrets: list[str] = [token] if token else []
        for info in PROVIDERS.values():
            key = None
            base = info.default_base_url
            if info.key_env:
                key = (env.get(info.key_env) or "").strip() or None
                if key:
                    secrets.append(key)
            if info.base_url_env and env.get(info.base_url_env):
                base = origin(env[info.base_url_env], info.base_url_env)
            configs[info.name] = ProviderConfig(
                name=info.name,
                api_key=key,
                base_url=base,
                output_dir=str(output_dir),
                sandbox_delay=max(0.0, delay),
            )
        return cls(
            providers=configs,
            output_dir=output_dir,
            data_dir=data_dir,
            allowed_dirs=tuple(allowed),
            max_upload_bytes=int(max_mb * 1024 * 1024),
            allow_private_urls=env.get("MEDIAGEN_ALLOW_PRIVATE_URLS", "") == "1",
            http_token=token,
            sandbox_delay=max(0.0, delay),
            db_path=Path(env.get("MEDIAGEN_DB") or data_dir / "tasks.db").expanduser(),
            secrets=tuple(secrets),
        )
