"""Suggestions on the annotation page, in a real headless Chromium: one key fills all four
values, the project's mode decides when they show, a submission records what was shown and
chosen, and nothing shown ever comes from another annotator's label."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from fgtext import store
from fgtext.compose import compose_fg_text
from fgtext.schema import DIMENSIONS
from tests.e2e.conftest import screenshot
from tests.e2e.test_browser import UNNAMED_CONTROLS, annotate_page, annotations_of, eventually

pytestmark = pytest.mark.timeout(180)

# What the README states: a fresh clip labelled with the keyboard, with and without
# suggestions (test_a_class_suggestion_takes_two_keystrokes_where_typing_takes_more).
KEYSTROKES_WITH_SUGGESTION = 2
KEYSTROKES_WITHOUT = 11

LIST = "#suggestion-list"
ITEMS = "#suggestion-list .suggestion"


class CountingKeyboard:
    """The keys a test sends, counted: a press (one key, or a chord such as Shift+1) is one
    keystroke, typed text one a character."""

    def __init__(self, page):
        self.page = page
        self.count = 0

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.count += 1

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.count += len(text)


def _matches(value: str, typed: str) -> bool:
    """The annotation page's filter (static/annotate.js `matches`)."""
    return (
        value.startswith(typed)
        or any(w.startswith(typed) for w in value.split("_"))
        or (typed in value)
    )


def shortest_filter(values: list[str], target: str) -> str:
    """What an annotator types for `target`: the start of one of its words, letter by letter,
    until the page highlights it (the filter line says "→ value (Enter)"); the shortest such
    over its words. `values` in the page's order."""
    starts = {w[:n] for w in target.split("_") for n in range(1, len(w) + 1)}
    typed = ["", *sorted(starts, key=lambda t: (len(t), t))]
    for text in typed:
        shown = [v for v in values if _matches(v, text)]
        if shown and shown[0] == target:
            return text
    raise AssertionError(f"no filter shows {target} first")


def type_values(keys: CountingKeyboard, values: dict[str, str]) -> None:
    """Choose the four values as the keyboard test does (a filter, Enter, for each attribute
    in turn), each filter as `shortest_filter` types it."""
    page = keys.page
    for dim in DIMENSIONS:
        chips = page.eval_on_selector_all(
            f"#group-{dim} .chip", "cs => cs.map(c => c.dataset.value)"
        )
        text = shortest_filter(chips, values[dim])
        print(f"{dim}: {text!r} + Enter")
        keys.type(text)
        assert page.get_attribute(f"#group-{dim}", "aria-activedescendant") == (
            f"chip-{dim}-{values[dim]}"
        )
        keys.press("Enter")


def set_mode(server, mode: str) -> None:
    with server.session() as session:
        project = store.get_project(session, project_id=server.project_id)
        store.set_suggestion_mode(session, project=project, mode=mode, actor=None)


def clip_of(server, clip_id: str) -> store.Clip:
    with server.session() as session:
        project = store.get_project(session, project_id=server.project_id)
        return next(c for c in store.list_clips(session, project=project) if c.clip_id == clip_id)


def offered(server, clip_id: str) -> list[dict]:
    """What the store offers for the clip: source, attributes, sentence and score."""
    with server.session() as session:
        project = store.get_project(session, project_id=server.project_id)
        clip = session.get(store.Clip, clip_of(server, clip_id).id)
        return [
            {"source": s.source, "attributes": s.attributes, "text": s.text, "score": s.score}
            for s in store.offered_suggestions(session, clip=clip, project=project)
        ]


def typical(server, clip_id: str) -> list[dict[str, str]]:
    """The typical combinations of the clip's class (the class suggestions)."""
    clip = clip_of(server, clip_id)
    with server.session() as session:
        project = store.get_project(session, project_id=server.project_id)
        classes = {c.class_id: c for c in store.project_classes(session, project=project)}
    return [dict(a) for a in classes[clip.label].typical]


def shown_value(value: str) -> str:
    """A value as the page writes it (FG.label)."""
    return value.replace("_", " ")


def shown_texts(page) -> list[str]:
    return page.locator(f"{ITEMS} .suggestion-text").all_inner_texts()


