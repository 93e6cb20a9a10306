"""Security headers on every answer, no URL built from the Host header, `/media` serving video
content only (sniffed, never by name), and the export holding to the same media rule."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from annotator.media import MediaNotServable, servable_video, video_content_type
from annotator.security import (
    CONTENT_SECURITY_POLICY,
    MEDIA_CONTENT_SECURITY_POLICY,
    SECURITY_HEADERS,
    relative_location,
)
from annotator.templating import HERE, STATIC_DIR
from tests.annotator.conftest import DATASET

MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
WEBM_HEAD = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm"
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'


def assert_security_headers(reply, *, media: bool = False) -> None:
    csp = reply.headers.get("content-security-policy")
    assert csp == (MEDIA_CONTENT_SECURITY_POLICY if media else CONTENT_SECURITY_POLICY), (
        reply.url,
        csp,
    )
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers.get(name) == value, (reply.url, name)


def test_the_policy_allows_no_inline_script_and_no_framing():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY  # no inline script nor style, no eval
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'" and directives["form-action"] == "'self'"
    assert SECURITY_HEADERS["X-Frame-Options"] == "DENY"
    assert "sandbox" in MEDIA_CONTENT_SECURITY_POLICY


def test_headers_on_pages_api_media_errors_redirects_static_and_docs(app, project, member):
    ivan = member("ivan")
    clip = ivan.client.get(f"/api/v1/projects/{project['id']}/clips").json()[0]
    anonymous = TestClient(app)
    replies = {
        "login page": anonymous.get("/login"),
        "redirect": anonymous.get("/", follow_redirects=False),
        "unknown page": anonymous.get("/no/such/page"),
        "unknown API route": anonymous.get("/api/v1/no-such-route"),
        "401": anonymous.get("/api/v1/auth/me"),
        "static": anonymous.get("/static/app.css"),
        "docs": anonymous.get("/docs"),
        "docs assets": anonymous.get("/static-offline-docs/swagger-ui.css"),
        "openapi": anonymous.get("/api/v1/openapi.json"),
        "home page": ivan.client.get("/"),
        "annotate page": ivan.client.get(f"/projects/{project['id']}/annotate"),
        "API": ivan.client.get("/api/v1/auth/me"),
        "422": ivan.client.get("/api/v1/projects/not-a-number"),
        "media info": ivan.client.get(f"{clip['media_url']}/info"),
    }
    expected = {"redirect": 303, "unknown page": 404, "unknown API route": 404, "401": 401,
                "422": 422}  # fmt: skip
    for what, reply in replies.items():
        assert reply.status_code == expected.get(what, 200), (what, reply.status_code)
        assert_security_headers(reply, media=what.startswith("media"))
    for reply in (ivan.client.get(clip["media_url"]),
                  ivan.client.get(clip["media_url"], headers={"Range": "bytes=0-99"}),
                  ivan.client.get("/media/999999")):  # fmt: skip
        assert reply.status_code in (200, 206, 404)
        assert_security_headers(reply, media=True)


def test_headers_on_a_500_from_starlette_s_outermost_layer(app):
    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    reply = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert reply.status_code == 500
    assert_security_headers(reply)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://evil.example/api/v1/projects", "/api/v1/projects"),
        ("https://EVIL.example/x?a=1#f", "/x?a=1#f"),
        ("http://evil.example//other.example/x", "/other.example/x"),  # never protocol-relative
        ("http://evil.example/\\other.example", "/other.example"),
        ("http://evil.example", "/"),
        ("/login?next=%2F", "/login?next=%2F"),
        ("https://elsewhere.example/x", "https://elsewhere.example/x"),  # not ours: untouched
    ],
)
def test_a_location_on_the_request_host_becomes_relative(location, expected):
    assert relative_location(location, "evil.example") == expected


def test_no_url_is_built_from_a_forged_host_header(app, project, member):
    ivan = member("ivan")
    anonymous = TestClient(app)
    forged = {"Host": "evil.example"}
    replies = [
        anonymous.get("/login", headers=forged),
        anonymous.get("/", headers=forged, follow_redirects=False),
        anonymous.get("/projects/1/annotate", headers=forged, follow_redirects=False),
        anonymous.get("/docs", headers=forged),
        anonymous.get("/no/such/page", headers=forged),
        ivan.client.get("/", headers=forged),
        ivan.client.get(f"/projects/{project['id']}/annotate", headers=forged),
        ivan.client.get("/api/v1/openapi.json", headers=forged),
        # Starlette's trailing-slash redirect builds an absolute URL from Host
        ivan.client.get("/api/v1/users/", headers=forged, follow_redirects=False),
    ]
    assert replies[-1].status_code == 307 and replies[-1].headers["location"] == "/api/v1/users"
    for reply in replies:
        assert reply.status_code < 500
        assert "evil.example" not in reply.text, reply.url
        assert "evil.example" not in str(reply.headers.raw), reply.url
    login = replies[0].text
    assets = re.findall(r'(?:src|href)="([^"]*\.(?:js|css|svg)[^"]*)"', login)
    assert len(assets) == 3 and all(re.match(r"/static/\w+\.\w+\?v=\w{12}$", a) for a in assets)


# <script> elements with code in them, and inline event handlers (onload=, onclick=, ...)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def test_templates_and_pages_carry_no_inline_script(app, admin, project, member):
    for template in sorted((HERE / "templates").glob("*.html")):
        text = template.read_text()
        assert not INLINE_SCRIPT.search(text), template.name
        assert not INLINE_HANDLER.search(text), template.name
        assert "javascript:" not in text, template.name
        assert not re.search(r"\sstyle=", text), template.name
    for script in sorted(STATIC_DIR.glob("*.js")):
        code = script.read_text()
        for unsafe in ("eval(", "new Function", "innerHTML =", 'setAttribute("on'):
            assert unsafe not in code, (script.name, unsafe)
    rita = member("rita", "reviewer")
    pid = project["id"]
    pages = [admin.client.get(url) for url in ("/", "/admin", f"/admin/projects/{pid}",
                                               f"/projects/{pid}/agreement", "/docs")]  # fmt: skip
    pages += [rita.client.get(f"/projects/{pid}/{name}") for name in ("annotate", "review")]
    pages.append(TestClient(app).get("/login"))
    for page in pages:
        assert page.status_code == 200, page.url
        assert "<script" in page.text  # the page does run scripts: all of them files
        assert not INLINE_SCRIPT.search(page.text), page.url
        assert not INLINE_HANDLER.search(page.text), page.url
        assert not re.search(r"<[^>]+\sstyle=", page.text), page.url


def test_docs_is_started_by_a_script_file_that_exists(app):
    client = TestClient(app)
    docs = client.get("/docs").text
    scripts = re.findall(r"<script src=\"([^\"]+)\"", docs)
    assert [s.split("?")[0] for s in scripts] == [
        "/static-offline-docs/swagger-ui-bundle.js", "/static/docs.js"
    ]  # fmt: skip
    starter = client.get(scripts[1])
    assert starter.status_code == 200 and "SwaggerUIBundle(" in starter.text
    assert 'data-openapi-url="/api/v1/openapi.json"' in docs
    assert "dataset.openapiUrl" in starter.text


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (MP4_HEAD, "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "video/quicktime"),
        (WEBM_HEAD, "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"OggS\x00\x02" + bytes(20), "video/ogg"),
        (b"RIFF\x10\x00\x00\x00AVI LIST", "video/x-msvideo"),
        (b"G" + bytes(187) + b"G" + bytes(10), "video/mp2t"),
        (HTML, None),
        (SVG, None),
        (b"just some text\n" * 40, None),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
        (b"", None),
    ],
)
def test_video_content_type_by_the_first_bytes(head, expected):
    assert video_content_type(head) == expected


def _project_clip(admin, member, project) -> tuple[object, dict]:
    ivan = member("ivan")
    clip = ivan.client.get(f"/api/v1/projects/{project['id']}/clips").json()[0]
    return ivan, clip


@pytest.mark.parametrize("content", [HTML, SVG, b"plain text, named .mp4\n" * 30])
def test_media_that_is_no_video_is_refused_whatever_its_name(
    admin, member, project, media_root, content
):
    ivan, clip = _project_clip(admin, member, project)
    (media_root / DATASET / "videos" / f"{clip['clip_id']}.mp4").write_bytes(content)
    for url in (clip["media_url"], f"{clip['media_url']}/info"):
        reply = ivan.client.get(url)
        assert reply.status_code == 404, url
        assert reply.json() == {"detail": "this clip's video is not available"}
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert "text/html" not in reply.headers["content-type"]


@pytest.mark.parametrize("name", ["page.html", "image.svg"])
def test_an_html_or_svg_dataset_file_is_never_served(admin, media_root, name):
    """A dataset whose rows point at an .html / .svg file inside the media root."""
    evil = media_root / "evil"
    (evil / "videos").mkdir(parents=True)
    (evil / "videos" / name).write_bytes(HTML if name.endswith("html") else SVG)
    info = json.loads((media_root / DATASET / "dataset.json").read_text())
    (evil / "dataset.json").write_text(json.dumps(info | {"name": "evil", "splits": {"train": 1}}))
    row = {"clip_id": "e1", "video": f"videos/{name}", "label": 0, "split": "train"}
    (evil / "clips.jsonl").write_text(json.dumps(row) + "\n")
    reply = admin.client.post("/api/v1/projects", json={"name": "evil", "dataset_dir": "evil"})
    assert reply.status_code == 201, reply.text
    (clip,) = admin.client.get(f"/api/v1/projects/{reply.json()['id']}/clips").json()
    served = admin.client.get(clip["media_url"])
    assert served.status_code == 404 and b"alert" not in served.content
    assert served.json() == {"detail": "this clip's video is not available"}


def test_the_content_type_is_the_sniffed_one_not_the_name(admin, member, project, media_root):
    ivan, clip = _project_clip(admin, member, project)
    path = media_root / DATASET / "videos" / f"{clip['clip_id']}.mp4"
    real = ivan.client.get(clip["media_url"])
    assert real.headers["content-type"] == "video/mp4" and real.content[4:8] == b"ftyp"
    path.write_bytes(WEBM_HEAD + bytes(2000))  # a WebM file named .mp4
    webm = ivan.client.get(clip["media_url"], headers={"Range": "bytes=0-9"})
    assert webm.status_code == 206 and webm.headers["content-type"] == "video/webm"
    assert webm.content == WEBM_HEAD[:10]


def test_servable_video_is_containment_then_sniffing(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    (root / "clip.webm").write_bytes(MP4_HEAD + bytes(100))
    (root / "page.mp4").write_bytes(HTML)
    (tmp_path / "outside.mp4").write_bytes(MP4_HEAD + bytes(100))
    assert servable_video(root, "clip.webm") == ((root / "clip.webm").resolve(), "video/mp4")
    for video in ("page.mp4", str(tmp_path / "outside.mp4"), "../outside.mp4"):
        with pytest.raises(MediaNotServable):
            servable_video(root, video)


def _outside_project(admin, media_root: Path, outside: Path) -> dict:
    """A project whose second clip's video is an absolute path outside the media root."""
    source = media_root / DATASET
    evil = media_root / "evil"
    evil.mkdir()
    info = json.loads((source / "dataset.json").read_text())
    (evil / "dataset.json").write_text(json.dumps(info | {"name": "evil", "splits": {"train": 2}}))
    inside = sorted((source / "videos").glob("*.mp4"))[0]
    rows = [{"clip_id": "inside", "video": str(inside), "label": 0, "split": "train"},
            {"clip_id": "outside", "video": str(outside), "label": 0, "split": "train"}]  # fmt: skip
    (evil / "clips.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    reply = admin.client.post("/api/v1/projects", json={"name": "evil", "dataset_dir": "evil"})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_export_with_videos_never_copies_a_file_outside_the_media_root(admin, media_root, tmp_path):
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(MP4_HEAD + b"SECRET outside the media root" + bytes(100))
    project = _outside_project(admin, media_root, outside)
    url = f"/api/v1/projects/{project['id']}/export"
    params = {"include_unfinished": "true", "include_videos": "true"}
    refused = admin.client.get(url, params=params)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail.startswith("clip outside: its video is not a video file inside the media root")
    assert str(tmp_path) not in refused.text and b"SECRET" not in refused.content
    assert_security_headers(refused)
    # without videos the rows only name the paths; nothing is read
    names = admin.client.get(url, params={"include_unfinished": "true"})
    assert names.status_code == 200
    with zipfile.ZipFile(io.BytesIO(names.content)) as archive:
        assert not any("videos/" in name for name in archive.namelist())
        assert all(b"SECRET" not in archive.read(name) for name in archive.namelist())
    # the same export works once the clip's file is a video inside the root
    outside.unlink()
    outside.symlink_to(sorted((media_root / DATASET / "videos").glob("*.mp4"))[1])
    fine = admin.client.get(url, params=params)
    assert fine.status_code == 200, fine.text
    with zipfile.ZipFile(io.BytesIO(fine.content)) as archive:
        videos = [n for n in archive.namelist() if "/videos/" in n and n.endswith(".mp4")]
        assert len(videos) == 2


def test_export_with_videos_refuses_a_non_video_inside_the_root(admin, media_root):
    page = media_root / "page.mp4"
    page.write_bytes(HTML)
    project = _outside_project(admin, media_root, page)
    reply = admin.client.get(
        f"/api/v1/projects/{project['id']}/export",
        params={"include_unfinished": "true", "include_videos": "true"},
    )
    assert reply.status_code == 422 and reply.json()["detail"].startswith("clip outside:")
