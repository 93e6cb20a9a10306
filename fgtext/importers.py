"""Clip manifests from existing micro-gesture datasets: SMG, iMiGUE, a generic CSV, a folder tree.

Every importer returns a `Manifest` — the class list and one unlabelled `Clip` per micro-gesture
(the video's absolute path, and for a segment of a longer video its 0-based `start_frame` and
exclusive `end_frame`) — and never touches the videos beyond checking that they exist.
`write_manifest` turns a manifest into an `fgtext-dataset/1` folder; with `cut=True` it also
makes the dataset self-contained: each segment is decoded and re-encoded (H.264) into
`videos/<clip_id>.mp4` inside the dataset (`fgtext.video`'s encoder) and whole-file clips are copied there.

Facts about the public datasets these importers rely on (and where they come from):

* **SMG** (Chen et al., 2019/IJCV 2023; github.com/mikecheninoulu/SMG). Each long recording is a
  folder ``SampleNNNN`` holding ``SampleNNNN_finelabels.csv`` (one micro-gesture per row:
  ``label,start,end``, no header), ``SampleNNNN_skeleton.csv`` and, in the RGB release,
  ``SampleNNNN_color.mp4`` — the ChaLearn LAP 2014 sample layout SMG's starter kit is built on
  (``online recognition/SMG/THDutils.py`` says so; MiGA users read
  ``SMG_RGB_Phase1/smg_rgb_<split>/Sample0031/Sample0031_color.mp4``).
  Labels are 1-based (1..17): ``SMGaccessSample.py`` and ``tools/smg_gendata.py`` subtract 1.
  Frame numbers are 1-based and the end frame is inclusive: the official reader fetches
  ``getSkeleton(n)`` = row ``n-1`` for ``n in range(start, end + 1)``, the ChaLearn convention.
  One sample is one subject: ``tools/smg_gendata.py`` builds ``'Sample%04d' % subject`` for
  subjects 1..40 and puts subjects 36-40 in the test split. Hence the defaults here: subject =
  the number in the sample name (overridable with a regex, a mapping or a function), split by
  `SMG_OFFICIAL_SPLIT`.
* **iMiGUE** (Liu et al., CVPR 2021) as released for the MiGA challenges: per long video a folder
  ``<id>/`` with ``<id>_label.csv`` (rows ``label,start,end``) and the pre-cut clips
  ``<id>_<k>.mp4``, k the 0-based row (github.com/mikecheninoulu/SMG
  ``classification/iMiGUE/.../iMiGUEaccessSample.py`` and MiGA solutions' loaders), under
  split folders (``train``/``val``, ``imigue_rgb_train``/``imigue_rgb_validate``, ...). Labels
  are 1-based, 1..32, and the raw annotations write the 32nd class (illustrative hand gestures)
  as 99 — the organisers' reader maps 99 to 32 before subtracting 1; `import_imigue` does the
  same by default. Clip lists ``<id>_<k>.mp4 <label>`` (one file per split) are read too.
"""

from __future__ import annotations

import csv
import glob
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from fgtext.dataset import Clip, DatasetWriter
from fgtext.errors import FgTextError
from fgtext.schema import ClassDef, Schema, default_schema, load_class_list
from fgtext.video import CODEC, DEFAULT_CRF, PIXEL_FORMAT, H264Writer, VideoError, probe_video

__all__ = [
    "IMIGUE_ILLUSTRATIVE_LABEL",
    "SMG_OFFICIAL_SPLIT",
    "SMG_PAPER_SPLIT",
    "SMG_SPLITS",
    "SMG_SUBJECT_REGEX",
    "SMG_VIDEO_PATTERN",
    "VIDEO_SUFFIXES",
    "Manifest",
    "SubjectSplit",
    "import_csv",
    "import_folder",
    "import_imigue",
    "import_smg",
    "load_subject_map",
    "normalize_split",
    "write_manifest",
]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
ProgressCallback = Callable[[int, int], None]

# -- splits ------------------------------------------------------------------------------------

_SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "val": "validation",
    "valid": "validation",
    "validate": "validation",
    "test": "test",
    "testing": "test",
}
_ALLOWED_SPLITS = "train, validation (or val), test"


def normalize_split(value: object, *, where: str = "") -> str:
    """'train' / 'validation' / 'test' for a split name ('val', 'valid', 'validate' accepted)."""
    key = str(value).strip().lower()
    if key not in _SPLIT_NAMES:
        raise FgTextError(f"{where}unknown split {value!r}; allowed: {_ALLOWED_SPLITS}")
    return _SPLIT_NAMES[key]


