"""The annotator in a real headless Chromium: the annotation flow by keyboard, agreement,
adjudication, export download, the player's controls, undo, edit, errors, layout and labels."""

from __future__ import annotations

import io
import json
import math
import random
import time
import zipfile

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from fgtext import store
from fgtext.dataset import DatasetWriter, open_dataset
from fgtext.schema import DIMENSIONS, default_schema, load_class_list
from fgtext.store import Annotation, Clip
from tests.e2e.conftest import PASSWORD, login, screenshot

pytestmark = pytest.mark.timeout(180)

FPS = 25  # e2e_dataset's frame rate
# Predicates are functions: Playwright evaluates a bare expression string with eval(), which
# the pages' Content-Security-Policy (no 'unsafe-eval') refuses.
WAIT_VIDEO = "() => document.getElementById('video').readyState >= 2"


def annotate_page(page, server):
    page.goto(f"{server.url}/projects/{server.project_id}/annotate")
    page.wait_for_function(WAIT_VIDEO)
    return page


def keyboard_label(page, filters: list[str]) -> None:
    """Choose the four values by typing a filter and Enter for each attribute in turn."""
    for text in filters:
        page.keyboard.type(text)
        page.keyboard.press("Enter")


def annotations_of(server, clip_id: str) -> dict[str, Annotation]:
    with server.session() as session:
        rows = session.exec(
            select(store.User.username, Annotation)
            .join(Annotation, Annotation.user_id == store.User.id)
            .join(Clip, Clip.id == Annotation.clip_id)
            .where(Clip.clip_id == clip_id)
        ).all()
    return dict(rows)


def test_annotate_by_keyboard_agreement_adjudication_and_export(live_server, new_page):
    url, pid = live_server.url, live_server.project_id

    # alice logs in with the keyboard only and labels a clip with the keyboard only
    alice = new_page()
    alice.goto(f"{url}/")
    assert alice.url.startswith(f"{url}/login")
    expect(alice.locator("#username")).to_be_focused()  # autofocus: no click needed
    alice.keyboard.type("alice")
    alice.keyboard.press("Tab")
    alice.keyboard.type(PASSWORD)
    alice.keyboard.press("Enter")
    alice.wait_for_url(f"{url}/")
    assert alice.inner_text(f"#project-{pid}") == "Gestures"
    annotate_page(alice, live_server)
    clip_id = alice.inner_text("#clip-name")
    assert alice.inner_text("#count-done") == "0"
    # the focused choice group points screen readers at the value Enter would choose
    assert alice.evaluate("document.activeElement.id") == "group-initiator"
    alice.keyboard.type("rig")
    assert alice.get_attribute("#group-initiator", "aria-activedescendant") == (
        "chip-initiator-right_hand"
    )
    alice.keyboard.press("Escape")  # clears the filter
    keyboard_label(alice, ["right", "eye", "forth", "rub"])
    assert alice.evaluate("document.activeElement.id") == "group-motion_type"
    expect(alice.locator("#sentence")).to_have_text(
        "The right hand rubs the eyes with a back-and-forth movement."
    )
    for dim, value in [("initiator", "right hand"), ("receiver", "eyes"),
                       ("direction", "back and forth"), ("motion_type", "rub")]:  # fmt: skip
        assert alice.inner_text(f"#chosen-{dim}") == value
    alice.keyboard.press("Alt+U")  # unsure
    alice.keyboard.press("Alt+N")
    alice.keyboard.type("hand partly hidden")
    alice.keyboard.press("Escape")
    alice.wait_for_timeout(1100)  # some time on the clip
    alice.keyboard.press("Control+Enter")

    # it is counted, and the next clip is up
    alice.wait_for_function("() => document.getElementById('count-done').textContent === '1'")
    alice.wait_for_function(
        f"() => document.getElementById('clip-name').textContent !== '{clip_id}'"
    )
    assert alice.inner_text("#count-remaining") == "7"
    saved = annotations_of(live_server, clip_id)["alice"]
    assert saved.attributes == {"initiator": "right_hand", "receiver": "eyes",
                                "direction": "back_and_forth", "motion_type": "rub"}  # fmt: skip
    assert saved.unsure and saved.note == "hand partly hidden"
    assert saved.seconds_spent >= 1.0
    assert alice.inner_text("#recent-list li:first-child a") == clip_id
    alice.goto(f"{url}/")
    assert alice.inner_text("[data-testid=done]") == "1"

    # the admin's dashboard: one label, nothing to compare yet
    admin = new_page("ada")
    admin.goto(f"{url}/projects/{pid}/agreement")
    assert admin.inner_text("[data-testid=n-labels]") == "1"
    assert admin.inner_text("[data-testid=n-pairable]") == "0"

    # bob is handed the same clip (fullest first) and disagrees on the motion
    bob = new_page("bob")
    annotate_page(bob, live_server)
    assert bob.inner_text("#clip-name") == clip_id
    keyboard_label(bob, ["right", "eye", "forth", "scr"])
    bob.keyboard.press("Control+Enter")
    bob.wait_for_function("() => document.getElementById('count-done').textContent === '1'")

    # the dashboard has updated: two labels on one clip, alpha per dimension
    admin.reload()
    assert admin.inner_text("[data-testid=n-labels]") == "2"
    assert admin.inner_text("[data-testid=n-pairable]") == "1"
    assert admin.locator("#alpha-chart g[data-dimension=initiator]").count() == 1
    with live_server.session() as session:
        project = store.get_project(session, project_id=pid)
        report = store.project_agreement(session, project=project)
    assert report["n_labels"] == 2
    motion_pct = report["dimensions"]["motion_type"]["percent_agreement"]["value"]
    assert motion_pct == 0.0
    row = admin.locator("#alpha-table tr[data-dimension=motion_type] td").nth(4)
    assert row.inner_text() == "0.0%"

    # more labels (through the store) so the dashboard shows what a real project looks like
    _label_the_rest(live_server)
    admin.reload()
    admin.goto(f"{url}/projects/{pid}/agreement?dimension=motion_type")
    assert admin.locator("table.heat").count() == 3  # kappa; confusion of a pair, of all
    # colours and widths come as data attributes (the CSP allows no style attributes)
    cell = admin.locator("table.heat td[data-colour]").first
    colour = cell.get_attribute("data-colour")
    if colour.startswith("#"):
        colour = "rgb({}, {}, {})".format(*(int(colour[i : i + 2], 16) for i in (1, 3, 5)))
    assert cell.evaluate("td => getComputedStyle(td).backgroundColor") == colour
    final = admin.locator(".progress .seg-final")
    share = float(final.get_attribute("data-width")) / 100
    total = admin.locator(".progress").evaluate("e => e.getBoundingClientRect().width")
    width = final.evaluate("e => e.getBoundingClientRect().width")
    assert share > 0 and width == pytest.approx(share * total, abs=1.5)
    screenshot(admin, "agreement-dashboard", full_page=True)

    # the reviewer adjudicates the disputed clip: everyone's labels side by side
    rita = new_page("rita")
    rita.goto(f"{url}/projects/{pid}/review")
    rita.click(f"a[aria-label='Review {clip_id}']")
    rita.wait_for_function(WAIT_VIDEO)
    table = rita.text_content("#label-table")
    assert "alice" in table and "bob" in table and "scratch" in table and "rub" in table
    assert rita.locator("#label-table tr.diff").count() == 1
    rita.select_option("#final-motion_type", "rub")
    rita.fill("#reason", "the fingers move back and forth over the closed eyes: a rub")
    screenshot(rita, "review-page")
    review_url = rita.url
    rita.click("#btn-adjudicate")
    rita.wait_for_url(lambda u: u != review_url)  # on to the next clip in the queue
    assert rita.url.endswith("/review")
    with live_server.session() as session:
        clip = session.exec(select(Clip).where(Clip.clip_id == clip_id)).one()
        final, status = store.clip_final_labels(session, clip=clip)
    assert status == "adjudicated" and final["motion_type"] == "rub"

    # the admin downloads the export; the clip's final labels are the reviewer's
    admin.goto(f"{url}/admin/projects/{pid}")
    with admin.expect_download() as download_info:
        admin.click("#btn-export")
    download = download_info.value
    assert download.suggested_filename == "Gestures.zip"
    data = download.path().read_bytes()
    extract = live_server.media_root.parent / "export"
    zipfile.ZipFile(io.BytesIO(data)).extractall(extract)
    exported = {c.clip_id: c for c in open_dataset(extract / "Gestures").clips()}
    assert exported[clip_id].attributes == {"initiator": "right_hand", "receiver": "eyes",
                                            "direction": "back_and_forth", "motion_type": "rub"}  # fmt: skip
    assert exported[clip_id].text == "The right hand rubs the eyes with a back-and-forth movement."


