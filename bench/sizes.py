"""How big each benchmark is: the issue's sizes, and `--quick` ones small enough for a smoke test."""

from __future__ import annotations

from dataclasses import dataclass, replace

MODEL = "uniall/viduq3p-540p"  # a bundled UniAll model: resolving it asks the provider nothing
NATIVE_MODEL = MODEL.split("/", 1)[1]
PROMPT = "a red fox running through snow"
UNIALL_POLL_GUIDANCE = 5.0  # seconds between polls that UniAll asks for


@dataclass(frozen=True)
class Sizes:
    runs: int = 5
    calls: int = 200  # get_task round trips per run (and as many of each floor call)
    concurrent: int = 500  # generate calls at once
    latency: float = 0.2  # seconds the fake provider takes to answer, for the concurrency benchmark
    cycles: int = 10_000  # generate + get_task cycles for the memory soak
    baseline_cycles: int = 100  # the soak's floor: RSS after this many cycles
    png_bytes: int = 20_000_000  # the local PNG to inline (the upload cap is 20 MiB)
    done_after: float = 30.0  # seconds until the polled task finishes
    wait_seconds: float = 45.0  # the get_task wait that should see it finish


FULL = Sizes()
QUICK = Sizes(
    runs=2, calls=10, concurrent=40, cycles=300, baseline_cycles=100, png_bytes=1_000_000, done_after=1, wait_seconds=6
)


def sizes(quick: bool, runs: int | None) -> Sizes:
    chosen = QUICK if quick else FULL
    return replace(chosen, runs=runs) if runs else chosen