def _split_in_name(name: str) -> str | None:
    """The one split a file or folder name mentions ('imigue_rgb_validate' -> validation)."""
    found = {_SPLIT_NAMES[t] for t in re.split(r"[^a-z0-9]+", name.lower()) if t in _SPLIT_NAMES}
    return found.pop() if len(found) == 1 else None


def _parse_subjects(text: str, what: str) -> frozenset[int]:
    ids: set[int] = set()
    for token in (t.strip() for t in str(text).split(",")):
        if not token:
            continue
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", token)
        if not m or (m[2] is not None and int(m[2]) < int(m[1])):
            raise FgTextError(
                f"{what} {text!r}: {token!r} is not a subject number or a range like 36-40"
            )
        ids.update(range(int(m[1]), int(m[2] or m[1]) + 1))
    return frozenset(ids)


def _ranges(ids: frozenset[int]) -> str:
    out: list[str] = []
    for i in sorted(ids):
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in out) or "none"


@dataclass(frozen=True)
class SubjectSplit:
    """Which subjects are held out: `test` and `validation` subjects; everyone else trains.

    `SubjectSplit.parse("36-40")`, `SubjectSplit.parse("36-40", validation="31-35")`."""

    test: frozenset[int]
    validation: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", frozenset(int(s) for s in self.test))
        object.__setattr__(self, "validation", frozenset(int(s) for s in self.validation))
        both = self.test & self.validation
        if both:
            raise FgTextError(
                f"subject split: subject {min(both)} is in both the test and the validation "
                "subjects; each subject belongs to one split"
            )

    @classmethod
    def parse(cls, test: str, validation: str = "") -> SubjectSplit:
        """From text like "36-40" or "1,3,5-7" (an empty string is no subjects)."""
        return cls(
            test=_parse_subjects(test, "test subjects"),
            validation=_parse_subjects(validation, "validation subjects"),
        )

    def split_of(self, subject: int) -> str:
        if subject in self.test:
            return "test"
        if subject in self.validation:
            return "validation"
        return "train"

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": "subject",
            "test": sorted(self.test),
            "validation": sorted(self.validation),
            "train": "every other subject",
        }

    def __str__(self) -> str:
        return f"test subjects {_ranges(self.test)}; validation subjects {_ranges(self.validation)}"


SMG_OFFICIAL_SPLIT = SubjectSplit(test=frozenset(range(36, 41)))
# FG-SGL's protocol (2,452 / 637 / 610 train / validation / test clips) holds out a validation
# split too. The paper gives the counts, not the subjects; 31-35 for validation is our reading
# (the five subjects before the official test ones), to be confirmed by the counts on the real data.
SMG_PAPER_SPLIT = SubjectSplit(test=frozenset(range(36, 41)), validation=frozenset(range(31, 36)))
SMG_SPLITS = {"official": SMG_OFFICIAL_SPLIT, "paper": SMG_PAPER_SPLIT}

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


def _class_list(classes: str | Path | Sequence[ClassDef] | None) -> list[ClassDef] | None:
    if classes is None:
        return None
    if isinstance(classes, (str, Path)):
        return load_class_list(classes)
    return sorted(classes, key=lambda c: c.id)


def _classes_label(classes: object) -> str | None:
    if classes is None or isinstance(classes, str):
        return classes
    if isinstance(classes, Path):
        return str(classes)
    return f"custom ({len(classes)} classes)"  # type: ignore[arg-type]


def _norm_name(name: str) -> str:
    return re.sub(r"[\s_-]+", " ", name).strip().lower()


class _ClassLookup:
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


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "clip"


def _check_unique(seen: dict[str, str], clip_id: str, where: str) -> None:
    if clip_id in seen:
        raise FgTextError(f"{where}duplicate clip id {clip_id!r} (first at {seen[clip_id]})")
    seen[clip_id] = where.rstrip(": ")


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else None


# -- SMG ---------------------------------------------------------------------------------------

SMG_VIDEO_PATTERN = "{sample}_color.mp4"
SMG_SUBJECT_REGEX = r"Sample(\d+)"
_SMG_LABELS = "_finelabels.csv"

SubjectOf = str | Path | Mapping[str, int] | Callable[[str], int]


