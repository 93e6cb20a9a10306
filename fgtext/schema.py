"""The four FG-Text dimensions and their closed, versioned vocabularies.

A schema file (`fgtext-schema/1`, JSON) names each allowed value of every dimension together with
the English phrase that `fgtext.compose` uses for it. The default schema,
`fgtext/schemas/micro-gesture.json`, covers every movement of the SMG and iMiGUE classes; a
project extends it by copying the file, adding values and bumping its version.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from fgtext.errors import FgTextError

DIMENSIONS: tuple[str, ...] = ("initiator", "receiver", "direction", "motion_type")
SCHEMA_FORMAT = "fgtext-schema/1"
DEFAULT_TEMPLATES = {
    "fg_text": "{initiator} {motion} {receiver} {direction}",
    "class_text": "A video of a person showing the micro-gesture: {name}.",
}
# The fields each template may name (`fgtext.compose` fills them in).
TEMPLATE_FIELDS = {
    "fg_text": ("initiator", "motion", "receiver", "direction"),
    "class_text": ("name",),
}
BUILTIN_CLASS_LISTS = ("smg", "imigue")


@dataclass(frozen=True)
class AttributeProblem:
    """What is wrong with a label: `kind` is not_object, unknown_dimension, missing or
    not_allowed; `allowed` the dimension's values (the dimensions, for the first two)."""

    kind: str
    dimension: str | None
    value: object
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class Schema:
    name: str
    version: str
    # dimension -> value -> phrase info ({"text": ..., "plural": ..., ...}); insertion ordered
    dimensions: Mapping[str, Mapping[str, Mapping[str, Any]]]
    descriptions: Mapping[str, str] = field(default_factory=dict)
    templates: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))

    def values(self, dimension: str) -> tuple[str, ...]:
        return tuple(self.dimensions[dimension])

    def phrase(self, dimension: str, value: str) -> Mapping[str, Any]:
        return self.dimensions[dimension][value]

    def check_value(self, dimension: str, value: object, *, where: str = "") -> str:
        """Return `value` if the dimension allows it, else raise naming the allowed values."""
        if dimension not in self.dimensions:
            raise FgTextError(
                f"{where}unknown dimension {dimension!r}; the dimensions are {', '.join(DIMENSIONS)}"
            )
        if not isinstance(value, str) or value not in self.dimensions[dimension]:
            allowed = ", ".join(self.dimensions[dimension])
            raise FgTextError(
                f"{where}unknown {dimension} {value!r} (schema {self.name} {self.version}); "
                f"allowed: {allowed}"
            )
        return value

    def attribute_problem(self, attributes: object) -> AttributeProblem | None:
        """The first thing wrong with a full set of the four attributes, or None: the one rule
        of what a valid label is (`check_attributes` and the annotation store phrase it)."""
        if not isinstance(attributes, Mapping):
            return AttributeProblem("not_object", None, attributes, DIMENSIONS)
        for key in attributes:
            if key not in DIMENSIONS:
                return AttributeProblem("unknown_dimension", str(key), attributes[key], DIMENSIONS)
        for d in DIMENSIONS:
            value = attributes.get(d)
            if value in (None, ""):
                return AttributeProblem("missing", d, value, self.values(d))
            if not isinstance(value, str) or value not in self.dimensions[d]:
                return AttributeProblem("not_allowed", d, value, self.values(d))
        return None

    def check_attributes(self, attributes: object, *, where: str = "") -> dict[str, str]:
        """Validate a full set of the four attributes; returns them in dimension order."""
        problem = self.attribute_problem(attributes)
        if problem is None:
            return {d: attributes[d] for d in DIMENSIONS}
        if problem.kind == "not_object":
            raise FgTextError(f"{where}attributes must be an object with {', '.join(DIMENSIONS)}")
        if problem.kind == "unknown_dimension":
            raise FgTextError(
                f"{where}unknown dimension {problem.dimension!r}; the dimensions are "
                f"{', '.join(DIMENSIONS)}"
            )
        if problem.kind == "missing":
            raise FgTextError(f"{where}missing attribute {problem.dimension!r}")
        return self.check_value(problem.dimension, problem.value, where=where)  # raises

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SCHEMA_FORMAT,
            "name": self.name,
            "version": self.version,
            "templates": dict(self.templates),
            "dimensions": {
                d: {
                    "description": self.descriptions.get(d, ""),
                    "values": {v: dict(p) for v, p in self.dimensions[d].items()},
                }
                for d in DIMENSIONS
            },
        }

    @classmethod
    def from_dict(cls, data: object, *, source: str = "schema") -> Schema:
        if not isinstance(data, Mapping):
            raise FgTextError(
                f"{source}: expected a JSON object with 'name', 'version', 'dimensions'"
            )
        fmt = data.get("format", SCHEMA_FORMAT)
        if fmt != SCHEMA_FORMAT:
            raise FgTextError(f"{source}: format {fmt!r} is not {SCHEMA_FORMAT!r}")
        for key in ("name", "version", "dimensions"):
            if key not in data:
                raise FgTextError(f"{source}: missing {key!r}")
        dims = data["dimensions"]
        if not isinstance(dims, Mapping) or set(dims) != set(DIMENSIONS):
            got = ", ".join(dims) if isinstance(dims, Mapping) else type(dims).__name__
            raise FgTextError(
                f"{source}: 'dimensions' must be exactly {', '.join(DIMENSIONS)} (got {got})"
            )
        vocab: dict[str, dict[str, dict[str, Any]]] = {}
        descriptions: dict[str, str] = {}
        for d in DIMENSIONS:
            spec = dims[d]
            values = spec.get("values") if isinstance(spec, Mapping) else None
            # A plain list of values is allowed; phrases then default to the value's words.
            if isinstance(values, list):
                values = {v: {} for v in values}
            if not isinstance(values, Mapping) or not values:
                raise FgTextError(f"{source}: dimension {d!r} needs a non-empty 'values'")
            vocab[d] = {}
            for value, phrase in values.items():
                if not isinstance(value, str) or not value.strip() or value != value.strip():
                    raise FgTextError(f"{source}: {d} has an empty or padded value {value!r}")
                phrase = dict(phrase or {})
                phrase.setdefault(
                    "text", "" if value in ("none", "static") else value.replace("_", " ")
                )
                vocab[d][value] = phrase
            descriptions[d] = spec.get("description", "")
        given = data.get("templates") or {}
        if not isinstance(given, Mapping):
            raise FgTextError(f"{source}: 'templates' must be an object of template strings")
        templates = {**DEFAULT_TEMPLATES, **given}
        for key, template in templates.items():
            check_template(key, template, source=source)
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            dimensions=vocab,
            descriptions=descriptions,
            templates=templates,
        )


