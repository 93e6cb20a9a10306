"""The demo behind `make run`: synthetic micro-gesture clips, a project, demo accounts, and some
labels from two simulated annotators so the agreement dashboard and the review queue have
something to show on first start. Everything lives in one folder on the embedded SQLite. The
project offers suggestions at once: its synthetic classes are SMG's, whose typical attribute
combinations become the class suggestions.

Running it again reuses the folder (your labels stay); `--reset` starts over.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from annotator.auth import hash_password
from fgtext import store
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS
from fgtext.synth import SynthConfig, simulated_labels, synthesize
from fgtext.vocabulary import DEFAULT_CONSENSUS_RULE, Role, SuggestionMode

DEMO_PROJECT = "Demo micro-gestures"
DEMO_PASSWORD = "fgtext-demo"  # printed on start; the demo always runs in development mode
# (username, role, what they are for)
DEMO_ACCOUNTS = (
    ("admin", Role.ADMIN, "projects, users, agreement, export"),
    ("reviewer", Role.REVIEWER, "agreement dashboard and adjudication"),
    ("alice", Role.ANNOTATOR, "annotates"),
    ("bob", Role.ANNOTATOR, "annotates the same clips (k = 2)"),
)
SIMULATED = ("sim-annotator-1", "sim-annotator-2")  # deactivated: they only brought labels


@dataclass(frozen=True)
class Demo:
    folder: Path
    database_url: str
    project_id: int
    clips: int
    prelabelled: int
    created: bool


def prepare_demo(
    folder: Path,
    *,
    classes: int = 6,
    clips_per_class: int = 10,
    prelabelled: int = 24,
    reset: bool = False,
) -> Demo:
    """Build (or reuse) the demo in `folder`: clips under folder/synthetic, the database at
    folder/annotator.db, the accounts of DEMO_ACCOUNTS, and `prelabelled` clips (every other
    one) labelled by two simulated annotators (who slip now and then)."""
    folder = folder.resolve()
    if reset and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{folder / 'annotator.db'}"
    dataset = folder / "synthetic"
    if not (dataset / "dataset.json").exists():
        config = SynthConfig(
            classes=classes, clips_per_class=clips_per_class, width=192, height=144, fps=25,
            seconds=2.0, annotators=len(SIMULATED), annotator_error=0.06, seed=0,
        )  # fmt: skip
        synthesize(dataset, config, overwrite=True)
    store.upgrade_database(database_url)
    engine = store.create_db_engine(database_url)
    try:
        with Session(engine) as session:
            existing = store.get_user_by_username(session, username="admin")
            if existing is not None:
                project = store.get_project_by_name(session, name=DEMO_PROJECT)
                return Demo(folder, database_url, project.id,
                            store.count_clips(session, project=project), 0, created=False)  # fmt: skip
            password_hash = hash_password(DEMO_PASSWORD)
            users = {
                name: store.create_user(session, username=name, password_hash=password_hash, role=role)
                for name, role, _ in DEMO_ACCOUNTS
            }  # fmt: skip
            project = store.create_project_from_dataset(
                session, name=DEMO_PROJECT, dataset_dir=dataset, annotators_per_clip=2,
                consensus_rule=DEFAULT_CONSENSUS_RULE, actor=users["admin"], media_root=folder,
                suggestion_mode=SuggestionMode.AT_ONCE,
            )  # fmt: skip
            for name in ("alice", "bob", "reviewer"):
                store.add_member(session, project=project, user=users[name], actor=users["admin"])
            n = _prelabel(session, project, users["admin"], dataset, prelabelled, password_hash)
            return Demo(folder, database_url, project.id,
                        store.count_clips(session, project=project), n, created=True)  # fmt: skip
    finally:
        engine.dispose()


def _prelabel(
    session: Session, project, admin, dataset: Path, limit: int, password_hash: str
) -> int:
    """Submit the simulated annotators' labels of `limit` clips (every other one), then
    deactivate them (their labels count; they cannot log in)."""
    simulated = {}
    for i, name in enumerate(SIMULATED):
        simulated[f"annotator-{i + 1}"] = store.create_user(
            session, username=name, password_hash=password_hash, role=Role.ANNOTATOR
        )
        store.add_member(
            session, project=project, user=simulated[f"annotator-{i + 1}"], actor=admin
        )
    every_other = store.list_clips(session, project=project, limit=10**6)[::2][:limit]
    clips = {c.clip_id: c for c in every_other}  # spread over the classes
    done = set()
    for row in simulated_labels(dataset):
        clip = clips.get(row["clip_id"])
        if clip is None or row["annotator"] not in simulated:
            continue
        store.submit_annotation(
            session, clip=clip, user=simulated[row["annotator"]],
            attributes={d: row[d] for d in DIMENSIONS}, seconds_spent=8.0 + len(done) % 7,
        )  # fmt: skip
        done.add(clip.clip_id)
    for user in simulated.values():
        store.update_user(session, user=user, is_active=False, actor=admin)
    return len(done)


def check_free_port(host: str, port: int) -> None:
    import socket

    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            raise FgTextError(
                f"port {port} on {host} is in use; stop what runs there or pass --port"
            ) from None
