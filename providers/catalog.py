"""Catalogs as data, and the one generic validator that turns unified arguments into a model's wire params."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any, cast

from .base import GenerateRequest, MediaInput, ModelSpec, ParamSpec
from .errors import InvalidArgument

_INDEXED = re.compile(r"^(\w+)\[(\d+)\]$")
_LIST_FIELDS = ("image_urls", "reference_image_urls", "reference_video_urls", "reference_audio_urls")


@cache
def load_catalog(provider: str) -> tuple[ModelSpec, ...]:
    """The bundled catalog `catalogs/<provider>.json`: a list of models (or `{"models": [...]}`)."""
    text = resources.files(__package__ or "providers").joinpath("catalogs", f"{provider}.json").read_text("utf-8")
    raw: Any = json.loads(text)
    items = cast("list[dict[str, Any]]", raw["models"] if isinstance(raw, dict) else raw)
    return tuple(ModelSpec.model_validate({"provider": provider, **item}) for item in items)


def _fmt(values: list[Any]) -> str:
    return ", ".join(json.dumps(v) if not isinstance(v, str) else v for v in values)


def display_value(param: ParamSpec, value: Any) -> Any:
    """A wire value as the agent writes it: duration "8s" or "8" is shown as the number 8."""
    if param.field == "duration" and isinstance(value, str):
        text = value[:-1] if value.endswith("s") else value
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    return value


def _coerce(name: str, param: ParamSpec, value: Any) -> Any:
    """Convert a JSON value to the wire type the model demands, or raise naming `name`."""
    kind = param.type
    if _is_media(value) or kind == "any":
        return value  # media is serialized by the adapter
    number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "string":
        if isinstance(value, str):
            return value
        if number is not None:
            text = str(int(number)) if number.is_integer() else str(number)
            if param.values and all(isinstance(v, str) and v.endswith("s") for v in param.values):
                text += "s"
            return text
        raise InvalidArgument(name, f"must be a string, got {json.dumps(value)}")
    if kind == "integer":
        if number is not None and number.is_integer():
            return int(number)
        raise InvalidArgument(name, f"must be a whole number, got {json.dumps(value)}")
    if kind == "number":
        if number is not None:
            return value
        raise InvalidArgument(name, f"must be a number, got {json.dumps(value)}")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise InvalidArgument(name, f"must be true or false, got {json.dumps(value)}")
    if kind == "array":
        if isinstance(value, list | tuple):
            return list(cast("list[Any]", value))
        raise InvalidArgument(name, f"must be a list, got {json.dumps(value)}")
    if isinstance(value, dict):
        return cast("dict[str, Any]", value)
    raise InvalidArgument(name, f"must be an object, got {json.dumps(value)}")


def _is_media(value: Any) -> bool:
    if isinstance(value, MediaInput):
        return True
    if not isinstance(value, list):
        return False
    items = cast("list[Any]", value)
    return bool(items) and isinstance(items[0], MediaInput)


def _check(name: str, param: ParamSpec, value: Any, model: ModelSpec) -> None:
    if param.values is not None and value not in param.values:
        shown = [display_value(param, v) for v in param.values]
        raise InvalidArgument(
            name,
            f"{json.dumps(display_value(param, value))} is not allowed for {model.full_id}; allowed: {_fmt(shown)}",
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        if param.min is not None and value < param.min:
            raise InvalidArgument(name, f"{value} is below the minimum {param.min:g} for {model.full_id}")
        if param.max is not None and value > param.max:
            raise InvalidArgument(name, f"{value} is above the maximum {param.max:g} for {model.full_id}")
    if isinstance(value, list) and param.max_items is not None and len(value) > param.max_items:  # pyright: ignore[reportUnknownArgumentType]
        raise InvalidArgument(name, f"{model.full_id} takes at most {param.max_items} item(s)")


def accepted_fields(model: ModelSpec) -> list[str]:
    """The unified argument names (with indexes) this model accepts, for error messages and listings."""
    fields = ["prompt"] if "prompt" in model.params and model.params["prompt"].field == "prompt" else []
    fields += [p.field for p in model.params.values() if p.field and p.field != "prompt"]
    return fields


def _field_for(model: ModelSpec, wire: str) -> str:
    param = model.params.get(wire)
    return param.field if param and param.field else f"extra.{wire}"


def validate(model: ModelSpec, request: GenerateRequest) -> dict[str, Any]:
    """Check `request` against `model` and return its wire params (media left as `MediaInput` for the adapter).

    Raises `InvalidArgument` naming the unified field (or `extra.<name>`) and what is allowed.
    """
    by_field: dict[str, str] = {p.field: wire for wire, p in model.params.items() if p.field}
    wire: dict[str, Any] = {}

    for key, value in request.extra.items():
        param = model.params.get(key)
        name = f"extra.{key}"
        if param is None:
            if model.strict:
                extras = sorted(w for w, p in model.params.items() if not p.field)
                allowed = f"accepted extra keys: {', '.join(extras)}" if extras else "it takes no extra parameters"
                raise InvalidArgument(name, f"not accepted by {model.full_id}; {allowed}")
            wire[key] = value
            continue
        coerced = _coerce(name, param, value)
        if model.strict:
            _check(name, param, coerced, model)
        wire[key] = coerced

    for fname, value in request.given().items():
        if fname == "prompt" and isinstance(value, str) and not value.strip():
            continue  # a blank prompt counts as missing
        if fname in _LIST_FIELDS:
            items = cast("tuple[MediaInput, ...]", value)
            if fname in by_field:
                target = by_field[fname]
                param = model.params[target]
                values = list(items)
                if param.type == "string":
                    if len(values) > 1:
                        raise InvalidArgument(fname, f"{model.full_id} takes one item here")
                    wire[target] = values[0]
                    continue
                _check(fname, param, values, model)
                wire[target] = values
                continue
            slots = [i for i in range(len(items)) if f"{fname}[{i}]" in by_field]
            if not any(f"{fname}[0]" == f for f in by_field) or len(slots) < len(items):
                taken = sum(1 for f in by_field if f.startswith(f"{fname}["))
                if taken == 0:
                    raise InvalidArgument(fname, _not_accepted(model))
                raise InvalidArgument(fname, f"{model.full_id} takes at most {taken} item(s) here")
            for i, item in enumerate(items):
                wire[by_field[f"{fname}[{i}]"]] = item
            continue
        if fname not in by_field:
            raise InvalidArgument(fname, _not_accepted(model))
        target = by_field[fname]
        param = model.params[target]
        coerced = _coerce(fname, param, value)
        if model.strict:
            _check(fname, param, coerced, model)
        wire[target] = coerced

    for name, param in model.params.items():
        if param.required and name not in wire:
            field = _field_for(model, name)
            raise InvalidArgument(field, f"required by {model.full_id}")
    for group in model.one_of:
        present = [g for g in group if g in wire]
        if len(present) != 1:
            names = " or ".join(_field_for(model, g) for g in group)
            raise InvalidArgument(_field_for(model, group[0]), f"{model.full_id} needs exactly one of {names}")
    for group in model.exclusive:
        present = [g for g in group if g in wire]
        if len(present) > 1:
            names = " and ".join(_field_for(model, g) for g in present)
            raise InvalidArgument(_field_for(model, present[1]), f"{names} cannot be combined on {model.full_id}")
    return wire


def _not_accepted(model: ModelSpec) -> str:
    return f"not accepted by {model.full_id}; it accepts: {', '.join(accepted_fields(model)) or 'prompt only'}"


def describe(model: ModelSpec) -> dict[str, Any]:
    """The model as `list_models` shows it: options under the names the agent passes."""
    options: dict[str, dict[str, Any]] = {}
    required: list[str] = []
    for wire, param in model.params.items():
        name = param.field or f"extra.{wire}"
        if param.required:
            required.append(name)
        if name == "prompt":
            continue
        entry: dict[str, Any] = {"type": "number" if param.field == "duration" else param.type}
        if param.values is not None:
            entry["values"] = [display_value(param, v) for v in param.values]
        if param.min is not None:
            entry["min"] = param.min
        if param.max is not None:
            entry["max"] = param.max
        if param.max_items is not None:
            entry["max_items"] = param.max_items
        if param.default is not None:
            entry["default"] = display_value(param, param.default)
        if param.description:
            entry["description"] = param.description
        options[name] = entry
    for group in model.one_of:
        required.append(" or ".join(_field_for(model, g) for g in group))
    return {"options": options, "required": required}
