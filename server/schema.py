"""Trim the JSON schemas the SDK generates: every agent pays for `tools/list` in every conversation.

Pydantic adds a `title` to every property and spells optional fields as `anyOf: [T, null]` with `default: null`.
Inputs: optional fields are simply not required, so the null branch and null default go. Outputs: nullable
fields become `type: [T, "null"]`. Meaning is unchanged; the server still validates with the full model.
"""

from __future__ import annotations

from typing import Any, cast


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema == {"type": "null"}


def compact(schema: Any, *, output: bool, in_properties: bool = False) -> Any:
    if isinstance(schema, list):
        return [compact(s, output=output) for s in schema]  # pyright: ignore[reportUnknownVariableType]
    if not isinstance(schema, dict):
        return schema
    node: dict[str, Any] = dict(schema)  # pyright: ignore[reportUnknownArgumentType]
    if in_properties:
        return {k: compact(v, output=output) for k, v in node.items()}
    node.pop("title", None)
    if output:
        node.pop("description", None) if "properties" in node else None
    any_of = node.get("anyOf")
    branches = cast("list[dict[str, Any]]", any_of) if isinstance(any_of, list) else []
    if len(branches) == 2 and any(_is_null(s) for s in branches):
        other = next(s for s in branches if not _is_null(s))
        del node["anyOf"]
        if node.get("default", 0) is None:
            del node["default"]
        if output:
            if isinstance(other.get("type"), str):
                node.update(other)
                node["type"] = [other["type"], "null"]
            else:
                node["anyOf"] = [other, {"type": "null"}]
        else:
            node.update(other)
    if output:
        node.pop("default", None)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs"):
            out[key] = compact(value, output=output, in_properties=True)
        else:
            out[key] = compact(value, output=output)
    return out
