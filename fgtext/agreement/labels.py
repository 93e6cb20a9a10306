"""Label tables: the long rows (clip, annotator, four values, class) as arrays, read from CSV or
JSON lines files with clear errors, and encoded as integer codes for the coefficients."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS

LABEL_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json")


# --------------------------------------------------------------------------- label tables


@dataclass(eq=False)
class LabelTable:
    """Labels in long format: one row per (clip, annotator).

    ``values`` maps each dimension to one entry per row; None or "" is a missing value.
    ``classes`` optionally gives the class of the row's clip, for the per-class breakdown.
    Treat a table as immutable: replace arrays rather than editing them in place (the encoded
    form is cached on the table).
    """

    clip_ids: np.ndarray
    annotators: np.ndarray
    values: dict[str, np.ndarray]
    classes: np.ndarray | None = None
    _cache: tuple | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.clip_ids = np.asarray(self.clip_ids, dtype=object)
        self.annotators = np.asarray(self.annotators, dtype=object)
        self.values = {str(d): np.asarray(v, dtype=object) for d, v in self.values.items()}
        if self.classes is not None:
            self.classes = np.asarray(self.classes, dtype=object)
        n = len(self.clip_ids)
        columns = [("annotators", self.annotators)]
        columns += [(f"values[{d!r}]", v) for d, v in self.values.items()]
        if self.classes is not None:
            columns.append(("classes", self.classes))
        for name, column in columns:
            if column.ndim != 1 or len(column) != n:
                raise FgTextError(
                    f"LabelTable: {name} has {len(column)} entries; expected {n}, one per row "
                    "like clip_ids"
                )

    def __len__(self) -> int:
        return len(self.clip_ids)

    @classmethod
    def from_rows(
        cls, rows: Iterable[Mapping[str, Any]], *, dimensions: Sequence[str] = DIMENSIONS
    ) -> LabelTable:
        """Rows with clip_id, annotator, the dimensions and optionally "class" (or "label").

        A dimension missing from a row is a missing value; one missing from every row is an
        error. Exact duplicate rows are dropped; a duplicate (clip_id, annotator) with other
        values is an error.
        """
        rows = list(rows)
        dimensions = _dimension_names(dimensions)
        source = _Source("rows")
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise FgTextError(
                    f"{source.at(i)}: found {type(row).__name__}; expected a mapping with "
                    f"{', '.join(_required(dimensions))}"
                )
        return _table_from_columns(_columns_from_rows(rows, dimensions, source), dimensions, source)


@dataclass
class _Source:
    """Names an input row in error messages: "labels.csv line 7", "rows[3]"."""

    name: str
    line_of: Callable[[int], int] | None = None

    def row(self, i: int) -> str:
        """The row alone ("line 7"), for a second mention in the same message."""
        return f"line {self.line_of(i)}" if self.line_of else f"{self.name}[{i}]"

    def at(self, i: int) -> str:
        return f"{self.name} line {self.line_of(i)}" if self.line_of else f"{self.name}[{i}]"


def _dimension_names(dimensions: Sequence[str] | str) -> tuple[str, ...]:
    # a lone name would otherwise be iterated letter by letter
    return (dimensions,) if isinstance(dimensions, str) else tuple(dimensions)


def _required(dimensions: Sequence[str]) -> list[str]:
    return ["clip_id", "annotator", *dimensions]


def _as_str(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # the same text pyarrow gives a JSON 3.0
    return value if isinstance(value, str) else str(value)


def _arrow_strings(values: Sequence[Any] | np.ndarray) -> pa.Array:
    """A string column; None and NaN become null, other scalars their str()."""
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([_as_str(v) for v in values], type=pa.string())


def _encode(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (int64, -1 = missing) and the sorted category names of a string column."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(column))
    names = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    indices = encoded.indices.fill_null(-1).to_numpy().astype(np.int64)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    codes = np.where(indices >= 0, rank[indices] if len(names) else indices, -1)
    names = names[order]
    if len(names) and names[0] == "":  # "" sorts first; it means "missing"
        names = names[1:]
        codes = np.maximum(codes - 1, -1)
    return codes, names


def _decode(codes: np.ndarray, names: np.ndarray) -> np.ndarray:
    return np.append(names, None)[codes]  # code -1 picks the appended None


@dataclass
class _Encoded:
    """A label table as integer codes; rows in input order, duplicates already dropped."""

    clip: np.ndarray
    clip_names: np.ndarray
    annotator: np.ndarray
    annotator_names: np.ndarray
    codes: dict[str, np.ndarray]
    categories: dict[str, np.ndarray]
    row_class: np.ndarray | None
    class_names: np.ndarray | None

    def take(self, keep: np.ndarray) -> _Encoded:
        return _Encoded(
            self.clip[keep],
            self.clip_names,
            self.annotator[keep],
            self.annotator_names,
            {d: c[keep] for d, c in self.codes.items()},
            self.categories,
            None if self.row_class is None else self.row_class[keep],
            self.class_names,
        )


def _value_name(names: np.ndarray, code: int) -> str:
    return repr(str(names[code])) if code >= 0 else "a missing value"


def _encode_columns(
    columns: dict[str, pa.Array],
    dimensions: Sequence[str],
    source: _Source,
) -> _Encoded:
    """Encode and validate the columns clip_id, annotator, the dimensions and optional class."""
    clip, clip_names = _encode(columns["clip_id"])
    annotator, annotator_names = _encode(columns["annotator"])
    for name, codes in (("clip_id", clip), ("annotator", annotator)):
        empty = np.flatnonzero(codes < 0)
        if empty.size:
            raise FgTextError(
                f"{source.at(int(empty[0]))}: empty {name}; expected a non-empty clip_id and "
                "annotator on every row"
            )
    codes, categories = {}, {}
    for d in dimensions:
        codes[d], categories[d] = _encode(columns[d])
    row_class = class_names = None
    if columns.get("class") is not None:
        row_class, class_names = _encode(columns["class"])
        if not len(class_names):
            row_class = class_names = None
    encoded = _Encoded(
        clip, clip_names, annotator, annotator_names, codes, categories, row_class, class_names
    )
    keep = _check_duplicates(encoded, source)
    _check_classes(encoded, source)
    return encoded if keep is None else encoded.take(keep)


def _check_duplicates(enc: _Encoded, source: _Source) -> np.ndarray | None:
    """Rows to keep after dropping exact repeats; raises on a repeat with other values."""
    key = enc.clip * max(len(enc.annotator_names), 1) + enc.annotator
    order = np.argsort(key, kind="stable")
    at = np.flatnonzero(key[order][1:] == key[order][:-1])
    if not at.size:
        return None
    first, second = order[at], order[at + 1]
    differs = np.zeros(at.size, dtype=bool)
    for codes in enc.codes.values():
        differs |= codes[first] != codes[second]
    if differs.any():
        j = np.flatnonzero(differs)
        pick = j[np.argmin(second[j])]
        i1, i2 = int(first[pick]), int(second[pick])
        dim = next(d for d, c in enc.codes.items() if c[i1] != c[i2])
        names = enc.categories[dim]
        raise FgTextError(
            f"{source.at(i2)}: clip {enc.clip_names[enc.clip[i2]]!r} was already labelled by "
            f"annotator {enc.annotator_names[enc.annotator[i2]]!r} ({source.row(i1)}) with "
            f"another {dim} ({_value_name(names, enc.codes[dim][i1])} vs "
            f"{_value_name(names, enc.codes[dim][i2])}); expected one label set per clip and "
            "annotator"
        )
    keep = np.ones(len(key), dtype=bool)
    keep[second] = False
    return keep


def _check_classes(enc: _Encoded, source: _Source) -> None:
    if enc.row_class is None:
        return
    rows = np.flatnonzero(enc.row_class >= 0)
    rows = rows[np.argsort(enc.clip[rows], kind="stable")]
    clash = np.flatnonzero(
        (enc.clip[rows][1:] == enc.clip[rows][:-1])
        & (enc.row_class[rows][1:] != enc.row_class[rows][:-1])
    )
    if clash.size:
        pairs = np.stack([rows[clash], rows[clash + 1]], axis=1)
        i1, i2 = (int(i) for i in np.sort(pairs[np.argmin(pairs.max(axis=1))]))
        names = enc.class_names
        raise FgTextError(
            f"{source.at(i2)}: clip {enc.clip_names[enc.clip[i2]]!r} has class "
            f"{names[enc.row_class[i2]]!r} but {source.row(i1)} gives "
            f"{names[enc.row_class[i1]]!r}; expected one class per clip"
        )


def _table_refs(table: LabelTable, dimensions: Sequence[str]) -> tuple:
    return (table.clip_ids, table.annotators, table.classes, *(table.values[d] for d in dimensions))


def _table_from_columns(
    columns: dict[str, pa.Array], dimensions: Sequence[str], source: _Source
) -> LabelTable:
    if not len(columns["clip_id"]):
        raise FgTextError(
            f"{source.name}: no label rows; expected one row per clip and annotator with "
            f"{', '.join(_required(dimensions))}"
        )
    enc = _encode_columns(columns, dimensions, source)
    table = LabelTable(
        clip_ids=_decode(enc.clip, enc.clip_names),
        annotators=_decode(enc.annotator, enc.annotator_names),
        values={d: _decode(enc.codes[d], enc.categories[d]) for d in dimensions},
        classes=None if enc.row_class is None else _decode(enc.row_class, enc.class_names),
    )
    table._cache = (tuple(dimensions), _table_refs(table, dimensions), enc)
    return table


def _encoded_table(table: LabelTable, dimensions: Sequence[str]) -> _Encoded:
    """The table's encoding (cached on it): validated, exact duplicate rows dropped."""
    missing = [d for d in dimensions if d not in table.values]
    if missing:
        raise FgTextError(
            f"LabelTable: no values for dimension {missing[0]!r}; it has "
            f"{', '.join(table.values) or 'none'}"
        )
    refs = _table_refs(table, dimensions)
    cache = table._cache
    if (
        cache is not None
        and cache[0] == tuple(dimensions)
        and all(a is b for a, b in zip(cache[1], refs, strict=True))
    ):
        return cache[2]
    columns = {
        "clip_id": _arrow_strings(table.clip_ids),
        "annotator": _arrow_strings(table.annotators),
    }
    columns |= {d: _arrow_strings(table.values[d]) for d in dimensions}
    columns["class"] = None if table.classes is None else _arrow_strings(table.classes)
    enc = _encode_columns(columns, dimensions, _Source("LabelTable"))
    table._cache = (tuple(dimensions), refs, enc)
    return enc


