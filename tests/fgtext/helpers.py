"""Running the `fgtext` command in-process, as the CLI tests and the export tests do."""

from __future__ import annotations

from fgtext.cli import main


def fgtext(capsys, *args: object) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `fgtext ARGS...`."""
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out, err = capsys.readouterr()
    return code, out, err