def _label_the_rest(server, *, leave_open: int = 0) -> None:
    """alice and bob label the other clips (but the last `leave_open`) from the dataset's gold
    values, bob with a few slips, so the dashboard has figures to draw."""
    slips = {1: ("motion_type", "scratch"), 3: ("receiver", "nose"), 5: ("direction", "upward")}
    gold = {c.clip_id: c.attributes for c in open_dataset(server.media_root / "synthetic").clips()}
    with server.session() as session:
        project = store.get_project(session, project_id=server.project_id)
        users = {u.username: u for u in store.list_users(session)}
        clips = store.list_clips(session, project=project)
        for i, clip in enumerate(clips[: len(clips) - leave_open]):
            labelled = {a.user_id for a in store.clip_annotations(session, clip=clip)}
            for name in ("alice", "bob"):
                if users[name].id in labelled:
                    continue
                values = dict(gold[clip.clip_id])
                if name == "bob" and i in slips:
                    values[slips[i][0]] = slips[i][1]
                store.submit_annotation(
                    session, clip=clip, user=users[name], attributes=values,
                    seconds_spent=6.0 + i,
                )  # fmt: skip


def _user(server, username: str) -> store.User:
    with server.session() as session:
        return store.get_user_by_username(session, username=username)


def eventually(check, seconds: float = 10.0) -> None:
    """Wait until `check()` is true: the page's request may still be on its way."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the change never reached the database"
        time.sleep(0.05)


def frame(page) -> int:
    return page.evaluate(f"Math.floor(document.getElementById('video').currentTime * {FPS} + 1e-3)")


def test_player_frame_step_speed_loop_and_zoom(live_server, new_page):
    page = annotate_page(new_page("alice"), live_server)
    video = "document.getElementById('video')"
    assert frame(page) == 0
    assert page.evaluate(f"{video}.paused")

    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => Math.floor({video}.currentTime * {FPS} + 1e-3) === 1")
    assert math.isclose(page.evaluate(f"{video}.currentTime"), 1.5 / FPS, abs_tol=1e-3)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => Math.floor({video}.currentTime * {FPS} + 1e-3) === 3")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => Math.floor({video}.currentTime * {FPS} + 1e-3) === 2")
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function(f"() => Math.floor({video}.currentTime * {FPS} + 1e-3) === 12")
    expect(page.locator("#time-readout")).to_contain_text("frame 13 / 50")
    page.click("#btn-frame-back")  # the buttons do the same
    page.wait_for_function(f"() => Math.floor({video}.currentTime * {FPS} + 1e-3) === 11")
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    page.keyboard.press("Shift+ArrowLeft")  # stops at the first frame
    page.wait_for_function(f"() => Math.floor({video}.currentTime * {FPS} + 1e-3) === 0")

    rate = lambda: page.evaluate(f"{video}.playbackRate")  # noqa: E731
    assert rate() == 1
    page.keyboard.press("=")
    assert rate() == 1.25
    page.keyboard.press("-")
    page.keyboard.press("-")
    assert rate() == 0.75
    page.select_option("#speed", "0.1")
    assert rate() == pytest.approx(0.1)
    page.keyboard.press("-")  # 0.1x is the slowest
    assert rate() == pytest.approx(0.1)
    page.select_option("#speed", "2")
    page.keyboard.press("=")  # 2x is the fastest
    assert rate() == 2

    # loop a marked sub-range: frames 10 to 20, played at 2x for well over its length
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("[")
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("]")
    assert page.is_visible("#loop-range")
    page.keyboard.press(" ")
    page.wait_for_function(f"() => !{video}.paused")
    page.wait_for_timeout(1500)  # 3 s of video at 2x; the range is 0.4 s long
    t = page.evaluate(f"{video}.currentTime")
    page.keyboard.press(" ")
    page.wait_for_function(f"() => {video}.paused")
    # within the range (a frame or so of slack for a busy machine); unlooped it would have
    # stopped at the clip's end, 1.98 s
    assert 10 / FPS - 0.05 <= t <= 21 / FPS + 0.25, t

    # zoom into a dragged region; 0 resets
    box = page.locator("#viewport").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4, steps=5)
    page.mouse.up()
    transform = page.evaluate(f"{video}.style.transform")
    assert "scale(" in transform and float(transform.split("scale(")[1].rstrip(")")) > 3
    assert page.is_visible("#zoom-badge")
    page.keyboard.press("0")
    assert page.evaluate(f"{video}.style.transform") == ""
    assert page.evaluate(f"{video}.paused")  # dragging zooms, it does not start playback


def test_undo_and_edit_a_past_label(live_server, new_page):
    page = annotate_page(new_page("alice"), live_server)
    first = page.inner_text("#clip-name")
    keyboard_label(page, ["head", "non", "down", "lower"])
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"() => document.getElementById('clip-name').textContent !== '{first}'")
    second = page.inner_text("#clip-name")
    assert page.inner_text("#count-done") == "1" and page.is_enabled("#btn-undo")

    # undo: the annotation is withdrawn and the clip is back with its values
    page.keyboard.press("Control+z")
    page.wait_for_function(f"() => document.getElementById('clip-name').textContent === '{first}'")
    assert page.inner_text("#count-done") == "0"
    assert page.inner_text("#chosen-motion_type") == "lower"
    assert "alice" not in annotations_of(live_server, first)
    page.keyboard.press("4")
    page.keyboard.type("raise")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.getElementById('count-done').textContent === '1'")
    assert annotations_of(live_server, first)["alice"].attributes["motion_type"] == "raise"
    # the clip that was up before the undo is up again
    page.wait_for_function(f"() => document.getElementById('clip-name').textContent === '{second}'")

    # edit a past label from "My labels"
    page.goto(f"{live_server.url}/projects/{live_server.project_id}/mine")
    assert page.inner_text("[data-testid=done]") == "1"
    assert "The head rises" in page.inner_text("table")
    page.click(f"a[aria-label='Edit your label of {first}']")
    page.wait_for_function(WAIT_VIDEO)
    assert page.is_visible("#edit-banner")
    assert page.inner_text("#clip-name") == first
    page.keyboard.press("3")
    page.keyboard.type("upw")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"() => document.getElementById('clip-name').textContent !== '{first}'")
    edited = annotations_of(live_server, first)["alice"]
    assert edited.attributes["direction"] == "upward" and edited.version == 2


def test_login_errors_access_and_logout(live_server, new_page):
    url, pid = live_server.url, live_server.project_id
    page = new_page()
    page.goto(f"{url}/projects/{pid}/mine")
    assert page.url == f"{url}/login?next=/projects/{pid}/mine"
    page.fill("#username", "alice")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert page.inner_text("#login-error") == "Wrong username or password."
    assert page.input_value("#username") == "alice"
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/projects/{pid}/mine")  # back where they were going

    # an annotator does not see the dashboard, review or admin pages, nor others' labels
    for path, code in [(f"/projects/{pid}/agreement", "403"), (f"/projects/{pid}/review", "403"),
                       ("/admin", "403"), ("/projects/999/annotate", "404")]:  # fmt: skip
        response = page.goto(url + path)
        assert response.status == int(code), path
        assert page.inner_text(".big-code") == code
    with live_server.session() as session:
        project = store.get_project(session, project_id=pid)
        clip = store.list_clips(session, project=project, limit=1)[0]
        bob = store.get_user_by_username(session, username="bob")
        store.submit_annotation(
            session, clip=clip, user=bob, attributes={"initiator": "head", "receiver": "none",
            "direction": "static", "motion_type": "lower"},
        )  # fmt: skip
    response = page.goto(f"{url}/projects/{pid}/annotate?clip={clip.id}")
    assert response.status == 404
    assert "you have not labelled this clip" in page.inner_text(".error-message")
    assert "lower" not in page.content()

    page.goto(f"{url}/")
    page.click("text=Log out")
    page.wait_for_url(f"{url}/login?logged_out=1")
    assert page.goto(f"{url}/projects/{pid}/mine").url.startswith(f"{url}/login")


# The accessible name of every control, as a screen reader finds it.
UNNAMED_CONTROLS = """() => [...document.querySelectorAll(
    'button, a[href], input:not([type=hidden]), select, textarea, [role=radio]')]
  .filter((el) => el.offsetParent !== null)
  .filter((el) => {
    const byLabel = el.labels && [...el.labels].some((l) => l.textContent.trim());
    const byRef = (el.getAttribute('aria-labelledby') || '').split(' ')
      .some((id) => id && document.getElementById(id)?.textContent.trim());
    return !(el.getAttribute('aria-label') || byLabel || byRef || el.textContent.trim()
             || el.getAttribute('title') || el.getAttribute('placeholder'));
  }).map((el) => el.outerHTML.slice(0, 120))"""


@pytest.mark.parametrize("width,height", [(1366, 768), (1920, 1080)])
def test_layout_on_laptop_and_large_monitor_with_labelled_controls(
    live_server, new_page, width, height
):
    url, pid = live_server.url, live_server.project_id
    _label_the_rest(live_server, leave_open=3)  # content on every page, clips left to label
    admin = new_page("ada", width=width, height=height)
    with live_server.session() as session:
        disputed = store.review_queue(session, project=store.get_project(session, project_id=pid))[
            0
        ].id
    for path in ["/", f"/projects/{pid}/annotate", f"/projects/{pid}/mine",
                 f"/projects/{pid}/agreement", f"/projects/{pid}/review",
                 f"/clips/{disputed}/review", "/admin", f"/admin/projects/{pid}"]:  # fmt: skip
        admin.goto(url + path)
        admin.wait_for_load_state("networkidle")
        overflow = admin.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}x{height}"
        assert admin.evaluate(UNNAMED_CONTROLS) == [], path
    # the annotation page: player and labels side by side, the submit button reachable
    page = annotate_page(new_page("alice", width=width, height=height), live_server)
    player = page.locator("#player").bounding_box()
    labels = page.locator("#label-form").bounding_box()
    assert labels["x"] >= player["x"] + player["width"] - 1  # side by side
    assert player["y"] + player["height"] <= height  # the whole player is on screen
    keyboard_label(page, ["both", "non", "stat", "fold"])
    page.wait_for_function("() => !document.getElementById('sentence').classList.contains('draft')")
    page.locator("#btn-submit").scroll_into_view_if_needed()
    assert page.is_visible("#btn-submit")
    if width == 1366:
        page.evaluate("document.getElementById('label-form').scrollTop = 0")
        screenshot(page, "annotation-page")


def test_admin_manages_users_members_projects_and_sees_mistakes(live_server, new_page):
    url, pid = live_server.url, live_server.project_id
    page = new_page("ada")
    page.goto(f"{url}/admin")

    # a new user through the form; a duplicate name is refused with the server's reason
    form = page.locator("#new-user")
    form.locator("input[name=username]").fill("carl")
    form.locator("input[name=password]").fill("carl's password")
    form.locator("select[name=role]").select_option("reviewer")
    form.locator("button[type=submit]").click()
    expect(page.locator(".toast-success")).to_have_text("User created")
    page.wait_for_selector("tr[data-user=carl]")
    form = page.locator("#new-user")
    form.locator("input[name=username]").fill("carl")
    form.locator("input[name=password]").fill("another password")
    form.locator("button[type=submit]").click()
    expect(page.locator(".toast-error")).to_contain_text("carl")
    assert _user(live_server, "carl").role == "reviewer"

    # role and access change as soon as they are chosen
    page.select_option("select[aria-label='Role of carl']", "annotator")
    expect(page.locator(".toast-success").last).to_have_text("Saved")
    page.uncheck("input[aria-label='carl may log in']")
    eventually(lambda: _user(live_server, "carl").is_active is False)
    assert _user(live_server, "carl").role == "annotator"
    page.check("input[aria-label='carl may log in']")
    eventually(lambda: _user(live_server, "carl").is_active is True)

    # a project from a dataset folder in the media root; a folder outside it is refused
    form = page.locator("#new-project")
    form.locator("input[name=name]").fill("Elsewhere")
    form.locator("input[name=dataset_dir]").fill("../outside")
    form.locator("button[type=submit]").click()
    expect(page.locator(".toast-error").last).to_contain_text("outside the media root")
    form.locator("input[name=name]").fill("Second pass")
    form.locator("input[name=dataset_dir]").fill("synthetic")
    form.locator("input[name=annotators_per_clip]").fill("3")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#projects-table >> text=Second pass")
    with live_server.session() as session:
        second = store.get_project_by_name(session, name="Second pass")
    assert second.annotators_per_clip == 3

    # members and clip import on the project's page
    page.goto(f"{url}/admin/projects/{pid}")
    page.select_option("#member-username", "carl")
    with page.expect_navigation():  # the page reloads to show the new member
        page.click("#add-member button[type=submit]")
    assert "carl · annotator" in page.inner_text("#members-title + p")
    page.fill("#import-dir", "synthetic")
    page.click("#import-clips button[type=submit]")
    expect(page.locator(".toast-success").last).to_have_text("Clips imported")
    with live_server.session() as session:
        project = store.get_project(session, project_id=pid)
        assert "carl" in {u.username for u in store.project_members(session, project=project)}
        assert store.count_clips(session, project=project) == 8  # the same clips: unchanged


def test_skip_with_a_reason_and_the_shortcut_overlay(live_server, new_page):
    page = annotate_page(new_page("alice"), live_server)
    first = page.inner_text("#clip-name")
    page.keyboard.press("?")
    assert page.is_visible("#help-overlay")
    page.keyboard.press("Escape")
    assert page.is_hidden("#help-overlay")

    page.keyboard.press("Alt+S")
    expect(page.locator("#skip-reason")).to_be_focused()
    page.keyboard.press("Enter")  # no reason: refused
    expect(page.locator(".toast-error")).to_have_text("Say why you skip this clip.")
    page.keyboard.type("the figure leaves the frame")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.getElementById('clip-name').textContent !== '{first}'")
    assert page.inner_text("#count-remaining") == "7"
    with live_server.session() as session:
        skips = store.list_skips(
            session, project=store.get_project(session, project_id=live_server.project_id)
        )
    assert [(s.reason) for s in skips] == ["the figure leaves the frame"]

    # an incomplete label is not sent: the missing attribute is named and opened
    keyboard_label(page, ["head"])
    page.keyboard.press("Control+Enter")
    expect(page.locator(".toast-error").last).to_have_text("Choose a value for receiver first.")
    assert page.get_attribute("#dim-receiver", "class").split().count("active") == 1


def test_a_corrupt_video_says_so_and_the_clip_can_be_skipped(live_server, new_page):
    with live_server.session() as session:
        project = store.get_project(session, project_id=live_server.project_id)
        first = store.list_clips(session, project=project, limit=1)[0]
    (live_server.media_root / "synthetic" / "videos" / f"{first.clip_id}.mp4").write_bytes(
        b"\x00not an mp4" * 100
    )
    page = new_page("alice")
    page.goto(f"{live_server.url}/projects/{live_server.project_id}/annotate")
    expect(page.locator("#clip-name")).to_have_text(first.clip_id)
    expect(page.locator("#viewport-message")).to_contain_text("not available")
    # keyboard users reach the buttons with Tab and press them with Enter as usual
    page.focus("#btn-skip")
    page.keyboard.press("Enter")
    expect(page.locator("#skip-reason")).to_be_focused()
    page.keyboard.type("the video is broken")
    page.keyboard.press("Enter")
    expect(page.locator("#clip-name")).not_to_have_text(first.clip_id)
    page.wait_for_function(WAIT_VIDEO)  # the next clip plays


def test_a_segment_of_a_longer_video_plays_only_its_frames(live_server, new_page):
    """A clip cut from a longer video (start_frame 10, end_frame 30, end exclusive): the
    player starts at frame 10, stays within 10..29 and counts 20 frames."""
    from fgtext.dataset import DatasetWriter
    from fgtext.schema import default_schema

    source = open_dataset(live_server.media_root / "synthetic")
    video = str((live_server.media_root / "synthetic" / next(source.clips()).video).resolve())
    with DatasetWriter(
        live_server.media_root / "segments", name="segments", schema=default_schema(),
        classes=source.classes,
    ) as writer:  # fmt: skip
        writer.add({"clip_id": "seg-1", "video": video, "start_frame": 10, "end_frame": 30,
                    "label": 0, "split": "test"})  # fmt: skip
    with live_server.session() as session:
        users = {u.username: u for u in store.list_users(session)}
        project = store.create_project_from_dataset(
            session, name="Segments", dataset_dir=live_server.media_root / "segments",
            annotators_per_clip=1, consensus_rule="majority", actor=users["ada"],
            media_root=live_server.media_root,
        )  # fmt: skip
        store.add_member(session, project=project, user=users["alice"], actor=users["ada"])
        pid = project.id
    page = new_page("alice")
    page.goto(f"{live_server.url}/projects/{pid}/annotate")
    page.wait_for_function(WAIT_VIDEO)
    expect(page.locator("#clip-meta")).to_contain_text("frames 10–29 of its video")
    expect(page.locator("#time-readout")).to_contain_text("frame 1 / 20")
    assert frame(page) == 10
    page.keyboard.press("Shift+ArrowLeft")  # not before the segment
    expect(page.locator("#time-readout")).to_contain_text("frame 1 / 20")
    assert frame(page) == 10
    for _ in range(3):
        page.keyboard.press("Shift+ArrowRight")  # 30 frames on: stops at the last one
    page.wait_for_function(
        f"() => Math.floor(document.getElementById('video').currentTime * {FPS} + 1e-3) === 29"
    )
    expect(page.locator("#time-readout")).to_contain_text("frame 20 / 20")


def test_api_docs_render_and_the_policy_blocks_inline_script(live_server, new_page, browser):
    """/docs runs Swagger UI under the app's CSP (new_page fails on any CSP report), and the
    browser does enforce the policy: a script injected inline does not run (in a context of
    its own, since that report is expected)."""
    page = new_page()
    page.goto(f"{live_server.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("FG-Text annotator")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/auth/login")).to_be_visible()
    context = browser.new_context()
    alice = context.new_page()
    console: list[str] = []
    alice.on("console", lambda msg: console.append(msg.text))
    login(alice, live_server.url, "alice")
    blocked = alice.evaluate(
        """() => new Promise(resolve => {
            document.addEventListener("securitypolicyviolation",
                                      e => resolve(e.violatedDirective), {once: true});
            const s = document.createElement("script");
            s.textContent = "window.injected = true";
            document.body.append(s);
        })"""
    )
    assert blocked.startswith("script-src") and alice.evaluate("window.injected") is None
    # what new_page watches for: Chromium's console report of the blocked script
    assert any("Content Security Policy" in text for text in console), console
    context.close()


def test_an_admin_ends_an_annotators_sessions_from_the_users_table(live_server, new_page):
    url = live_server.url
    alice = new_page("alice")
    assert alice.goto(f"{url}/").url == f"{url}/"
    admin = new_page("ada")
    admin.goto(f"{url}/admin")
    admin.click("button[aria-label='End every session of alice']")
    expect(admin.locator(".toast-success")).to_have_text("alice is logged out everywhere")
    assert alice.goto(f"{url}/").url == f"{url}/login"  # her next page asks her to log in
    assert admin.goto(f"{url}/admin").url == f"{url}/admin"  # the admin's own session lives


def test_the_quality_page_shows_gold_accuracy_and_flags(live_server, new_page):
    """Three gold clips, bob slips on two of them: the page gives the hand-counted figures and
    flags bob under a threshold of 0.8; the screenshot is the README's."""
    gold = {
        c.clip_id: c.attributes for c in open_dataset(live_server.media_root / "synthetic").clips()
    }
    with live_server.session() as session:
        project = store.get_project(session, project_id=live_server.project_id)
        clips = store.list_clips(session, project=project)
        ada = store.get_user_by_username(session, username="ada")
        for i in (0, 1, 3):  # bob slips on clips 1 and 3 (_label_the_rest)
            store.mark_gold(session, clip=clips[i], attributes=gold[clips[i].clip_id], actor=ada)
    _label_the_rest(live_server)
    admin = new_page("ada")
    url, pid = live_server.url, live_server.project_id
    admin.goto(f"{url}/projects/{pid}/agreement")
    admin.click("a[href$='/quality']")
    admin.wait_for_url(f"{url}/projects/{pid}/quality")
    assert admin.text_content("[data-testid=gold-tuple-alice]").split() == [
        "3/3", "=", "1.00", "[0.44,", "1.00]"
    ]  # fmt: skip
    assert admin.text_content("[data-testid=gold-tuple-bob]").split()[:3] == ["1/3", "=", "0.33"]
    assert admin.locator("#quality-table .pill-poor").count() == 0  # bob's interval: to 0.79
    admin.fill("#below", "0.8")
    admin.click("#below-form button")
    admin.wait_for_url(f"{url}/projects/{pid}/quality?below=0.8")
    expect(admin.locator("[data-testid=flag-bob]")).to_be_visible()
    assert admin.locator("[data-testid=flag-alice]").count() == 0
    bars = admin.locator("#accuracy-chart rect")
    assert bars.count() == 2
    assert bars.nth(1).get_attribute("class") == "bar-poor"  # bob, flagged
    screenshot(admin, "quality", full_page=True)


