"""The browser UI: server-rendered pages (`annotator.templating`; their errors are
`annotator.errors`).

Pages read through the store and the same policies (`annotator.policies`) as the JSON API;
every change a page makes (labels, adjudications, users, projects) goes through the JSON API
with the session's CSRF token, so the API stays the one place where writes are checked. Only
logging in and out are plain form posts.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from annotator import charts, policies
from annotator.api.auth import authenticate
from annotator.api.models import AnnotationPublic
from annotator.api.projects import clip_public, project_detail
from annotator.api.quality import quality_figures
from annotator.api.review import shown_reviews
from annotator.api.suggestions import MAX_SUGGESTIONS_BODY, project_suggestions_summary
from annotator.auth import csrf_matches, end_session, require_same_origin, start_session
from annotator.deps import Id, SessionDep, session_user
from annotator.errors import LoginRequired
from annotator.templating import render
from fgtext import store
from fgtext.compose import compose_fg_text
from fgtext.schema import DIMENSIONS
from fgtext.stats import median
from fgtext.store import User
from fgtext.validation import MAX_ID, Text, finite_or_none
from fgtext.vocabulary import DAWID_SKENE, SUGGESTION_MODES, SuggestionMode

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
REVIEW_PAGE_SIZE = 200  # the review queue page lists the oldest this many

# Player and label shortcuts, shown on the annotation page and its help overlay. Letters only
# ever filter the active attribute's values, so they never collide with the player's keys.
SUGGESTION_KEYS = "Shift + 1 – 9"  # listed where the project offers suggestions
SHORTCUTS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Player", [
        ("Space", "play / pause"),
        ("← / →", "one frame back / forward"),
        ("Shift + ← / →", "ten frames back / forward"),
        ("- / =", "slower / faster (0.1× to 2×)"),
        ("[ / ]", "mark loop start / end here"),
        ("\\", "loop on / off"),
        ("0", "reset zoom (drag on the video to zoom)"),
    ]),
    ("Labels", [
        ("1 – 4", "go to initiator, receiver, direction, motion"),
        ("a – z", "type to filter the values"),
        ("↑ / ↓", "move through the values"),
        ("Enter", "choose and go to the next attribute"),
        (SUGGESTION_KEYS, "fill all four with suggestion 1 – 9"),
        ("Esc", "clear the filter"),
        ("Alt + U", "unsure on / off"),
        ("Alt + N", "write a note (Esc leaves it)"),
    ]),
    ("Clip", [
        ("Ctrl + Enter", "submit and go to the next clip"),
        ("Ctrl + Z", "undo the last submission"),
        ("Alt + S", "skip this clip (asks why)"),
        ("?", "show / hide these shortcuts"),
    ]),
]  # fmt: skip


def page_user(request: Request, session: SessionDep) -> User:
    """The logged-in, active user of a page request; otherwise a redirect to /login."""
    user = session_user(request, session)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return user


PageUser = Annotated[User, Depends(page_user)]


def _safe_next(url: str | None) -> str:
    """Only a path on this site: an open redirect would let a link send people elsewhere."""
    if not url or not url.startswith("/") or url.startswith("//") or urlsplit(url).netloc:
        return "/"
    return url


# -- login and logout -----------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next))


@router.post("/login")
def login_form(
    request: Request,
    session: SessionDep,
    username: Annotated[Text, Form(max_length=100)] = "",
    password: Annotated[Text, Form(max_length=1000)] = "",
    next: Annotated[Text, Form(max_length=2000)] = "/",
) -> Response:
    require_same_origin(request, browser_form=True)  # login CSRF
    if not username or not password:
        return render(
            request, "login.html", next=_safe_next(next), username=username,
            error="Enter your username and password.", status_code=400,
        )  # fmt: skip
    try:
        user = authenticate(request, session, username, password)
    except HTTPException as e:
        message = (
            "Wrong username or password."
            if e.status_code == status.HTTP_401_UNAUTHORIZED
            else f"{e.detail[:1].upper()}{e.detail[1:]}."
        )
        return render(
            request, "login.html", next=_safe_next(next), username=username, error=message,
            status_code=e.status_code,
        )  # fmt: skip
    redirect = RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    start_session(request, redirect, session, user)
    return redirect


@router.post("/logout")
def logout_form(
    request: Request, session: SessionDep, csrf: Annotated[Text, Form(max_length=200)] = ""
) -> Response:
    """End this session (a copy of its cookie dies with it); a forged form cannot."""
    if session_user(request, session) is not None and not csrf_matches(request, csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the page was out of date; log out again")
    redirect = RedirectResponse("/login?logged_out=1", status.HTTP_303_SEE_OTHER)
    end_session(request, redirect, session)
    return redirect


# -- annotators -----------------------------------------------------------------------------


def _project_card(session, user: User, project: store.Project) -> dict[str, Any]:
    """A project as one user sees it: their own done / left, and the whole project's
    progress for those who review it."""
    can_review = policies.projects.can_review(session, user, project)
    return {
        "project": project,
        "progress": store.project_progress(session, project=project) if can_review else None,
        "clips": store.count_clips(session, project=project),
        "done": store.count_annotations(session, project=project, user=user),
        "remaining": _remaining(session, project, user),
        "can_review": can_review,
    }


def _remaining(session, project: store.Project, user: User) -> int:
    """What `next` can still hand the user (as the assignment route asks it)."""
    return store.remaining_for(
        session, project=project, user=user, exclude_seen_labels=policies.reviews(user)
    )


@router.get("/")
def home(request: Request, session: SessionDep, user: PageUser) -> HTMLResponse:
    cards = [_project_card(session, user, p) for p in policies.projects.visible(session, user)]
    return render(request, "home.html", user, cards=cards)


def _project_page_context(session, user: User, project: store.Project) -> dict[str, Any]:
    return {"project": project, "can_review": policies.projects.can_review(session, user, project)}


@router.get("/projects/{project_id}/annotate")
def annotate_page(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    clip: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    """The annotation page: the next clip, or `?clip=ID` to edit one's own earlier label."""
    project = policies.projects.require_annotate(session, user, project_id)
    detail = project_detail(session, project)
    editing = None
    if clip is not None:
        found, clip_project = policies.clips.require_access(session, user, clip)
        if clip_project.id != project.id:
            raise store.NotFoundError(f"clip {clip} does not exist")
        mine = [a for a in store.clip_annotations(session, clip=found) if a.user_id == user.id]
        if not mine:
            raise store.NotFoundError("you have not labelled this clip; nothing to edit")
        policies.clips.check_blind(session, user, found)
        editing = {
            "clip": clip_public(found).model_dump(),
            "annotation": AnnotationPublic.model_validate(mine[0]).model_dump(mode="json"),
        }
    config = {
        "dimensions": list(DIMENSIONS),
        "project": detail.model_dump(mode="json", by_alias=True),
        "editing": editing,
        # off: the page has no suggestions at all; the others ask per clip (suggestions.js)
        "suggestion_mode": SuggestionMode(project.suggestion_mode).value,
        "done": store.count_annotations(session, project=project, user=user),
        "remaining": _remaining(session, project, user),
        "recent": _recent(session, project, user, limit=8),
    }
    return render(
        request, "annotate.html", user, config=config,
        shortcuts=_shortcuts(suggesting=config["suggestion_mode"] != SuggestionMode.OFF),
        **_project_page_context(session, user, project),
    )  # fmt: skip


