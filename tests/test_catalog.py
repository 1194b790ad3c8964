"""The generic validator, checked against every model of every bundled catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from providers.base import GenerateRequest, MediaInput, ModelSpec, ParamSpec
from providers.catalog import describe, load_catalog, validate
from providers.errors import InvalidArgument

CATALOGS = sorted(p.stem for p in (Path(__file__).parent.parent / "providers" / "catalogs").glob("*.json"))
ALL = [m for name in CATALOGS for m in load_catalog(name)]
IMG = MediaInput(url="https://example.com/a.png")
VID = MediaInput(url="https://example.com/a.mp4")
AUD = MediaInput(url="https://example.com/a.mp3")
MEDIA = {"image_urls": IMG, "reference_image_urls": IMG, "reference_video_urls": VID, "reference_audio_urls": AUD}


def sample(param: ParamSpec) -> Any:
    """A valid unified value for this param."""
    if param.field == "video_url":
        return VID
    if param.values:
        value = param.default if param.default in param.values else param.values[0]
        if param.field == "duration" and isinstance(value, str):
            return float(value.rstrip("s"))
        return value
    if param.default is not None:
        return param.default
    return {
        "string": "x",
        "integer": int(param.min or 1),
        "number": param.min or 1,
        "boolean": True,
        "array": ["x"],
        "object": {},
    }.get(param.type, "x")


def minimal_request(model: ModelSpec) -> GenerateRequest:
    """Only what the model requires (plus one branch of each one_of group)."""
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    lists: dict[str, list[MediaInput]] = {}
    needed = set(model.required_params()) | {group[0] for group in model.one_of}
    for wire in needed:
        param = model.params[wire]
        field = param.field
        if field is None:
            extra[wire] = sample(param)
        elif field.split("[")[0] in MEDIA:
            base = field.split("[")[0]
            count = int(field.split("[")[1].rstrip("]")) + 1 if "[" in field else 1
            lists[base] = [MEDIA[base]] * max(count, len(lists.get(base, [])))
        elif field == "prompt":
            fields["prompt"] = "a lighthouse at dusk"
        else:
            fields[field] = sample(param)
    return GenerateRequest(**fields, **{k: tuple(v) for k, v in lists.items()}, extra=extra)


def test_every_catalog_is_loaded() -> None:
    assert "sandbox" in CATALOGS and ALL


@pytest.mark.parametrize("model", ALL, ids=lambda m: m.full_id)
def test_every_model_accepts_a_minimal_request_with_its_required_inputs(model: ModelSpec) -> None:
    wire = validate(model, minimal_request(model))
    for name in model.required_params():
        assert name in wire


@pytest.mark.parametrize("model", [m for m in ALL if m.strict], ids=lambda m: m.full_id)
def test_every_strict_model_refuses_a_value_outside_each_allowed_set_naming_the_field(model: ModelSpec) -> None:
    base = minimal_request(model)
    for param in model.params.values():
        if not param.values or param.field in (None, "prompt") or "[" in (param.field or ""):
            continue
        bad: Any = 9999 if param.type in ("integer", "number") or param.field == "duration" else "not-a-value"
        if param.type == "boolean":
            continue
        request = _with(base, param.field, bad)
        with pytest.raises(InvalidArgument) as info:
            validate(model, request)
        assert info.value.field == param.field and "allowed" in info.value.message


def _with(request: GenerateRequest, field: str, value: Any) -> GenerateRequest:
    data = {name: getattr(request, name) for name in request.__dataclass_fields__}
    data[field] = value
    return GenerateRequest(**data)


@pytest.mark.parametrize("model", [m for m in ALL if m.strict], ids=lambda m: m.full_id)
def test_every_strict_model_refuses_an_unknown_extra_key(model: ModelSpec) -> None:
    request = _with(minimal_request(model), "extra", {"definitely_not_a_param": 1})
    with pytest.raises(InvalidArgument) as info:
        validate(model, request)
    assert info.value.field == "extra.definitely_not_a_param"


@pytest.mark.parametrize("model", [m for m in ALL if m.strict and m.required_params()], ids=lambda m: m.full_id)
def test_every_strict_model_names_a_missing_required_input(model: ModelSpec) -> None:
    required = model.required_params()[0]
    request = minimal_request(model)
    param = model.params[required]
    field = param.field or f"extra.{required}"
    base = field.split("[")[0]
    if param.field is None:
        request = _with(request, "extra", {k: v for k, v in request.extra.items() if k != required})
    elif base in MEDIA:
        request = _with(request, base, ())
    else:
        request = _with(request, base, None)
    with pytest.raises(InvalidArgument) as info:
        validate(model, request)
    assert info.value.field.split("[")[0] == field.split("[")[0]


@pytest.mark.parametrize("model", ALL, ids=lambda m: m.full_id)
def test_every_model_is_described_in_unified_terms(model: ModelSpec) -> None:
    shape = describe(model)
    json.dumps(shape)
    for name in shape["options"]:
        assert name.startswith("extra.") or name.split("[")[0] in GenerateRequest.__dataclass_fields__


SPEC = ModelSpec(
    id="m",
    provider="p",
    media_type="video",
    modes=["text-to-video"],
    params={
        "prompt": ParamSpec(type="string", required=True, field="prompt"),
        "duration": ParamSpec(type="string", values=["4s", "6s", "8s"], default="8s", field="duration"),
        "frames": ParamSpec(type="integer", min=1, max=10, field=None),
        "first": ParamSpec(field="image_urls[0]"),
        "last": ParamSpec(field="image_urls[1]"),
        "generate_audio": ParamSpec(type="boolean", field="audio"),
    },
)


def test_a_number_duration_becomes_the_string_form_the_model_lists() -> None:
    wire = validate(SPEC, GenerateRequest(prompt="p", duration=8))
    assert wire == {"prompt": "p", "duration": "8s"}


def test_a_duration_outside_the_set_is_refused_with_the_allowed_numbers() -> None:
    with pytest.raises(InvalidArgument) as info:
        validate(SPEC, GenerateRequest(prompt="p", duration=7))
    assert info.value.field == "duration" and "allowed: 4, 6, 8" in info.value.message


def test_image_urls_fill_the_first_and_last_frame_params_in_order() -> None:
    a, b = MediaInput(url="https://x/a.png"), MediaInput(url="https://x/b.png")
    wire = validate(SPEC, GenerateRequest(prompt="p", image_urls=(a, b)))
    assert wire["first"] is a and wire["last"] is b
    with pytest.raises(InvalidArgument, match="at most 2"):
        validate(SPEC, GenerateRequest(prompt="p", image_urls=(a, b, a)))


def test_audio_maps_to_the_wire_name_and_must_be_boolean() -> None:
    assert validate(SPEC, GenerateRequest(prompt="p", audio=True))["generate_audio"] is True


def test_extra_values_are_typed_and_range_checked() -> None:
    assert validate(SPEC, GenerateRequest(prompt="p", extra={"frames": 5.0}))["frames"] == 5
    with pytest.raises(InvalidArgument, match="extra.frames"):
        validate(SPEC, GenerateRequest(prompt="p", extra={"frames": 11}))
    with pytest.raises(InvalidArgument, match="whole number"):
        validate(SPEC, GenerateRequest(prompt="p", extra={"frames": "five"}))


def test_a_blank_prompt_counts_as_missing() -> None:
    with pytest.raises(InvalidArgument) as info:
        validate(SPEC, GenerateRequest(prompt="   "))
    assert info.value.field == "prompt"


def test_an_argument_the_model_does_not_take_is_refused_never_dropped() -> None:
    with pytest.raises(InvalidArgument) as info:
        validate(SPEC, GenerateRequest(prompt="p", aspect_ratio="16:9"))
    assert info.value.field == "aspect_ratio" and "it accepts" in info.value.message
