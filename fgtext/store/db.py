"""Engines for SQLite and PostgreSQL from one code path, and the store's transaction helpers.

SQLite: WAL (readers never block the writer), a 30 s busy timeout, foreign keys on. pysqlite's
own transaction handling is switched off so that we emit BEGIN ourselves: write transactions
start with `BEGIN IMMEDIATE`, which takes the write lock up front, so a check-then-insert (is
this clip still free? then lease it) is atomic and never fails half-way with "database is
locked"; reads start with a plain (deferred) BEGIN.

PostgreSQL (psycopg 3): READ COMMITTED; writes that must see a consistent project (assignment,
submitting labels) first take a per-project advisory transaction lock.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import Any, TypeVar

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process lock and SQLite's own
    fcntl = None

from sqlalchemy import Connection, Engine, Integer, bindparam, event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError, OperationalError
from sqlmodel import Session, create_engine

from fgtext.store.errors import DatabaseUnavailableError, NotFoundError
from fgtext.store.models import AuditEvent, User, utc_now

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10
PG_PING_AFTER_IDLE_S = 2.0  # a pooled connection idle longer is tested before use
_IDLE_SINCE = "fgtext_idle_since"
# The pool of engines made without sizes (the CLIs, scripts); the app sizes its own from its
# request threads (`annotator.app`), so that a request never waits for the pool.
POOL_SIZE, POOL_OVERFLOW = 20, 20
_WRITE = "fgtext_write"
# First key of the two-int advisory lock: the store's namespace ("FG" in ASCII); the second
# key is the project id.
_ADVISORY_NAMESPACE = 0x4647
T = TypeVar("T")
# Built once (as the hot paths' statements are): SQLAlchemy then neither rebuilds nor
# recompiles them per call.
_ADVISORY_LOCK = select(
    func.pg_advisory_xact_lock(_ADVISORY_NAMESPACE, bindparam("project_id", type_=Integer))
)
# The same and synchronous_commit off for the transaction, in one round trip (a NULL project
# takes no lock).
_ADVISORY_LOCK_NOT_DURABLE = select(
    func.pg_advisory_xact_lock(_ADVISORY_NAMESPACE, bindparam("project_id", type_=Integer)),
    func.set_config("synchronous_commit", "off", True),
)
# Explicit, uniquely named parameters: the statement can join others in one (a parameter named
# like a column of another statement's table would be taken as a value for that column).
INSERT_AUDIT_EVENT = insert(AuditEvent.__table__).values(
    at=bindparam("event_at"),
    actor_id=bindparam("event_actor"),
    project_id=bindparam("event_project"),
    action=bindparam("event_action"),
    entity_type=bindparam("event_entity_type"),
    entity_id=bindparam("event_entity_id"),
    payload=bindparam("event_payload", type_=AuditEvent.__table__.c.payload.type),
)
URL_EXAMPLES = "sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"


def normalise_url(url: str) -> str:
    """Plain `postgresql://` (and `postgres://`) URLs are served by psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_db_engine(url: str, **engine_kw: Any) -> Engine:
    """An engine for `url` (SQLite or PostgreSQL) set up as the module docstring says."""
    if not isinstance(url, str) or not url.strip():
        raise DatabaseUnavailableError(f"database URL {url!r}: expected {URL_EXAMPLES}")
    try:
        parsed = make_url(normalise_url(url.strip()))
    except ArgumentError:
        raise DatabaseUnavailableError(
            f"database URL {url!r} is not a URL; expected {URL_EXAMPLES}"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise DatabaseUnavailableError(
                f"database URL {url!r}: an in-memory SQLite database cannot be shared between "
                "connections; give a file, sqlite:///PATH"
            )
        engine_kw.setdefault("pool_size", POOL_SIZE)
        engine_kw.setdefault("max_overflow", POOL_OVERFLOW)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **engine_kw,
        )
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine_kw.setdefault("pool_size", POOL_SIZE)
        engine_kw.setdefault("max_overflow", POOL_OVERFLOW)
        try:
            engine = create_engine(
                parsed, connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S}, **engine_kw
            )
        except NoSuchModuleError:  # pragma: no cover - psycopg is a dependency
            raise DatabaseUnavailableError("psycopg 3 is not installed") from None
        if not engine_kw.get("pool_pre_ping"):
            _ping_when_idle(engine)
        return engine
    raise DatabaseUnavailableError(
        f"database URL {url!r}: back end {backend!r} is not supported; expected {URL_EXAMPLES}"
    )


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled PostgreSQL connection before use when it has been idle for a while (the
    server may have restarted or dropped it), as `pool_pre_ping` does before every use. A
    request checks out a connection two or three times, each a round trip for the ping; a
    connection back in use within seconds is as alive as the last statement on it showed."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PG_PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:  # e.g. AdminShutdown: terminated meanwhile
            alive = False
        if not alive:
            raise DisconnectionError("the pooled connection is gone")  # the pool reconnects


class SqliteWriters:
    """The queue of one SQLite database's writers. SQLite's busy handler polls for its write
    lock, sleeping up to 100 ms a try, so under load a writer can wait far longer than the
    lock is held. Here writers wait on locks that wake them at once: the threads of this
    process on a lock, and the processes (`serve --workers N`, a CLI beside the server) on
    an `flock` of a file beside the database. Other programs still meet SQLite's own lock."""

    def __init__(self, database: str) -> None:
        self._threads = threading.RLock()
        self._depth = 0  # nested write transactions of the thread holding the lock
        self._fd: int | None = None
        if fcntl is not None:
            self._fd = os.open(f"{database}-writers", os.O_RDWR | os.O_CREAT, 0o600)
            weakref.finalize(self, os.close, self._fd)

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._depth == 0 and self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1

    def __exit__(self, *_exc) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, SqliteWriters] = weakref.WeakKeyDictionary()


