"""`python -m bench [--quick] [--runs N] [--json PATH] [--only NAME ...]`: run the benchmarks, print one table."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from bench import inline, load, polls, roundtrip, soak, startup
from bench.report import Row, machine, table, write_json
from bench.sizes import Sizes, sizes

Benchmark = Callable[[Sizes, Path], Awaitable[list[Row]]]
LIMIT_SECONDS = 900  # no benchmark may take longer than this (a hung server fails the run instead of stalling it)
BENCHMARKS: dict[str, Benchmark] = {
    "startup": startup.run,
    "roundtrip": roundtrip.run,
    "load": load.run,
    "soak": soak.run,
    "inline": inline.run,
    "polls": polls.run,
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="Benchmarks of mediagen-mcp against their floors.")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run; the numbers mean little)")
    p.add_argument("--runs", type=int, help="runs of each compared command (default 5, --quick 2)")
    p.add_argument("--json", type=Path, help="also write the results (every run) to this JSON file")
    p.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    return p


async def run_all(names: list[str], chosen: Sizes, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        start = time.perf_counter()
        folder = workdir / name
        folder.mkdir()
        with anyio.fail_after(LIMIT_SECONDS):
            rows += await BENCHMARKS[name](chosen, folder)
        print(f"bench: {name} done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    chosen = sizes(args.quick, args.runs)
    names = args.only or list(BENCHMARKS)
    meta = {**machine(), "quick": args.quick, "sizes": vars(chosen)}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mediagen-bench-") as tmp:
        rows = anyio.run(run_all, names, chosen, Path(tmp))
    meta["seconds"] = round(time.perf_counter() - start, 1)
    meta["load_average_after"] = machine()["load_average"]
    print(table(rows))
    if args.json:
        write_json(args.json, rows, meta)
