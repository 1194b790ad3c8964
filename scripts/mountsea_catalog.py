"""Build `providers/catalogs/mountsea.json` from seed 004 (the Mountsea Hub video model reference).

Usage: python scripts/mountsea_catalog.py SEED OUT

The 25 video models are parsed mechanically from the seed's per-model tables
(`| Parameter | Type | Req | Default | Values / Range | Description |`): wire types, required marks, typed defaults
and enumerated values are taken as written. What the tables cannot say is added by the small tables below: which
unified `generate` argument feeds each wire param (PROVIDER_FACTS.md §4.7), and the 8 image models of §4.5, whose
parameters were documented only for `nano-banana`.
The output is deterministic: models in seed order, then the image models; params in the seed's row order.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

# The seed's tab titles (zh) -> our mode names.
TAB_MODES: dict[str, str] = {
    "文生视频": "text-to-video",
    "图生视频": "image-to-video",
    "参考图生视频": "reference-to-video",
    "首尾帧": "first-last-frame",
    "视频编辑": "video-edit",
}

# Wire param -> the unified generate argument that feeds it (PROVIDER_FACTS.md §4.7). Anything not listed is
# settable only through `extra` under its wire name.
FIELD_MAP: dict[str, str] = {
    "prompt": "prompt",
    "duration": "duration",
    "aspect_ratio": "aspect_ratio",
    "resolution": "resolution",
    "seed": "seed",
    "negative_prompt": "negative_prompt",
    "audio_setting": "audio_setting",
    "video_url": "video_url",
    "generate_audio": "audio",
    "image_url": "image_urls[0]",  # Veo / Seedance / WAN image-to-video: the first frame
    "start_image_url": "image_urls[0]",  # Kling
    "end_image_url": "image_urls[1]",
    "first_frame_url": "image_urls[0]",  # Veo first-last
    "last_frame_url": "image_urls[1]",
    "image_urls": "reference_image_urls",  # Veo ref, Seedance ref
    "video_urls": "reference_video_urls",  # Seedance ref
    "audio_urls": "reference_audio_urls",  # Seedance ref
    "reference_image_urls": "reference_image_urls",  # WAN ref
    "reference_video_urls": "reference_video_urls",  # WAN ref
    "reference_image_url": "reference_image_urls",  # WAN edit: one image, sent as a string
}

# Rules the tables only state in prose, added by hand: PROVIDER_FACTS.md §4.8 row 16 says `wan-2.7-image` needs
# `image_url` or `video_url` (none is marked required); the seed says they cannot be combined (parsed below).
EXTRA_ONE_OF: dict[str, list[list[str]]] = {"wan-2.7-image": [["image_url", "video_url"]]}

_ACCORDION = re.compile(r'<Accordion title="(?P<id>[^"\s]+)\s+—\s+(?P<name>[^"]+)"')
_TAB = re.compile(r'<Tab title="(?P<title>[^"·]+?)\s*·\s*\d+"')
_ROW = re.compile(r"^\s*\|\s*`(?P<name>[^`]+)`\s*\|(?P<rest>.*)\|\s*$")
_TICKED = re.compile(r"`([^`]*)`")
_RANGE = re.compile(r"^`?(-?\d+(?:\.\d+)?)`?\s*[-–~]\s*`?(-?\d+(?:\.\d+)?)`?$")
_PAREN_RANGE = re.compile(r"\((-?\d+)\s*-\s*(-?\d+)\)")
_UP_TO = re.compile(r"\bUp to (\d+)\b", re.IGNORECASE)
_EITHER = re.compile(r"Either (\w+) or (\w+) must be provided")
_NOT_WITH = re.compile(r"Cannot be combined with (\w+)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_NONE = {"–", "-", "—", ""}

DESCRIPTION_LIMIT = 100


def _unescape(text: str) -> str:
    """Markdown escapes as they appear in the seed (`multi\\_prompt`, `\\~480p`)."""
    return re.sub(r"\\([_~*`|\\])", r"\1", text).strip()


def _typed(value: str, wire_type: str) -> Any:
    """A table cell value typed as the wire type: "8s" stays a string, 5 becomes an int, true a bool."""
    if wire_type == "integer":
        return int(value)
    if wire_type == "number":
        number = float(value)
        return int(number) if number.is_integer() and "." not in value else number
    if wire_type == "boolean":
        if value not in ("true", "false"):
            raise ValueError(f"not a boolean: {value!r}")
        return value == "true"
    if wire_type in ("array", "object"):
        return json.loads(value)
    return value


def short_description(text: str) -> str:
    """The first sentence, at most DESCRIPTION_LIMIT characters."""
    text = " ".join(_unescape(text).split())
    if text in _NONE:
        return ""
    first = _SENTENCE_END.split(text, maxsplit=1)[0]
    if len(first) <= DESCRIPTION_LIMIT:
        return first
    cut = first[: DESCRIPTION_LIMIT - 3].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "..."


def parse_row(name: str, rest: str) -> tuple[dict[str, Any], str]:
    """One table row -> (param spec, its full description)."""
    cells = [c.strip() for c in rest.split("|")]
    if len(cells) != 5:
        raise ValueError(f"param {name}: expected 6 cells, got {len(cells) + 1}")
    type_cell, req_cell, default_cell, values_cell, desc_cell = cells
    wire_type = _unescape(type_cell.strip("`"))
    full_desc = _unescape(desc_cell)
    spec: dict[str, Any] = {"type": wire_type, "required": req_cell == "✓"}
    default_text = _unescape(default_cell.strip("`"))
    if default_text not in _NONE:
        spec["default"] = _typed(default_text, wire_type)
    low: float | None = None
    high: float | None = None
    values_text = values_cell.strip()
    if values_text not in _NONE:
        ranged = _RANGE.match(values_text)
        if ranged:
            low, high = float(ranged.group(1)), float(ranged.group(2))
        else:
            spec["values"] = [_typed(_unescape(v), wire_type) for v in _TICKED.findall(values_text)]
    elif wire_type in ("integer", "number"):
        # e.g. WAN's seed: "Random seed for reproducibility (0-2147483647)."
        paren = _PAREN_RANGE.search(full_desc)
        if paren:
            low, high = float(paren.group(1)), float(paren.group(2))
    if low is not None and high is not None:
        spec["min"] = int(low) if wire_type == "integer" else low
        spec["max"] = int(high) if wire_type == "integer" else high
    if wire_type == "array":
        up_to = _UP_TO.search(full_desc)
        if up_to:
            spec["max_items"] = int(up_to.group(1))
    spec["field"] = FIELD_MAP.get(name)
    spec["description"] = short_description(desc_cell)
    return spec, full_desc


def _model_entry(
    model_id: str,
    name: str,
    *,
    media_type: str,
    modes: list[str],
    endpoint: str,
    description: str,
    params: dict[str, dict[str, Any]],
    one_of: list[list[str]],
    exclusive: list[list[str]],
    strict: bool = True,
) -> dict[str, Any]:
    return {
        "id": model_id,
        "name": name,
        "media_type": media_type,
        "modes": modes,
        "endpoint": endpoint,
        "description": description,
        "params": params,
        "one_of": one_of,
        "exclusive": exclusive,
        "strict": strict,
    }


def parse_seed(text: str) -> list[dict[str, Any]]:
    """The video models of seed 004, in the order the seed lists them."""
    models: list[dict[str, Any]] = []
    mode: str | None = None
    current: dict[str, Any] | None = None
    want_description = False
    for line in text.splitlines():
        tab = _TAB.search(line)
        if tab:
            title = tab.group("title").strip()
            if title not in TAB_MODES:
                raise ValueError(f"unknown tab {title!r}")
            mode = TAB_MODES[title]
            continue
        accordion = _ACCORDION.search(line)
        if accordion:
            if mode is None:
                raise ValueError(f"model {accordion.group('id')} outside a tab")
            current = _model_entry(
                accordion.group("id"),
                accordion.group("name").strip(),
                media_type="video",
                modes=[mode],
                endpoint="video",
                description="",
                params={},
                one_of=[],
                exclusive=[],
            )
            models.append(current)
            want_description = True
            continue
        if current is None:
            continue
        stripped = line.strip()
        if want_description and stripped:
            want_description = False
            if not stripped.startswith(("|", "<")):
                current["description"] = short_description(stripped)
                continue
        row = _ROW.match(line)
        if not row:
            continue
        name = _unescape(row.group("name"))
        if name == "Parameter":
            continue
        spec, full_desc = parse_row(name, row.group("rest"))
        current["params"][name] = spec
        either = _EITHER.search(full_desc)
        if either:
            group = [either.group(1), either.group(2)]
            if group not in current["one_of"]:
                current["one_of"].append(group)
        not_with = _NOT_WITH.search(full_desc)
        if not_with:
            group = sorted([name, not_with.group(1)])
            if group not in current["exclusive"]:
                current["exclusive"].append(group)
    for model in models:
        for group in EXTRA_ONE_OF.get(model["id"], []):
            model["one_of"].append(group)
        for group in model["one_of"]:
            for name in group:
                if name not in model["params"]:
                    raise ValueError(f"{model['id']}: one_of names unknown param {name}")
    return models


# The image models of PROVIDER_FACTS.md §4.5. Only nano-banana's params are documented (an example on the image
# page); the others are assumed to take the same ones. (id, name, edit variant, params documented)
IMAGE_MODELS: list[tuple[str, str, bool, bool]] = [
    ("nano-banana", "Nano Banana (Google)", False, True),
    ("nano-banana-2", "Nano Banana 2 (Google)", False, False),
    ("nano-banana-pro", "Nano Banana Pro (Google)", False, False),
    ("gpt-image-2", "GPT Image 2 (OpenAI)", False, False),
    ("nano-banana-edit", "Nano Banana Edit (Google)", True, False),
    ("nano-banana-2-edit", "Nano Banana 2 Edit (Google)", True, False),
    ("nano-banana-pro-edit", "Nano Banana Pro Edit (Google)", True, False),
    ("gpt-image-2-edit", "GPT Image 2 Edit (OpenAI)", True, False),
]
IMAGE_ASPECT_RATIOS = ["21:9", "16:9", "3:2", "4:3", "5:4", "1:1", "4:5", "3:4", "2:3", "9:16"]


def _image_params(edit: bool) -> dict[str, dict[str, Any]]:
    params: dict[str, dict[str, Any]] = {
        "prompt": {"type": "string", "required": True, "field": "prompt", "description": "The text prompt."},
    }
    if edit:
        params["image_urls"] = {
            "type": "array",
            "required": True,
            "field": "image_urls",
            "description": "The images to edit (wire name GUESS, fal-style; not documented).",
        }
    params |= {
        "num_images": {
            "type": "integer",
            "required": False,
            "default": 1,
            "field": None,
            "description": "Number of images to generate.",
        },
        "aspect_ratio": {
            "type": "string",
            "required": False,
            "default": "1:1",
            "values": list(IMAGE_ASPECT_RATIOS),
            "field": "aspect_ratio",
            "description": "Aspect ratio of the image.",
        },
        "output_format": {
            "type": "string",
            "required": False,
            "default": "png",
            "values": ["jpeg", "png", "webp"],
            "field": "output_format",
            "description": "Image file format.",
        },
        "safety_tolerance": {
            "type": "string",
            "required": False,
            "default": "4",
            "values": ["1", "2", "3", "4", "5", "6"],
            "field": None,
            "description": "Content moderation level: 1 is the most strict, 6 the least.",
        },
        "seed": {"type": "integer", "required": False, "field": "seed", "description": "Random seed."},
        "sync_mode": {
            "type": "boolean",
            "required": False,
            "field": None,
            "description": "fal-style sync mode (type GUESS: named in the docs without a type).",
        },
        "limit_generations": {
            "type": "boolean",
            "required": False,
            "field": None,
            "description": "fal-style generation limit (type GUESS: named in the docs without a type).",
        },
    }
    return params


def image_models() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for model_id, name, edit, documented in IMAGE_MODELS:
        kind = "Image editing" if edit else "Text-to-image"
        if documented:
            note = "Params as documented on the Hub image page."
        else:
            note = "Params assumed the same as nano-banana's (GUESS: not documented)."
        # gpt-image-2 is another vendor's model: nano-banana's option set is the least likely to fit it, so its
        # values are not enforced and unknown extra keys pass through to the Hub unchecked.
        strict = not model_id.startswith("gpt-image-2")
        if not strict:
            note += " Values are not enforced; other extra keys pass through."
        out.append(
            _model_entry(
                model_id,
                name,
                media_type="image",
                modes=["image-to-image" if edit else "text-to-image"],
                endpoint="image",
                description=f"{kind}. {note}",
                params=_image_params(edit),
                one_of=[],
                exclusive=[],
                strict=strict,
            )
        )
    return out


def build_catalog(seed_text: str) -> dict[str, Any]:
    return {"models": parse_seed(seed_text) + image_models()}


def render(catalog: dict[str, Any]) -> str:
    return json.dumps(catalog, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python scripts/mountsea_catalog.py SEED OUT", file=sys.stderr)
        return 2
    catalog = build_catalog(Path(argv[1]).read_text("utf-8"))
    Path(argv[2]).write_text(render(catalog), "utf-8")
    counts: dict[str, int] = {}
    for model in catalog["models"]:
        counts[model["modes"][0]] = counts.get(model["modes"][0], 0) + 1
    print(f"wrote {len(catalog['models'])} models to {argv[2]}: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