def test_a_dawid_skene_project_shows_its_posteriors(live_server, new_page):
    """The posterior histogram on the dashboard and each dimension's posterior on the review
    page, drawn without anything the Content-Security-Policy blocks."""
    gold = {
        c.clip_id: c.attributes for c in open_dataset(live_server.media_root / "synthetic").clips()
    }
    with live_server.session() as session:
        users = {u.username: u for u in store.list_users(session)}
        project = store.create_project_from_dataset(
            session, name="Gestures DS", dataset_dir=live_server.media_root / "synthetic",
            annotators_per_clip=2, consensus_rule="dawid-skene", actor=users["ada"],
            media_root=live_server.media_root,
        )  # fmt: skip
        clips = store.list_clips(session, project=project)
        for i, clip in enumerate(clips):
            right = dict(gold[clip.clip_id])
            slip = dict(gold[clips[-1 - i].clip_id])  # another class's values
            # each slips on a quarter of the clips, so the model cannot tell who is right there
            alice, bob = (
                (slip, right) if i % 4 == 1 else (right, slip) if i % 4 == 3 else (right, right)
            )
            store.submit_annotation(session, clip=clip, user=users["alice"], attributes=alice)
            store.submit_annotation(session, clip=clip, user=users["bob"], attributes=bob)
        pid = project.id
    admin = new_page("ada")
    admin.goto(f"{live_server.url}/projects/{pid}/agreement")
    summary = admin.text_content("[data-testid=posterior-summary]")
    with live_server.session() as session:
        stored = store.get_project(session, project_id=pid)
        confidences = store.clip_confidences(session, project=stored)
        queue = store.review_queue(session, project=stored)
    assert f"{len(confidences)} clips, {len(queue)} below" in summary
    assert admin.locator("#posterior-chart rect").count() == len(
        {min(19, int(c * 20)) for c in confidences}
    )
    assert queue, confidences
    admin.goto(f"{live_server.url}/clips/{queue[0].id}/review")
    assert admin.locator("[data-testid^=posterior-]").count() == 5  # four dimensions and a note
    assert f"{queue[0].confidence:.3f}" == admin.text_content("[data-testid=confidence]")