def load_subject_map(path: str | Path) -> dict[str, int]:
    """A sample -> subject map from a CSV file with rows `sample,subject` (a header is optional)."""
    path = Path(path)
    if not path.is_file():
        raise FgTextError(f"{path}: subject map not found")
    out: dict[str, int] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            row = [c.strip() for c in row]
            if not any(row):
                continue
            if len(row) != 2 or _int(row[1]) is None:
                if lineno == 1 and len(row) == 2:
                    continue  # a header
                raise FgTextError(
                    f"{path} line {lineno}: expected 'sample,subject' (a name and a number), "
                    f"got {','.join(row)!r}"
                )
            out[row[0]] = int(row[1])
    if not out:
        raise FgTextError(f"{path}: the subject map has no rows")
    return out


def _subject_resolver(subject_of: SubjectOf) -> tuple[Callable[[str, Path], int], str]:
    if isinstance(subject_of, Path):
        subject_of = load_subject_map(subject_of)
    if isinstance(subject_of, str):
        try:
            regex = re.compile(subject_of)
        except re.error as e:
            raise FgTextError(f"subject regex {subject_of!r} is not a valid regex ({e})") from None

        def by_regex(sample: str, where: Path) -> int:
            m = regex.fullmatch(sample)
            number = next((g for g in (m.groups() if m else ()) if g is not None), None)
            if number is None or _int(number) is None:
                raise FgTextError(
                    f"{where}: cannot tell the subject of sample {sample!r}: it does not match "
                    f"the subject regex {subject_of!r} with a number group; pass a "
                    "sample,subject map"
                )
            return int(number)

        return by_regex, f"regex {subject_of}"
    if isinstance(subject_of, Mapping):
        mapping = dict(subject_of)

        def by_map(sample: str, where: Path) -> int:
            if sample not in mapping:
                raise FgTextError(f"{where}: sample {sample!r} is not in the subject map")
            return int(mapping[sample])

        return by_map, f"map of {len(mapping)} samples"
    return (lambda sample, where: int(subject_of(sample))), "function"


def _find_video(root: Path, rel: str, where: Path) -> Path:
    """The one file under `root` whose path ends with `rel`."""
    parts = Path(rel).parts
    hits = sorted(
        p
        for p in root.rglob(glob.escape(parts[-1]))
        if p.is_file() and p.relative_to(root).parts[-len(parts) :] == parts
    )
    if len(hits) > 1:
        raise FgTextError(
            f"{where}: the video {rel!r} is found more than once under {root} "
            f"({hits[0]} and {hits[1]}); pass a more specific video root"
        )
    return hits[0] if hits else root / rel


def _video_frames(video: Path, where: str) -> int | None:
    """The frame count a video's container declares (None when it declares none)."""
    try:
        return probe_video(video).declared_frames
    except VideoError as e:
        raise FgTextError(f"{where}{e}") from None


def _check_segment_end(end: int, frames: int | None, video: Path, where: str) -> None:
    if frames is not None and end > frames:
        raise FgTextError(
            f"{where}the segment ends after the last frame of {video.name} "
            f"({frames} frames; this segment needs frames up to {end - 1}, 0-based)"
        )


def _read_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, comma-separated fields) of the non-blank lines of a small CSV file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FgTextError(f"{path}: not a UTF-8 text file") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield lineno, [f.strip() for f in line.split(",")]