def _configure_sqlite(engine: Engine) -> None:
    _SQLITE_WRITERS[engine] = SqliteWriters(engine.url.database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see "begin")
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; fsync at checkpoints
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def get_row(session: Session, model: type[T], ident: object, what: str) -> T:
    """The `model` row with (single-column) primary key `ident`, or NotFoundError naming it as
    `what`. The row as stored now (one prebuilt SELECT): every request reads its project and
    clip afresh, and `Session.get` would build its statement anew each time."""
    row = session.execute(
        _by_primary_key(model), {"ident": ident}, execution_options={"populate_existing": True}
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"{what} {ident} does not exist")
    return row


@cache
def _by_primary_key(model: type) -> Any:
    (key,) = model.__table__.primary_key.columns
    return select(model).where(getattr(model, key.name) == bindparam("ident"))


def describe_url(engine_or_url: Engine | str) -> str:
    """The URL with its password hidden, for messages."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.render_as_string(hide_password=True)


def connection_error(engine: Engine, exc: OperationalError) -> DatabaseUnavailableError:
    reason = str(exc.orig or exc).strip().splitlines()[0]
    return DatabaseUnavailableError(f"cannot connect to {describe_url(engine)}: {reason}")


@contextmanager
def write_transaction(
    session: Session, *, lock_project: int | None = None, durable: bool = True
) -> Iterator[Connection]:
    """One write transaction: committed at the end, rolled back on any error. Yields its
    connection, on which the hot paths run their prebuilt Core statements.

    On SQLite a read transaction the session already has open (e.g. the request's policy
    checks) is committed first, so the write starts fresh with the write lock and reads the
    latest committed rows. On PostgreSQL it simply goes on: under READ COMMITTED every
    statement reads the latest committed rows anyway, and going on saves a COMMIT, a pool
    checkout and a BEGIN on every write. `lock_project` serialises writers of one project on
    PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises every writer).

    `durable=False`: the commit does not wait for the write-ahead log to reach the disk
    (PostgreSQL's synchronous_commit off, for this transaction only; SQLite in WAL mode with
    synchronous=NORMAL never waits): a crash of the database server may lose the transaction
    whole, never part of it. For reservations (leases), which are as well lost: their commit
    no longer holds the project's lock through a disk flush.
    """
    writers = _SQLITE_WRITERS.get(session.get_bind())
    if writers is not None and session.in_transaction():
        session.commit()
    with ExitStack() as held:
        if writers is not None:
            held.enter_context(writers)
        try:
            # SQLite: the option makes the BEGIN an IMMEDIATE one (`_configure_sqlite`)
            connection = session.connection(
                execution_options={_WRITE: True} if writers is not None else None
            )
        except OperationalError as exc:
            session.rollback()
            raise connection_error(session.get_bind(), exc) from None
        if connection.dialect.name == "postgresql" and (lock_project is not None or not durable):
            lock = _ADVISORY_LOCK if durable else _ADVISORY_LOCK_NOT_DURABLE
            connection.execute(lock, {"project_id": lock_project})
        try:
            yield connection
            session.commit()
        except BaseException:
            session.rollback()
            raise


def write_together(connection: Connection, statements: tuple, parameters: Mapping) -> None:
    """Run writes whose results nobody reads, on rows none of the others touches. PostgreSQL
    runs them as one statement, the last with the others as data-modifying WITH clauses (each
    runs exactly once): one round trip where there were several, which matters while the
    project's lock is held. SQLite runs them one by one, each with exactly the parameters it
    binds. So the statements' parameters must be named unlike any column of the tables they
    write: an UPDATE takes a further parameter named like one of its columns as a value to
    set."""
    if connection.dialect.name == "postgresql":
        connection.execute(_as_one_statement(statements), parameters)
        return
    for statement in statements:
        connection.execute(statement, {k: parameters[k] for k in _parameter_names(statement)})


@cache
def _as_one_statement(statements: tuple) -> Any:
    *first, last = statements
    return last.add_cte(*(s.cte(f"write_{i}") for i, s in enumerate(first)))


@cache
def _parameter_names(statement: Any) -> frozenset[str]:
    """The parameters a statement needs a value for (not its literals')."""
    return frozenset(name for name, bind in statement.compile().binds.items() if bind.required)


def audit(session: Session, **event: Any) -> None:
    """Append an audit event (`audit_event`'s keyword arguments) to the current (write)
    transaction: one prebuilt INSERT (the log is written on every request of the hot path),
    after the session's pending rows, so the log follows the order of the writes and may name
    their new ids."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    session.connection().execute(INSERT_AUDIT_EVENT, audit_event(**event))


def audit_event(
    *,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: object,
    project_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An audit event's row, the parameters of `INSERT_AUDIT_EVENT`."""
    return {
        "event_at": utc_now(),
        "event_actor": actor.id if actor is not None else None,
        "event_project": project_id,
        "event_action": action,
        "event_entity_type": entity_type,
        "event_entity_id": str(entity_id),
        "event_payload": payload or {},
    }