def submissions(page) -> list[dict]:
    """The bodies of the page's label submissions (POST /clips/{id}/annotations), in order."""
    bodies: list[dict] = []
    page.on(
        "request",
        lambda r: (
            r.method == "POST"
            and r.url.endswith("/annotations")
            and bodies.append(r.post_data_json)
        ),
    )
    return bodies


def next_clip_shown(page, previous: str) -> None:
    page.wait_for_function(
        f"() => document.getElementById('clip-name').textContent !== '{previous}'"
    )


def test_a_class_suggestion_takes_two_keystrokes_where_typing_takes_more(live_server, new_page):
    set_mode(live_server, "at_once")
    alice = annotate_page(new_page("alice"), live_server)
    clip_id = alice.inner_text("#clip-name")
    expect(alice.locator(ITEMS).first).to_be_visible()
    first = offered(live_server, clip_id)[0]
    assert first["source"] == "class" and first["attributes"] == typical(live_server, clip_id)[0]
    assert shown_texts(alice) == [o["text"] for o in offered(live_server, clip_id)]
    assert alice.inner_text(f"{ITEMS} >> nth=0").startswith("⇧1")
    assert alice.evaluate(UNNAMED_CONTROLS) == []
    sent = submissions(alice)

    keys = CountingKeyboard(alice)
    keys.press("Shift+1")  # fills all four
    for dim in DIMENSIONS:
        assert alice.get_attribute(f"#chip-{dim}-{first['attributes'][dim]}", "aria-checked") == (
            "true"
        )
    expect(alice.locator("#sentence")).to_have_text(first["text"])
    keys.press("Control+Enter")
    next_clip_shown(alice, clip_id)
    assert keys.count == KEYSTROKES_WITH_SUGGESTION == 2

    saved = annotations_of(live_server, clip_id)["alice"]
    assert saved.attributes == first["attributes"]
    assert saved.suggestions_shown is True
    assert saved.suggestion_chosen == {"source": "class", "attributes": first["attributes"]}
    assert saved.suggestion_accepted is True
    assert sent[0]["suggestion"] == {
        "shown": True, "chosen": {"source": "class", "attributes": first["attributes"]}
    }  # fmt: skip

    # the same clip and values without suggestions: bob types a filter and Enter for each
    # attribute (the start of a word of the value, until it is highlighted), then Ctrl+Enter
    set_mode(live_server, "off")
    bob = annotate_page(new_page("bob"), live_server)
    assert bob.inner_text("#clip-name") == clip_id  # the fullest clip first
    keys = CountingKeyboard(bob)
    type_values(keys, first["attributes"])
    keys.press("Control+Enter")
    next_clip_shown(bob, clip_id)
    print(f"\nkeystrokes for {clip_id}: {KEYSTROKES_WITH_SUGGESTION} with a suggestion, "
          f"{keys.count} typing")  # fmt: skip
    assert keys.count == KEYSTROKES_WITHOUT
    saved = annotations_of(live_server, clip_id)["bob"]
    assert saved.attributes == first["attributes"] and saved.suggestions_shown is False


