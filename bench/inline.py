"""Inlining a large local PNG: `InputPolicy.image` (resolve, check, read, sniff) then `MediaInput.wire()` (data URI).

Floor: `base64.b64encode` of the same bytes read in one go. Time, A then B run after run; then the peak memory each
allocates on top of what was there before (tracemalloc), once each.
"""

from __future__ import annotations

import base64
import random
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import Row, ratio_row
from bench.sizes import Sizes

TIME_LIMIT = 1.5
REPEATS = 5  # calls timed per run
MEMORY_LIMIT = 3.0
CAP = 20 * 1024 * 1024  # the server's default MEDIAGEN_MAX_UPLOAD_MB
WIDTH = 2048


def write_png(path: Path, size: int) -> int:
    """A valid RGB PNG of noise, stored uncompressed so the file is about `size` bytes; returns its size."""
    row = 1 + 3 * WIDTH
    height = max(1, (size - 100) * 65535 // (65540 * row))
    noise = random.Random(9).randbytes(3 * WIDTH * height)
    raw = b"".join(b"\x00" + noise[y * 3 * WIDTH : (y + 1) * 3 * WIDTH] for y in range(height))
    header = struct.pack(">IIBBBBB", WIDTH, height, 8, 2, 0, 0, 0)
    chunks = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 0)) + _chunk(b"IEND", b"")
    data = b"\x89PNG\r\n\x1a\n" + chunks
    path.write_bytes(data)
    return len(data)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def timed(call: Callable[[], Any]) -> float:
    """The mean wall time of REPEATS calls, each result dropped before the next call."""
    start = time.perf_counter()
    for _ in range(REPEATS):
        call()
    return (time.perf_counter() - start) / REPEATS


def peak_extra(call: Callable[[], Any]) -> int:
    """Bytes allocated at the peak of `call` beyond what was allocated before it (its result held to the end)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = call()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        tracemalloc.stop()
    return peak - before


async def run(sizes: Sizes, workdir: Path) -> list[Row]:
    from server.files import InputPolicy

    inputs = workdir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    path = inputs / "large.png"
    size = write_png(path, sizes.png_bytes)
    policy = InputPolicy([inputs], CAP)

    def server() -> str:
        return policy.image("image_urls[0]", str(path)).wire()

    def floor() -> bytes:
        return base64.b64encode(path.read_bytes())

    for warm_up in (server, floor):  # the page cache holds the file for both
        warm_up()
    a: list[float] = []
    b: list[float] = []
    for _ in range(sizes.runs):  # A B A B ...
        a.append(timed(server) * 1000)
        b.append(timed(floor) * 1000)
    mb = size / 1e6
    server_peak = peak_extra(server) / 1e6
    floor_peak = peak_extra(floor) / 1e6
    return [
        ratio_row(
            f"inline a {mb:.0f} MB local PNG: time",
            "ms",
            a,
            b,
            TIME_LIMIT,
            note=f"mean of {REPEATS} calls per run; floor = read + b64encode",
        ),
        Row(
            f"inline a {mb:.0f} MB local PNG: peak extra memory (tracemalloc)",
            "MB",
            [server_peak],
            [mb],
            target=f"<= {MEMORY_LIMIT:g}x the file",
            met=server_peak <= MEMORY_LIMIT * mb,
            note=f"floor = the file size; read + b64encode peaks at {floor_peak:.1f} MB "
            f"({floor_peak / mb:.2f}x the file)",
            details={"file_bytes": size, "floor_peak_mb": floor_peak},
        ),
    ]