def test_an_admin_marks_a_clip_gold_from_its_review_page(live_server, new_page):
    """The review page's gold buttons: the form's values become the clip's known values, and
    unmarking ends that; reviewers do not get the buttons."""
    _label_the_rest(live_server)
    with live_server.session() as session:
        project = store.get_project(session, project_id=live_server.project_id)
        clip = store.review_queue(session, project=project)[0]
    admin = new_page("ada")
    admin.goto(f"{live_server.url}/clips/{clip.id}/review")
    chosen = {d: admin.input_value(f"#final-{d}") for d in DIMENSIONS}
    admin.click("#btn-gold")
    expect(admin.locator(".toast-success")).to_have_text(f"{clip.clip_id} is gold")
    expect(admin.locator("#btn-ungold")).to_be_visible()  # after the reload
    with live_server.session() as session:
        project = store.get_project(session, project_id=live_server.project_id)
        assert store.gold_values(session, project=project)[clip.id] == chosen
    admin.click("#btn-ungold")
    expect(admin.locator(".toast-success")).to_have_text(f"{clip.clip_id} is no longer gold")
    expect(admin.locator("#btn-gold")).to_have_text("Mark gold with these values")
    with live_server.session() as session:
        project = store.get_project(session, project_id=live_server.project_id)
        assert clip.id not in store.gold_values(session, project=project)
    reviewer = new_page("rita")
    reviewer.goto(f"{live_server.url}/clips/{clip.id}/review")
    assert reviewer.locator("[data-testid=gold-box]").count() == 0


