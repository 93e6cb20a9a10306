"""`fgsgl-train`: train, evaluate and use FG-SGL models on FG-Text datasets.

The commands live in two modules: `training.cli_data` (check-data, prepare, embed-text,
make-tiny, convert-internvl) and `training.cli_train` (train, evaluate, predict, bench); each
lists them in `COMMANDS`. Every user mistake is one line on stderr and exit status 1 (FgTextError).
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from fgtext.errors import FgTextError

app = typer.Typer(
    help="FG-SGL: micro-gesture recognition with fine-grained semantic guidance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


def _register_commands() -> None:
    from training import cli_data, cli_train

    registered = {info.name for info in app.registered_commands}
    for name, command in {**cli_data.COMMANDS, **cli_train.COMMANDS}.items():
        if name not in registered:  # main() may run more than once in a process (tests)
            # ablate passes the options after `--` on to train
            settings = getattr(command, "context_settings", None)
            app.command(name, context_settings=settings)(command)


def main(argv: list[str] | None = None) -> None:
    _register_commands()
    try:
        app(args=argv, prog_name="fgsgl-train")
    except (FgTextError, OSError) as e:  # the user's input or environment, not a bug
        err_console.print(f"[red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
