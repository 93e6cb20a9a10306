"""Alembic migrations of the store, from code (the CLI, the app's start-up, tests).

The migration scripts live in the checkout's `migrations/` and ship inside the wheel as
`fgtext/store/migrations/` (hatch force-include), so an installed fgtext upgrades a database
without the source tree. New revisions: see `migrations/README.md`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, inspect, select
from sqlalchemy.exc import OperationalError

from fgtext.store.db import _ADVISORY_NAMESPACE, connection_error, create_db_engine, describe_url
from fgtext.store.errors import DatabaseUnavailableError, OutdatedDatabaseError
from fgtext.store.models import STORE_METADATA

_MIGRATION_LOCK = 0  # second advisory-lock key; project ids start at 1


def migrations_dir() -> Path:
    """The migration scripts: inside the installed package, else the checkout's `migrations/`."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "migrations", here.parents[1] / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise DatabaseUnavailableError(  # pragma: no cover - a broken installation
        f"the migration scripts are missing (looked in {here / 'migrations'} and "
        f"{here.parents[1] / 'migrations'}); reinstall fgtext"
    )


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations have no head revision"
    return head


@dataclass(frozen=True)
class SchemaStatus:
    url: str  # password hidden
    current: str | None  # the database's revision; None: never migrated
    head: str  # the revision this fgtext expects
    known: bool  # whether this fgtext has a script for `current` (False: a newer fgtext's)
    unversioned_tables: tuple[str, ...]  # fgtext's tables in a database without a revision

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.is_current:
            return f"{self.url} is at revision {self.head} (up to date)"
        if self.current is None:
            state = "has tables but no migration revision"
            if not self.unversioned_tables:
                state = "has no fgtext tables yet"
            return f"{self.url} {state}; this fgtext needs revision {self.head}"
        if not self.known:
            return (
                f"{self.url} is at revision {self.current}, which this fgtext does not know "
                f"(a newer fgtext migrated it); this fgtext needs {self.head}"
            )
        return f"{self.url} is at revision {self.current}; this fgtext needs {self.head}"


@contextmanager
def _engine(engine_or_url: Engine | str) -> Iterator[Engine]:
    """The engine given, or one for the URL given that is disposed of afterwards."""
    if isinstance(engine_or_url, Engine):
        yield engine_or_url
        return
    engine = create_db_engine(engine_or_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _migration_connection(engine: Engine) -> Iterator[Connection]:
    """One transaction for a migration command; concurrent upgraders wait for each other."""
    try:
        with engine.execution_options(fgtext_write=True).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    select(func.pg_advisory_xact_lock(_ADVISORY_NAMESPACE, _MIGRATION_LOCK))
                )
            yield connection
    except OperationalError as exc:
        raise connection_error(engine, exc) from None


def schema_status(engine: Engine) -> SchemaStatus:
    """Where the database stands against this fgtext's migrations."""
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            tables = () if current else tuple(inspect(connection).get_table_names())
    except OperationalError as exc:
        raise connection_error(engine, exc) from None
    scripts = ScriptDirectory.from_config(alembic_config())
    known = current is None or current in {s.revision for s in scripts.walk_revisions()}
    # Other applications' tables in a shared database are none of our business.
    ours = set(STORE_METADATA.tables)
    return SchemaStatus(
        url=describe_url(engine), current=current, head=head_revision(), known=known,
        unversioned_tables=tuple(t for t in tables if t in ours),
    )  # fmt: skip


def upgrade_database(engine_or_url: Engine | str, revision: str = "head") -> SchemaStatus:
    """Migrate the database up to `revision` (default: the newest)."""
    with _engine(engine_or_url) as engine:
        before = schema_status(engine)
        if not before.known:
            raise OutdatedDatabaseError(before.describe() + "; upgrade fgtext instead")
        if before.current is None and before.unversioned_tables:
            raise OutdatedDatabaseError(
                before.describe() + f" ({', '.join(before.unversioned_tables[:5])}); "
                "migrate only a database that fgtext created, or an empty one"
            )
        with _migration_connection(engine) as connection:
            command.upgrade(alembic_config(connection), revision)
        return schema_status(engine)


def downgrade_database(engine_or_url: Engine | str, revision: str) -> SchemaStatus:
    """Migrate the database down to `revision` ("base": drop every fgtext table)."""
    with _engine(engine_or_url) as engine:
        with _migration_connection(engine) as connection:
            command.downgrade(alembic_config(connection), revision)
        return schema_status(engine)


def upgrade_command(status: SchemaStatus) -> str:
    return f"fgtext db upgrade --db {status.url}"


def require_current_schema(engine: Engine, *, auto_upgrade: bool) -> SchemaStatus:
    """Return when the database is at the head revision. Otherwise upgrade it when
    `auto_upgrade` (the embedded SQLite default) or raise OutdatedDatabaseError with the
    command that upgrades it (a server must not start on an outdated database)."""
    status = schema_status(engine)
    if status.is_current:
        return status
    if not status.known:
        raise OutdatedDatabaseError(status.describe() + "; install that newer fgtext")
    if auto_upgrade and not (status.current is None and status.unversioned_tables):
        return upgrade_database(engine)
    raise OutdatedDatabaseError(f"{status.describe()}; upgrade it with: {upgrade_command(status)}")