def test_admin_sets_the_suggestion_mode_and_uploads_a_suggestions_file(
    live_server, new_page, tmp_path
):
    url, pid = live_server.url, live_server.project_id
    with live_server.session() as session:
        project = store.get_project(session, project_id=pid)
        clip_ids = [c.clip_id for c in store.list_clips(session, project=project)]
    rub = {"initiator": "right_hand", "receiver": "eyes", "direction": "back_and_forth",
           "motion_type": "rub"}  # fmt: skip
    good = tmp_path / "pred.json"
    good.write_text(json.dumps({
        "format": "fgtext-suggestions/1", "source": {"kind": "model", "run": "runs/e2e"},
        "clips": [{"clip_id": c, "suggestions": [{"attributes": rub, "score": 0.9}]}
                  for c in clip_ids],
    }))  # fmt: skip
    bad = tmp_path / "bad.json"
    bad.write_text(good.read_text().replace(clip_ids[-1], "elsewhere"))
    page = new_page("ada")
    page.goto(f"{url}/admin/projects/{pid}")
    assert "2 of 2 classes have typical combinations" in page.inner_text("#class-suggestions")

    page.select_option("#suggestion-mode-select", "at_once")
    with page.expect_navigation():  # saved, then the page reloads
        page.click("#suggestion-mode button[type=submit]")
    assert page.locator("#suggestion-mode-select").input_value() == "at_once"

    page.set_input_files("#suggestions-file", str(bad))
    page.click("#import-suggestions button[type=submit]")
    expect(page.locator(".toast-error").last).to_contain_text("clip 'elsewhere' is not a clip")
    page.set_input_files("#suggestions-file", str(good))
    with page.expect_navigation():
        page.click("#import-suggestions button[type=submit]")
    assert "8 for 8 clips" in page.inner_text("#model-suggestions")
    assert "runs/e2e" in page.inner_text("#model-suggestions")
    with live_server.session() as session:
        project = store.get_project(session, project_id=pid)
        assert project.suggestion_mode == "at_once"
        assert store.current_import(session, project=project).suggestions == 8

    with page.expect_navigation():
        page.click("#clear-suggestions button[type=submit]")
    assert page.inner_text("#model-suggestions") == "No model suggestions imported."


