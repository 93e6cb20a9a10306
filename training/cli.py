"""`fgsgl-train`: FG-SGL training is not built yet."""

import sys


def main() -> None:
    print("fgsgl-train: FG-SGL training is not part of this release yet (see the README); "
          "`fgtext synth` already makes training data.", file=sys.stderr)
    raise SystemExit(1)
