"""Synthetic micro-gestures: small H.264 clips of a seated cartoon figure, with FG-Text labels.

`synthesize(out, SynthConfig(...))` writes an `fgtext-dataset/2` whose every clip shows one
attribute tuple of its class: the *initiator* (the body part that moves), its *receiver* (the
place on the figure it moves to, or none), the *direction* (a displacement pattern) and the
*motion type* (a temporal profile: approach and stay, fast small oscillation, repeated taps, a
smooth shift, ...). As in real micro-gestures the motion is small and local (a few to ~15 pixels
at 160x120), so a video model has to look at where and how something moves to tell classes apart.
Per-clip randomness (onset, speed, amplitude, figure position and scale, colours, pixel noise and
a slight whole-figure jitter) makes clips of a class differ; a seed makes everything reproducible.

Each clip also carries simulated annotators' labels (`annotations`): copies of the ground truth
in which each value is replaced by another valid one with probability `annotator_error` (or each
annotator's own `annotator_accuracy`; `spammers` answer at random; `fgtext.synth.annotators`),
which gives `fgtext agreement`, the reliability model and the annotation tools something
realistic to chew on, measured against the ground truth the clips keep.

Drawing is numpy only: anti-aliased ellipses, capsules (thick segments) and convex polygons,
redrawn per frame only inside the rectangle where something changed. Values a project adds to
its schema render through a generic fallback chosen deterministically from the value's name.
"""

from fgtext.synth.build import simulated_labels, synthesize
from fgtext.synth.config import SynthConfig, resolve_classes
from fgtext.synth.render import render_clip, write_mp4

__all__ = [
    "SynthConfig",
    "render_clip",
    "resolve_classes",
    "simulated_labels",
    "synthesize",
    "write_mp4",
]
