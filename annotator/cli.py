"""`fgtext-annotator`: serve the annotation app; create users and projects from the shell.

Settings come from the FGTEXT_* environment (see annotator.settings); `--db` overrides
FGTEXT_DATABASE_URL. Every user mistake is one line `error: ...` on stderr and exit status 1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from sqlmodel import Session

from annotator.settings import Settings, load_settings
from fgtext.console import out_console, run_cli, typer_app
from fgtext.errors import FgTextError
from fgtext.vocabulary import (
    DEFAULT_CONSENSUS_RULE,
    DEFAULT_POSTERIOR_THRESHOLD,
    PROJECT_RULES,
    ROLES,
    SUGGESTION_MODES,
    Role,
    SuggestionMode,
)

app = typer_app("FG-Text annotator: the annotation web app and its administration.")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: FGTEXT_DATABASE_URL or sqlite:///./fgtext.db)."
    ),
]


def _settings(db: str | None, **overrides: object) -> Settings:
    """Settings from the environment, with --db and any other options given."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return load_settings(database_url=db, **given) if db else load_settings(**given)


@contextmanager
def _store_session(settings: Settings) -> Iterator[Session]:
    from fgtext import store

    engine = store.create_db_engine(settings.database_url)
    try:
        store.require_current_schema(engine, auto_upgrade=settings.should_auto_upgrade)
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    db: DbOption = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes (uvicorn workers); sessions, login limits and caches are "
            "shared through the database.",
            min=1,
        ),
    ] = 1,
    threads: Annotated[
        int | None,
        typer.Option(
            help="Request threads per process (FGTEXT_THREADS, default 4): a few keep "
            "latency even under load.",
            min=1,
            max=256,
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated addresses of reverse proxies whose X-Forwarded-For and "
            "X-Forwarded-Proto are believed (default: none; the TCP peer is the client).",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the web app (uvicorn; --workers N for N processes)."""
    import uvicorn

    from annotator.app import create_app

    settings = _settings(db, threads=threads)
    application = create_app(settings)  # refuses an outdated database before listening
    out_console.print(
        f"FG-Text annotator on http://{host}:{port} (API docs /docs; env {settings.env}; "
        f"media root {settings.media_root.resolve()}"
        + (f"; {workers} workers" if workers > 1 else "")
        + ")"
    )
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: a rotating header
    # sent from the same machine would dodge the per-client login limit. Only named proxies.
    proxy: dict[str, object] = {"proxy_headers": False}
    if forwarded_allow_ips:
        proxy = {"proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips}
    options = {"host": host, "port": port, "log_level": log_level, **proxy}
    if workers == 1:
        uvicorn.run(application, **options)
        return
    # Each worker builds its own app from the FGTEXT_* environment (--db included).
    application.state.engine.dispose()
    if db:
        os.environ["FGTEXT_DATABASE_URL"] = db
    if threads is not None:
        os.environ["FGTEXT_THREADS"] = str(threads)
    uvicorn.run("annotator.app:create_app", factory=True, workers=workers, **options)


@app.command()
def demo(
    folder: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo's clips and database.")
    ] = Path("demo-annotator"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    reset: Annotated[bool, typer.Option("--reset", help="Start the demo over.")] = False,
    prepare_only: Annotated[
        bool, typer.Option("--prepare-only", help="Build the demo and exit without serving.")
    ] = False,
) -> None:
    """Serve a ready demo on the embedded SQLite: synthetic clips, a project, demo accounts
    (printed) and some simulated labels. Run again to continue where you left off."""
    import uvicorn

    from annotator.app import create_app
    from annotator.demo import (
        DEMO_ACCOUNTS,
        DEMO_PASSWORD,
        DEMO_PROJECT,
        check_free_port,
        prepare_demo,
    )

    if not prepare_only:
        check_free_port(host, port)
    with out_console.status("Preparing the demo (synthetic clips, accounts, labels)..."):
        built = prepare_demo(folder, reset=reset)
    settings = load_settings(
        env="development", database_url=built.database_url, media_root=built.folder
    )
    state = "created" if built.created else "reused (--reset starts over)"
    out_console.print(
        f"Demo {state} in {built.folder}: project [bold]{DEMO_PROJECT}[/], {built.clips} clips"
        + (f", {built.prelabelled} labelled by two simulated annotators" if built.created else "")
    )
    out_console.print(f"Accounts (password [bold]{DEMO_PASSWORD}[/]):")
    for username, role, what in DEMO_ACCOUNTS:
        out_console.print(f"  [bold]{username:<9}[/] {role:<10} {what}")
    if prepare_only:
        return
    application = create_app(settings)
    out_console.print(f"\nOpen [bold]http://{host}:{port}/[/] (Ctrl+C stops the server)")
    uvicorn.run(application, host=host, port=port, log_level="warning")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise FgTextError(
                "--password-stdin: stdin was empty; expected the password on one line"
            )
        return password
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@app.command("create-user")
def create_user(
    username: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[
        str, typer.Option(help=f"{', '.join(ROLES)}.", case_sensitive=False)
    ] = Role.ANNOTATOR.value,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (one line).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Create a user (e.g. the first admin); the password is prompted for unless piped."""
    from annotator.auth import hash_password
    from fgtext import store

    role = role.lower()
    if role not in ROLES:
        raise FgTextError(f"--role {role!r}: expected one of {', '.join(ROLES)}")
    with _store_session(_settings(db)) as session:  # a bad --db fails before the prompt
        password_hash = hash_password(_read_password(password_stdin))
        user = store.create_user(session, username=username, password_hash=password_hash, role=role)
        out_console.print(f"Created {user.role} [bold]{escape(user.username)}[/] (id {user.id})")


@app.command("create-project")
def create_project(
    name: Annotated[str, typer.Argument(help="The project's name.")],
    dataset: Annotated[
        Path,
        typer.Option("--from", help="An FG-Text dataset or manifest folder inside the media root."),
    ],
    k: Annotated[int, typer.Option("--k", help="Annotators per clip.", min=1)] = 2,
    rule: Annotated[
        str, typer.Option(help=f"Consensus rule: {' or '.join(PROJECT_RULES)}.")
    ] = DEFAULT_CONSENSUS_RULE.value,
    threshold: Annotated[
        float,
        typer.Option(help="dawid-skene: final when every dimension's posterior reaches this."),
    ] = DEFAULT_POSTERIOR_THRESHOLD,
    member: Annotated[
        list[str] | None, typer.Option(help="Add this user as a member (repeatable).")
    ] = None,
    gold_rate: Annotated[
        float,
        typer.Option(help="Share of each annotator's clips drawn from the gold clips (0.05)."),
    ] = 0.0,
    import_gold: Annotated[
        bool,
        typer.Option(help="Make the dataset's clips of status gold gold clips with their values."),
    ] = False,
    suggestions: Annotated[
        str,
        typer.Option(
            "--suggestions",
            help=f"Suggestions on the annotation page: {', '.join(SUGGESTION_MODES)} (after_first: "
            "once the annotator has chosen the initiator).",
        ),
    ] = SuggestionMode.OFF.value,
    class_list: Annotated[
        str | None,
        typer.Option(
            "--class-list",
            help="smg, imigue or an fgtext-classes/1 file: its classes' typical attribute "
            "combinations become the class suggestions (default: the built-in list the "
            "dataset's class names match).",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Create a project from a dataset's clips (its labels are not imported, but with
    --import-gold its gold clips' known values)."""
    from annotator.media import resolve_dataset_dir
    from fgtext import store

    settings = _settings(db)
    dataset_dir = resolve_dataset_dir(settings.media_root, str(dataset.resolve()))
    with _store_session(settings) as session:
        members = [_user(session, username) for username in member or []]
        project = store.create_project_from_dataset(
            session, name=name, dataset_dir=dataset_dir, annotators_per_clip=k,
            consensus_rule=rule, actor=None, media_root=settings.media_root.resolve(),
            gold_rate=gold_rate, import_gold=import_gold, confidence_threshold=threshold,
            suggestion_mode=suggestions, class_list=class_list,
        )  # fmt: skip
        for user in members:
            store.add_member(session, project=project, user=user, actor=None)
        clips = store.count_clips(session, project=project)
        out_console.print(
            f"Created project [bold]{escape(project.name)}[/] (id {project.id}): {clips} clips, "
            f"k={project.annotators_per_clip}, rule {project.consensus_rule}, "
            f"suggestions {project.suggestion_mode}"
            + (f", members {', '.join(u.username for u in members)}" if members else "")
        )


@app.command("add-member")
def add_member(
    project: Annotated[str, typer.Argument(help="The project's name.")],
    username: Annotated[str, typer.Argument(help="The user to add.")],
    db: DbOption = None,
) -> None:
    """Let a user work on a project."""
    from fgtext import store

    with _store_session(_settings(db)) as session:
        found = store.get_project_by_name(session, name=project)
        user = _user(session, username)
        store.add_member(session, project=found, user=user, actor=None)
        out_console.print(f"{escape(user.username)} is a member of {escape(found.name)}")


@app.command("gold")
def gold(
    project: Annotated[str, typer.Argument(help="The project's name.")],
    dataset: Annotated[
        Path,
        typer.Option(
            "--from",
            help="An FG-Text dataset or manifest: its clips of status gold (by clip id) become "
            "the project's gold clips with their values.",
        ),
    ],
    db: DbOption = None,
) -> None:
    """Mark clips of a project as gold clips (known values that measure the annotators)."""
    from fgtext import store

    values = store.dataset_gold_values(dataset)
    if not values:
        raise FgTextError(f"{dataset}: has no clips of status gold with values")
    with _store_session(_settings(db)) as session:
        found = store.get_project_by_name(session, name=project)
        n = store.mark_gold_in(session, project=found, values=values, actor=None)
        out_console.print(f"{n} gold clips in {escape(found.name)}")


@app.command("import-suggestions")
def import_suggestions(
    file: Annotated[
        Path,
        typer.Argument(help="An fgtext-suggestions/1 file (fgsgl-train predict RUN --out FILE)."),
    ],
    project: Annotated[str, typer.Option("--project", help="The project's name.")],
    db: DbOption = None,
) -> None:
    """Load a trained model's suggestions into a project, replacing its earlier ones (the
    annotation page offers them while the project's suggestion mode is not off)."""
    from fgtext import store
    from fgtext.schema import read_json_file

    data = read_json_file(file, "suggestions")
    with _store_session(_settings(db)) as session:
        found = store.get_project_by_name(session, name=project)
        record = store.import_suggestions(
            session, project=found, data=data, actor=None, where=f"{file}: "
        )
        out_console.print(
            f"Imported {record.suggestions} suggestions for {record.clips} clips into "
            f"{escape(found.name)} (suggestion mode {found.suggestion_mode})"
        )


def _user(session: Session, username: str):
    from fgtext import store

    user = store.get_user_by_username(session, username=username)
    if user is None:
        raise FgTextError(f"user {username!r} does not exist; create it with create-user")
    return user


def main(argv: list[str] | None = None) -> None:
    run_cli(app, "fgtext-annotator", argv)


if __name__ == "__main__":
    main()