def _shortcuts(*, suggesting: bool) -> list[tuple[str, list[tuple[str, str]]]]:
    """SHORTCUTS, without the suggestion keys where the project offers none."""
    if suggesting:
        return SHORTCUTS
    return [(group, [k for k in keys if k[0] != SUGGESTION_KEYS]) for group, keys in SHORTCUTS]


def _recent(session, project: store.Project, user: User, *, limit: int | None = None) -> list:
    """One's own labels in the project, newest first, with their clip and FG-Text sentence
    (never the clip's status: it would tell whether the others agreed)."""
    schema = store.project_schema(project)
    names = {c.class_id: c.name for c in store.project_classes(session, project=project)}
    return [
        {"annotation_id": a.id, "clip": clip.id, "clip_id": clip.clip_id,
         "class_name": names.get(clip.label, str(clip.label)),
         "attributes": a.attributes, "unsure": a.unsure, "note": a.note,
         "sentence": compose_fg_text(a.attributes, schema), "seconds_spent": finite_or_none(a.seconds_spent),
         "updated_at": AnnotationPublic.model_validate(a).updated_at.isoformat()}
        for a, clip in store.recent_annotations(session, project=project, user=user, limit=limit)
    ]  # fmt: skip


@router.get("/projects/{project_id}/mine")
def my_labels_page(
    request: Request, project_id: Id, session: SessionDep, user: PageUser
) -> HTMLResponse:
    """Queue and progress: done / remaining and every label one has given, to edit."""
    project = policies.projects.require_access(session, user, project_id)
    rows = _recent(session, project, user)
    seconds = [r["seconds_spent"] for r in rows if r["seconds_spent"] is not None]
    return render(
        request, "mine.html", user, card=_project_card(session, user, project), rows=rows,
        median_seconds=median(seconds),
        **_project_page_context(session, user, project),
    )  # fmt: skip


