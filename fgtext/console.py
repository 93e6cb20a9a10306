"""What the command-line programs share (fgtext, fgtext-annotator, and fgsgl-train when it is
switched over): the Typer app's settings, the consoles, the one error handler, progress bars,
JSON output and number formatting. The library itself never imports a CLI; it takes a console
or a progress callback from whoever calls it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from fgtext.errors import FgTextError

out_console = Console(soft_wrap=True)  # long paths stay on one line (and greppable)
err_console = Console(stderr=True)


def typer_app(help: str) -> typer.Typer:
    """A Typer app as all our CLIs are: help without arguments, no completion, plain errors."""
    return typer.Typer(
        help=help, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False
    )


def run_cli(app: typer.Typer, prog_name: str, argv: Sequence[str] | None = None) -> None:
    """Run `app`; a user's mistake (FgTextError) or their environment's (OSError: a port in use,
    permissions, a full disk) is one line `error: ...` on stderr and exit status 1."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name=prog_name)
    except (FgTextError, OSError) as e:
        print_error(str(e))
        raise SystemExit(1) from None


def print_error(message: str) -> None:
    err_console.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr, driven by a `progress(done, total)` callback."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def print_json(data: Any) -> None:
    """Coloured on a terminal; plain (and exactly parseable) when piped."""
    if sys.stdout.isatty():
        out_console.print_json(json.dumps(data), indent=2)
    else:
        print(json.dumps(data, indent=2))


def fmt(value: float | None, digits: int = 3) -> str:
    """A figure for a table: `digits` decimals, or "—" where it is undefined."""
    return "—" if value is None else f"{value:.{digits}f}"
