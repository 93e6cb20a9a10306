"""A folder per class, optionally inside train/validation/test folders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fgtext.dataset import Clip
from fgtext.errors import FgTextError
from fgtext.importers.common import (
    ALLOWED_SPLITS,
    SPLIT_NAMES,
    VIDEO_SUFFIXES,
    ClassLookup,
    Manifest,
    check_unique,
    make_manifest,
    normalize_split,
    resolve_class_list,
    safe_id,
)
from fgtext.schema import ClassDef

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
    splits = {p: SPLIT_NAMES.get(p.name.lower()) for p in top}
    by_split = bool(split_dirs and top and any(splits.values()))
    if by_split and not all(splits.values()):
        other = next(p.name for p in top if not splits[p])
        named = next(p.name for p in top if splits[p])
        raise FgTextError(
            f"{root}: the top-level folders mix a split ({named!r}) with other names ({other!r}); "
            f"expected root/<class>/ or root/<split>/<class>/ with splits {ALLOWED_SPLITS}"
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

    class_list = resolve_class_list(classes)
    if class_list is None:
        class_list = [
            ClassDef(id=i, name=n) for i, n in enumerate(sorted({c for _, c, _ in found}))
        ]
    lookup = ClassLookup(class_list)
    clips: list[Clip] = []
    seen: dict[str, str] = {}
    for split, cname, video in found:
        label = lookup.find(cname, ids=False)
        if label is None:
            raise FgTextError(
                f"{video.parent}: folder {cname!r} is not a class; {lookup.hint(ids=False)}"
            )
        clip_id = safe_id("-".join(([split] if by_split else []) + [safe_id(cname), video.stem]))
        check_unique(seen, clip_id, f"{video}: ")
        clips.append(Clip(clip_id=clip_id, video=str(video), label=label, split=split))
    rule = (
        {"by": "folders", "folders": sorted(p.name for p in top)}
        if by_split
        else {"by": "fixed", "split": default_split}
    )
    return make_manifest(
        name=name or root.name, importer="folder", root=root, class_list=class_list,
        classes=classes, clips=clips, split_rule=rule, split_dirs=split_dirs,
    )  # fmt: skip