# -- reviewers ------------------------------------------------------------------------------


@router.get("/projects/{project_id}/agreement")
def agreement_page(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    dimension: str = "initiator",
    first: str | None = None,
    second: str | None = None,
) -> HTMLResponse:
    """The agreement dashboard: alpha with its interval per dimension, pairwise kappa, per
    class, and for the chosen dimension the confusion between two annotators (`first`,
    `second`; by default the two who share the most clips) and across all of them."""
    project = policies.projects.require_review(session, user, project_id)
    report = store.project_agreement(session, project=project)
    choices = [*DIMENSIONS, "tuple"]
    if dimension not in choices:
        raise store.InvalidInputError(
            f"dimension {dimension!r}: expected one of {', '.join(choices)}"
        )
    pair = (first, second) if first and second else charts.busiest_pair(report, dimension)
    pair_table = None
    if pair is not None:
        if not set(pair) <= set(report["annotators"]):
            raise store.InvalidInputError(
                f"annotators {pair[0]!r} and {pair[1]!r}: choose two of "
                f"{', '.join(report['annotators'])}"
            )
        users = [store.get_user_by_username(session, username=name) for name in pair]
        counts = store.pair_confusion(
            session, project=project, dimension=dimension, first=users[0], second=users[1]
        )
        pair_table = charts.pair_table(counts, *pair)
    return render(
        request, "agreement.html", user, report=report, dimension=dimension, choices=choices,
        alpha_chart=charts.alpha_chart(report),
        kappa=charts.heat_map(report, dimension, "cohen_kappa"),
        confusion=charts.heat_map(report, dimension, "confusion"), pair=pair,
        pair_table=pair_table,
        per_class=charts.per_class_rows(report, dimension),
        progress=store.project_progress(session, project=project),
        posteriors=_posterior_histogram(session, project),
        suggestions=_suggestion_view(session, project),
        **_project_page_context(session, user, project),
    )  # fmt: skip


def _suggestion_view(session, project: store.Project) -> dict[str, Any] | None:
    """The figures per suggestion condition as the pages draw them (`charts.suggestion_view`);
    None while no label was made with suggestions shown (nothing to split)."""
    if not store.count_suggested_labels(session, project=project):
        return None
    return charts.suggestion_view(store.project_suggestion_bias(session, project=project))


def _posterior_histogram(session, project: store.Project) -> dict[str, Any] | None:
    """The clips' least certain posteriors in bins (dawid-skene projects; None otherwise)."""
    if project.consensus_rule != DAWID_SKENE:
        return None
    return charts.posterior_histogram(
        store.clip_confidences(session, project=project), project.confidence_threshold
    )


@router.get("/projects/{project_id}/quality")
def quality_page(
    request: Request,
    project_id: Id,
    session: SessionDep,
    user: PageUser,
    below: Annotated[float, Query(ge=0, le=1)] = charts.FLAG_BELOW,
) -> HTMLResponse:
    """Annotator quality: per annotator gold accuracy (per dimension and 4-tuple, with its
    95 % interval), the model's estimated accuracy (dawid-skene), mean kappa with the others,
    speed, and a flag for those below `below`."""
    project = policies.projects.require_review(session, user, project_id)
    report = store.project_agreement(session, project=project)
    figures = quality_figures(session, project)
    rows = charts.quality_rows(
        figures["gold"], figures["estimated"], report,
        store.project_progress(session, project=project), below=below,
    )  # fmt: skip
    return render(
        request, "quality.html", user, rows=rows, gold=figures["gold"],
        estimated=figures["estimated"] is not None, below=below,
        chart=charts.accuracy_chart(rows, below=below),
        **_project_page_context(session, user, project),
    )  # fmt: skip