def _suggested_project(server, n_clips: int = 80, seed: int = 0) -> int:
    """A k=3 project of SMG clips (no videos: the dashboard plays none) labelled through the
    store with suggestions shown 60 % of the time: alice, bob and carol accept the class's first
    typical combination 60 % of the time it is shown, else label on their own (the truth,
    a typical combination of the class, with a slip on one dimension a quarter of the time);
    the first 15 clips are gold. Accepted labels agree more and are less often right."""
    rng = random.Random(seed)
    schema = default_schema()
    classes = load_class_list("smg", schema)
    values = {d: list(schema.values(d)) for d in DIMENSIONS}
    root = server.media_root / "pilot"
    with DatasetWriter(root, name="pilot", schema=schema, classes=classes) as writer:
        for i in range(n_clips):
            writer.add({"clip_id": f"pilot-{i:03d}", "video": "videos/clip.mp4",
                        "label": rng.randrange(len(classes)), "split": "train"})  # fmt: skip
    with server.session() as session:
        users = {u.username: u for u in store.list_users(session)}
        users["carol"] = store.create_user(
            session, username="carol", password_hash="unused", role="annotator"
        )
        project = store.create_project_from_dataset(
            session, name="Pilot", dataset_dir=root, annotators_per_clip=3,
            consensus_rule="majority", actor=users["ada"], media_root=server.media_root,
            suggestion_mode="at_once",
        )  # fmt: skip
        for name in ("alice", "bob", "carol", "rita"):
            store.add_member(session, project=project, user=users[name], actor=users["ada"])
        for i, clip in enumerate(store.list_clips(session, project=project)):
            typical = [dict(a) for a in classes[clip.label].attributes]
            truth = rng.choice(typical)
            if i < 15:
                store.mark_gold(session, clip=clip, attributes=truth, actor=users["ada"])
            for name in ("alice", "bob", "carol"):
                suggestion, attributes = None, dict(truth)
                if rng.random() < 0.25:
                    slip = rng.choice(DIMENSIONS)
                    attributes[slip] = rng.choice(values[slip])
                if rng.random() < 0.6:
                    accepted = rng.random() < 0.6
                    chosen = {"source": "class", "attributes": typical[0]}
                    suggestion = {"shown": True, "chosen": chosen if accepted else None}
                    attributes = typical[0] if accepted else attributes
                store.submit_annotation(
                    session, clip=clip, user=users[name], attributes=attributes,
                    seconds_spent=rng.uniform(2, 5) if suggestion else rng.uniform(6, 14),
                    suggestion=suggestion,
                )  # fmt: skip
        return project.id


