"""Saving finished results into the output folder, safely.

https only; every hop's host must resolve to public addresses (no loopback, private or link-local) unless
MEDIAGEN_ALLOW_PRIVATE_URLS=1; a size cap; the bytes must be the media the task promised; written atomically
under a name that says provider, model and task, never outside the output folder.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urljoin, urlsplit

import anyio
import httpx

from providers.base import Task
from providers.errors import MediagenError
from providers.sniff import EXTENSIONS, sniff_media

log = logging.getLogger("mediagen")
MAX_DOWNLOAD = 512 * 1024 * 1024
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class DownloadRefused(MediagenError):
    code = "download_refused"


def stem_for(task: Task) -> str:
    model = (task.model or task.provider).split("/", 1)[-1]
    return _SAFE.sub("_", f"{task.provider}-{model}-{task.native_id}")[:180]


def saved_files(output_dir: Path, task: Task) -> list[str]:
    """Results of this task already on disk (from an earlier call or an earlier run)."""
    native = _SAFE.sub("_", task.native_id)
    if not output_dir.is_dir():
        return []
    found = [
        p
        for p in output_dir.iterdir()
        if p.is_file()
        and not p.name.startswith(".")
        and p.stem.startswith(f"{task.provider}-")
        and (p.stem.endswith(native) or re.search(re.escape(native) + r"-\d+$", p.stem))
    ]
    return [str(p) for p in sorted(found)]


async def check_public(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise DownloadRefused(f"refused to download {parts.scheme}:// result URL (https only)")
    host = parts.hostname
    if not host:
        raise DownloadRefused("the result URL has no host")
    if allow_private:
        return
    try:
        infos = await anyio.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DownloadRefused(f"cannot resolve {host}", retryable=True) from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            raise DownloadRefused(f"refused to download from {host}: it resolves to a non-public address")


class Downloader:
    def __init__(
        self, client: httpx.AsyncClient, output_dir: Path, *, allow_private: bool, max_bytes: int = MAX_DOWNLOAD
    ) -> None:
        self.client = client
        self.output_dir = output_dir
        self.allow_private = allow_private
        self.max_bytes = max_bytes

    async def save(self, task: Task) -> list[str]:
        """Download every result URL of a completed task (reusing files already saved)."""
        existing = saved_files(self.output_dir, task)
        if existing:
            return existing
        urls = list(task.result.urls) if task.result else []
        if task.result and task.result.url and task.result.url not in urls:
            urls.insert(0, task.result.url)
        urls = [u for u in urls if not u.startswith("file:")]
        stem = stem_for(task)
        files: list[str] = []
        for i, url in enumerate(urls):
            name = stem if len(urls) == 1 else f"{stem}-{i + 1}"
            files.append(await self._fetch(url, name, task.result.media_type if task.result else None))
        return files

    async def _fetch(self, url: str, name: str, media_type: str | None) -> str:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(6):
            await check_public(url, self.allow_private)
            async with self.client.stream("GET", url, follow_redirects=False) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if not response.is_success:
                    raise DownloadRefused(f"the result URL answered HTTP {response.status_code}", retryable=True)
                return await self._write(response, name, media_type)
        raise DownloadRefused("too many redirects")

    async def _write(self, response: httpx.Response, name: str, media_type: str | None) -> str:
        fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=self.output_dir)
        tmp = Path(tmp_name)
        try:
            size = 0
            head = b""
            with os.fdopen(fd, "wb") as out:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise DownloadRefused(f"the result is larger than {self.max_bytes // (1024 * 1024)} MB")
                    if len(head) < 16:
                        head = (head + chunk)[:16]
                    out.write(chunk)
            mime = sniff_media(head)
            if mime is None or (media_type and not mime.startswith(media_type)):
                raise DownloadRefused(f"the result is not the promised {media_type or 'image or video'}")
            final = self.output_dir / f"{name}.{EXTENSIONS[mime]}"
            os.replace(tmp, final)
            return str(final)
        finally:
            tmp.unlink(missing_ok=True)


@dataclass
class DownloadJob:
    """One background download; the calls that want its files wait on `done`."""

    done: anyio.Event = field(default_factory=anyio.Event)
    files: list[str] = field(default_factory=lambda: [])
    error: MediagenError | None = None

    async def run(self, downloader: Downloader, task: Task) -> None:
        try:
            self.files = await downloader.save(task)
        except MediagenError as exc:
            log.warning("could not save %s: %s", task.task_id, exc.message)
            self.error = exc
        except (httpx.HTTPError, OSError) as exc:
            log.warning("could not save %s: %s", task.task_id, type(exc).__name__)
            self.error = MediagenError(f"download failed: {type(exc).__name__}", retryable=True)
        finally:
            self.done.set()


def media_of(path: str) -> Literal["image", "video"]:
    return "video" if path.rsplit(".", 1)[-1].lower() in ("mp4", "mov", "webm") else "image"