def _columns_from_rows(
    rows: list[Mapping[str, Any]], dimensions: Sequence[str], source: _Source
) -> dict[str, pa.Array]:
    columns: dict[str, pa.Array] = {}
    if not rows:
        return {key: pa.array([], pa.string()) for key in _required(dimensions)} | {"class": None}
    for key in _required(dimensions):
        if key in dimensions and not any(key in row for row in rows):
            raise FgTextError(
                f"{source.name}: no row has {key!r}; expected fields "
                f"{', '.join(_required(dimensions))}"
            )
        columns[key] = _arrow_strings([row.get(key) for row in rows])
    labels = [row.get("class", row.get("label")) for row in rows]
    columns["class"] = _arrow_strings(labels) if any(v is not None for v in labels) else None
    return columns


# --------------------------------------------------------------------------- loading files


def load_labels(path: str | Path, *, dimensions: Sequence[str] = DIMENSIONS) -> LabelTable:
    """Labels from a CSV file (header row) or JSON lines (.jsonl, .ndjson, .json; a .json file
    holding one array of objects works too), one row per clip and annotator with clip_id,
    annotator, the dimensions and optionally class (or label)."""
    path = Path(path)
    dimensions = _dimension_names(dimensions)
    if not path.exists():
        raise FgTextError(f"{path}: no such file; expected a label file (.csv or .jsonl)")
    if path.is_dir():
        raise FgTextError(f"{path}: is a directory; expected a label file (.csv or .jsonl)")
    suffix = path.suffix.lower()
    if suffix not in LABEL_SUFFIXES:
        raise FgTextError(
            f"{path}: unknown label file type {path.suffix or '(none)'!r}; expected "
            f"{', '.join(LABEL_SUFFIXES)}"
        )
    try:
        if suffix == ".csv":
            columns, source = _read_csv(path, dimensions)
        else:
            columns, source = _read_json_lines(path, dimensions)
    except UnicodeDecodeError:
        raise FgTextError(f"{path}: not UTF-8 text; expected a UTF-8 label file") from None
    return _table_from_columns(columns, dimensions, source)


