"""Rows of results, the markdown table, and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One benchmark: its runs, its floor's runs (paired, same order), and whether the target is met."""

    name: str
    unit: str
    values: list[float]
    floor: list[float] = field(default_factory=lambda: [])
    target: str = ""
    met: bool = False
    note: str = ""
    details: dict[str, Any] = field(default_factory=lambda: {})  # machine-readable extras, JSON only

    @property
    def ratio(self) -> float | None:
        """The median of the per-run ratios (value / floor of the same run), or of the medians when unpaired."""
        if not self.values or not self.floor:
            return None
        if len(self.values) == len(self.floor):
            return statistics.median(v / f for v, f in zip(self.values, self.floor, strict=True))
        return statistics.median(self.values) / statistics.median(self.floor)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(summary(self.values), ratio=self.ratio)
        data["floor_median"] = statistics.median(self.floor) if self.floor else None
        return data


def ratio_row(name: str, unit: str, values: list[float], floor: list[float], limit: float, note: str = "") -> Row:
    """A row whose target is `ratio <= limit`."""
    row = Row(name, unit, values, floor, target=f"ratio <= {limit:g}", note=note)
    row.met = row.ratio is not None and row.ratio <= limit
    return row


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) >= 0.01 else f"{value:.2g}"


def table(rows: list[Row]) -> str:
    head = "| benchmark | unit | median | min | max | floor median | ratio | target | met | notes |"
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        s = summary(row.values)
        floor = statistics.median(row.floor) if row.floor else None
        ratio = row.ratio
        cells = [
            row.name,
            row.unit,
            _num(s["median"]),
            _num(s["min"]),
            _num(s["max"]),
            _num(floor),
            "-" if ratio is None else f"{ratio:.2f}",
            row.target,
            "yes" if row.met else "**no**",
            row.note,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in load],
        "git": _git("rev-parse", "--short", "HEAD"),
        "git_changed_files": len(_git("status", "--porcelain").splitlines()),
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def write_json(path: Path, rows: list[Row], meta: dict[str, Any]) -> None:
    path.write_text(json.dumps({"meta": meta, "rows": [r.as_json() for r in rows]}, indent=2) + "\n")