def test_an_accepted_suggestion_edited_by_key_is_recorded_as_edited(live_server, new_page):
    set_mode(live_server, "at_once")
    page = annotate_page(new_page("alice"), live_server)
    clip_id = page.inner_text("#clip-name")
    first = offered(live_server, clip_id)[0]
    expect(page.locator(ITEMS).first).to_be_visible()
    page.keyboard.press("Shift+1")
    expect(page.locator(f"{ITEMS} >> nth=0")).to_have_attribute("aria-current", "true")
    # another direction, by keyboard: 3 goes to the direction, a filter and Enter choose
    direction = "circular" if first["attributes"]["direction"] != "circular" else "upward"
    page.keyboard.press("3")
    page.keyboard.type(direction[:4])
    page.keyboard.press("Enter")
    assert page.inner_text("#chosen-direction") == direction
    expect(page.locator(f"{ITEMS} >> nth=0")).to_contain_text("applied, then changed")
    page.keyboard.press("Control+Enter")
    next_clip_shown(page, clip_id)
    saved = annotations_of(live_server, clip_id)["alice"]
    assert saved.attributes == {**first["attributes"], "direction": direction}
    assert saved.suggestion_chosen == {"source": "class", "attributes": first["attributes"]}
    assert saved.suggestion_accepted is False

    # undo: the clip comes back with its values and the suggestion it was given
    page.keyboard.press("Control+z")
    page.wait_for_function(
        f"() => document.getElementById('clip-name').textContent === '{clip_id}'"
    )
    expect(page.locator(f"{ITEMS} >> nth=0")).to_contain_text("applied, then changed")
    page.keyboard.press("Shift+1")  # the suggestion as it was, this time
    page.keyboard.press("Control+Enter")
    next_clip_shown(page, clip_id)
    saved = annotations_of(live_server, clip_id)["alice"]
    assert saved.attributes == first["attributes"] and saved.suggestion_accepted is True

    # editing an earlier label from My labels shows no suggestions and asks for none
    asked: list[str] = []
    page.on(
        "request",
        lambda r: "/api/v1/clips/" in r.url and "/suggestions" in r.url and asked.append(r.url),
    )
    page.goto(f"{live_server.url}/projects/{live_server.project_id}/mine")
    page.click(f"a[aria-label='Edit your label of {clip_id}']")
    page.wait_for_function("() => document.getElementById('video').readyState >= 2")
    assert page.is_visible("#edit-banner")
    assert page.is_hidden("#suggestions") and page.locator(ITEMS).count() == 0
    page.keyboard.press("Shift+2")  # nothing to apply
    assert page.inner_text("#chosen-direction") == shown_value(first["attributes"]["direction"])
    assert asked == []


def test_mode_off_shows_no_suggestions_and_sends_none(live_server, new_page):
    page = new_page("alice")
    asked: list[str] = []
    page.on("request", lambda r: "suggestion" in r.url and asked.append(r.url))
    sent = submissions(page)
    annotate_page(page, live_server)
    clip_id = page.inner_text("#clip-name")
    assert page.locator("#suggestions, #suggestion-list, .suggestion").count() == 0
    page.keyboard.press("Shift+1")  # nothing to apply: the clip stays empty
    assert all(page.inner_text(f"#chosen-{d}") == "" for d in DIMENSIONS)
    page.keyboard.type("right")
    page.keyboard.press("Enter")
    for text in ("eye", "forth", "rub"):
        page.keyboard.type(text)
        page.keyboard.press("Enter")
    page.keyboard.press("Control+Enter")
    next_clip_shown(page, clip_id)
    assert asked == []  # not even the script
    assert len(sent) == 1 and "suggestion" not in sent[0]
    assert annotations_of(live_server, clip_id)["alice"].suggestions_shown is False


def test_after_first_shows_suggestions_once_the_initiator_is_chosen(live_server, new_page):
    set_mode(live_server, "after_first")
    page = new_page("alice")
    with page.expect_response(lambda r: r.url.endswith("/suggestions")) as answer:
        annotate_page(page, live_server)
    clip_id = page.inner_text("#clip-name")
    assert len(answer.value.json()["suggestions"]) >= 2  # the answer has come, and is held back
    expect(page.locator(LIST)).to_be_hidden()
    expect(page.locator("#suggestions-wait")).to_contain_text("once you have chosen the initiator")
    page.keyboard.press("Shift+1")  # not yet
    assert all(page.inner_text(f"#chosen-{d}") == "" for d in DIMENSIONS)

    page.keyboard.type("head")
    page.keyboard.press("Enter")
    expect(page.locator(ITEMS).first).to_be_visible()
    assert shown_texts(page) == [o["text"] for o in offered(live_server, clip_id)]
    assert page.is_hidden("#suggestions-wait")
    page.keyboard.press("Shift+1")
    first = offered(live_server, clip_id)[0]
    assert page.inner_text("#chosen-initiator") == shown_value(first["attributes"]["initiator"])
    page.keyboard.press("Control+Enter")
    next_clip_shown(page, clip_id)
    saved = annotations_of(live_server, clip_id)["alice"]
    assert saved.suggestions_shown and saved.suggestion_accepted is True


