"""Alembic environment of the fgtext annotation store (target: the store's own metadata, STORE_METADATA).

Run from code (`fgtext.store.migrate`), which hands over a connection in
`config.attributes["connection"]`, or from the `alembic` command line, which connects to
`-x db=URL`, else $FGTEXT_DATABASE_URL, else alembic.ini's sqlalchemy.url.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context

from fgtext.store.db import create_db_engine
from fgtext.store.models import STORE_METADATA

config = context.config
target_metadata = STORE_METADATA

if config.config_file_name is not None and config.attributes.get("connection") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return (
        context.get_x_argument(as_dictionary=True).get("db")
        or os.environ.get("FGTEXT_DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
    )


def _configure(**kw) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite alters tables by copying them
        **kw,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_db_engine(_url())
    try:
        with engine.execution_options(fgtext_write=True).connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
