"""A smoke run of the benchmark harness (`python -m bench --quick`), so it never rots. No timing is asserted."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from tests.support import PROJECT_ROOT

BENCHMARKS = (
    "start-up",
    "idle memory",
    "get_task round trip (in-flight task), stdio",
    "get_task round trip (in-flight task), streamable HTTP",
    "concurrent generate",
    "generate + get_task cycles",
    "local PNG: time",
    "local PNG: peak extra memory",
    "provider polls",
)


def test_the_quick_run_measures_every_benchmark_and_writes_the_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--runs", "2", "--json", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == len(BENCHMARKS)
    for row, name in zip(rows, BENCHMARKS, strict=True):
        assert name in row["name"]
        assert row["values"] and all(math.isfinite(v) and v > 0 for v in row["values"])
        assert all(math.isfinite(v) and v > 0 for v in row["floor"])
    assert all(len(row["values"]) == 2 for row in rows[:5] + rows[6:7])  # --runs 2 for the compared commands
    load, polls = rows[4], rows[8]
    assert load["details"]["errors"] == [0, 0] and load["details"]["distinct_ids"] == [40, 40]
    assert polls["details"]["status"] == "completed"
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(BENCHMARKS) and "ratio" in table[0]
