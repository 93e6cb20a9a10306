"""iMiGUE (as released for MiGA): per-split clip lists or per-video label CSVs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fgtext.dataset import Clip
from fgtext.errors import FgTextError
from fgtext.importers.common import (
    VIDEO_SUFFIXES,
    Manifest,
    check_unique,
    make_manifest,
    normalize_split,
    parse_int,
    read_rows,
    resolve_class_list,
    safe_id,
    split_in_name,
)
from fgtext.schema import ClassDef

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
                if any(split_in_name(d) == split for d in p.relative_to(self.root).parts[:-1])
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
        split = split_in_name(p.stem)
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
    class_list = resolve_class_list(classes)
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
                label = parse_int(fields[-1]) if len(fields) == 2 else None
                if len(fields) != 2 or label is None:
                    raise FgTextError(f"{where}expected '<clip>.mp4 <label>', got {line!r}")
                if Path(fields[0]).suffix.lower() not in VIDEO_SUFFIXES:
                    raise FgTextError(
                        f"{where}{fields[0]!r} is not a video file name (expected <id>_<k>.mp4)"
                    )
                cid = class_id(label, where)
                clip_id = safe_id(Path(fields[0]).stem)
                check_unique(seen, clip_id, where)
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
            split = next((s for d in reversed(folders) if (s := split_in_name(d))), None)
            if split is None:
                raise FgTextError(
                    f"{labels}: cannot tell its split: no train, val or test folder above it "
                    f"inside {root}; pass clip lists with --list SPLIT=FILE"
                )
            vid = labels.parent.name
            for k, (lineno, row) in enumerate(read_rows(labels)):
                where = f"{labels} line {lineno}: "
                label = parse_int(row[0])
                if label is None or len(row) != 3:
                    raise FgTextError(
                        f"{where}expected 'label,start,end' (three whole numbers), "
                        f"got {','.join(row)!r}"
                    )
                cid = class_id(label, where)
                clip_id = f"{vid}_{k}"
                check_unique(seen, clip_id, where)
                beside = labels.parent / f"{clip_id}.mp4"
                video = beside if beside.is_file() else index.find(f"{clip_id}.mp4", split, where)
                clips.append(Clip(clip_id=clip_id, video=str(video), label=cid, split=split))
        if not clips:
            raise FgTextError(f"{root}: the <id>_label.csv files contain no clips")
    return make_manifest(
        name=name, importer="imigue", root=root, class_list=class_list, classes=classes,
        clips=clips, split_rule=rule, label_base=label_base,
        label_aliases={str(k): v for k, v in sorted(label_aliases.items())}, clips_dir=str(cdir),
    )  # fmt: skip