@router.get("/projects/{project_id}/review")
def review_queue_page(
    request: Request, project_id: Id, session: SessionDep, user: PageUser
) -> HTMLResponse:
    project = policies.projects.require_review(session, user, project_id)
    waiting = store.review_queue(session, project=project)
    queue = shown_reviews(session, user, waiting[:REVIEW_PAGE_SIZE])
    names = {c.class_id: c.name for c in store.project_classes(session, project=project)}
    return render(
        request, "review_queue.html", user, queue=queue, class_names=names, waiting=len(waiting),
        disagreements=[charts.disagreeing_dimensions(r) for r in queue],
        **_project_page_context(session, user, project),
    )  # fmt: skip


@router.get("/clips/{clip_id}/review")
def review_clip_page(
    request: Request, clip_id: Id, session: SessionDep, user: PageUser
) -> HTMLResponse:
    """One clip with every annotator's labels side by side, the player, and the decision."""
    clip, project = policies.clips.require_review(session, user, clip_id)
    (review,) = shown_reviews(session, user, [clip])
    queue = [c.id for c in store.review_queue(session, project=project)]
    later = [c for c in queue if c != clip.id]
    names = {c.class_id: c.name for c in store.project_classes(session, project=project)}
    detail = project_detail(session, project)
    config = {
        "dimensions": list(DIMENSIONS),
        "project": detail.model_dump(mode="json", by_alias=True),
        "clip": review.clip.model_dump(),
        "next_url": f"/clips/{later[0]}/review" if later else f"/projects/{project.id}/review",
    }
    return render(
        request, "review_clip.html", user, review=review, config=config,
        class_name=names.get(clip.label, str(clip.label)),
        suggestion=charts.majority_values(review), remaining=len(later),
        disagreeing=charts.disagreeing_dimensions(review), schema=detail.schema_spec,
        posteriors=store.clip_posteriors(session, clip=clip, project=project)
        if project.consensus_rule == DAWID_SKENE
        else None,
        confidence=clip.confidence, threshold=project.confidence_threshold,
        # admins mark a clip gold with the form's values, or unmark it (PUT/DELETE .../gold)
        can_mark_gold=policies.clips.can_manage_gold(user),
        gold=store.gold_values(session, project=project).get(clip.id),
        **_project_page_context(session, user, project),
    )  # fmt: skip


# -- admins ---------------------------------------------------------------------------------


@router.get("/admin")
def admin_page(request: Request, session: SessionDep, user: PageUser) -> HTMLResponse:
    policies.users.require_manage(user)
    projects = [
        {"project": p, "progress": store.project_progress(session, project=p)}
        for p in policies.projects.visible(session, user)
    ]
    settings = request.app.state.settings
    return render(
        request, "admin.html", user, projects=projects, users=store.list_users(session),
        media_root=settings.media_root.resolve(),
    )  # fmt: skip


@router.get("/admin/projects/{project_id}")
def admin_project_page(
    request: Request, project_id: Id, session: SessionDep, user: PageUser
) -> HTMLResponse:
    policies.users.require_manage(user)
    project = policies.projects.require_access(session, user, project_id)
    progress = store.project_progress(session, project=project)
    member_ids = {m.id for m in store.project_members(session, project=project)}
    users = store.list_users(session)
    return render(
        request, "admin_project.html", user, progress=progress,
        speed=charts.annotator_speed(progress),
        members=[u for u in users if u.id in member_ids],
        non_members=[u for u in users if u.id not in member_ids and u.is_active],
        detail=project_detail(session, project),
        clips=[clip_public(c) for c in store.list_clips(session, project=project, limit=20)],
        n_clips=store.count_clips(session, project=project),
        media_root=request.app.state.settings.media_root.resolve(),
        suggestions=project_suggestions_summary(session, project),
        suggestion_figures=_suggestion_view(session, project),
        suggestion_modes=SUGGESTION_MODES, max_suggestions_mib=MAX_SUGGESTIONS_BODY // 2**20,
        **_project_page_context(session, user, project),
    )  # fmt: skip