def import_smg(
    root: str | Path,
    *,
    split: SubjectSplit = SMG_OFFICIAL_SPLIT,
    classes: str | Path | Sequence[ClassDef] = "smg",
    label_base: int = 1,
    video_pattern: str = SMG_VIDEO_PATTERN,
    video_root: str | Path | None = None,
    subject_of: SubjectOf = SMG_SUBJECT_REGEX,
    frame_base: int = 1,
    end_inclusive: bool = True,
    name: str = "smg",
) -> Manifest:
    """SMG: every row of every ``SampleNNNN/SampleNNNN_finelabels.csv`` under `root` is a clip.

    A row ``label,start,end`` becomes the clip ``SampleNNNN_kkk`` (k: the 0-based row among the
    segments of that file) of the sample's RGB video, ``video_pattern`` formatted with
    ``{sample}`` and taken relative to the sample folder — or, when the RGB videos live in a
    separate tree (the MiGA release: ``SMG_RGB_Phase1/smg_rgb_train/Sample0031/...``), found by
    that relative path anywhere under `video_root`. Labels are `label_base`-based (SMG: 1..17)
    and become 0-based class ids. Frame numbers are `frame_base`-based with an inclusive end
    (SMG: 1-based, inclusive) and become 0-based with an exclusive end.

    The split is by subject: `subject_of` maps a sample name to its subject — a regex whose
    first group is the number (default ``Sample(\\d+)``: SMG has one sample per subject, the
    official preprocessing names subject s ``Sample%04d``), a ``{sample: subject}`` mapping, a
    `Path` to a ``sample,subject`` CSV, or a function — and `split` assigns subjects to test /
    validation / train (default: the official rule, subjects 36-40 test, no validation).
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise FgTextError(f"{root}: SMG folder not found")
    class_list = _class_list(classes)
    assert class_list is not None
    resolve_subject, subject_rule = _subject_resolver(subject_of)
    vroot = Path(video_root).expanduser().resolve() if video_root is not None else None
    if vroot is not None and not vroot.is_dir():
        raise FgTextError(f"{vroot}: SMG video root folder not found")
    try:
        video_pattern.format(sample="Sample0001")
    except (KeyError, IndexError, ValueError) as e:
        raise FgTextError(
            f"video pattern {video_pattern!r} is not valid: use {{sample}} for the sample name ({e})"
        ) from None

    label_files = sorted(root.rglob("*" + _SMG_LABELS))
    if not label_files:
        raise FgTextError(
            f"{root}: no SMG label files found (expected SampleNNNN/SampleNNNN{_SMG_LABELS})"
        )
    lo, hi = label_base, label_base + len(class_list) - 1
    first_end = 1 if end_inclusive else 0
    clips: list[Clip] = []
    samples: dict[str, Path] = {}
    seen: dict[str, str] = {}
    for labels in label_files:
        sample = labels.name[: -len(_SMG_LABELS)]
        if sample in samples:
            raise FgTextError(
                f"{labels}: sample {sample} appears twice (also {samples[sample]}); "
                "give the folder of one copy"
            )
        samples[sample] = labels
        subject = resolve_subject(sample, labels)
        clip_split = split.split_of(subject)
        rel = video_pattern.format(sample=sample)
        video = _find_video(vroot, rel, labels) if vroot else labels.parent / rel
        if not video.is_file():
            raise FgTextError(
                f"{labels}: the RGB video of {sample} is missing: {video} does not exist "
                f"(video pattern {video_pattern!r}); pass --video-pattern or --video-root"
            )
        frames = _video_frames(video, f"{labels}: ")
        k = 0
        for lineno, row in _read_rows(labels):
            where = f"{labels} line {lineno}: "
            numbers = [_int(v) for v in row]
            if lineno == 1 and all(v is None for v in numbers):
                continue  # a header line
            if len(row) != 3 or any(v is None for v in numbers):
                raise FgTextError(
                    f"{where}expected 'label,start,end' (three whole numbers), got {','.join(row)!r}"
                )
            label, start, end = (int(v) for v in numbers)  # type: ignore[arg-type]
            if not lo <= label <= hi:
                raise FgTextError(
                    f"{where}label {label} is outside {lo}..{hi} "
                    f"(the {len(class_list)} classes, {label_base}-based)"
                )
            if start < frame_base:
                raise FgTextError(
                    f"{where}start frame {start} is before the first frame {frame_base} "
                    f"(frame numbers are {frame_base}-based; pass --frame-base 0 if this file "
                    "counts from 0)"
                )
            if end < start or (end == start and not end_inclusive):
                raise FgTextError(f"{where}end frame {end} is not after start frame {start}")
            _check_segment_end(end - frame_base + first_end, frames, video, where)
            clip_id = f"{sample}_{k:03d}"
            _check_unique(seen, clip_id, where)
            clips.append(
                Clip(
                    clip_id=clip_id,
                    video=str(video),
                    start_frame=start - frame_base,
                    end_frame=end - frame_base + first_end,
                    label=label - label_base,
                    split=clip_split,
                )
            )
            k += 1
    if not clips:
        raise FgTextError(f"{root}: the SMG label files contain no segments")
    return Manifest(
        name=name,
        classes=class_list,
        clips=clips,
        source={
            "importer": "smg",
            "root": str(root),
            "options": {
                "classes": _classes_label(classes),
                "label_base": label_base,
                "video_pattern": video_pattern,
                "video_root": str(vroot) if vroot else None,
                "frame_base": frame_base,
                "end_inclusive": end_inclusive,
            },
            "split_rule": {**split.to_dict(), "subject_of": subject_rule},
        },
    )


# -- iMiGUE ------------------------------------------------------------------------------------

IMIGUE_ILLUSTRATIVE_LABEL = 99  # the raw annotations' label for the 32nd class


class _VideoIndex:
    """All video files under a folder, by file name (built on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._by_name: dict[str, list[Path]] | None = None

    def find(self, rel: str, split: str, where: str) -> Path:
        direct = self.root / rel
        if direct.is_file():
            return direct
        if self._by_name is None:
            self._by_name = defaultdict(list)
            for p in sorted(self.root.rglob("*")):
                if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file():
                    self._by_name[p.name].append(p)
        parts = Path(rel).parts
        hits = [
            p
            for p in self._by_name.get(parts[-1], [])
            if p.relative_to(self.root).parts[-len(parts) :] == parts
        ]
        if len(hits) > 1:  # the same name under several split folders: take this split's
            hits = [
                p
                for p in hits
                if any(_split_in_name(d) == split for d in p.relative_to(self.root).parts[:-1])
            ]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise FgTextError(f"{where}video {rel!r} not found under {self.root}")
        raise FgTextError(
            f"{where}video {rel!r} is ambiguous under {self.root} ({hits[0]}, {hits[1]}); "
            "pass the clips folder of this split"
        )


def _discover_lists(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for p in sorted(root.iterdir()):
        if not p.is_file() or p.suffix.lower() not in (".txt", ".list"):
            continue
        split = _split_in_name(p.stem)
        if split is None:
            continue
        if split in found:
            raise FgTextError(
                f"{root}: two clip lists for the {split} split ({found[split].name}, {p.name}); "
                "pass --list SPLIT=FILE for each split"
            )
        found[split] = p
    return found


def import_imigue(
    root: str | Path,
    *,
    classes: str | Path | Sequence[ClassDef] = "imigue",
    label_base: int = 1,
    lists: Mapping[str, str | Path] | None = None,
    clips_dir: str | Path | None = None,
    label_aliases: Mapping[int, int] | None = None,
    name: str = "imigue",
) -> Manifest:
    """iMiGUE (as released for MiGA): pre-cut clips ``<id>_<k>.mp4`` with 1-based labels.

    Two layouts are read:

    * clip lists, one per split, lines ``<id>_<k>.mp4 <label>`` (``#`` comments and blank lines
      allowed). `lists` maps a split (train, validation/val, test) to its file (relative to
      `root`, or as given); without `lists`, the ``.txt``/``.list`` files directly in `root`
      whose name names exactly one split (``train_list.txt``, ``val.txt``, ``imigue_test.txt``)
      are used. A clip path is taken relative to `clips_dir` (default `root`); if it is not
      there it is looked up by name anywhere below (``<id>/<id>_<k>.mp4`` in a split folder).
    * with no clip lists, the MiGA release itself: every ``<id>/<id>_label.csv`` below `root`,
      row k (``label,start,end``) being the clip ``<id>_<k>.mp4`` next to it (or below
      `clips_dir`), the split read from the folders above it (``train``, ``val``,
      ``imigue_rgb_validate``, ``test``...).

    Labels are `label_base`-based (the official annotations count from 1); `label_aliases` maps
    raw labels before that — by default, with the built-in class list, 99 (the raw label of
    "illustrative hand gestures") to 32, as the organisers' reader does.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise FgTextError(f"{root}: iMiGUE folder not found")
    class_list = _class_list(classes)
    assert class_list is not None
    builtin = isinstance(classes, str) and classes.lower() == "imigue"
    if label_aliases is None:
        label_aliases = (
            {IMIGUE_ILLUSTRATIVE_LABEL: label_base + len(class_list) - 1} if builtin else {}
        )
    cdir = Path(clips_dir).expanduser().resolve() if clips_dir is not None else root
    if not cdir.is_dir():
        raise FgTextError(f"{cdir}: clips folder not found")
    index = _VideoIndex(cdir)
    lo, hi = label_base, label_base + len(class_list) - 1

    def class_id(label: int, where: str) -> int:
        raw = label
        label = label_aliases.get(label, label)
        if not lo <= label <= hi:
            aliases = "".join(f", or {a}" for a in sorted(label_aliases))
            raise FgTextError(
                f"{where}label {raw} is not a class: expected {lo}..{hi}{aliases} "
                f"(the {len(class_list)} classes, {label_base}-based)"
            )
        return label - label_base

    clips: list[Clip] = []
    seen: dict[str, str] = {}
    if lists is None:
        list_files = _discover_lists(root)
    else:
        list_files = {}
        for key, value in lists.items():
            split = normalize_split(key, where="clip lists: ")
            path = Path(value).expanduser()
            if not path.is_absolute() and (root / path).is_file():
                path = root / path
            if not path.is_file():
                raise FgTextError(f"{path}: clip list for the {split} split not found")
            list_files[split] = path.resolve()

    if list_files:
        rule: dict[str, Any] = {
            "by": "clip lists",
            "lists": {s: str(p) for s, p in sorted(list_files.items())},
        }
        for split, path in sorted(list_files.items()):
            text = path.read_text(encoding="utf-8-sig")
            for lineno, line in enumerate(text.splitlines(), 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                where = f"{path} line {lineno}: "
                fields = line.split()
                label = _int(fields[-1]) if len(fields) == 2 else None
                if len(fields) != 2 or label is None:
                    raise FgTextError(f"{where}expected '<clip>.mp4 <label>', got {line!r}")
                if Path(fields[0]).suffix.lower() not in VIDEO_SUFFIXES:
                    raise FgTextError(
                        f"{where}{fields[0]!r} is not a video file name (expected <id>_<k>.mp4)"
                    )
                cid = class_id(label, where)
                clip_id = _safe_id(Path(fields[0]).stem)
                _check_unique(seen, clip_id, where)
                video = index.find(fields[0], split, where)
                clips.append(Clip(clip_id=clip_id, video=str(video), label=cid, split=split))
        if not clips:
            raise FgTextError(
                f"{root}: the clip lists ({', '.join(str(p) for p in list_files.values())}) "
                "contain no clips"
            )
    else:
        rule = {"by": "folders", "label_files": "<id>/<id>_label.csv"}
        label_files = sorted(
            p for p in root.rglob("*_label.csv") if p.name == f"{p.parent.name}_label.csv"
        )
        if not label_files:
            raise FgTextError(
                f"{root}: no clip lists (train/val/test .txt files) and no <id>/<id>_label.csv "
                "files found; pass --list SPLIT=FILE"
            )
        for labels in label_files:
            folders = [root.name, *labels.relative_to(root).parts[:-2]]
            split = next((s for d in reversed(folders) if (s := _split_in_name(d))), None)
            if split is None:
                raise FgTextError(
                    f"{labels}: cannot tell its split: no train, val or test folder above it "
                    f"inside {root}; pass clip lists with --list SPLIT=FILE"
                )
            vid = labels.parent.name
            for k, (lineno, row) in enumerate(_read_rows(labels)):
                where = f"{labels} line {lineno}: "
                label = _int(row[0])
                if label is None or len(row) != 3:
                    raise FgTextError(
                        f"{where}expected 'label,start,end' (three whole numbers), "
                        f"got {','.join(row)!r}"
                    )
                cid = class_id(label, where)
                clip_id = f"{vid}_{k}"
                _check_unique(seen, clip_id, where)
                beside = labels.parent / f"{clip_id}.mp4"
                video = beside if beside.is_file() else index.find(f"{clip_id}.mp4", split, where)
                clips.append(Clip(clip_id=clip_id, video=str(video), label=cid, split=split))
        if not clips:
            raise FgTextError(f"{root}: the <id>_label.csv files contain no clips")
    return Manifest(
        name=name,
        classes=class_list,
        clips=clips,
        source={
            "importer": "imigue",
            "root": str(root),
            "options": {
                "classes": _classes_label(classes),
                "label_base": label_base,
                "label_aliases": {str(k): v for k, v in sorted(label_aliases.items())},
                "clips_dir": str(cdir),
            },
            "split_rule": rule,
        },
    )


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
    class_list = _class_list(classes)
    lookup = _ClassLookup(class_list) if class_list is not None else None
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
            if _int(v["class"]) is not None:
                raise FgTextError(
                    f"{where}class {v['class']!r} is a number but no class list was given; "
                    "pass --classes (smg, imigue or a class-list file) or use class names"
                )
        class_list = [ClassDef(id=i, name=n) for i, n in enumerate(names)]
        lookup = _ClassLookup(class_list)

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
            s, e = _int(start), _int(end)
            if s is None or e is None or s < 0:
                raise FgTextError(
                    f"{where}start_frame and end_frame must be whole numbers >= 0 "
                    f"(got {start!r}, {end!r})"
                )
            if e <= s:
                raise FgTextError(
                    f"{where}end_frame {e} must be after start_frame {s} (end is exclusive)"
                )
            _check_segment_end(e, _video_frames(video, where), video, where)
            segment = (s, e)
        clip_id = v.get("clip_id") or (
            _safe_id(video.stem) + (f"_{segment[0]}_{segment[1]}" if segment else "")
        )
        _check_unique(seen, clip_id, where)
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
    return Manifest(
        name=name or path.stem,
        classes=class_list,
        clips=clips,
        source={
            "importer": "csv",
            "root": str(path),
            "options": {
                "classes": _classes_label(classes),
                "classes_inferred": classes is None,
            },
            "split_rule": {"by": "column", "column": "split"},
        },
    )


# -- folder tree -------------------------------------------------------------------------------


def import_folder(
    root: str | Path,
    *,
    classes: str | Path | Sequence[ClassDef] | None = None,
    split_dirs: bool = True,
    default_split: str = "train",
    name: str | None = None,
) -> Manifest:
    """``root/<class>/<video>`` or, when every top-level folder is a split name (train,
    validation/val, test) and `split_dirs` is on, ``root/<split>/<class>/<video>``.

    Videos are the files with a video suffix (.mp4, .avi, .mov, .mkv, .webm, .m4v) directly in a
    class folder; without split folders every clip is in `default_split`. A class folder's name
    must be a class of `classes` (compared ignoring case, '_' and '-'); without a class list the
    classes are the folder names, sorted. Clip ids are ``<split>-<class>-<file stem>`` (or
    ``<class>-<file stem>``), made safe as file names.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise FgTextError(f"{root}: folder not found")
    default_split = normalize_split(default_split, where="default split: ")
    top = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    splits = {p: _SPLIT_NAMES.get(p.name.lower()) for p in top}
    by_split = bool(split_dirs and top and any(splits.values()))
    if by_split and not all(splits.values()):
        other = next(p.name for p in top if not splits[p])
        named = next(p.name for p in top if splits[p])
        raise FgTextError(
            f"{root}: the top-level folders mix a split ({named!r}) with other names ({other!r}); "
            f"expected root/<class>/ or root/<split>/<class>/ with splits {_ALLOWED_SPLITS}"
        )
    groups = [(splits[p], p) for p in top] if by_split else [(default_split, root)]
    found: list[tuple[str, str, Path]] = []  # (split, class folder, video)
    for split, folder in groups:
        for p in sorted(folder.iterdir()):
            if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
                raise FgTextError(
                    f"{p}: a video outside a class folder; expected {folder}/<class>/{p.name}"
                )
            if not p.is_dir() or p.name.startswith("."):
                continue
            for v in sorted(p.iterdir()):
                if v.is_file() and v.suffix.lower() in VIDEO_SUFFIXES:
                    found.append((split or default_split, p.name, v))
    if not found:
        layout = "<split>/<class>/" if by_split else "<class>/"
        raise FgTextError(f"{root}: no videos found (expected {layout}<video>.mp4)")

    class_list = _class_list(classes)
    if class_list is None:
        class_list = [
            ClassDef(id=i, name=n) for i, n in enumerate(sorted({c for _, c, _ in found}))
        ]
    lookup = _ClassLookup(class_list)
    clips: list[Clip] = []
    seen: dict[str, str] = {}
    for split, cname, video in found:
        label = lookup.find(cname, ids=False)
        if label is None:
            raise FgTextError(
                f"{video.parent}: folder {cname!r} is not a class; {lookup.hint(ids=False)}"
            )
        clip_id = _safe_id("-".join(([split] if by_split else []) + [_safe_id(cname), video.stem]))
        _check_unique(seen, clip_id, f"{video}: ")
        clips.append(Clip(clip_id=clip_id, video=str(video), label=label, split=split))
    return Manifest(
        name=name or root.name,
        classes=class_list,
        clips=clips,
        source={
            "importer": "folder",
            "root": str(root),
            "options": {
                "classes": _classes_label(classes),
                "split_dirs": split_dirs,
            },
            "split_rule": (
                {"by": "folders", "folders": sorted(p.name for p in top)}
                if by_split
                else {"by": "fixed", "split": default_split}
            ),
        },
    )


# -- writing -----------------------------------------------------------------------------------


_SAFE_FILE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _cut_video(
    source: Path,
    segments: list[tuple[int, int, Path, str]],
    crf: int,
    done: Callable[[], None],
) -> None:
    """Cut every (start, end, out, clip_id) segment of `source` in one sequential decode.

    Frames are counted in decode order, so frame i is exactly the i-th decoded frame whatever
    the container's timestamps say; decoding stops after the last segment's end."""
    import av

    pending = sorted(segments, key=lambda s: (s[0], s[1]))
    active: list[tuple[int, str, H264Writer]] = []  # (end, clip_id, writer)
    last = max(end for _, end, _, _ in segments)
    index = 0
    try:
        container = av.open(str(source))
    except (av.error.FFmpegError, OSError) as e:
        raise FgTextError(f"{source}: cannot open the video ({e})") from None
    try:
        if not container.streams.video:
            raise FgTextError(f"{source}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = Fraction(stream.average_rate or stream.guessed_rate or 30)
        width = stream.codec_context.width // 2 * 2
        height = stream.codec_context.height // 2 * 2
        try:
            for frame in container.decode(stream):
                while pending and pending[0][0] == index:
                    _, end, out, clip_id = pending.pop(0)
                    writer = H264Writer(out, rate=rate, width=width, height=height, crf=crf)
                    active.append((end, clip_id, writer))
                if active:
                    picture = frame.reformat(width=width, height=height, format=PIXEL_FORMAT)
                    for _, _, writer in active:
                        writer.write(picture)
                index += 1
                for item in [a for a in active if a[0] == index]:
                    item[2].close()
                    active.remove(item)
                    done()
                if index >= last:
                    break
        except av.error.FFmpegError as e:
            raise FgTextError(f"{source}: cannot decode frame {index} ({e})") from None
        unfinished = [(e, c) for _, e, _, c in pending] + [(e, c) for e, c, _ in active]
        if unfinished:
            end, clip_id = min(unfinished)
            raise FgTextError(
                f"{source}: has only {index} frames, but clip {clip_id} needs frames up to "
                f"{end - 1} (0-based)"
            )
    finally:
        for _, _, writer in active:
            writer.abandon()
        container.close()


def write_manifest(
    manifest: Manifest,
    out: str | Path,
    *,
    cut: bool = False,
    parquet: bool = False,
    overwrite: bool = False,
    schema: Schema | None = None,
    progress: ProgressCallback | None = None,
    crf: int = DEFAULT_CRF,
) -> Path:
    """Write `manifest` as an fgtext-dataset/1 folder at `out` (atomically) and return it.

    Without `cut`, rows point at the source videos (absolute paths) and segments keep their
    `start_frame`/`end_frame`. With `cut`, each segment is decoded and re-encoded (libx264,
    `crf`) into ``videos/<clip_id>.mp4`` inside the dataset — exactly ``end - start`` frames,
    the source's frame rate, even width/height — and whole-file clips are copied to
    ``videos/<clip_id><ext>``; rows then hold that relative path and no frame range. All the
    segments of one source are cut in a single decoding pass. `progress(done, total)` is called
    as clips are done.
    """
    schema = schema or default_schema()
    clips = list(manifest.clips)
    total = len(clips)
    if not clips:
        raise FgTextError(f"manifest {manifest.name!r}: no clips to write")
    source = dict(manifest.source)
    if cut:
        source["cut"] = {"videos": "videos/<clip_id>", "codec": CODEC, "crf": crf}
    counter = {"done": 0}

    def one_done() -> None:
        counter["done"] += 1
        if progress is not None:
            progress(counter["done"], total)

    with DatasetWriter(
        out,
        name=manifest.name,
        schema=schema,
        classes=manifest.classes,
        source=source,
        parquet=parquet,
        overwrite=overwrite,
    ) as writer:
        if not cut:
            for clip in clips:
                writer.add(clip)
                one_done()
            return Path(out)
        # Check every row (ids, labels) before the slow part; then cut.
        videos = writer.staging_dir / "videos"
        videos.mkdir()
        plans: dict[Path, list[tuple[int, int, Path, str]]] = defaultdict(list)
        copies: list[tuple[Path, Path]] = []
        for clip in clips:
            if not _SAFE_FILE_ID.fullmatch(clip.clip_id):
                raise FgTextError(
                    f"clip {clip.clip_id!r}: with --cut the clip id names its file, so it may "
                    "only use letters, digits, '.', '_' and '-'"
                )
            src = Path(clip.video)
            if not src.is_file():
                raise FgTextError(f"clip {clip.clip_id}: video {src} not found")
            if clip.start_frame is not None:
                name = f"{clip.clip_id}.mp4"
                plans[src].append((clip.start_frame, clip.end_frame, videos / name, clip.clip_id))
            else:
                name = f"{clip.clip_id}{src.suffix.lower()}"
                copies.append((src, videos / name))
            writer.add(
                clip.model_copy(
                    update={"video": f"videos/{name}", "start_frame": None, "end_frame": None}
                )
            )
        for src, dst in copies:
            shutil.copy2(src, dst)
            one_done()
        for src, segments in plans.items():
            _cut_video(src, segments, crf, one_done)
    return Path(out)
