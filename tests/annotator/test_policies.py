"""The authorization policies (`annotator.policies`), as one table: every role x action x
(own / same project / other project) -> allowed, 403 or 404. Blind annotation means 404 for
what one may not see, 403 only for what one sees but may not do.

The second half holds the permission checks that lived in the store's tests before the rules
moved from the store to the policies (same assertions)."""

# ruff: noqa: F811  (the store's fixtures are imported by name, then requested as arguments)
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlmodel import Session

from annotator import policies
from fgtext import store
from tests.fgtext.store.conftest import (  # noqa: F401
    admin,
    engine,
    make_annotators,
    session,
)
from tests.fgtext.store.helpers import LABELS, make_project

OK, FORBIDDEN, HIDDEN = "ok", 403, 404
ROLES = ("admin", "reviewer", "annotator")


@dataclass
class World:
    """Two projects: "same" (everyone below is a member) and "other" (nobody is, but its own
    annotator `stranger`). Each role has an annotation of its own on the same clip of "same",
    beside one by a fellow member (`peer`); `stranger` labelled a clip of "other"."""

    engine: object
    users: dict[str, store.User]
    projects: dict[str, store.Project]
    clips: dict[str, store.Clip]
    own: dict[str, store.Annotation]  # role -> their annotation in "same"
    annotations: dict[str, store.Annotation]  # "same": peer's, "other": stranger's


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    engine = store.create_db_engine(f"sqlite:///{tmp_path_factory.mktemp('policy')}/p.db")
    store.upgrade_database(engine)
    with Session(engine, expire_on_commit=False) as session:
        users = {
            name: store.create_user(session, username=name, password_hash="h", role=role)
            for name, role in (*((r, r) for r in ROLES), ("peer", "annotator"),
                               ("stranger", "annotator"))
        }  # fmt: skip
        projects = {
            scope: make_project(session, users["admin"], n_clips=2, k=5, name=scope)
            for scope in ("same", "other")
        }
        for name in (*ROLES, "peer"):
            store.add_member(session, project=projects["same"], user=users[name], actor=None)
        store.add_member(session, project=projects["other"], user=users["stranger"], actor=None)
        clips = {s: store.list_clips(session, project=p)[0] for s, p in projects.items()}

        def label(name: str, scope: str) -> store.Annotation:
            return store.submit_annotation(
                session, clip=clips[scope], user=users[name], attributes=LABELS
            )

        own = {role: label(role, "same") for role in ROLES}
        annotations = {"same": label("peer", "same"), "other": label("stranger", "other")}
    yield World(engine, users, projects, clips, own, annotations)
    engine.dispose()


def _project(w: World, scope: str) -> int:
    return w.projects[scope].id


def _clip(w: World, scope: str) -> int:
    return w.clips[scope].id


def _annotation(w: World, scope: str, role: str) -> int:
    return (w.own[role] if scope == "own" else w.annotations[scope]).id


# action -> what it calls: (session, user, world, scope, role)
Action = Callable[[Session, store.User, World, str, str], object]
P, C, A = policies.projects, policies.clips, policies.annotations
ACTIONS: dict[str, Action] = {
    "see project": lambda s, u, w, sc, r: P.require_access(s, u, _project(w, sc)),
    "annotate in project": lambda s, u, w, sc, r: P.require_annotate(s, u, _project(w, sc)),
    "review project": lambda s, u, w, sc, r: P.require_review(s, u, _project(w, sc)),
    "administer project": lambda s, u, w, sc, r: P.require_admin(s, u, _project(w, sc)),
    "see clip": lambda s, u, w, sc, r: C.require_access(s, u, _clip(w, sc)),
    "annotate clip": lambda s, u, w, sc, r: C.require_annotate(s, u, _clip(w, sc)),
    "review clip": lambda s, u, w, sc, r: C.require_review(s, u, _clip(w, sc)),
    "adjudicate clip": lambda s, u, w, sc, r: C.require_adjudicate(s, u, _clip(w, sc)),
    "read annotation": lambda s, u, w, sc, r: A.require_read(s, u, _annotation(w, sc, r)),
    "edit annotation": lambda s, u, w, sc, r: A.require_edit(s, u, _annotation(w, sc, r)),
    "manage users": lambda s, u, w, sc, r: policies.users.require_manage(u),
    "demote oneself": lambda s, u, w, sc, r: policies.users.check_update(
        u, u, role="annotator", is_active=None
    ),
    "deactivate another user": lambda s, u, w, sc, r: policies.users.check_update(
        u, w.users["peer"], role=None, is_active=False
    ),
}

