"""`fgtext-annotator`: the annotation web app's command (serve, create-user) is not built yet."""

import sys


def main() -> None:
    print("fgtext-annotator: the annotation web app is not part of this release yet "
          "(see the README); use `fgtext` for datasets and agreement.", file=sys.stderr)
    raise SystemExit(1)
