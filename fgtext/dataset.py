"""The FG-Text dataset format, `fgtext-dataset/2`: the contract between annotator and training.

```
DATASET/
  dataset.json   name, schema, classes (id, name, text = T_c), split counts, agreement,
                 annotators (estimated accuracy per dimension), source
  clips.jsonl    one clip a line: clip_id, video, start_frame?, end_frame?, label, split,
                 attributes, text (T_fg), status, confidence, annotations
  clips.parquet  optional, the same rows flattened
  README.md      dataset card; `datasets.load_dataset(DATASET)` loads clips.jsonl
```
A clip that nobody has labelled yet (an imported manifest) has status "unlabelled" and null
attributes and text. Readers stream `clips.jsonl` and validate every row; a reader refuses a
major format version it does not know. Changing the format means bumping the version and
keeping a reader for the old one (`_READERS`).

Versions: 2 added a clip's `confidence` ({dimension: the reliability model's posterior of its
final value}, or null where no model made the label) and dataset.json's `annotators`
({annotator: {dimension: estimated accuracy}}, empty without a model). A reader of version 1
refuses both (its rows and dataset.json forbid unknown fields), so the major version changed;
a version-1 dataset reads as a version-2 one without them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fgtext.compose import compose_class_text, compose_fg_text
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS, ClassDef, Schema, read_json_file
from fgtext.validation import MAX_INT32, Text, first_error
from fgtext.vocabulary import ClipStatus, DatasetStatus, is_final

FORMAT_NAME = "fgtext-dataset"
FORMAT_VERSION = 2
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Annotation(_Strict):
    """One annotator's four values for a clip."""

    annotator: Text = Field(min_length=1)
    attributes: dict[Text, Text]


class ClassInfo(_Strict):
    id: int = Field(ge=0)
    name: Text = Field(min_length=1)
    text: Text = Field(min_length=1)  # T_c, the class-level description


