"""Shared test helpers: a valid label and a project with N bare clips."""

from __future__ import annotations

from sqlalchemy import insert

from fgtext import store
from fgtext.schema import default_schema, load_class_list

LABELS = {"initiator": "right_hand", "receiver": "eyes", "direction": "back_and_forth",
          "motion_type": "rub"}  # fmt: skip


def make_project(
    session, admin, *, n_clips: int, k: int, name: str = "p", **settings
) -> store.Project:
    """A project with `n_clips` clips (ids c000, c001, ...) and k annotators per clip;
    `settings` go to `store.create_project` (consensus_rule, ...)."""
    project = store.create_project(
        session, name=name, schema=default_schema(), classes=load_class_list("smg")[:2],
        annotators_per_clip=k, actor=admin, **settings,
    )  # fmt: skip
    session.execute(
        insert(store.Clip),
        [
            {"project_id": project.id, "clip_id": f"c{i:03d}", "video": f"/v/c{i:03d}.mp4",
             "label": i % 2, "split": "train"}
            for i in range(n_clips)
        ],
    )  # fmt: skip
    session.commit()
    return project