def test_the_dashboard_splits_agreement_by_suggestion_condition(live_server, new_page):
    """The "Suggestions and agreement" section in Chromium: the figures of the store's
    analysis, the warning, the charts drawn without anything the Content-Security-Policy
    blocks; the admin page's time per condition. The screenshot is the README's."""
    pid = _suggested_project(live_server)
    with live_server.session() as session:
        project = store.get_project(session, project_id=pid)
        figures = store.project_suggestion_bias(session, project=project)
    conditions = figures["conditions"]
    assert figures["accepted_minus_not_shown"]["tuple"]["ci95"][0] > 0  # agree more, surely
    accuracy = {c: conditions[c]["accuracy"]["tuple"]["accuracy"] for c in conditions}
    assert accuracy["accepted"] < accuracy["not_shown"]  # ... and are less often right

    admin = new_page("ada", height=2600)  # the section in view without scrolling, for its picture
    admin.goto(f"{live_server.url}/projects/{pid}/agreement")
    section = admin.locator("#suggestion-bias")
    expect(section.locator("[data-testid=suggestion-warning]")).to_contain_text(
        "no more accurate against gold"
    )
    for c in ("not_shown", "accepted", "edited"):
        shown = section.locator(f"[data-testid=sb-labels-{c}]").inner_text()
        assert shown == str(conditions[c]["n_annotations"])
        alpha = conditions[c]["alpha"]["tuple"]["value"]
        assert section.locator(f"[data-testid=sb-alpha-{c}-tuple]").inner_text() == (
            "–" if alpha is None else f"{alpha:.3f}"
        )
    bars = section.locator("#suggestion-alpha-chart rect")
    defined = sum(
        conditions[c]["alpha"][v]["value"] is not None
        for c in conditions
        for v in (*DIMENSIONS, "tuple")
    )
    assert bars.count() == defined
    assert section.locator("#suggestion-accuracy-chart rect").count() == 3
    # the condition colours come from the style sheet (no style attributes)
    colours = {
        c: section.locator(f"#suggestion-alpha-chart rect[data-condition={c}]").first.evaluate(
            "r => getComputedStyle(r).fill"
        )
        for c in ("not_shown", "accepted", "edited")
    }
    assert len(set(colours.values())) == 3, colours
    screenshot(section, "suggestion-bias")

    admin.goto(f"{live_server.url}/admin/projects/{pid}")
    for c in ("not_shown", "accepted", "edited"):
        seconds = conditions[c]["seconds"]
        cell = admin.locator(f"#suggestion-speed [data-testid=median-{c}]").inner_text()
        assert cell == f"{seconds['median']:.1f} s"
        timed = admin.locator(f"#suggestion-speed [data-testid=timed-{c}]").inner_text()
        assert timed == str(seconds["n_timed"])
