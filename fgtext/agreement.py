"""Inter-annotator agreement on the four FG-Text dimensions and on their joint 4-tuple.

Every dimension is a nominal variable. A *unit* is a clip, a *value* is one annotator's label of
one dimension. Missing values (None, "", NaN; surrounding whitespace is trimmed) are left out, and
a clip takes part in a coefficient only when it has at least two values of that variable
("pairable"); a clip labelled by one annotator is simply not pairable.

Coefficients (each figure is keyed by its coefficient's name):

- ``krippendorff_alpha``: nominal alpha with missing data. With the coincidence matrix
  o_ck = sum_u n_uc (n_uk - [c == k]) / (m_u - 1) (n_uc: values c in clip u, m_u: values in u),
  its marginals n_c and n = sum_c n_c: alpha = 1 - (n - 1) * sum_{c != k} o_ck /
  (n^2 - sum_c n_c^2). The point value comes from the ``krippendorff`` package; where its dense
  units x V x V intermediate would exceed ``_PACKAGE_MAX_CELLS`` cells (many categories in use, as
  in the tuple) the same formula is evaluated on sparse coincidence counts instead ("method"
  says which; the tests check the two agree). ``ci95`` is a percentile bootstrap (2.5 and 97.5
  percentiles) over clips: each resample draws the clips that have at least two annotations
  with replacement, the same draws for every variable, and its alpha is computed from per-clip
  coincidence sums prepared once, as matrix products over the resample counts (no call of the
  package per resample). The same seed gives the same interval.
- ``fleiss_kappa``: Fleiss (1971) assumes the same number of ratings per unit, so it is computed
  over the clips with exactly m values, m being the most common number among pairable clips
  (the larger on a tie); its "note" says how many clips that leaves out.
- ``percent_agreement``: mean over pairable clips of the share of agreeing value pairs.
- ``cohen_kappa``: Cohen's kappa of every pair of annotators over the clips both labelled.
- ``per_class``: alpha (the same formula) and percent agreement within each clip class, when
  the labels give classes.
- ``confusion``: the coincidence matrix o_ck itself (which categories annotators confuse), on
  the most frequent categories, the rest pooled as "(other)".
- the ``tuple`` variable: the four values joined by " | " as one nominal variable; a label with
  any dimension missing is missing for the tuple.

Degenerate inputs give None (JSON null) with a "note" saying why: never NaN, a crash or a
warning.

- No pairable clip (e.g. one annotator only, or every clip labelled once): every coefficient None.
- One category in use by every pairable value: alpha and Fleiss' kappa are 0/0 (no expected
  disagreement) and reported as None, "undefined: only one category in use"; percent agreement
  is then 1.0. We do not turn perfect-but-invariant data into alpha = 1: such data cannot show
  that annotators distinguish anything.
- Cohen's kappa is None for a pair sharing fewer than two clips or whose kappa is 0/0 (both used
  one and the same category); the diagonal is 1.0 for annotators with at least two values.
- A bootstrap resample whose alpha is 0/0 is skipped; ci95 is None when the point value is.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS

TUPLE = "tuple"
TUPLE_SEPARATOR = " | "
LABEL_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json")

# Beyond this many units x categories^2 cells the package's dense intermediates (several float64
# arrays of that size) cost seconds and gigabytes (measured at 100k clips: 13 categories about a
# second, 35 several); the sparse evaluation of the same formula takes over.
_PACKAGE_MAX_CELLS = 4_000_000
# Resample weights are built in chunks of about this many cells (32 MiB of float32).
_BOOT_CHUNK_CELLS = 1 << 23
# A category gets a dense column in the bootstrap matrix product when at least 1/64 of the units
# contain it; rarer ones are summed sparsely (the tuple has thousands of rare categories).
_DENSE_MIN_SHARE = 1 / 64
_DENSE_MAX_COLUMNS = 128
# Rare-category entries are summed in blocks of this many, so each block's rows stay in cache.
_SPARSE_BLOCK = 2048
_CONFUSION_MAX_CATEGORIES = 40
_TOP_DISAGREEMENTS = 10
# Group counts are tallied with a dense bincount up to this many groups, sorted keys above.
_DENSE_COUNT_MAX = 4_000_000


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


# --------------------------------------------------------------------------- numpy helpers


def _group_bounds(sorted_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each run of equal values in a sorted array."""
    n = len(sorted_groups)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    return starts, np.r_[starts[1:], n]


