"""SMG: SampleNNNN/SampleNNNN_finelabels.csv segments of long recordings, split by subject."""

from __future__ import annotations

import csv
import glob
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fgtext.dataset import Clip
from fgtext.errors import FgTextError
from fgtext.importers.common import (
    Manifest,
    check_segment_end,
    check_unique,
    declared_frames,
    make_manifest,
    parse_int,
    read_rows,
    resolve_class_list,
)
from fgtext.schema import ClassDef


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
            if len(row) != 2 or parse_int(row[1]) is None:
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
            if number is None or parse_int(number) is None:
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
    class_list = resolve_class_list(classes)
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
        frames = declared_frames(video, f"{labels}: ")
        k = 0
        for lineno, row in read_rows(labels):
            where = f"{labels} line {lineno}: "
            numbers = [parse_int(v) for v in row]
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
            check_segment_end(end - frame_base + first_end, frames, video, where)
            clip_id = f"{sample}_{k:03d}"
            check_unique(seen, clip_id, where)
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
    return make_manifest(
        name=name, importer="smg", root=root, class_list=class_list, classes=classes, clips=clips,
        split_rule={**split.to_dict(), "subject_of": subject_rule}, label_base=label_base,
        video_pattern=video_pattern, video_root=str(vroot) if vroot else None,
        frame_base=frame_base, end_inclusive=end_inclusive,
    )  # fmt: skip
