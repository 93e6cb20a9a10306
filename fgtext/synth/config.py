"""What to synthesise: `SynthConfig` (every option with its one default) and the class list
it resolves to."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fgtext.errors import FgTextError
from fgtext.schema import (
    BUILTIN_CLASS_LISTS,
    ClassDef,
    Schema,
    default_schema,
    load_class_list,
)

DEFAULT_CLASS_LIST = "smg"
MAX_SIDE = 4096


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Invalid values raise FgTextError when the config is made."""

    # a class list (smg, imigue, a file: all its classes) or N (the first N classes of smg)
    classes: str | int = 6
    clips_per_class: int = 8
    width: int = 160  # even (yuv420p)
    height: int = 120  # even (yuv420p)
    fps: int = 25
    seconds: float = 2.0
    noise: float = 0.02  # pixel noise std as a fraction of 255 (+ whole-figure jitter)
    seed: int = 0
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)  # train/validation/test, per class
    annotators: int = 3  # simulated annotators per clip (0: no annotations)
    annotator_error: float = 0.15  # chance an annotator replaces a value with another one
    # Per-annotator skill instead: each one's chance of the true value on a dimension (one
    # entry for all, or one per annotator who is not a spammer); None: 1 - annotator_error.
    annotator_accuracy: tuple[float, ...] | None = None
    spammers: int = 0  # the last this many of the annotators answer at random
    schema: str | None = None  # a schema file; None: the default micro-gesture schema
    name: str | None = None  # the dataset's name; None: "synth-<class list>"

    def __post_init__(self) -> None:
        # Normalise what JSON, numpy or a CLI may hand us (a list for split, a Path, "6" for 6).
        for key, value in asdict(self).items():
            if isinstance(value, np.generic):
                object.__setattr__(self, key, value.item())
        if isinstance(self.split, list | tuple):
            split = tuple(v.item() if isinstance(v, np.generic) else v for v in self.split)
            object.__setattr__(self, "split", split)
        if isinstance(self.annotator_accuracy, list | tuple):
            accuracy = tuple(
                v.item() if isinstance(v, np.generic) else v for v in self.annotator_accuracy
            )
            object.__setattr__(self, "annotator_accuracy", accuracy)
        if isinstance(self.classes, Path):
            object.__setattr__(self, "classes", str(self.classes))
        if isinstance(self.classes, str) and self.classes.strip().isdigit():
            object.__setattr__(self, "classes", int(self.classes.strip()))
        if isinstance(self.schema, Path):
            object.__setattr__(self, "schema", str(self.schema))
        self.validate()

    @property
    def frames(self) -> int:
        """Frames per clip: fps x seconds, rounded."""
        return round(self.fps * self.seconds)

    @property
    def accuracies(self) -> list[float | None]:
        """Each simulated annotator's chance of the true value per dimension (None: a spammer)."""
        skilled = self.annotators - self.spammers
        acc = self.annotator_accuracy or (1.0 - self.annotator_error,)
        return [acc[0] if len(acc) == 1 else acc[i] for i in range(skilled)] + [
            None
        ] * self.spammers

    def validate(self) -> None:
        def is_int(v: object) -> bool:
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        def is_num(v: object) -> bool:
            return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)

        c = self.classes
        if is_int(c):
            if c < 1:
                raise FgTextError(f"synth: classes must be at least 1 (got {c})")
        elif not isinstance(c, str) or not c.strip():
            raise FgTextError(
                f"synth: classes must be a class list (smg, imigue, a file) or a number (got {c!r})"
            )
        if not is_int(self.clips_per_class) or self.clips_per_class < 1:
            raise FgTextError(
                f"synth: clips_per_class must be a whole number of at least 1 "
                f"(got {self.clips_per_class!r})"
            )
        for key in ("width", "height"):
            v = getattr(self, key)
            if not is_int(v) or v % 2 or not 32 <= v <= MAX_SIDE:
                raise FgTextError(
                    f"synth: {key} must be an even number of pixels from 32 to {MAX_SIDE} "
                    f"(H.264 yuv420p needs even sizes; got {v!r})"
                )
        if not is_int(self.fps) or not 1 <= self.fps <= 240:
            raise FgTextError(f"synth: fps must be a whole number from 1 to 240 (got {self.fps!r})")
        if not is_num(self.seconds) or not math.isfinite(self.seconds) or self.seconds > 600:
            raise FgTextError(f"synth: seconds must be a number up to 600 (got {self.seconds!r})")
        if self.frames < 2:
            raise FgTextError(
                f"synth: a clip needs at least 2 frames; {self.seconds} s at {self.fps} fps "
                f"gives {self.frames}"
            )
        if not is_num(self.noise) or not 0 <= self.noise <= 0.5:
            raise FgTextError(f"synth: noise must be from 0 to 0.5 (got {self.noise!r})")
        if not is_int(self.seed) or self.seed < 0:
            raise FgTextError(f"synth: seed must be a whole number >= 0 (got {self.seed!r})")
        s = self.split
        if (
            not isinstance(s, tuple)
            or len(s) != 3
            or not all(is_num(x) and math.isfinite(x) and x >= 0 for x in s)
        ):
            raise FgTextError(
                f"synth: split must be three fractions >= 0 for train, validation, test (got {s!r})"
            )
        if abs(sum(s) - 1.0) > 1e-6:
            raise FgTextError(
                f"synth: the split fractions must sum to 1 (got {', '.join(map(str, s))} "
                f"= {sum(s):g})"
            )
        if not is_int(self.annotators) or not 0 <= self.annotators <= 100:
            raise FgTextError(
                f"synth: annotators must be a whole number from 0 to 100 (got {self.annotators!r})"
            )
        if not is_num(self.annotator_error) or not 0 <= self.annotator_error <= 1:
            raise FgTextError(
                f"synth: annotator_error must be a probability from 0 to 1 "
                f"(got {self.annotator_error!r})"
            )
        if not is_int(self.spammers) or not 0 <= self.spammers <= self.annotators:
            raise FgTextError(
                f"synth: spammers must be a whole number from 0 to annotators ({self.annotators}) "
                f"(got {self.spammers!r})"
            )
        acc = self.annotator_accuracy
        if acc is not None:
            skilled = self.annotators - self.spammers
            if not isinstance(acc, tuple) or not all(
                is_num(a) and math.isfinite(a) and 0 <= a <= 1 for a in acc
            ):
                raise FgTextError(
                    f"synth: annotator_accuracy must be probabilities from 0 to 1 (got {acc!r})"
                )
            if len(acc) not in (1, skilled):
                raise FgTextError(
                    f"synth: annotator_accuracy has {len(acc)} entries; expected 1 (for all) or "
                    f"{skilled}, one per annotator who is not a spammer "
                    f"({self.annotators} annotators, {self.spammers} spammers)"
                )
        if self.schema is not None and (not isinstance(self.schema, str) or not self.schema):
            raise FgTextError(f"synth: schema must be a schema file path (got {self.schema!r})")


def resolve_classes(config: SynthConfig, schema: Schema | None = None) -> list[ClassDef]:
    """The classes a config asks for, each with at least one attribute tuple."""
    schema = schema or default_schema()
    c = config.classes
    if isinstance(c, str):
        key = c.strip()
        if key.lower() not in BUILTIN_CLASS_LISTS and not Path(key).is_file():
            raise FgTextError(
                f"synth: unknown class list {key!r}; give {', '.join(BUILTIN_CLASS_LISTS)}, "
                "a class-list file or a number of classes"
            )
        classes = load_class_list(key, schema)
        source = key
    else:
        classes = load_class_list(DEFAULT_CLASS_LIST, schema)
        if c > len(classes):
            raise FgTextError(
                f"synth: {DEFAULT_CLASS_LIST} has {len(classes)} classes, so classes={c} is too "
                "many; use classes='imigue' (32) or a class-list file"
            )
        classes = classes[:c]
        source = DEFAULT_CLASS_LIST
    bare = [cl.name for cl in classes if not cl.attributes]
    if bare:
        raise FgTextError(
            f"synth: class {bare[0]!r} of {source} has no attribute tuples; the generator needs "
            "each class's typical attributes (a JSON class list with 'attributes')"
        )
    return classes