def _read_csv(path: Path, dimensions: Sequence[str]) -> tuple[dict[str, pa.Array], _Source]:
    import pyarrow.csv as pacsv

    with path.open(encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f), None)
    required = _required(dimensions)
    if not header:
        raise FgTextError(
            f"{path}: empty file; expected a header row with columns {', '.join(required)}"
        )
    raw = {name.strip(): name for name in header}
    for column in required:
        if column not in raw:
            raise FgTextError(
                f"{path} line 1: missing column {column!r}; expected columns {', '.join(required)}"
            )
    class_column = next((c for c in ("class", "label") if c in raw), None)
    wanted = [raw[c] for c in (*required, *([class_column] if class_column else []))]
    try:
        data = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                include_columns=wanted,
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as e:
        if "UTF8" in str(e) or "utf8" in str(e).lower():
            raise FgTextError(f"{path}: not UTF-8 text; expected a UTF-8 label file") from None
        line, found = _csv_bad_record(path, len(header))
        if line is None:
            raise FgTextError(
                f"{path}: not a readable CSV file ({str(e).splitlines()[0]})"
            ) from None
        raise FgTextError(
            f"{path} line {line}: {found} fields; expected {len(header)} like the header"
        ) from None
    columns = {c: data.column(raw[c]) for c in required}
    columns["class"] = data.column(raw[class_column]) if class_column else None
    return columns, _Source(str(path), _lazy_line_map(lambda: _csv_record_lines(path)))