def _within_group_pairs(sorted_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs (i, j), i < j, inside runs of equal values of a sorted array."""
    n = len(sorted_groups)
    starts, ends = _group_bounds(sorted_groups)
    partners = np.repeat(ends, ends - starts) - np.arange(n) - 1
    i = np.repeat(np.arange(n), partners)
    first = np.cumsum(partners) - partners
    j = i + 1 + np.arange(len(i)) - np.repeat(first, partners)
    return i, j


def _group_counts(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys, their counts), dense bincount when the key range is small."""
    if size <= _DENSE_COUNT_MAX:
        counts = np.bincount(keys, minlength=size)
        present = np.flatnonzero(counts)
        return present, counts[present]
    return np.unique(keys, return_counts=True)


def _compact(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys in order, each key's index among them), keys in range(size)."""
    if size <= _DENSE_COUNT_MAX:
        present = np.zeros(size, dtype=bool)
        present[keys] = True
        index = np.cumsum(present) - 1
        return np.flatnonzero(present), index[keys]
    return np.unique(keys, return_inverse=True)


def _sum_by_key(keys: np.ndarray, weights: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys in order, the sum of the weights of each), keys in range(size)."""
    distinct, index = _compact(keys, size)
    return distinct, np.bincount(index, weights=weights, minlength=len(distinct))


def _plain(value: Any) -> Any:
    """A deep copy made of JSON types only: numpy scalars unwrapped, NaN and inf as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def _float(x: Any) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


# --------------------------------------------------------------------------- the analysis


@dataclass
class _Layout:
    """What all variables share: rows sorted by (clip, annotator) and the clip-level sets."""

    n_clips: int
    n_annotators: int
    order: np.ndarray
    clip: np.ndarray
    annotator: np.ndarray
    pair_i: np.ndarray  # the within-clip row pairs Cohen's kappa is counted on
    pair_j: np.ndarray
    resample_clips: np.ndarray  # clips with >= 2 annotations: the bootstrap's units
    resample_pos: np.ndarray  # clip -> position in resample_clips, -1 if not there
    clip_class: np.ndarray | None
    class_names: np.ndarray | None


def _layout(enc: _Encoded) -> _Layout:
    n_clips, n_annotators = len(enc.clip_names), len(enc.annotator_names)
    order = np.lexsort((enc.annotator, enc.clip))
    clip, annotator = enc.clip[order], enc.annotator[order]
    pair_i, pair_j = _within_group_pairs(clip)
    rated = np.bincount(clip, minlength=n_clips)
    resample_clips = np.flatnonzero(rated >= 2)
    resample_pos = np.full(n_clips, -1, dtype=np.int64)
    resample_pos[resample_clips] = np.arange(len(resample_clips))
    clip_class = None
    if enc.row_class is not None:
        clip_class = np.full(n_clips, -1, dtype=np.int64)
        given = enc.row_class >= 0
        clip_class[enc.clip[given]] = enc.row_class[given]
    return _Layout(
        n_clips, n_annotators, order, clip, annotator, pair_i, pair_j,
        resample_clips, resample_pos, clip_class, enc.class_names,
    )  # fmt: skip


@dataclass
class _BootVariable:
    """Per-unit sums of one variable over the bootstrap's units (clips with >= 2 annotations).

    Every entry is an integer, so resampled sums of them are exact in float32.
    """

    m: np.ndarray  # pairable values per unit (0 where the unit is not pairable)
    # sum_{c != k} o_ck of a unit is (m^2 - sum_c n_uc^2) / (m - 1): the integer numerator, in
    # one column per distinct m, and the factors 1 / (m - 1) of those columns
    numerator_unit: np.ndarray
    numerator_col: np.ndarray
    numerator: np.ndarray
    scale: np.ndarray
    dense_unit: np.ndarray  # entries (unit, dense column, count) of the frequent categories
    dense_col: np.ndarray
    dense_count: np.ndarray
    n_dense: int
    # units holding categories found in no other unit, and the sum of those n_uc^2
    single_unit: np.ndarray
    single_sq: np.ndarray
    sparse_unit: np.ndarray  # entries of the other rare categories, sorted by category
    sparse_count: np.ndarray
    # cache-sized blocks of those entries: (first, end, where each category begins - first)
    sparse_blocks: list[tuple[int, int, np.ndarray]]

    @property
    def n_columns(self) -> int:
        return 1 + len(self.scale) + self.n_dense


def _tuple_codes(
    codes: Sequence[np.ndarray], names: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the joint variable; missing where any part is missing."""
    joint = codes[0].copy()
    parts = [np.arange(len(names[0]))]
    for part_codes, part_names in zip(codes[1:], names[1:], strict=True):
        valid = (joint >= 0) & (part_codes >= 0)
        key = joint[valid] * len(part_names) + part_codes[valid]
        distinct, inverse = _compact(key, max(len(parts[0]), 1) * len(part_names))
        joint = np.full(len(joint), -1, dtype=np.int64)
        joint[valid] = inverse
        parts = [p[distinct // len(part_names)] for p in parts] + [distinct % len(part_names)]
    labels = np.array(
        [
            TUPLE_SEPARATOR.join(str(n[p]) for n, p in zip(names, combo, strict=True))
            for combo in zip(*parts, strict=True)
        ],
        dtype=object,
    )  # one string per distinct combination in use, not per row
    return joint, labels


def _analyse(
    codes: np.ndarray, categories: np.ndarray, lay: _Layout, enc: _Encoded
) -> tuple[dict[str, Any], _BootVariable | None, float | None]:
    """Every coefficient of one variable; codes are in the layout's (sorted) row order."""
    n_cat = max(len(categories), 1)
    valid = codes >= 0
    m = np.bincount(lay.clip[valid], minlength=lay.n_clips)
    pairable = m >= 2
    units = np.flatnonzero(pairable)
    entry_key, entry_count = _group_counts(
        lay.clip[valid] * n_cat + codes[valid], lay.n_clips * n_cat
    )
    entry_unit, entry_cat = entry_key // n_cat, entry_key % n_cat
    keep = pairable[entry_unit]
    eu, ec, en = entry_unit[keep], entry_cat[keep], entry_count[keep].astype(np.float64)
    n_raters = np.count_nonzero(np.bincount(lay.annotator[valid], minlength=lay.n_annotators))
    n_values = int(m[units].sum())
    result: dict[str, Any] = {
        "n_categories": int(np.count_nonzero(np.bincount(codes[valid], minlength=n_cat)))
    }

    if not units.size:
        note = (
            "undefined: only one annotator labelled this variable, so no value is pairable"
            if n_raters <= 1
            else "undefined: no clip has two or more values of this variable"
        )
        result |= _undefined_result(note, lay, enc, codes, categories)
        return result, None, None

    # Per unit u: its disagreement sum_{c != k} o_ck = (m_u^2 - sum_c n_uc^2) / (m_u - 1) and
    # its share of agreeing value pairs sum_c n_uc (n_uc - 1) / (m_u (m_u - 1)).
    sum_sq = np.bincount(eu, weights=en * en, minlength=lay.n_clips)
    mf = m.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        disagreement = np.where(pairable, (mf * mf - sum_sq) / (mf - 1), 0.0)
        agree_share = np.where(pairable, (sum_sq - mf) / (mf * (mf - 1)), 0.0)
    marginals = np.bincount(ec, weights=en, minlength=n_cat)
    used = np.flatnonzero(marginals)
    expected = float(n_values) ** 2 - float((marginals**2).sum())
    one_category = len(used) < 2

    alpha_info: dict[str, Any] = {
        "value": None,
        "ci95": None,
        "n_units": int(units.size),
        "n_values": n_values,
        "level": "nominal",
    }
    if one_category:
        alpha_info["note"] = "undefined: only one category in use (no expected disagreement)"
        alpha = None
    elif units.size * len(used) ** 2 <= _PACKAGE_MAX_CELLS:
        counts = np.zeros((units.size, len(used)), dtype=np.int64)
        column = np.zeros(n_cat, dtype=np.int64)
        column[used] = np.arange(len(used))
        row = np.cumsum(pairable) - 1
        counts[row[eu], column[ec]] = en.astype(np.int64)
        alpha = float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))
        alpha_info["method"] = "krippendorff package (value_counts)"
    else:
        alpha = 1.0 - (n_values - 1) * float(disagreement.sum()) / expected
        alpha_info["method"] = (
            "coincidence counts (the package's formula; its dense units x categories^2 "
            "intermediate would be too large)"
        )
    alpha_info["value"] = alpha
    result["krippendorff_alpha"] = alpha_info
    result["fleiss_kappa"] = _fleiss(m, units, eu, ec, en, sum_sq, n_cat)
    result["percent_agreement"] = {
        "value": float(agree_share[units].mean()),
        "n_units": int(units.size),
    }
    result["cohen_kappa"] = _cohen(codes, lay, enc, n_cat)
    if lay.clip_class is not None:
        result["per_class"] = _per_class(
            lay, units, m, disagreement, agree_share, eu, ec, en, n_cat
        )
    result["confusion"] = _confusion(eu, ec, en, m, marginals, categories, n_cat)

    boot = None
    if alpha is not None and lay.resample_clips.size:
        boot = _boot_variable(lay, units, m, sum_sq, eu, ec, en, n_cat)
    return result, boot, alpha


def _undefined_result(
    note: str, lay: _Layout, enc: _Encoded, codes: np.ndarray, categories: np.ndarray
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "krippendorff_alpha": {
            "value": None, "ci95": None, "n_units": 0, "n_values": 0,
            "level": "nominal", "note": note,
        },
        "fleiss_kappa": {"value": None, "n_units": 0, "raters_per_unit": None, "note": note},
        "percent_agreement": {"value": None, "n_units": 0, "note": note},
        "cohen_kappa": _cohen(codes, lay, enc, max(len(categories), 1)),
    }  # fmt: skip
    if lay.clip_class is not None:
        result["per_class"] = {
            str(name): {"krippendorff_alpha": None, "percent_agreement": None, "n_units": 0}
            for name in lay.class_names
        }
    result["confusion"] = {"categories": [], "matrix": [], "top_disagreements": []}
    return result


def _fleiss(
    m: np.ndarray,
    units: np.ndarray,
    eu: np.ndarray,
    ec: np.ndarray,
    en: np.ndarray,
    sum_sq: np.ndarray,
    n_cat: int,
) -> dict[str, Any]:
    raters_counts = np.bincount(m[units])
    raters = int(np.flatnonzero(raters_counts == raters_counts.max()).max())
    chosen = units[m[units] == raters]
    left_out = units.size - chosen.size
    note = (  # only worth saying when Fleiss' equal-raters assumption cost some clips
        f"Fleiss' kappa over the {chosen.size} clips with exactly {raters} values, the most "
        f"common number; {left_out} pairable clips with another number are left out"
        if left_out
        else None
    )
    info: dict[str, Any] = {"value": None, "n_units": int(chosen.size), "raters_per_unit": raters}
    per_unit = (sum_sq[chosen] - raters) / (raters * (raters - 1))
    in_chosen = m[eu] == raters
    totals = np.bincount(ec[in_chosen], weights=en[in_chosen], minlength=n_cat)
    if np.count_nonzero(totals) < 2:
        info["note"] = "; ".join(filter(None, ["undefined: only one category in use", note]))
        return info
    share = totals / totals.sum()
    chance = float((share**2).sum())
    info["value"] = (float(per_unit.mean()) - chance) / (1.0 - chance)
    if note:
        info["note"] = note
    return info


def _cohen(codes: np.ndarray, lay: _Layout, enc: _Encoded, n_cat: int) -> dict[str, Any]:
    n_ann = lay.n_annotators
    x, y = codes[lay.pair_i], codes[lay.pair_j]
    ok = (x >= 0) & (y >= 0)
    x, y = x[ok], y[ok]
    # rows are sorted by annotator inside a clip, so pair_i's annotator is the smaller one
    pair = lay.annotator[lay.pair_i][ok] * n_ann + lay.annotator[lay.pair_j][ok]
    n_pairs = n_ann * n_ann
    n_items = np.bincount(pair, minlength=n_pairs).astype(np.float64)
    agree = np.bincount(pair[x == y], minlength=n_pairs).astype(np.float64)
    # chance agreement count: sum_c (times a gave c) * (times b gave c), per pair
    kx, cx = _group_counts(pair * n_cat + x, n_pairs * n_cat)
    ky, cy = _group_counts(pair * n_cat + y, n_pairs * n_cat)
    common, ix, iy = np.intersect1d(kx, ky, assume_unique=True, return_indices=True)
    chance = np.bincount(
        common // n_cat, weights=cx[ix].astype(np.float64) * cy[iy], minlength=n_pairs
    )
    # kappa = (p_o - p_e) / (1 - p_e) with p_o = agree / n and p_e = chance / n^2; all integers
    numerator = agree * n_items - chance
    denominator = n_items * n_items - chance
    defined = (n_items >= 2) & (denominator > 0)
    kappa = np.full(n_pairs, np.nan)
    kappa[defined] = numerator[defined] / denominator[defined]
    kappa = kappa.reshape(n_ann, n_ann)
    items = n_items.reshape(n_ann, n_ann)
    kappa = np.where(np.isnan(kappa), kappa.T, kappa)  # fill the lower triangle
    items = items + items.T
    own = np.bincount(lay.annotator[codes >= 0], minlength=n_ann)
    np.fill_diagonal(items, own)
    np.fill_diagonal(kappa, np.where(own >= 2, 1.0, np.nan))
    return {
        "annotators": [str(a) for a in enc.annotator_names],
        "matrix": [[_float(v) for v in row] for row in kappa],
        "n_items": items.astype(np.int64).tolist(),
    }


def _per_class(
    lay: _Layout,
    units: np.ndarray,
    m: np.ndarray,
    disagreement: np.ndarray,
    agree_share: np.ndarray,
    eu: np.ndarray,
    ec: np.ndarray,
    en: np.ndarray,
    n_cat: int,
) -> dict[str, Any]:
    n_classes = len(lay.class_names)
    unit_class = lay.clip_class[units]
    has = unit_class >= 0
    cls, u = unit_class[has], units[has]
    n_units = np.bincount(cls, minlength=n_classes)
    n_values = np.bincount(cls, weights=m[u], minlength=n_classes)
    observed = np.bincount(cls, weights=disagreement[u], minlength=n_classes)
    agree = np.bincount(cls, weights=agree_share[u], minlength=n_classes)
    entry_class = lay.clip_class[eu]
    he = entry_class >= 0
    key, class_totals = _sum_by_key(entry_class[he] * n_cat + ec[he], en[he], n_classes * n_cat)
    sum_sq = np.bincount(key // n_cat, weights=class_totals**2, minlength=n_classes)
    expected = n_values**2 - sum_sq
    out: dict[str, Any] = {}
    for k, name in enumerate(lay.class_names):
        entry: dict[str, Any] = {
            "krippendorff_alpha": None,
            "percent_agreement": None,
            "n_units": int(n_units[k]),
        }
        if n_units[k]:
            entry["percent_agreement"] = float(agree[k] / n_units[k])
            if expected[k] > 0:
                entry["krippendorff_alpha"] = float(
                    1.0 - (n_values[k] - 1) * observed[k] / expected[k]
                )
            else:
                entry["note"] = "alpha undefined: only one category in use"
        else:
            entry["note"] = "undefined: no clip of this class has two or more values"
        out[str(name)] = entry
    return out


def _confusion(
    eu: np.ndarray,
    ec: np.ndarray,
    en: np.ndarray,
    m: np.ndarray,
    marginals: np.ndarray,
    categories: np.ndarray,
    n_cat: int,
) -> dict[str, Any]:
    weight = 1.0 / (m[eu] - 1.0)
    ei, ej = _within_group_pairs(eu)  # distinct categories of the same clip
    off = en[ei] * en[ej] * weight[ei]
    keys = np.concatenate([ec * n_cat + ec, ec[ei] * n_cat + ec[ej], ec[ej] * n_cat + ec[ei]])
    values = np.concatenate([en * (en - 1) * weight, off, off])
    key, coincidences = _sum_by_key(keys, values, n_cat * n_cat)
    row, col = key // n_cat, key % n_cat

    used = np.flatnonzero(marginals)
    used = used[np.lexsort((used, -marginals[used]))]  # most frequent first
    shown = used[:_CONFUSION_MAX_CATEGORIES]
    pooled = len(used) > len(shown)
    size = len(shown) + pooled
    position = np.full(n_cat, len(shown), dtype=np.int64)
    position[shown] = np.arange(len(shown))
    matrix = np.bincount(
        position[row] * size + position[col], weights=coincidences, minlength=size * size
    ).reshape(size, size)
    names = [str(categories[c]) for c in shown] + (["(other)"] if pooled else [])
    confusion: dict[str, Any] = {"categories": names, "matrix": matrix.tolist()}
    if pooled:
        confusion["note"] = (
            f"the {len(shown)} most frequent of {len(used)} categories; the rest pooled as (other)"
        )
    upper = row < col
    top = np.argsort(-coincidences[upper], kind="stable")[:_TOP_DISAGREEMENTS]
    confusion["top_disagreements"] = [
        {
            "categories": [str(categories[a]), str(categories[b])],
            "coincidences": float(v),
        }
        for a, b, v in zip(row[upper][top], col[upper][top], coincidences[upper][top], strict=True)
    ]
    return confusion


def _boot_variable(
    lay: _Layout,
    units: np.ndarray,
    m: np.ndarray,
    sum_sq: np.ndarray,
    eu: np.ndarray,
    ec: np.ndarray,
    en: np.ndarray,
    n_cat: int,
) -> _BootVariable:
    n_units = len(lay.resample_clips)
    pos = lay.resample_pos
    unit_m = np.zeros(n_units, dtype=np.float32)
    unit_m[pos[units]] = m[units]
    sizes, size_col = np.unique(m[units], return_inverse=True)
    presence = np.bincount(ec, minlength=n_cat)  # units that contain each category
    ranked = np.lexsort((np.arange(n_cat), -presence))
    dense = ranked[presence[ranked] >= _DENSE_MIN_SHARE * n_units][:_DENSE_MAX_COLUMNS]
    column = np.full(n_cat, -1, dtype=np.int64)
    column[dense] = np.arange(len(dense))
    is_dense = column[ec] >= 0
    is_single = ~is_dense & (presence[ec] == 1)
    single_unit, single_sq = _sum_by_key(pos[eu[is_single]], en[is_single] ** 2, n_units)
    rare = np.flatnonzero(~is_dense & ~is_single)
    rare = rare[np.argsort(ec[rare], kind="stable")]
    starts, _ = _group_bounds(ec[rare])
    firsts = starts[np.r_[True, np.diff(starts // _SPARSE_BLOCK) > 0]] if rare.size else starts
    ends = np.r_[firsts[1:], len(rare)] if rare.size else starts
    blocks = [
        (int(a), int(b), starts[(starts >= a) & (starts < b)] - a)
        for a, b in zip(firsts, ends, strict=True)
    ]  # a Python list of ~nnz / _SPARSE_BLOCK blocks, not of entries
    return _BootVariable(
        m=unit_m,
        numerator_unit=pos[units],
        numerator_col=size_col,
        numerator=m[units].astype(np.float64) ** 2 - sum_sq[units],
        scale=1.0 / (sizes - 1.0),
        dense_unit=pos[eu[is_dense]],
        dense_col=column[ec[is_dense]],
        dense_count=en[is_dense],
        n_dense=len(dense),
        single_unit=single_unit,
        single_sq=single_sq,
        sparse_unit=pos[eu[rare]],
        sparse_count=en[rare].astype(np.float32),
        sparse_blocks=blocks,
    )


def _draw_counts(rng: np.random.Generator, n_units: int) -> np.ndarray:
    """One resample: how often each of the units is drawn in n_units draws with replacement."""
    return np.bincount(rng.integers(0, n_units, n_units), minlength=n_units)


def _bootstrap_alphas(
    variables: Sequence[_BootVariable], n_units: int, n_resamples: int, seed: int
) -> np.ndarray:
    """Alpha of every variable on `n_resamples` resamples of the units (NaN where 0/0).

    A resample is a count vector w (how often each unit was drawn). Then n = w.m, the
    disagreement sum_{c != k} o_ck = sum over m of w.numerator_m / (m - 1), and n_c = w.n_c:
    one float32 matrix product for all variables, exact because every factor is a small
    integer. The rare categories are summed from rows of w's transpose; one present in a
    single unit only adds (w_u n_uc)^2 = w_u^2 n_uc^2.
    """
    offsets = np.cumsum([0] + [v.n_columns for v in variables])
    columns = np.zeros((n_units, offsets[-1]), dtype=np.float32)
    for v, start in zip(variables, offsets, strict=False):
        columns[:, start] = v.m
        columns[v.numerator_unit, start + 1 + v.numerator_col] = v.numerator
        columns[v.dense_unit, start + 1 + len(v.scale) + v.dense_col] = v.dense_count
    any_sparse = any(v.sparse_unit.size or v.single_unit.size for v in variables)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, _BOOT_CHUNK_CELLS // max(n_units, 1)))
    weights = np.empty((chunk, n_units), dtype=np.float32)
    alphas = np.empty((n_resamples, len(variables)))
    for begin in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - begin)
        for k in range(size):
            weights[k] = _draw_counts(rng, n_units)
        w = weights[:size]
        totals = (w @ columns).astype(np.float64)
        by_unit = np.ascontiguousarray(w.T) if any_sparse else None  # units x resamples
        for index, (v, start) in enumerate(zip(variables, offsets, strict=False)):
            n = totals[:, start]
            groups = start + 1 + len(v.scale)
            observed = totals[:, start + 1 : groups] @ v.scale
            dense = totals[:, groups : groups + v.n_dense]
            sum_sq = (dense * dense).sum(axis=1)
            if v.single_unit.size:
                drawn = by_unit[v.single_unit].astype(np.float64)
                sum_sq += (drawn * drawn).T @ v.single_sq
            for first, end, starts in v.sparse_blocks:
                rows = by_unit[v.sparse_unit[first:end]]
                rows *= v.sparse_count[first:end, None]
                rare = np.add.reduceat(rows, starts, axis=0).astype(np.float64)
                sum_sq += np.einsum("cr,cr->r", rare, rare)
            expected = n * n - sum_sq
            with np.errstate(divide="ignore", invalid="ignore"):
                alpha = 1.0 - (n - 1.0) * observed / expected
            alphas[begin : begin + size, index] = np.where(expected > 0, alpha, np.nan)
    return alphas


# --------------------------------------------------------------------------- the report


@dataclass
class AgreementReport:
    """Agreement figures per dimension (and "tuple"); see the module docstring."""

    n_clips: int
    n_annotators: int
    n_labels: int
    annotators: list[str]
    dimensions: dict[str, dict[str, Any]]
    bootstrap: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The full report, JSON-serialisable (numbers are floats, ints or None; never NaN)."""
        return _plain(
            {
                "n_clips": self.n_clips,
                "n_annotators": self.n_annotators,
                "n_labels": self.n_labels,
                "annotators": self.annotators,
                "dimensions": self.dimensions,
                "bootstrap": self.bootstrap,
            }
        )

    def summary(self) -> dict[str, dict[str, Any]]:
        """The dataset.json "agreement" field: headline coefficients per variable."""
        return agreement_summary(self.to_dict())

    def alpha(self, variable: str) -> float | None:
        """Krippendorff's alpha of a dimension or of "tuple" (None where undefined)."""
        return self.dimensions[variable]["krippendorff_alpha"]["value"]


def agreement_summary(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """dataset.json's "agreement" field from a report dict (`AgreementReport.to_dict()`, e.g.
    one cached by the annotation store): the headline coefficients per variable."""
    return _plain(
        {
            name: {
                "krippendorff_alpha": figures["krippendorff_alpha"]["value"],
                "ci95": figures["krippendorff_alpha"]["ci95"],
                "fleiss_kappa": figures["fleiss_kappa"]["value"],
                "percent_agreement": figures["percent_agreement"]["value"],
            }
            for name, figures in report.get("dimensions", {}).items()
        }
    )


def agreement_report(
    table: LabelTable,
    *,
    dimensions: Sequence[str] = DIMENSIONS,
    n_bootstrap: int = 1000,
    seed: int = 0,
    include_tuple: bool = True,
) -> AgreementReport:
    """Every agreement coefficient of the table's dimensions (and of their 4-tuple); the
    bootstrap interval of alpha takes `n_bootstrap` resamples drawn from `seed`."""
    dimensions = _dimension_names(dimensions)
    if n_bootstrap < 0:
        raise FgTextError(f"n_bootstrap is {n_bootstrap}; expected 0 (no interval) or more")
    if include_tuple and TUPLE in dimensions:
        raise FgTextError(f"dimension name {TUPLE!r} is reserved for the joint variable")
    enc = _encoded_table(table, dimensions)
    lay = _layout(enc)
    variables: list[tuple[str, np.ndarray, np.ndarray]] = [
        (d, enc.codes[d][lay.order], enc.categories[d]) for d in dimensions
    ]
    if include_tuple and dimensions:
        joint, labels = _tuple_codes([c for _, c, _ in variables], [n for _, _, n in variables])
        variables.append((TUPLE, joint, labels))

    results: dict[str, dict[str, Any]] = {}
    boots: list[tuple[str, _BootVariable]] = []  # the variables whose alpha is defined
    for name, codes, categories in variables:
        results[name], boot, _ = _analyse(codes, categories, lay, enc)
        if boot is not None:
            boots.append((name, boot))

    if n_bootstrap and boots:
        alphas = _bootstrap_alphas(
            [b for _, b in boots], len(lay.resample_clips), n_bootstrap, seed
        )
        for index, (name, _) in enumerate(boots):
            info = results[name]["krippendorff_alpha"]
            sample = alphas[:, index]
            sample = sample[np.isfinite(sample)]
            info["n_bootstrap"] = n_bootstrap
            info["n_bootstrap_defined"] = int(sample.size)
            if sample.size:
                low, high = np.percentile(sample, [2.5, 97.5])
                info["ci95"] = [float(low), float(high)]
            else:
                info["note"] = "ci95 undefined: no resample has two categories in use"
    for figures in results.values():
        figures["krippendorff_alpha"].setdefault("n_bootstrap", 0)

    return AgreementReport(
        n_clips=lay.n_clips,
        n_annotators=lay.n_annotators,
        n_labels=len(enc.clip),
        annotators=[str(a) for a in enc.annotator_names],
        dimensions=results,
        bootstrap={
            "n_resamples": n_bootstrap,
            "seed": seed,
            "units": "clips with at least two annotations, drawn with replacement",
            "n_units": len(lay.resample_clips),
            "interval": "percentile, 2.5 and 97.5",
        },
    )