def check_template(key: str, template: object, *, source: str = "schema") -> str:
    """A template that composes: a string naming only its own fields, as plain `{field}`s
    (checked when a schema is loaded, so no sentence can fail later)."""
    where = f"{source}: template {key!r}"
    if key not in TEMPLATE_FIELDS:
        raise FgTextError(f"{where} is not one of {', '.join(TEMPLATE_FIELDS)}")
    allowed = TEMPLATE_FIELDS[key]
    if not isinstance(template, str):
        raise FgTextError(f"{where} must be a string")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as e:
        raise FgTextError(f"{where} {template!r} is malformed ({e})") from None
    for _, field_name, spec, conversion in parts:
        if field_name is None:
            continue
        if field_name not in allowed or spec or conversion:
            raise FgTextError(
                f"{where} names {{{field_name}}}; it may name only "
                + ", ".join(f"{{{f}}}" for f in allowed)
            )
    return template


def read_json_file(path: Path, what: str) -> Any:
    """A JSON file's content; a missing or malformed file is one clear FgTextError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FgTextError(f"{path}: {what} file not found") from None
    except json.JSONDecodeError as e:
        raise FgTextError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except RecursionError:
        raise FgTextError(f"{path}: JSON nested too deeply to read") from None
    except UnicodeDecodeError as e:
        raise FgTextError(f"{path}: not UTF-8 text (byte {e.start})") from None


def load_schema(path: str | Path | None = None) -> Schema:
    """Load a schema file; `None` gives the default micro-gesture schema."""
    if path is None:
        return default_schema()
    path = Path(path)
    return Schema.from_dict(read_json_file(path, "schema"), source=str(path))


@cache
def default_schema() -> Schema:
    text = resources.files("fgtext.schemas").joinpath("micro-gesture.json").read_text("utf-8")
    return Schema.from_dict(json.loads(text), source="micro-gesture.json")


@dataclass(frozen=True)
class ClassDef:
    """A gesture class: its id, name and the attribute combinations typical of it."""

    id: int
    name: str
    attributes: tuple[Mapping[str, str], ...] = ()
    text: str | None = None  # class-level description T_c; None means "from the template"


def load_class_list(name_or_path: str | Path, schema: Schema | None = None) -> list[ClassDef]:
    """A class list (`fgtext-classes/1`): a built-in name (smg, imigue) or a JSON file.

    A plain text file with one class name a line is accepted too (ids in line order)."""
    schema = schema or default_schema()
    key = str(name_or_path).lower()
    if key in BUILTIN_CLASS_LISTS:
        source = f"classes-{key}.json"
        data = json.loads(resources.files("fgtext.schemas").joinpath(source).read_text("utf-8"))
    else:
        path = Path(name_or_path)
        source = str(path)
        if path.suffix.lower() != ".json":
            if not path.is_file():
                raise FgTextError(
                    f"{path}: class list not found; give smg, imigue, a .json or a .txt file"
                )
            names = [ln.strip() for ln in path.read_text("utf-8").splitlines() if ln.strip()]
            data = {"classes": [{"id": i, "name": n} for i, n in enumerate(names)]}
        else:
            data = read_json_file(path, "class list")
    classes = data.get("classes") if isinstance(data, Mapping) else None
    if not isinstance(classes, list) or not classes:
        raise FgTextError(f"{source}: expected {{'classes': [{{'id', 'name'}}, ...]}}")
    out: list[ClassDef] = []
    for i, c in enumerate(classes):
        where = f"{source}: class {i}: "
        if not isinstance(c, Mapping) or not isinstance(c.get("name"), str) or not c["name"]:
            raise FgTextError(f"{where}needs a non-empty 'name'")
        attrs = tuple(schema.check_attributes(a, where=where) for a in c.get("attributes", []))
        out.append(
            ClassDef(id=int(c.get("id", i)), name=c["name"], attributes=attrs, text=c.get("text"))
        )
    ids = [c.id for c in out]
    if sorted(ids) != list(range(len(ids))):
        raise FgTextError(f"{source}: class ids must be 0..{len(ids) - 1}, each once")
    return sorted(out, key=lambda c: c.id)