def _csv_bad_record(path: Path, n_fields: int) -> tuple[int | None, int]:
    for line, record in _csv_records(path):
        if len(record) != n_fields:
            return line, len(record)
    return None, 0


def _csv_records(path: Path) -> Iterable[tuple[int, list[str]]]:
    """(first line number, fields) of every non-blank record after the header."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        previous = reader.line_num
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if record:  # pyarrow skips empty lines too
                yield start, record


def _csv_record_lines(path: Path) -> list[int]:
    return [line for line, _ in _csv_records(path)]


def _lazy_line_map(build: Callable[[], list[int]]) -> Callable[[int], int]:
    """Record index -> line number, computed on first use (only error messages need it)."""
    lines: list[int] = []

    def line_of(i: int) -> int:
        if not lines:
            lines.extend(build())
        return lines[i]

    return line_of


def _read_json_lines(path: Path, dimensions: Sequence[str]) -> tuple[dict[str, pa.Array], _Source]:
    with path.open("rb") as f:
        head = f.read(4096).lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    if path.suffix.lower() == ".json" and head.startswith(b"["):  # one array of objects
        try:
            rows = json.loads(path.read_text("utf-8-sig"))
        except json.JSONDecodeError as e:
            raise FgTextError(f"{path}: malformed JSON ({e.msg} at line {e.lineno})") from None
        source = _Source(str(path))
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise FgTextError(f"{source.at(i)}: found {type(row).__name__}; expected an object")
        return _columns_from_rows(rows, dimensions, source), source
    columns = _read_json_lines_arrow(path, dimensions)
    if columns is not None:
        return columns, _Source(str(path), _lazy_line_map(lambda: _json_record_lines(path)))
    # pyarrow refused the file (malformed line, mixed types...): parse it line by line to say
    # exactly which line is wrong, or to read what pyarrow's typed reader cannot.
    rows, lines = [], []
    with path.open(encoding="utf-8-sig") as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as e:
                raise FgTextError(
                    f"{path} line {number}: malformed JSON ({e.msg}); expected one JSON object "
                    "per line"
                ) from None
            if not isinstance(row, dict):
                raise FgTextError(
                    f"{path} line {number}: found a JSON {type(row).__name__}; expected one "
                    "JSON object per line"
                )
            rows.append(row)
            lines.append(number)
    source = _Source(str(path), lines.__getitem__)
    for i, row in enumerate(rows):
        for key in (*_required(dimensions), "class", "label"):
            if isinstance(row.get(key), dict | list):
                raise FgTextError(
                    f"{source.at(i)}: {key} is a JSON {type(row[key]).__name__}; expected a string"
                )
    return _columns_from_rows(rows, dimensions, source), source


def _read_json_lines_arrow(path: Path, dimensions: Sequence[str]) -> dict[str, pa.Array] | None:
    """Columns via pyarrow's vectorised JSON reader, or None where it cannot read the file
    (then the line-by-line reader takes over and names the offending line)."""
    import pyarrow.json as pajson

    wanted = [*_required(dimensions), "class", "label"]
    # An explicit string schema: inference would turn a clip_id like "2021-03-04" into a
    # timestamp. A number in these fields fails here and is read line by line instead.
    options = pajson.ParseOptions(
        explicit_schema=pa.schema([(key, pa.string()) for key in wanted]),
        unexpected_field_behavior="ignore",
    )
    try:
        data = pajson.read_json(path, parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    columns = {key: data.column(key) for key in _required(dimensions)}
    if not data.num_rows:
        return columns | {"class": None}
    for key in dimensions:
        if columns[key].null_count == data.num_rows and not _mentions(path, key):
            raise FgTextError(
                f"{path}: no line has {key!r}; expected fields {', '.join(_required(dimensions))}"
            )
    labels = [data.column(c) for c in ("class", "label") if data.column(c).null_count < len(data)]
    columns["class"] = pc.coalesce(*labels) if labels else None
    return columns


def _mentions(path: Path, key: str) -> bool:
    """Whether the file contains the JSON string of `key` at all (a column of nulls only
    either was never written or was written as null)."""
    needle = json.dumps(key).encode()
    with path.open("rb") as f:
        tail = b""
        while block := f.read(1 << 22):
            if needle in tail + block:
                return True
            tail = block[-len(needle) :]
    return False


def _json_record_lines(path: Path) -> list[int]:
    with path.open(encoding="utf-8-sig") as f:
        return [n for n, text in enumerate(f, 1) if text.strip()]
