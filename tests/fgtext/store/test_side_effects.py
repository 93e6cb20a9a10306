"""Importing fgtext changes nothing process-wide: the store's tables, naming convention and
audit-log guard are its own, so a user's plain SQLModel code in the same process behaves as
it would without fgtext."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, Session, SQLModel, create_engine, select

import fgtext.store  # noqa: F401  (imported first, as a user's program would)
from fgtext.store.models import STORE_METADATA

PLAIN_MODEL = """
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, Session, SQLModel, create_engine, select
{imports}

class Note(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("title"),)
    id: int | None = Field(default=None, primary_key=True)
    title: str

engine = create_engine("sqlite://")
SQLModel.metadata.create_all(engine)
with Session(engine) as session:
    session.add(Note(title="a"))
    session.commit()
    note = session.exec(select(Note)).one()
    note.title = "b"
    session.commit()
    session.delete(note)
    session.commit()
unique = next(c for c in Note.__table__.constraints if isinstance(c, UniqueConstraint))
print(sorted(SQLModel.metadata.tables), unique.name, dict(SQLModel.metadata.naming_convention))
"""


def _run(imports: str) -> str:
    code = PLAIN_MODEL.format(imports=imports)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_plain_sqlmodel_model_behaves_the_same_with_fgtext_imported():
    without = _run("")
    with_fgtext = _run("import fgtext.store\nimport fgtext.store.db\nimport annotator.app")
    assert with_fgtext == without
    assert without.startswith("['note'] None ")  # unnamed constraint, SQLModel's convention


class Plain(SQLModel, table=True):
    """A user's own table in this (test) process, defined after fgtext was imported."""

    __tablename__ = "plain_side_effect_check"
    __table_args__ = (UniqueConstraint("title"),)
    id: int | None = Field(default=None, primary_key=True)
    title: str


def test_the_store_keeps_its_tables_and_conventions_to_itself(tmp_path):
    assert "users" not in SQLModel.metadata.tables
    assert "users" in STORE_METADATA.tables and "plain_side_effect_check" not in STORE_METADATA
    assert "uq" not in SQLModel.metadata.naming_convention
    (unique,) = (c for c in Plain.__table__.constraints if isinstance(c, UniqueConstraint))
    assert unique.name is None
    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    Plain.__table__.create(engine)
    with Session(engine) as session:  # no fgtext listener on a plain session's flush
        session.add(Plain(title="a"))
        session.commit()
        row = session.exec(select(Plain)).one()
        session.delete(row)
        session.commit()
        assert session.exec(select(Plain)).all() == []
    engine.dispose()


@pytest.mark.parametrize("change", ["update", "delete"])
def test_the_audit_guard_still_holds_on_fgtext_sessions(change, tmp_path):
    from fgtext import store

    engine = store.create_db_engine(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade_database(engine)
    with Session(engine) as session:
        store.create_user(session, username="u", password_hash="h", role="admin")
        row = session.exec(select(store.AuditEvent)).first()
        if change == "update":
            row.action = "tampered"
        else:
            session.delete(row)
        with pytest.raises(AssertionError, match="append-only"):
            session.commit()
    engine.dispose()
