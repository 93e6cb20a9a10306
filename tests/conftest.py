"""Fixtures shared by every test package.

`database_url` gives each test a fresh, empty database on both back ends the store supports:
an SQLite file under tmp_path and a new PostgreSQL database (dropped afterwards). PostgreSQL
is on 127.0.0.1:5432 with trust auth on the project's machines; `FGTEXT_TEST_PG` overrides the
server's admin URL. Where PostgreSQL is unreachable the PostgreSQL cases are skipped locally but
fail under CI (CI=true), so a missing server can never turn the suite green silently.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("FGTEXT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_admin_connection():
    import psycopg

    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _sqlalchemy_url(admin_url: str, database: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return base.replace("postgresql://", "postgresql+psycopg://", 1) + "/" + database


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory) -> Path:
    """The checkout built as a wheel (offline, once per test session)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = out.glob("fgtext-*.whl")
    return wheel


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A SQLAlchemy URL of a fresh, empty database (no tables)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fgtext.db'}"
        return
    with fresh_pg_database(f"fgtext_test_{uuid.uuid4().hex[:12]}") as url:
        yield url


@contextmanager
def fresh_pg_database(name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database `name` (its SQLAlchemy URL), dropped afterwards."""
    with _pg_admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _sqlalchemy_url(PG_ADMIN, name)
    finally:
        with _pg_admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