# (action, scope): the outcome for admin, reviewer, annotator. "own" is one's own annotation
# (or oneself); "same" a project one is a member of (and a fellow member's annotation in it);
# "other" a project one is not a member of.
TABLE: dict[tuple[str, str], tuple[object, object, object]] = {
    ("see project", "same"): (OK, OK, OK),
    ("see project", "other"): (OK, HIDDEN, HIDDEN),
    ("annotate in project", "same"): (OK, OK, OK),
    ("annotate in project", "other"): (OK, HIDDEN, HIDDEN),
    ("review project", "same"): (OK, OK, FORBIDDEN),
    ("review project", "other"): (OK, HIDDEN, HIDDEN),
    ("administer project", "same"): (OK, FORBIDDEN, FORBIDDEN),
    ("administer project", "other"): (OK, HIDDEN, HIDDEN),
    ("see clip", "same"): (OK, OK, OK),
    ("see clip", "other"): (OK, HIDDEN, HIDDEN),
    ("annotate clip", "same"): (OK, OK, OK),
    ("annotate clip", "other"): (OK, HIDDEN, HIDDEN),
    ("review clip", "same"): (OK, OK, FORBIDDEN),
    ("review clip", "other"): (OK, HIDDEN, HIDDEN),
    ("adjudicate clip", "same"): (OK, OK, FORBIDDEN),
    ("adjudicate clip", "other"): (OK, HIDDEN, HIDDEN),
    ("read annotation", "own"): (OK, OK, OK),
    ("read annotation", "same"): (OK, OK, HIDDEN),
    ("read annotation", "other"): (OK, HIDDEN, HIDDEN),
    ("edit annotation", "own"): (OK, OK, OK),
    ("edit annotation", "same"): (FORBIDDEN, FORBIDDEN, HIDDEN),
    ("edit annotation", "other"): (FORBIDDEN, HIDDEN, HIDDEN),
    ("manage users", "own"): (OK, FORBIDDEN, FORBIDDEN),
    ("demote oneself", "own"): (FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("deactivate another user", "other"): (OK, FORBIDDEN, FORBIDDEN),
}
CASES = [
    pytest.param(role, action, scope, outcomes[i], id=f"{role}-{action}-{scope}")
    for (action, scope), outcomes in TABLE.items()
    for i, role in enumerate(ROLES)
]


def test_the_table_covers_every_action_and_scope():
    assert {action for action, _ in TABLE} == set(ACTIONS)
    for action in ("see project", "review project", "see clip", "read annotation"):
        assert {s for a, s in TABLE if a == action} >= {"same", "other"}


@pytest.mark.parametrize(("role", "action", "scope", "expected"), CASES)
def test_policy(world, role, action, scope, expected):
    assert _outcome(world, role, action, scope) == expected


def _outcome(world: World, role: str, action: str, scope: str) -> object:
    with Session(world.engine) as session:
        user = session.get(store.User, world.users[role].id)
        try:
            ACTIONS[action](session, user, world, scope, role)
        except store.NotFoundError:
            return HIDDEN
        except store.PermissionDeniedError:
            return FORBIDDEN
    return OK


# -- checks that moved from the store's tests with their rules ------------------------------


def test_only_members_and_active_users_annotate(session, admin, make_annotators):
    project = make_project(session, admin, n_clips=1, k=1)
    (a,) = make_annotators(1, project)
    (outsider,) = make_annotators(1, prefix="out")
    policies.projects.check_can_annotate(session, a, project)
    with pytest.raises(store.PermissionDeniedError, match="'out0' is not a member of project 'p'"):
        policies.projects.check_can_annotate(session, outsider, project)
    store.update_user(session, user=a, is_active=False, actor=admin)
    with pytest.raises(store.PermissionDeniedError, match="user 'ann0' is deactivated"):
        policies.projects.check_can_annotate(session, a, project)


def test_only_the_author_edits(session, admin, make_annotators):
    project = make_project(session, admin, n_clips=1, k=3)
    a, b = make_annotators(2, project)
    clip = store.next_clip(session, project=project, user=a)
    mine = store.submit_annotation(session, clip=clip, user=a, attributes=LABELS)
    with pytest.raises(store.PermissionDeniedError, match="only its author edits it"):
        policies.annotations.check_author(session, b, mine, "edits")


def test_the_projects_an_annotator_sees(session, admin, make_annotators):
    mine, _ = (make_project(session, admin, n_clips=1, k=1, name=n) for n in ("mine", "other"))
    (ann,) = make_annotators(1, mine)
    assert [p.name for p in policies.projects.visible(session, ann)] == ["mine"]
    assert [p.name for p in policies.projects.visible(session, admin)] == ["mine", "other"]


def test_adjudication_is_for_reviewers_only(session, admin, make_annotators):
    project = make_project(session, admin, n_clips=1, k=3)
    users = make_annotators(3, project)
    with pytest.raises(store.PermissionDeniedError, match="'ann0' is not an active reviewer"):
        policies.clips.check_can_adjudicate(users[0])
