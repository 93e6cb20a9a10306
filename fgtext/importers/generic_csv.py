"""A generic CSV of clips: path, class (name or id), split."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from fgtext.dataset import Clip
from fgtext.errors import FgTextError
from fgtext.importers.common import (
    ClassLookup,
    Manifest,
    check_segment_end,
    check_unique,
    declared_frames,
    make_manifest,
    normalize_split,
    parse_int,
    resolve_class_list,
    safe_id,
)
from fgtext.schema import ClassDef

# -- generic CSV -------------------------------------------------------------------------------


def import_csv(
    path: str | Path,
    *,
    classes: str | Path | Sequence[ClassDef] | None = None,
    name: str | None = None,
) -> Manifest:
    """A CSV file with a header: ``path`` (or ``video``), ``class``, ``split``; optional
    ``clip_id``, ``start_frame``, ``end_frame``.

    * ``path``: the video, relative to the CSV file's folder or absolute; it must exist.
    * ``class``: a class name, or a 0-based class id when a class list is given (`classes`:
      smg, imigue, or a class-list file). Without one, the class list is the distinct names,
      sorted, with ids in that order.
    * ``split``: train, validation (val) or test.
    * ``start_frame``/``end_frame``: a segment of the video, 0-based, end exclusive; both or
      neither (an empty cell is neither).
    * ``clip_id``: default the video's file name without extension, plus ``_<start>_<end>`` for
      a segment.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FgTextError(f"{path}: CSV file not found")
    class_list = resolve_class_list(classes)
    lookup = ClassLookup(class_list) if class_list is not None else None
    rows: list[tuple[str, dict[str, str]]] = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        video_col = "path" if "path" in header else "video" if "video" in header else None
        missing = [c for c in ("class", "split") if c not in header]
        if video_col is None or missing:
            need = ([] if video_col else ["path (or video)"]) + missing
            raise FgTextError(
                f"{path}: missing column {', '.join(need)}; the header must name path (or video), "
                f"class, split and optionally clip_id, start_frame, end_frame (got "
                f"{', '.join(header) or 'no header'})"
            )
        for row in reader:
            values = {k: (v or "").strip() for k, v in row.items() if k is not None}
            if not any(values.values()):
                continue
            rows.append((f"{path} line {reader.line_num}: ", values))
    if not rows:
        raise FgTextError(f"{path}: no rows")

    if lookup is None:  # infer the class list from the names
        names = sorted({v["class"] for _, v in rows if v["class"]})
        for where, v in rows:
            if parse_int(v["class"]) is not None:
                raise FgTextError(
                    f"{where}class {v['class']!r} is a number but no class list was given; "
                    "pass --classes (smg, imigue or a class-list file) or use class names"
                )
        class_list = [ClassDef(id=i, name=n) for i, n in enumerate(names)]
        lookup = ClassLookup(class_list)

    clips: list[Clip] = []
    seen: dict[str, str] = {}
    for where, v in rows:
        if not v.get(video_col):
            raise FgTextError(f"{where}empty {video_col}")
        video = Path(v[video_col]).expanduser()
        video = (video if video.is_absolute() else path.parent / video).resolve()
        if not video.is_file():
            raise FgTextError(f"{where}video {v[video_col]!r} not found ({video})")
        label = lookup.find(v["class"]) if v["class"] else None
        if label is None:
            raise FgTextError(f"{where}unknown class {v['class']!r}; {lookup.hint()}")
        split = normalize_split(v["split"], where=where)
        start, end = v.get("start_frame", ""), v.get("end_frame", "")
        if bool(start) != bool(end):
            raise FgTextError(f"{where}start_frame and end_frame come together or not at all")
        segment: tuple[int, int] | None = None
        if start:
            s, e = parse_int(start), parse_int(end)
            if s is None or e is None or s < 0:
                raise FgTextError(
                    f"{where}start_frame and end_frame must be whole numbers >= 0 "
                    f"(got {start!r}, {end!r})"
                )
            if e <= s:
                raise FgTextError(
                    f"{where}end_frame {e} must be after start_frame {s} (end is exclusive)"
                )
            check_segment_end(e, declared_frames(video, where), video, where)
            segment = (s, e)
        clip_id = v.get("clip_id") or (
            safe_id(video.stem) + (f"_{segment[0]}_{segment[1]}" if segment else "")
        )
        check_unique(seen, clip_id, where)
        clips.append(
            Clip(
                clip_id=clip_id,
                video=str(video),
                start_frame=segment[0] if segment else None,
                end_frame=segment[1] if segment else None,
                label=label,
                split=split,
            )
        )
    return make_manifest(
        name=name or path.stem, importer="csv", root=path, class_list=class_list, classes=classes,
        clips=clips, split_rule={"by": "column", "column": "split"},
        classes_inferred=classes is None,
    )  # fmt: skip
