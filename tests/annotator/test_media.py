"""`GET /media/{clip_id}`: Range requests, access, and nothing outside the media root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlmodel import Session

from annotator.media import MediaNotServable, resolve_media_file
from fgtext import store
from tests.annotator.conftest import DATASET


def _clip_file(media_root: Path, engine, clip_id: int) -> Path:
    with Session(engine) as session:
        clip = store.get_clip(session, clip_id=clip_id)
        return media_root / clip.video


@pytest.fixture
def clip(project, member):
    ivan = member("ivan")
    first = ivan.client.get(f"/api/v1/projects/{project['id']}/clips").json()[0]
    return ivan, first


def test_whole_file_and_byte_ranges(clip, media_root, engine):
    ivan, info = clip
    path = _clip_file(media_root, engine, info["id"])
    data = path.read_bytes()
    size = len(data)
    assert size > 1000
    url = info["media_url"]

    whole = ivan.client.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["content-length"] == str(size)
    assert "private" in whole.headers["cache-control"]

    part = ivan.client.get(url, headers={"Range": "bytes=100-299"})
    assert part.status_code == 206 and part.content == data[100:300]
    assert part.headers["content-range"] == f"bytes 100-299/{size}"
    assert part.headers["content-length"] == "200"

    open_ended = ivan.client.get(url, headers={"Range": "bytes=1000-"})
    assert open_ended.status_code == 206 and open_ended.content == data[1000:]
    assert open_ended.headers["content-range"] == f"bytes 1000-{size - 1}/{size}"

    suffix = ivan.client.get(url, headers={"Range": "bytes=-50"})
    assert suffix.status_code == 206 and suffix.content == data[-50:]
    assert suffix.headers["content-range"] == f"bytes {size - 50}-{size - 1}/{size}"

    beyond = ivan.client.get(url, headers={"Range": f"bytes={size}-{size + 10}"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"

    head = ivan.client.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(size)


def test_symlink_swapped_in_pointing_out_of_the_root_is_refused(clip, media_root, engine, tmp_path):
    ivan, info = clip
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"not for annotators")
    path = _clip_file(media_root, engine, info["id"])
    path.unlink()
    os.symlink(secret, path)
    reply = ivan.client.get(info["media_url"])
    assert reply.status_code == 404
    assert reply.json() == {"detail": "this clip's video is not available"}  # no server paths


def test_a_symlink_inside_the_root_is_served(clip, media_root, engine):
    ivan, info = clip
    path = _clip_file(media_root, engine, info["id"])
    real = media_root / "elsewhere.mp4"
    path.rename(real)
    os.symlink(real, path)
    assert ivan.client.get(info["media_url"]).content == real.read_bytes()


def test_missing_file_and_encoded_traversal_in_the_url_are_refused(clip, media_root, engine):
    ivan, info = clip
    _clip_file(media_root, engine, info["id"]).unlink()
    assert ivan.client.get(info["media_url"]).status_code == 404
    for url in ("/media/..%2F..%2Fetc%2Fpasswd", "/media/%2e%2e/%2e%2e/etc/passwd",
                "/media/../../etc/passwd", "/media/%2Fetc%2Fpasswd"):  # fmt: skip
        reply = ivan.client.get(url)
        assert reply.status_code in (404, 422), url
        assert b"root:" not in reply.content


def test_dataset_videos_outside_the_root_are_stored_but_never_served(
    admin, member, media_root, tmp_path
):
    """A dataset whose rows point outside the media root (.., absolute, a symlink)."""
    import json

    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"outside the media root")
    evil = media_root / "evil"
    evil.mkdir()
    (evil / "link.mp4").symlink_to(outside)
    info = json.loads((media_root / DATASET / "dataset.json").read_text())
    (evil / "dataset.json").write_text(json.dumps(info | {"name": "evil", "splits": {"train": 4}}))
    rows = [
        {"clip_id": f"e{i}", "video": video, "label": 0, "split": "train"}
        for i, video in enumerate(["../../outside.mp4", str(outside), "link.mp4",
                                   "%2e%2e/%2e%2e/outside.mp4"])
    ]  # fmt: skip
    (evil / "clips.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    reply = admin.client.post("/api/v1/projects", json={"name": "evil", "dataset_dir": "evil"})
    assert reply.status_code == 201, reply.text
    clips = admin.client.get(f"/api/v1/projects/{reply.json()['id']}/clips").json()
    assert len(clips) == 4
    for clip in clips:
        got = admin.client.get(clip["media_url"])
        assert got.status_code == 404, clip["clip_id"]
        assert b"outside the media root" not in got.content


@pytest.mark.parametrize(
    "video", ["../secret.mp4", "a/../../secret.mp4", "%2e%2e/secret.mp4", "..%2fsecret.mp4",
              "a\\..\\..\\secret.mp4", "/etc/passwd", "link", "loop", "nothing.mp4", "", "a\x00b"],
)  # fmt: skip
def test_resolve_media_file_refuses_anything_outside_the_root(tmp_path, video):
    root = tmp_path / "media"
    (root / "a").mkdir(parents=True)
    (tmp_path / "secret.mp4").write_bytes(b"x")
    (root / "link").symlink_to(tmp_path / "secret.mp4")
    (root / "loop").symlink_to(root / "loop")
    with pytest.raises(MediaNotServable):
        resolve_media_file(root, video)


def test_resolve_media_file_accepts_files_inside_the_root(tmp_path):
    root = tmp_path / "media"
    (root / "project" / "videos").mkdir(parents=True)
    (root / "project" / "videos" / "c1.mp4").write_bytes(b"x")
    expected = (root / "project" / "videos" / "c1.mp4").resolve()
    assert resolve_media_file(root, "project/videos/c1.mp4") == expected
    assert resolve_media_file(root, "videos/c1.mp4", base=root / "project") == expected
    assert resolve_media_file(root, str(expected)) == expected  # absolute but inside
