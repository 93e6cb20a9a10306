"""Where a clip's video lives under the media root, and nowhere else.

A stored video path comes from a dataset file, so it is untrusted: `..` components (also
percent-encoded), NUL bytes, and anything that resolves outside the media root, whether an
absolute path or a symlink pointing out, are refused. The check is on the resolved real path,
so containment holds whatever the spelling. What is served must also *be* a video, judged by
its first bytes, never by its name (`video_content_type`): an HTML or SVG file in the media
root would otherwise run script on the app's origin; its Content-Type is the sniffed one.
Streaming (chunks, HTTP Range: 200/206/416) is
Starlette's FileResponse. Dataset folders that projects are created from must lie inside the
media root too (`resolve_dataset_dir`), so their videos can be served.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from fgtext.errors import FgTextError
from fgtext.store import InvalidInputError
from fgtext.video import VideoError, probe_video


class MediaNotServable(FgTextError):
    """The clip's video is missing or lies outside the media root."""


def resolve_media_file(media_root: Path, video: str, *, base: str | Path = "") -> Path:
    """The real path of `video` (relative to `base`, the project's folder, or absolute),
    checked to be a regular file inside `media_root`."""
    root = Path(media_root).resolve()
    decoded = unquote(video)
    if not video or "\x00" in decoded or ".." in PurePosixPath(decoded.replace("\\", "/")).parts:
        raise MediaNotServable(f"video {video!r} is not a plain path inside the media root")
    base_dir = Path(base) if str(base) else root
    try:
        path = (base_dir / video).resolve()  # follows symlinks: a link out of the root is caught
    except (OSError, RuntimeError):  # a symlink loop
        raise MediaNotServable(f"video {video!r} cannot be resolved") from None
    if not path.is_relative_to(root):
        raise MediaNotServable(f"video {video!r} resolves outside the media root")
    if not path.is_file():
        raise MediaNotServable(f"video {video!r} is not a file under the media root")
    return path


# (magic test, Content-Type) by the container's signature. MP4/MOV, WebM and Ogg are what
# browsers play; AVI and MPEG-TS are videos too (served, with nosniff, though few browsers
# play them: the player then says the clip cannot be played).
_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}  # QuickTime atoms
SNIFF_BYTES = 512


def video_content_type(head: bytes) -> str | None:
    """The video Content-Type of a file starting with `head`, None when it is no video."""
    if head[4:8] in _ISO_BOXES:
        brand = head[8:12] if head[4:8] == b"ftyp" else b"qt  "
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM or Matroska, by the DocType
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"OggS"):
        return "video/ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if len(head) > 188 and head[0] == head[188] == 0x47:  # MPEG-TS sync bytes
        return "video/mp2t"
    return None


def servable_video(media_root: Path, video: str, *, base: str | Path = "") -> tuple[Path, str]:
    """`resolve_media_file`, then the file's sniffed video Content-Type: what `/media` serves
    and the export copies. Anything that is no video is not servable."""
    path = resolve_media_file(media_root, video, base=base)
    try:
        with path.open("rb") as file:
            head = file.read(SNIFF_BYTES)
    except OSError:
        raise MediaNotServable(f"video {video!r} cannot be read") from None
    content_type = video_content_type(head)
    if content_type is None:
        raise MediaNotServable(f"video {video!r} is not a video file")
    return path, content_type


def resolve_dataset_dir(media_root: Path, dataset_dir: str) -> Path:
    """A dataset folder the server may import: `dataset_dir` (relative to the media root, or
    absolute) resolved, refused unless it is a folder inside the media root."""
    root = Path(media_root).resolve()
    try:
        path = (root / dataset_dir).resolve()
    except (OSError, RuntimeError, ValueError):  # NUL bytes, symlink loops
        raise InvalidInputError(
            f"dataset_dir {dataset_dir!r} is not a usable path under the media root"
        ) from None
    if not path.is_relative_to(root):
        raise InvalidInputError(
            f"dataset_dir {dataset_dir!r} is outside the media root; put the dataset under "
            "FGTEXT_MEDIA_ROOT and give its path relative to it"
        )
    if not path.is_dir():
        raise InvalidInputError(f"dataset_dir {dataset_dir!r} is not a folder under the media root")
    return path


def video_info(path: Path) -> dict[str, float | int | None]:
    """fps, frame count, duration (s), width and height of a video file: the player's frame
    step needs the frame rate, which browsers do not expose. Cached per file version."""
    stat = path.stat()
    return _video_info(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4096)
def _video_info(path: str, _mtime_ns: int, _size: int) -> dict[str, float | int | None]:
    try:
        return probe_video(path).to_dict()
    except VideoError:
        raise MediaNotServable(f"video {path!r} cannot be read") from None
