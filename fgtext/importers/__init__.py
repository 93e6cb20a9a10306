"""Clip manifests from existing micro-gesture datasets: SMG, iMiGUE, a generic CSV, a folder tree.

Every importer returns a `Manifest` — the class list and one unlabelled `Clip` per micro-gesture
(the video's absolute path, and for a segment of a longer video its 0-based `start_frame` and
exclusive `end_frame`) — and never touches the videos beyond checking that they exist.
`write_manifest` turns a manifest into an `fgtext-dataset/2` folder; with `cut=True` it also
makes the dataset self-contained: each segment is decoded and re-encoded (H.264) into
`videos/<clip_id>.mp4` inside the dataset (`fgtext.video`'s encoder) and whole-file clips are copied there.

Facts about the public datasets these importers rely on (and where they come from):

* **SMG** (Chen et al., 2019/IJCV 2023; github.com/mikecheninoulu/SMG). Each long recording is a
  folder ``SampleNNNN`` holding ``SampleNNNN_finelabels.csv`` (one micro-gesture per row:
  ``label,start,end``, no header), ``SampleNNNN_skeleton.csv`` and, in the RGB release,
  ``SampleNNNN_color.mp4`` — the ChaLearn LAP 2014 sample layout SMG's starter kit is built on
  (``online recognition/SMG/THDutils.py`` says so; MiGA users read
  ``SMG_RGB_Phase1/smg_rgb_<split>/Sample0031/Sample0031_color.mp4``).
  Labels are 1-based (1..17): ``SMGaccessSample.py`` and ``tools/smg_gendata.py`` subtract 1.
  Frame numbers are 1-based and the end frame is inclusive: the official reader fetches
  ``getSkeleton(n)`` = row ``n-1`` for ``n in range(start, end + 1)``, the ChaLearn convention.
  One sample is one subject: ``tools/smg_gendata.py`` builds ``'Sample%04d' % subject`` for
  subjects 1..40 and puts subjects 36-40 in the test split. Hence the defaults here: subject =
  the number in the sample name (overridable with a regex, a mapping or a function), split by
  `SMG_OFFICIAL_SPLIT`.
* **iMiGUE** (Liu et al., CVPR 2021) as released for the MiGA challenges: per long video a folder
  ``<id>/`` with ``<id>_label.csv`` (rows ``label,start,end``) and the pre-cut clips
  ``<id>_<k>.mp4``, k the 0-based row (github.com/mikecheninoulu/SMG
  ``classification/iMiGUE/.../iMiGUEaccessSample.py`` and MiGA solutions' loaders), under
  split folders (``train``/``val``, ``imigue_rgb_train``/``imigue_rgb_validate``, ...). Labels
  are 1-based, 1..32, and the raw annotations write the 32nd class (illustrative hand gestures)
  as 99 — the organisers' reader maps 99 to 32 before subtracting 1; `import_imigue` does the
  same by default. Clip lists ``<id>_<k>.mp4 <label>`` (one file per split) are read too.
"""

from fgtext.importers.common import VIDEO_SUFFIXES, Manifest, normalize_split
from fgtext.importers.folder import import_folder
from fgtext.importers.generic_csv import import_csv
from fgtext.importers.imigue import IMIGUE_ILLUSTRATIVE_LABEL, import_imigue
from fgtext.importers.smg import (
    SMG_OFFICIAL_SPLIT,
    SMG_PAPER_SPLIT,
    SMG_SPLITS,
    SMG_SUBJECT_REGEX,
    SMG_VIDEO_PATTERN,
    SubjectSplit,
    import_smg,
    load_subject_map,
)
from fgtext.importers.writing import write_manifest

__all__ = [
    "IMIGUE_ILLUSTRATIVE_LABEL",
    "SMG_OFFICIAL_SPLIT",
    "SMG_PAPER_SPLIT",
    "SMG_SPLITS",
    "SMG_SUBJECT_REGEX",
    "SMG_VIDEO_PATTERN",
    "VIDEO_SUFFIXES",
    "Manifest",
    "SubjectSplit",
    "import_csv",
    "import_folder",
    "import_imigue",
    "import_smg",
    "load_subject_map",
    "normalize_split",
    "write_manifest",
]
