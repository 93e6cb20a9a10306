"""Attribute suggestions for the annotation page: the `fgtext-suggestions/1` file format.

`fgsgl-train predict RUN --dataset DATASET --out FILE` writes one (a trained model's nearest
FG-Texts per clip); `fgtext-annotator import-suggestions --project NAME FILE` loads it into a
project, whose annotation page offers them as numbered choices. A file is one JSON object:

```
{"format": "fgtext-suggestions/1",
 "source": {"kind": "model", ...},           provenance, free-form (run, dataset, created)
 "schema": {"name": ..., "version": ...},    the vocabulary the attributes come from
 "clips": [{"clip_id": "syn-00012",
            "suggestions": [{"attributes": {initiator, receiver, direction, motion_type},
                             "score": 0.83,  higher is better (e.g. cosine similarity)
                             "text": "The right hand rubs ..."}, ...]}, ...]}
```
A clip has 1 to `MAX_SUGGESTIONS_PER_CLIP` suggestions (one key each on the page), no two with
the same attributes; clip ids are unique; scores are finite numbers. The reader checks all of
it, and every value against a schema when given one, before anything is used: a file is
accepted whole or refused with one message naming the clip and the field.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS, Schema, read_json_file
from fgtext.validation import Number, Text, first_error

FORMAT_NAME = "fgtext-suggestions"
FORMAT_VERSION = 1
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"
# Shift+1 .. Shift+9 choose one on the annotation page.
MAX_SUGGESTIONS_PER_CLIP = 9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Suggestion(_Strict):
    """One suggested set of the four values, with the model's score for it."""

    attributes: dict[Text, Text]
    score: Number
    text: Text | None = None  # T_fg of the attributes, for people reading the file


class ClipSuggestions(_Strict):
    clip_id: Text = Field(min_length=1, max_length=300)
    suggestions: list[Suggestion] = Field(min_length=1, max_length=MAX_SUGGESTIONS_PER_CLIP)


class SuggestionsFile(_Strict):
    format: str
    source: dict[Text, Any] = Field(default_factory=dict)
    schema_: dict[Text, Any] | None = Field(default=None, alias="schema")
    clips: list[ClipSuggestions]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def check_suggestions(
    data: Any, *, schema: Schema | None = None, where: str = ""
) -> SuggestionsFile:
    """`data` (a parsed file) as a SuggestionsFile, every rule of the module checked; each
    clip's suggestions ranked best first. FgTextError names the first problem."""
    if not isinstance(data, Mapping):
        raise FgTextError(f"{where}expected a JSON object with format {FORMAT!r}")
    fmt = data.get("format")
    if not isinstance(fmt, str) or not fmt.startswith(f"{FORMAT_NAME}/"):
        raise FgTextError(f"{where}not a suggestions file: format is {fmt!r}, expected {FORMAT!r}")
    if fmt != FORMAT:
        raise FgTextError(
            f"{where}suggestions format {fmt!r} is not supported by this fgtext (it reads {FORMAT!r})"
        )
    try:
        parsed = SuggestionsFile.model_validate(data)
    except ValidationError as e:
        raise FgTextError(f"{where}{first_error(e)}") from None
    seen: set[str] = set()
    ranked = []
    for entry in parsed.clips:
        at = f"{where}clip {entry.clip_id!r}: "
        if entry.clip_id in seen:
            raise FgTextError(f"{at}listed twice")
        seen.add(entry.clip_id)
        tuples: set[tuple[str, ...]] = set()
        for i, suggestion in enumerate(entry.suggestions, start=1):
            values = suggestion.attributes
            if set(values) != set(DIMENSIONS):
                raise FgTextError(
                    f"{at}suggestion {i} has dimensions {sorted(values)}; expected "
                    f"{', '.join(DIMENSIONS)}"
                )
            if schema is not None:
                schema.check_attributes(values, where=f"{at}suggestion {i}: ")
            key = tuple(values[d] for d in DIMENSIONS)
            if key in tuples:
                raise FgTextError(f"{at}suggestion {i} repeats an earlier one")
            tuples.add(key)
        best_first = sorted(entry.suggestions, key=lambda s: -s.score)  # stable for ties
        ranked.append(entry.model_copy(update={"suggestions": best_first}))
    return parsed.model_copy(update={"clips": ranked})


def read_suggestions(path: str | Path, *, schema: Schema | None = None) -> SuggestionsFile:
    """Read and check a suggestions file (see `check_suggestions`)."""
    path = Path(path)
    return check_suggestions(read_json_file(path, "suggestions"), schema=schema, where=f"{path}: ")


def write_suggestions(
    path: str | Path,
    clips: Iterable[tuple[str, Iterable[Suggestion | Mapping[str, Any]]]],
    *,
    source: Mapping[str, Any],
    schema: Schema | None = None,
) -> Path:
    """Write (clip id, suggestions) pairs as a suggestions file, checked as a reader would,
    atomically (a reader never sees half a file)."""
    path = Path(path)
    data = {
        "format": FORMAT,
        "source": dict(source),
        "schema": {"name": schema.name, "version": schema.version} if schema else None,
        "clips": [
            {
                "clip_id": clip_id,
                "suggestions": [
                    s.model_dump(mode="json") if isinstance(s, Suggestion) else dict(s)
                    for s in suggestions
                ],
            }
            for clip_id, suggestions in clips
        ],
    }
    check_suggestions(data, schema=schema, where=f"{path}: ")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