class Clip(_Strict):
    clip_id: Text = Field(min_length=1)
    video: Text = Field(min_length=1)  # relative to the dataset folder, or absolute
    start_frame: int | None = Field(default=None, ge=0, le=MAX_INT32)
    end_frame: int | None = Field(default=None, ge=0, le=MAX_INT32)  # exclusive
    label: int = Field(ge=0, le=MAX_INT32)
    split: str = Field(pattern=r"^\w+$")
    attributes: dict[Text, Text] | None = None
    text: Text | None = None  # T_fg
    status: DatasetStatus = ClipStatus.UNLABELLED.value
    # the reliability model's posterior of each final value (format 2; null: no model)
    confidence: dict[str, float] | None = None
    annotations: list[Annotation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Clip:
        if (self.start_frame is None) != (self.end_frame is None):
            raise ValueError("start_frame and end_frame come together (a segment) or not at all")
        if self.start_frame is not None and self.end_frame <= self.start_frame:
            raise ValueError(
                f"end_frame {self.end_frame} must be after start_frame {self.start_frame}"
            )
        labelled = self.status != ClipStatus.UNLABELLED
        if labelled and (self.attributes is None or not self.text):
            raise ValueError(f"a clip with status {self.status!r} needs attributes and text")
        if not labelled and (self.attributes is not None or self.text):
            raise ValueError("an unlabelled clip has null attributes and text")
        if self.confidence is not None:
            if self.attributes is None or set(self.confidence) != set(self.attributes):
                raise ValueError("confidence gives one posterior per dimension of the attributes")
            if not all(0.0 <= p <= 1.0 for p in self.confidence.values()):
                raise ValueError("confidence values are probabilities from 0 to 1")
        return self


class DatasetInfo(_Strict):
    """The contents of dataset.json."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    format: str = FORMAT
    name: Text = Field(min_length=1)
    schema_: dict[str, Any] = Field(alias="schema")
    classes: list[ClassInfo]
    splits: dict[str, int] = Field(default_factory=dict)
    agreement: dict[str, Any] = Field(default_factory=dict)
    # {annotator: {dimension: estimated accuracy or null}} from the reliability model (format 2)
    annotators: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    source: dict[str, Any] = Field(default_factory=dict)
    created: str = ""

    @property
    def version(self) -> int:
        return int(self.format.partition("/")[2])

    def dump(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


def class_infos(
    classes: Iterable[ClassDef | ClassInfo | Mapping[str, Any]], schema: Schema | None = None
) -> list[ClassInfo]:
    """Class list -> ClassInfo, filling in T_c from the schema's template where none is given."""
    out = []
    for c in classes:
        c = c if isinstance(c, Mapping) else {"id": c.id, "name": c.name, "text": c.text}
        text = c.get("text") or compose_class_text(c["name"], schema)
        out.append(ClassInfo(id=c["id"], name=c["name"], text=text))
    return out


class _ClipValidator:
    """Checks rows against the schema, the class list and each other (unique ids)."""

    def __init__(self, schema: Schema, classes: list[ClassInfo]) -> None:
        self.schema = schema
        self.class_ids = {c.id for c in classes}
        self.seen: set[str] = set()
        self.splits: Counter[str] = Counter()

    def check(self, row: Clip | Mapping[str, Any], where: str) -> Clip:
        try:
            clip = row if isinstance(row, Clip) else Clip.model_validate(row)
        except ValidationError as e:
            raise FgTextError(f"{where}{first_error(e)}") from None
        if clip.clip_id in self.seen:
            raise FgTextError(f"{where}duplicate clip_id {clip.clip_id!r}")
        if clip.label not in self.class_ids:
            raise FgTextError(
                f"{where}label {clip.label} is not a class id (0..{len(self.class_ids) - 1})"
            )
        if clip.attributes is not None:
            self.schema.check_attributes(clip.attributes, where=where)
        for a in clip.annotations:
            self.schema.check_attributes(
                a.attributes, where=f"{where}annotation by {a.annotator}: "
            )
        self.seen.add(clip.clip_id)
        self.splits[clip.split] += 1
        return clip


def dataset_row(
    clip: Mapping[str, Any],
    *,
    final: Mapping[str, str] | None,
    status: str,
    annotations: Iterable[tuple[str, Mapping[str, str]]],
    schema: Schema,
    confidence: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """A clips.jsonl row from a clip's fields (clip_id, video, frames, label, split), its
    labels and where they stand; `fgtext merge` and the store's export both build rows here.

    The one definition of "final": a status in `fgtext.vocabulary.FINAL_STATUSES` (consensus,
    single, adjudicated; gold too) with final values. A final row carries the values and T_fg
    composed from them; any other is status "unlabelled" with null attributes and text. Every
    annotator's labels are listed either way; `confidence` (the reliability model's posteriors
    of the final values) goes with final values only."""
    settled = final is not None and is_final(status)
    return {
        **clip,
        "attributes": dict(final) if settled else None,
        "text": compose_fg_text(final, schema) if settled else None,
        "status": status if settled else ClipStatus.UNLABELLED,
        "confidence": {d: float(confidence[d]) for d in final} if settled and confidence else None,
        "annotations": [{"annotator": n, "attributes": dict(a)} for n, a in annotations],
    }


class DatasetWriter:
    """Writes a dataset atomically: rows go to a temporary folder that replaces `root` on close.

    with DatasetWriter(root, name=..., schema=..., classes=...) as w:
        w.add(clip)
    """

    def __init__(
        self,
        root: str | Path,
        *,
        name: str,
        schema: Schema,
        classes: Iterable[ClassDef | ClassInfo | Mapping[str, Any]],
        source: Mapping[str, Any] | None = None,
        parquet: bool = False,
        overwrite: bool = False,
    ) -> None:
        self.root = Path(root)
        if self.root.exists() and any(self.root.iterdir()) and not overwrite:
            raise FgTextError(
                f"{self.root}: exists and is not empty; pass --overwrite to replace it"
            )
        self.name, self.schema, self.parquet = name, schema, parquet
        self.classes = class_infos(classes, schema)
        self.source = dict(source or {})
        self.agreement: dict[str, Any] = {}
        self.annotators: dict[str, dict[str, float | None]] = {}  # estimated accuracies
        self._validator = _ClipValidator(schema, self.classes)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.root.name}.", dir=self.root.parent))
        self._clips = (self._tmp / "clips.jsonl").open("w", encoding="utf-8")

    def add(self, clip: Clip | Mapping[str, Any]) -> Clip:
        clip = self._validator.check(clip, where=f"clip {len(self._validator.seen) + 1}: ")
        self._clips.write(clip.model_dump_json(exclude_none=False) + "\n")
        return clip

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        self._clips.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def close(self) -> Path:
        self._clips.close()
        info = DatasetInfo(
            name=self.name,
            schema=self.schema.to_dict(),
            classes=self.classes,
            splits=dict(sorted(self._validator.splits.items())),
            agreement=self.agreement,
            annotators=self.annotators,
            source=self.source,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        (self._tmp / "dataset.json").write_text(json.dumps(info.dump(), indent=2) + "\n", "utf-8")
        (self._tmp / "README.md").write_text(dataset_card(info, self.parquet), "utf-8")
        if self.parquet:
            write_parquet(self._tmp / "clips.jsonl", self._tmp / "clips.parquet")
        if self.root.exists():  # only reached with overwrite=True (checked in __init__)
            shutil.rmtree(self.root)
        os.replace(self._tmp, self.root)
        return self.root

    @property
    def staging_dir(self) -> Path:
        """Where files that live inside the dataset (videos) go before `close` moves it all."""
        return self._tmp


def write_dataset(
    root: str | Path,
    clips: Iterable[Clip | Mapping[str, Any]],
    *,
    name: str,
    schema: Schema,
    classes: Iterable[ClassDef | ClassInfo | Mapping[str, Any]],
    agreement: Mapping[str, Any] | None = None,
    source: Mapping[str, Any] | None = None,
    parquet: bool = False,
    overwrite: bool = False,
) -> Path:
    with DatasetWriter(
        root,
        name=name,
        schema=schema,
        classes=classes,
        source=source,
        parquet=parquet,
        overwrite=overwrite,
    ) as w:
        for clip in clips:
            w.add(clip)
        w.agreement = dict(agreement or {})
    return Path(root)


class Dataset:
    """A dataset on disk. `clips()` streams and validates clips.jsonl."""

    def __init__(self, root: Path, info: DatasetInfo, schema: Schema) -> None:
        self.root, self.info, self.schema = root, info, schema

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def classes(self) -> list[ClassInfo]:
        return list(self.info.classes)

    def __len__(self) -> int:
        return sum(self.info.splits.values())

    def clips(self, split: str | None = None) -> Iterator[Clip]:
        yield from _READERS[self.info.version](self, split)

    def video_path(self, clip: Clip) -> Path:
        path = Path(clip.video)
        return path if path.is_absolute() else self.root / path


def _parse_format(value: object, source: str) -> int:
    name, _, major = str(value).partition("/")
    if name != FORMAT_NAME or not major.isdigit():
        raise FgTextError(f"{source}: format {value!r} is not an FG-Text dataset ({FORMAT})")
    if int(major) not in _READERS:
        known = ", ".join(f"{FORMAT_NAME}/{v}" for v in sorted(_READERS))
        raise FgTextError(
            f"{source}: format {value!r} is not supported by this fgtext (reads {known}); "
            "upgrade fgtext"
        )
    return int(major)


def open_dataset(root: str | Path) -> Dataset:
    root = Path(root)
    meta = root / "dataset.json"
    if not meta.is_file():
        raise FgTextError(f"{root}: not an FG-Text dataset (no dataset.json)")
    raw = read_json_file(meta, "dataset.json")
    if not isinstance(raw, dict):
        raise FgTextError(f"{meta}: expected a JSON object")
    if _parse_format(raw.get("format"), str(meta)) == 1 and "annotators" in raw:
        raise FgTextError(f"{meta}: field 'annotators' is not in {FORMAT_NAME}/1")
    try:
        info = DatasetInfo.model_validate(raw)
    except ValidationError as e:
        raise FgTextError(f"{meta}: {first_error(e)}") from None
    schema = Schema.from_dict(info.schema_, source=f"{meta} schema")
    ids = sorted(c.id for c in info.classes)
    if ids != list(range(len(ids))):
        raise FgTextError(f"{meta}: class ids must be 0..{len(ids) - 1}, each once")
    return Dataset(root, info, schema)


def _read_v2(ds: Dataset, split: str | None) -> Iterator[Clip]:
    path = ds.root / "clips.jsonl"
    if not path.is_file():
        raise FgTextError(f"{ds.root}: clips.jsonl is missing")
    validator = _ClipValidator(ds.schema, ds.info.classes)
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path} line {lineno}: "
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise FgTextError(f"{where}not valid JSON ({e.msg})") from None
            clip = validator.check(row, where)
            if split is None or clip.split == split:
                yield clip


def _read_v1(ds: Dataset, split: str | None) -> Iterator[Clip]:
    """Version 1: version 2's rows without confidence (a row that has one is not version 1)."""
    for clip in _read_v2(ds, split):
        if clip.confidence is not None:
            raise FgTextError(
                f"{ds.root}/clips.jsonl: clip {clip.clip_id!r} has a confidence, which "
                f"{FORMAT_NAME}/1 does not have; is dataset.json's format wrong?"
            )
        yield clip


_READERS = {1: _read_v1, 2: _read_v2}


def validate_dataset(root: str | Path, *, check_videos: bool = True) -> dict[str, Any]:
    """Read everything once; raise on the first problem; return counts for a report."""
    ds = open_dataset(root)
    splits: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    missing: list[str] = []
    seen_videos: set[Path] = set()
    for clip in ds.clips():
        splits[clip.split] += 1
        statuses[clip.status] += 1
        video = ds.video_path(clip)
        if check_videos and video not in seen_videos:
            seen_videos.add(video)
            if not video.is_file():
                missing.append(clip.video)
    if dict(splits) != ds.info.splits:
        raise FgTextError(
            f"{ds.root}/dataset.json: splits {ds.info.splits} do not match clips.jsonl {dict(splits)}"
        )
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise FgTextError(f"{ds.root}: video {missing[0]!r} not found{more}")
    return {"clips": sum(splits.values()), "splits": dict(splits), "status": dict(statuses)}


# -- Parquet and the dataset card -------------------------------------------------------------


def write_parquet(jsonl: Path, out: Path) -> None:
    """clips.parquet: the rows of clips.jsonl with the attributes as top-level columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    annotation = pa.struct([("annotator", pa.string())] + [(d, pa.string()) for d in DIMENSIONS])
    schema = pa.schema(
        [
            ("clip_id", pa.string()),
            ("video", pa.string()),
            ("start_frame", pa.int64()),
            ("end_frame", pa.int64()),
            ("label", pa.int64()),
            ("split", pa.string()),
        ]
        + [(d, pa.string()) for d in DIMENSIONS]
        + [("text", pa.string()), ("status", pa.string())]
        + [("confidence", pa.struct([(d, pa.float64()) for d in DIMENSIONS]))]
        + [("annotations", pa.list_(annotation))]
    )
    rows = []
    with jsonl.open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            attrs = r.pop("attributes") or {}
            r.update({d: attrs.get(d) for d in DIMENSIONS})
            r["annotations"] = [
                {"annotator": a["annotator"], **a["attributes"]} for a in r["annotations"]
            ]
            rows.append(r)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out)


_CARD_FEATURES = """\
dataset_info:
  features:
  - {name: clip_id, dtype: string}
  - {name: video, dtype: string}
  - {name: start_frame, dtype: int64}
  - {name: end_frame, dtype: int64}
  - {name: label, dtype: int64}
  - {name: split, dtype: string}
  - name: attributes
    struct:
DIMS
  - {name: text, dtype: string}
  - {name: status, dtype: string}
  - name: confidence
    struct:
CONF
  - name: annotations
    list:
    - {name: annotator, dtype: string}
    - name: attributes
      struct:
DIMS2
"""


def dataset_card(info: DatasetInfo, parquet: bool = False) -> str:
    """README.md with the YAML header that Hugging Face `datasets` reads."""
    features = (
        _CARD_FEATURES.replace(
            "CONF", "\n".join(f"    - {{name: {d}, dtype: float64}}" for d in DIMENSIONS)
        )
        .replace("DIMS2", "\n".join(f"      - {{name: {d}, dtype: string}}" for d in DIMENSIONS))
        .replace("DIMS", "\n".join(f"    - {{name: {d}, dtype: string}}" for d in DIMENSIONS))
    )
    configs = (
        "configs:\n- config_name: default\n  data_files:\n  - {split: clips, path: clips.jsonl}\n"
    )
    # `datasets` infers one builder for all configs, so the Parquet copy is not a config.
    parquet_note = (
        '\nThe flat copy: `load_dataset("parquet", data_files="path/to/this/folder/clips.parquet")`.'
        if parquet
        else ""
    )
    classes = "\n".join(f"| {c.id} | {c.name} | {c.text} |" for c in info.classes)
    splits = ", ".join(f"{k}: {v}" for k, v in info.splits.items()) or "none"

    def fmt(x: object) -> str:
        return f"{x:.3f}" if isinstance(x, int | float) else "—"

    def interval(ci: object) -> str:
        return f"{fmt(ci[0])}–{fmt(ci[1])}" if isinstance(ci, list) and len(ci) == 2 else "—"

    agreement = "\n".join(
        f"| {dim} | {fmt(v.get('krippendorff_alpha'))} | {interval(v.get('ci95'))} |"
        for dim, v in info.agreement.items()
        if isinstance(v, Mapping)
    )
    agreement_block = (
        "| dimension | Krippendorff's alpha | 95% CI |\n|---|---|---|\n" + agreement
        if agreement
        else "No agreement report (fewer than two annotators per clip, or none given)."
    )
    if info.annotators:
        dims = [d for d in DIMENSIONS if any(d in a for a in info.annotators.values())]
        agreement_block += (
            "\n\nEach annotator's estimated accuracy (the Dawid-Skene reliability model):\n\n"
            f"| annotator | {' | '.join(dims)} |\n|---|{'---|' * len(dims)}\n"
            + "\n".join(
                f"| {name} | {' | '.join(fmt(acc.get(d)) for d in dims)} |"
                for name, acc in info.annotators.items()
            )
        )
    return f"""---
{configs}{features}---

# {info.name}

An FG-Text dataset (`{info.format}`): micro-gesture clips with four fine-grained attributes
(initiator, receiver, direction, motion type), the sentence composed from them (`text`, T_fg)
and class-level descriptions (T_c). Schema: {info.schema_.get("name")} {info.schema_.get("version")}.

Clips by split — {splits}.

```python
from datasets import load_dataset
clips = load_dataset("path/to/this/folder")["clips"]
train = clips.filter(lambda r: r["split"] == "train")
```
or, streaming with validation: `fgtext.dataset.open_dataset(path).clips("train")`.{parquet_note}

## Classes

| id | name | class-level text |
|---|---|---|
{classes}

## Agreement

{agreement_block}
"""
