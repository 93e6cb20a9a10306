"""Store fixtures: a migrated engine on both back ends (SQLite and PostgreSQL, via the shared
`database_url` fixture), users, and a small synthetic dataset with simulated labels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from fgtext import store
from fgtext.synth import SynthConfig, synthesize

# 3 classes x 4 clips, three simulated annotators each; tiny videos (the store never decodes).
SYNTH = SynthConfig(
    classes=3, clips_per_class=4, width=64, height=48, fps=10, seconds=0.5, annotators=3,
    annotator_error=0.3, seed=7,
)  # fmt: skip


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory) -> Path:
    return synthesize(tmp_path_factory.mktemp("synth") / "dataset", SYNTH, workers=1)


@pytest.fixture
def engine(database_url) -> Iterator:
    engine = store.create_db_engine(database_url)
    store.upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture
def admin(session) -> store.User:
    return store.create_user(session, username="admin", password_hash="h:admin", role="admin")


@pytest.fixture
def make_annotators(session, admin):
    """make_annotators(n, project=None) -> n annotators (members of `project` if given)."""

    def make(n: int, project: store.Project | None = None, prefix: str = "ann") -> list:
        users = []
        for i in range(n):
            user = store.create_user(
                session, username=f"{prefix}{i}", password_hash="h", role="annotator"
            )
            if project is not None:
                store.add_member(session, project=project, user=user, actor=admin)
            users.append(user)
        return users

    return make


@pytest.fixture
def synth_project(session, admin, synth_dataset) -> store.Project:
    """The synthetic dataset as a project with k=3 and the majority rule."""
    return store.create_project_from_dataset(
        session, name="synth", dataset_dir=synth_dataset, annotators_per_clip=3,
        consensus_rule="majority", actor=admin, media_root=synth_dataset,
    )  # fmt: skip