def test_an_annotator_never_sees_a_suggestion_from_anothers_label(live_server, new_page):
    set_mode(live_server, "at_once")
    page = annotate_page(new_page("alice"), live_server)
    clip_id = page.inner_text("#clip-name")
    expect(page.locator(ITEMS).first).to_be_visible()
    before = shown_texts(page)
    with live_server.session() as session:
        project = store.get_project(session, project_id=live_server.project_id)
        schema = store.project_schema(project)
    assert before == [compose_fg_text(a, schema) for a in typical(live_server, clip_id)]

    # bob (k=2: the clip is his to label too) labels it with a tuple no class suggests
    odd = {"initiator": "left_leg", "receiver": "jewelry", "direction": "circular",
           "motion_type": "puff"}  # fmt: skip
    assert odd not in typical(live_server, clip_id)
    with live_server.session() as session:
        bob = store.get_user_by_username(session, username="bob")
        store.submit_annotation(
            session, clip=clip_of(live_server, clip_id), user=bob, attributes=odd
        )
    eventually(lambda: "bob" in annotations_of(live_server, clip_id))

    page.reload()
    page.wait_for_function("() => document.getElementById('video').readyState >= 2")
    assert page.inner_text("#clip-name") == clip_id  # still her clip
    expect(page.locator(ITEMS).first).to_be_visible()
    assert shown_texts(page) == before
    assert compose_fg_text(odd, schema) not in page.content()
    assert "jewelry" not in page.inner_text(LIST) and "puff" not in page.inner_text(LIST)


def test_model_suggestions_come_first_best_score_first(live_server, new_page):
    set_mode(live_server, "at_once")
    page = new_page("alice", width=1366, height=768)
    page.goto(f"{live_server.url}/")
    with live_server.session() as session:
        project = store.get_project(session, project_id=live_server.project_id)
        clips = store.list_clips(session, project=project)
        wipe = {"initiator": "right_hand", "receiver": "forehead", "direction": "side_to_side",
                "motion_type": "brush"}  # fmt: skip
        touch = {"initiator": "right_hand", "receiver": "eyes", "direction": "static",
                 "motion_type": "touch"}  # fmt: skip
        store.import_suggestions(
            session, project=project, actor=None,
            data={"format": "fgtext-suggestions/1", "source": {"kind": "model", "run": "e2e"},
                  "clips": [{"clip_id": c.clip_id,
                             "suggestions": [{"attributes": touch, "score": 0.41},
                                             {"attributes": wipe, "score": 0.87}]}
                            for c in clips]},
        )  # fmt: skip
    annotate_page(page, live_server)
    clip_id = page.inner_text("#clip-name")
    expect(page.locator(ITEMS).first).to_be_visible()
    items = page.locator(ITEMS)
    listed = offered(live_server, clip_id)
    assert [o["source"] for o in listed[:2]] == ["model", "model"]
    assert [o["score"] for o in listed[:2]] == [0.87, 0.41]
    assert items.count() == len(listed) == 2 + len(typical(live_server, clip_id))
    assert shown_texts(page) == [o["text"] for o in listed]
    sources = page.locator(f"{ITEMS} .suggestion-source").all_inner_texts()
    assert sources[:2] == ["model 0.87", "model 0.41"]
    assert set(sources[2:]) == {"class"}
    assert items.nth(0).get_attribute("aria-keyshortcuts") == "Shift+1"
    assert "model, score 0.87" in items.nth(0).get_attribute("aria-label")
    assert page.evaluate(UNNAMED_CONTROLS) == []
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0

    # the second by mouse: the page shows it applied, and the submission records it
    items.nth(1).click()
    expect(items.nth(1)).to_have_attribute("aria-current", "true")
    expect(page.locator("#sentence")).to_have_text(listed[1]["text"])
    page.evaluate("document.getElementById('label-form').scrollTop = 0")
    screenshot(page, "annotate-suggestions")
    page.keyboard.press("Control+Enter")
    next_clip_shown(page, clip_id)
    saved = annotations_of(live_server, clip_id)["alice"]
    assert saved.attributes == touch
    assert saved.suggestion_chosen == {"source": "model", "attributes": touch}
    assert saved.suggestion_accepted is True
