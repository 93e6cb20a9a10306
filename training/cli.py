"""`fgsgl-train`: train, evaluate and use FG-SGL models on FG-Text datasets.

The commands live in two modules: `training.cli_data` (check-data, prepare, embed-text,
make-tiny, convert-internvl) and `training.cli_train` (train, evaluate, predict, bench); each
lists them in `COMMANDS`. Every user mistake is one line on stderr and exit status 1 (FgTextError).
"""

from __future__ import annotations

from fgtext.console import run_cli, typer_app

app = typer_app("FG-SGL: micro-gesture recognition with fine-grained semantic guidance.")


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
    run_cli(app, "fgsgl-train", argv)


def run(argv: list[str]) -> int:
    """`fgsgl-train ARGV` as an exit status, for callers that go on afterwards (ablate)."""
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


if __name__ == "__main__":
    main()
