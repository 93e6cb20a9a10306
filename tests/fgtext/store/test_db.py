"""The engines' connection handling: a pooled PostgreSQL connection that the server dropped
while it sat idle is replaced before use, not handed to a request."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from fgtext.store import db
from tests.conftest import _pg_admin_connection, fresh_pg_database


@pytest.fixture
def pg_url():
    with fresh_pg_database(f"fgtext_test_{uuid.uuid4().hex[:12]}") as url:
        yield url


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(pg_url, monkeypatch):
    engine = db.create_db_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        first = _backend_pid(engine)
        with _pg_admin_connection() as admin:  # e.g. a server restart or an idle timeout
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        monkeypatch.setattr(db, "PG_PING_AFTER_IDLE_S", 0.0)  # it has been idle "long enough"
        second = _backend_pid(engine)  # would raise if the dead connection were used
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_back_in_use_at_once_is_not_pinged(pg_url):
    engine = db.create_db_engine(pg_url, pool_size=1, max_overflow=0)
    statements = []
    try:
        _backend_pid(engine)
        connection_record = engine.pool._pool.queue[0]  # the one pooled connection
        cursor_execute = connection_record.dbapi_connection.cursor

        def counting_cursor(*args, **kwargs):
            statements.append("cursor")
            return cursor_execute(*args, **kwargs)

        connection_record.dbapi_connection.cursor = counting_cursor
        _backend_pid(engine)
        # one cursor: the query itself, no ping before it
        assert statements == ["cursor"]
    finally:
        engine.dispose()


def test_a_transaction_that_need_not_be_durable_skips_the_disk_flush_alone(pg_url):
    from sqlmodel import Session

    engine = db.create_db_engine(pg_url)
    try:
        with Session(engine) as session:
            with db.write_transaction(session, lock_project=1, durable=False) as connection:
                assert connection.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
            with db.write_transaction(session, lock_project=1) as connection:
                assert connection.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    finally:
        engine.dispose()
