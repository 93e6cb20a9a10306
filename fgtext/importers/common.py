"""What every importer shares: split names, the manifest, class look-up, small readers
(`fgtext.importers` re-exports the public part)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fgtext.dataset import Clip
from fgtext.errors import FgTextError
from fgtext.schema import ClassDef, load_class_list
from fgtext.video import VideoError, probe_video

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
ProgressCallback = Callable[[int, int], None]

# -- splits ------------------------------------------------------------------------------------

SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "val": "validation",
    "valid": "validation",
    "validate": "validation",
    "test": "test",
    "testing": "test",
}
ALLOWED_SPLITS = "train, validation (or val), test"


def normalize_split(value: object, *, where: str = "") -> str:
    """'train' / 'validation' / 'test' for a split name ('val', 'valid', 'validate' accepted)."""
    key = str(value).strip().lower()
    if key not in SPLIT_NAMES:
        raise FgTextError(f"{where}unknown split {value!r}; allowed: {ALLOWED_SPLITS}")
    return SPLIT_NAMES[key]


def split_in_name(name: str) -> str | None:
    """The one split a file or folder name mentions ('imigue_rgb_validate' -> validation)."""
    found = {SPLIT_NAMES[t] for t in re.split(r"[^a-z0-9]+", name.lower()) if t in SPLIT_NAMES}
    return found.pop() if len(found) == 1 else None


# -- the manifest ------------------------------------------------------------------------------


@dataclass
class Manifest:
    """What an importer found: the class list and one unlabelled clip per micro-gesture."""

    name: str
    classes: list[ClassDef]
    clips: list[Clip]
    source: dict = field(default_factory=dict)  # recorded as dataset.json "source"

    def split_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for clip in self.clips:
            counts[clip.split] += 1
        return dict(sorted(counts.items()))


def make_manifest(
    *,
    name: str,
    importer: str,
    root: Path,
    class_list: list[ClassDef],
    classes: object,
    clips: list[Clip],
    split_rule: Mapping[str, Any],
    **options: Any,
) -> Manifest:
    """The manifest an importer returns; `source` records how it was made (the importer, its
    root, its options beside the class list given, and the split rule)."""
    return Manifest(
        name=name,
        classes=class_list,
        clips=clips,
        source={
            "importer": importer,
            "root": str(root),
            "options": {"classes": classes_label(classes), **options},
            "split_rule": split_rule,
        },
    )


def resolve_class_list(classes: str | Path | Sequence[ClassDef] | None) -> list[ClassDef] | None:
    if classes is None:
        return None
    if isinstance(classes, (str, Path)):
        return load_class_list(classes)
    return sorted(classes, key=lambda c: c.id)


def classes_label(classes: object) -> str | None:
    if classes is None or isinstance(classes, str):
        return classes
    if isinstance(classes, Path):
        return str(classes)
    return f"custom ({len(classes)} classes)"  # type: ignore[arg-type]


def _norm_name(name: str) -> str:
    return re.sub(r"[\s_-]+", " ", name).strip().lower()


class ClassLookup:
    """Class name (exact, then ignoring case, '_' and '-') or 0-based id -> id."""

    def __init__(self, classes: list[ClassDef]) -> None:
        self.classes = classes
        self.exact = {c.name: c.id for c in classes}
        self.loose = {_norm_name(c.name): c.id for c in classes}

    def find(self, value: str, *, ids: bool = True) -> int | None:
        value = value.strip()
        if value in self.exact:
            return self.exact[value]
        if _norm_name(value) in self.loose:
            return self.loose[_norm_name(value)]
        if ids and re.fullmatch(r"\d+", value) and int(value) < len(self.classes):
            return int(value)
        return None

    def hint(self, *, ids: bool = True) -> str:
        names = [c.name for c in self.classes]
        shown = ", ".join(repr(n) for n in names[:6]) + (", ..." if len(names) > 6 else "")
        return f"expected a class name ({shown})" + (
            f" or an id 0..{len(names) - 1}" if ids else ""
        )


def safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "clip"


def check_unique(seen: dict[str, str], clip_id: str, where: str) -> None:
    if clip_id in seen:
        raise FgTextError(f"{where}duplicate clip id {clip_id!r} (first at {seen[clip_id]})")
    seen[clip_id] = where.rstrip(": ")


def parse_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else None


def declared_frames(video: Path, where: str) -> int | None:
    """The frame count a video's container declares (None when it declares none)."""
    try:
        return probe_video(video).declared_frames
    except VideoError as e:
        raise FgTextError(f"{where}{e}") from None


def check_segment_end(end: int, frames: int | None, video: Path, where: str) -> None:
    if frames is not None and end > frames:
        raise FgTextError(
            f"{where}the segment ends after the last frame of {video.name} "
            f"({frames} frames; this segment needs frames up to {end - 1}, 0-based)"
        )


def read_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, comma-separated fields) of the non-blank lines of a small CSV file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FgTextError(f"{path}: not a UTF-8 text file") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield lineno, [f.strip() for f in line.split(",")]
