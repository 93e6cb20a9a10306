"""`fgtext`: synthesise, import, check and describe FG-Text datasets; measure agreement;
migrate the annotation database and export its labels.

Every user mistake is one line on stderr and exit status 1 (FgTextError); usage errors are
Typer's (exit status 2).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from fgtext.console import out_console, print_json, progress_bar, run_cli, typer_app
from fgtext.errors import FgTextError
from fgtext.importers.smg import SMG_VIDEO_PATTERN
from fgtext.synth.config import SynthConfig
from fgtext.vocabulary import DEFAULT_CONSENSUS_RULE, DEFAULT_POSTERIOR_THRESHOLD

app = typer_app("FG-Text: fine-grained micro-gesture datasets, agreement and tools.")
import_app = typer.Typer(
    help="Make a clip manifest (an unlabelled FG-Text dataset) from existing data.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")

OutDir = Annotated[Path, typer.Option("--out", "-o", help="Folder to write the dataset to.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it exists.")]
Parquet = Annotated[bool, typer.Option("--parquet", help="Also write clips.parquet.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
__all__ = ["app", "main", "progress_bar"]  # progress_bar: training's CLI imports it from here


# -- synth -------------------------------------------------------------------------------------


# The synth options' defaults are SynthConfig's (the one default).
_SYNTH = SynthConfig()


@app.command()
def synth(
    out: Annotated[Path, typer.Argument(help="Folder for the synthetic dataset.")],
    classes: Annotated[
        str, typer.Option(help="N (first N SMG classes), smg, imigue or a class-list file.")
    ] = str(_SYNTH.classes),
    clips_per_class: Annotated[int, typer.Option(help="Clips per class.")] = _SYNTH.clips_per_class,
    size: Annotated[
        str, typer.Option(help="Frame size WIDTHxHEIGHT (even numbers).")
    ] = f"{_SYNTH.width}x{_SYNTH.height}",
    fps: Annotated[int, typer.Option(help="Frames per second.")] = _SYNTH.fps,
    seconds: Annotated[float, typer.Option(help="Clip length in seconds.")] = _SYNTH.seconds,
    noise: Annotated[
        float, typer.Option(help="Pixel noise (fraction of 255) and figure jitter.")
    ] = _SYNTH.noise,
    annotators: Annotated[
        int | None,
        typer.Option(
            help=f"Simulated annotators per clip (default: {_SYNTH.annotators}, or one per "
            "--annotator-accuracy entry plus the spammers)."
        ),
    ] = None,
    annotator_error: Annotated[
        float, typer.Option(help="Chance a simulated annotator mislabels a dimension.")
    ] = _SYNTH.annotator_error,
    annotator_accuracy: Annotated[
        str | None,
        typer.Option(
            help="Each annotator's own accuracy per dimension, e.g. 0.95,0.7,0.6 "
            "(replaces --annotator-error)."
        ),
    ] = None,
    spammers: Annotated[
        int, typer.Option(help="Annotators (the last ones) who answer at random.")
    ] = _SYNTH.spammers,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same dataset).")] = _SYNTH.seed,
    labels: Annotated[
        Path | None, typer.Option(help="Also write the simulated labels to this CSV.")
    ] = None,
    overwrite: Overwrite = False,
) -> None:
    """Generate a synthetic micro-gesture dataset: real H.264 clips with ground-truth attributes."""
    from fgtext.merge import write_labels_csv
    from fgtext.synth import simulated_labels, synthesize
    from fgtext.synth.annotators import parse_accuracies

    width, height = _parse_size(size)
    accuracy = parse_accuracies(annotator_accuracy) if annotator_accuracy else None
    if annotators is None:
        annotators = len(accuracy) + spammers if accuracy else max(_SYNTH.annotators, spammers)
    config = SynthConfig(
        classes=int(classes) if classes.isdigit() else classes, clips_per_class=clips_per_class,
        width=width, height=height, fps=fps, seconds=seconds, noise=noise, seed=seed,
        annotators=annotators, annotator_error=annotator_error, annotator_accuracy=accuracy,
        spammers=spammers,
    )  # fmt: skip
    with progress_bar("Rendering clips") as progress:
        root = synthesize(out, config, overwrite=overwrite, progress=progress)
    out_console.print(f"Wrote {_count(root)} synthetic clips to [bold]{root}[/]")
    if labels is not None:
        write_labels_csv(simulated_labels(root), labels)
        out_console.print(f"Wrote the simulated annotators' labels to [bold]{labels}[/]")


def _parse_size(size: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise FgTextError(f"--size {size!r}: expected WIDTHxHEIGHT, e.g. 160x120") from None
    return width, height


def _count(root: Path) -> int:
    from fgtext.dataset import open_dataset

    return len(open_dataset(root))


# -- import ------------------------------------------------------------------------------------

Cut = Annotated[
    bool, typer.Option("--cut", help="Cut each segment into its own clip file inside OUT.")
]
Classes = Annotated[
    str | None,
    typer.Option(help="Class list: smg, imigue, a .json or a .txt file (one name a line)."),
]


def _write(manifest, out: Path, cut: bool, parquet: bool, overwrite: bool) -> None:
    from fgtext.importers import write_manifest

    with progress_bar("Cutting clips" if cut else "Writing") as progress:
        root = write_manifest(
            manifest, out, cut=cut, parquet=parquet, overwrite=overwrite, progress=progress
        )
    splits = Counter(c.split for c in manifest.clips)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(splits.items()))
    out_console.print(
        f"Wrote {len(manifest.clips)} clips ({summary}) in {len(manifest.classes)} classes to [bold]{root}[/]"
    )


@import_app.command("smg")
def import_smg_cmd(
    root: Annotated[Path, typer.Argument(help="SMG root with SampleNNNN/ folders.")],
    out: OutDir,
    protocol: Annotated[
        str,
        typer.Option(
            help="official: subjects 36-40 test, no validation; paper (FG-SGL): 31-35 "
            "validation, 36-40 test."
        ),
    ] = "official",
    test_subjects: Annotated[
        str | None, typer.Option(help="Subjects in the test split (overrides --protocol).")
    ] = None,
    val_subjects: Annotated[
        str | None,
        typer.Option(help="Subjects in the validation split, e.g. 31-35 (overrides --protocol)."),
    ] = None,
    subject_map: Annotated[
        Path | None,
        typer.Option(help="CSV of sample,subject (default: the sample number is the subject)."),
    ] = None,
    video_pattern: Annotated[str, typer.Option(help="The RGB video in a sample folder.")] = (
        SMG_VIDEO_PATTERN
    ),
    video_root: Annotated[
        Path | None, typer.Option(help="Separate tree holding the RGB videos (MiGA release).")
    ] = None,
    frame_base: Annotated[int, typer.Option(help="First frame's number in the label files.")] = 1,
    classes: Classes = None,
    cut: Cut = False,
    parquet: Parquet = False,
    overwrite: Overwrite = False,
) -> None:
    """SMG: SampleNNNN/SampleNNNN_finelabels.csv rows `label,start,end` (1-based labels)."""
    from fgtext.importers import SMG_SPLITS, SMG_SUBJECT_REGEX, SubjectSplit, import_smg

    if protocol not in SMG_SPLITS:
        raise FgTextError(
            f"unknown --protocol {protocol!r}; expected one of {', '.join(SMG_SPLITS)}"
        )
    base = SMG_SPLITS[protocol]
    split = SubjectSplit.parse(
        test_subjects if test_subjects is not None else ",".join(map(str, sorted(base.test))),
        val_subjects if val_subjects is not None else ",".join(map(str, sorted(base.validation))),
    )
    manifest = import_smg(
        root, split=split, classes=classes or "smg",
        video_pattern=video_pattern, video_root=video_root, frame_base=frame_base,
        subject_of=subject_map if subject_map is not None else SMG_SUBJECT_REGEX,
    )  # fmt: skip
    _write(manifest, out, cut, parquet, overwrite)


@import_app.command("imigue")
def import_imigue_cmd(
    root: Annotated[
        Path, typer.Argument(help="iMiGUE/MiGA root with the per-split clip lists or label CSVs.")
    ],
    out: OutDir,
    lists: Annotated[
        list[str] | None,
        typer.Option("--list", help="SPLIT=FILE, e.g. train=train_list.txt (repeatable)."),
    ] = None,
    clips_dir: Annotated[
        Path | None, typer.Option(help="Folder the list's clip paths are relative to.")
    ] = None,
    classes: Classes = None,
    parquet: Parquet = False,
    overwrite: Overwrite = False,
) -> None:
    """iMiGUE (MiGA): `<id>_<k>.mp4 <label>` list files per split, or the per-video label CSVs."""
    from fgtext.importers import import_imigue

    split_lists = {}
    for item in lists or []:
        split, sep, file = item.partition("=")
        if not sep or not file:
            raise FgTextError(f"--list {item!r}: expected SPLIT=FILE, e.g. train=train_list.txt")
        split_lists[split] = file
    manifest = import_imigue(
        root, classes=classes or "imigue", lists=split_lists or None, clips_dir=clips_dir
    )
    _write(manifest, out, False, parquet, overwrite)


@import_app.command("csv")
def import_csv_cmd(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV with columns path, class, split (optional clip_id, start_frame, end_frame)."
        ),
    ],
    out: OutDir,
    classes: Classes = None,
    cut: Cut = False,
    parquet: Parquet = False,
    overwrite: Overwrite = False,
) -> None:
    """A generic CSV of clips: path, class (name or id), split."""
    from fgtext.importers import import_csv

    _write(import_csv(path, classes=classes), out, cut, parquet, overwrite)


@import_app.command("folder")
def import_folder_cmd(
    root: Annotated[Path, typer.Argument(help="ROOT/<class>/*.mp4 or ROOT/<split>/<class>/*.mp4.")],
    out: OutDir,
    classes: Classes = None,
    parquet: Parquet = False,
    overwrite: Overwrite = False,
) -> None:
    """A folder per class (optionally inside train/validation/test folders)."""
    from fgtext.importers import import_folder

    _write(import_folder(root, classes=classes), out, False, parquet, overwrite)


# -- agreement ---------------------------------------------------------------------------------


@app.command()
def agreement(
    labels: Annotated[
        Path,
        typer.Argument(
            help="CSV or JSONL rows: clip_id, annotator, initiator, receiver, direction, motion_type (optional label)."
        ),
    ],
    as_json: AsJson = False,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for the 95% interval of alpha.")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write the full JSON report here.")
    ] = None,
) -> None:
    """Cross-annotator agreement per dimension and on the whole 4-tuple."""
    from fgtext.agreement import agreement_report, load_labels
    from fgtext.reports import print_agreement

    report = agreement_report(load_labels(labels), n_bootstrap=bootstrap, seed=seed).to_dict()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if as_json:
        print_json(report)
    else:
        print_agreement(report, out_console)


# -- validate / stats --------------------------------------------------------------------------


@app.command()
def validate(
    dataset: Annotated[Path, typer.Argument(help="An FG-Text dataset folder.")],
    videos: Annotated[
        bool, typer.Option("--videos/--no-videos", help="Check that every video file exists.")
    ] = True,
) -> None:
    """Check a dataset against the format, its schema and its class list."""
    from fgtext.dataset import validate_dataset

    report = validate_dataset(dataset, check_videos=videos)
    splits = ", ".join(f"{k} {v}" for k, v in report["splits"].items())
    out_console.print(f"[green]OK[/] {dataset}: {report['clips']} clips ({splits})")


@app.command()
def stats(
    dataset: Annotated[Path, typer.Argument(help="An FG-Text dataset folder.")],
    as_json: AsJson = False,
) -> None:
    """Clips per class and split, label status, attribute value counts, distinct FG-Texts."""
    from fgtext.dataset import open_dataset
    from fgtext.schema import DIMENSIONS
    from fgtext.stats import dataset_stats

    ds = open_dataset(dataset)
    result = dataset_stats(ds)
    if as_json:
        print_json(result)
        return
    out_console.print(
        f"[bold]{ds.name}[/]: {result['clips']} clips, {len(ds.classes)} classes, "
        f"{result['distinct_fg_texts']} distinct FG-Texts, "
        f"{result['annotations_per_clip']:.2f} annotations/clip"
    )
    out_console.print("status: " + ", ".join(f"{k} {v}" for k, v in result["status"].items()))
    splits = list(result["splits"])
    table = Table(title="Clips per class")
    table.add_column("id", justify="right")
    table.add_column("class")
    for s in splits:
        table.add_column(s, justify="right")
    for c in ds.classes:
        table.add_row(str(c.id), c.name, *(str(result["per_class"][c.name][s]) for s in splits))
    out_console.print(table)
    for d in DIMENSIONS:
        values = result["attribute_values"][d]
        if values:
            top = ", ".join(f"{v} {n}" for v, n in list(values.items())[:8])
            out_console.print(f"[bold]{d}[/]: {top}")


# -- merge -------------------------------------------------------------------------------------


@app.command()
def merge(
    manifest: Annotated[Path, typer.Argument(help="The clips: an FG-Text dataset or manifest.")],
    labels: Annotated[
        Path, typer.Argument(help="Annotators' labels (CSV or JSONL, as for `fgtext agreement`).")
    ],
    out: OutDir,
    rule: Annotated[
        str,
        typer.Option(
            help="When labels are final without review: unanimous, majority or dawid-skene "
            "(every dimension's posterior under the reliability model reaches --threshold)."
        ),
    ] = DEFAULT_CONSENSUS_RULE.value,
    threshold: Annotated[
        float, typer.Option(help="dawid-skene: the posterior every dimension must reach.")
    ] = DEFAULT_POSTERIOR_THRESHOLD,
    anchor_gold: Annotated[
        bool,
        typer.Option(
            help="dawid-skene: the manifest's gold clips (known values) anchor the model."
        ),
    ] = False,
    review: Annotated[
        Path | None,
        typer.Option(help="Write the clips to review (least certain first) to this text file."),
    ] = None,
    include_unresolved: Annotated[
        bool, typer.Option(help="Keep clips without consensus (status unlabelled).")
    ] = False,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples (agreement interval).")
    ] = 1000,
    parquet: Parquet = False,
    overwrite: Overwrite = False,
) -> None:
    """Labels from several annotators + clips -> an FG-Text dataset with consensus labels and agreement."""
    from fgtext.merge import merge_labels

    result = merge_labels(
        manifest,
        labels,
        out,
        rule=rule,
        threshold=threshold,
        anchor_gold=anchor_gold,
        include_unresolved=include_unresolved,
        n_bootstrap=bootstrap,
        parquet=parquet,
        overwrite=overwrite,
    )
    out_console.print(
        f"Wrote {result.written} clips to [bold]{out}[/]: {result.consensus} consensus, "
        f"{result.single} single, {result.unresolved} without consensus "
        f"({'kept' if include_unresolved else 'left out'}), {result.unlabelled} not labelled"
        + (f", {result.gold} gold." if result.gold else ".")
    )
    if review is not None:
        review.parent.mkdir(parents=True, exist_ok=True)
        review.write_text("".join(f"{c}\n" for c in result.review), encoding="utf-8")
        out_console.print(f"Wrote the {len(result.review)} clips to review to [bold]{review}[/]")


# -- design ------------------------------------------------------------------------------------


@app.command()
def design(
    clips: Annotated[int, typer.Option(help="Clips in the study.")] = 1000,
    accuracy: Annotated[
        str,
        typer.Option(
            help="Expected annotator accuracy per dimension: one for all, or one per annotator "
            "of the pool (e.g. 0.95,0.8,0.7)."
        ),
    ] = "0.8",
    pilot: Annotated[
        Path | None,
        typer.Option(
            help="A pilot's labels (CSV/JSONL as for `fgtext agreement`): its annotators, with "
            "the accuracies Dawid-Skene estimates, are the pool (replaces --accuracy)."
        ),
    ] = None,
    target: Annotated[
        float, typer.Option(help="Share of clips whose 4-tuple must be right.")
    ] = 0.9,
    alpha_width: Annotated[
        float | None,
        typer.Option(
            help="Instead of --target: the widest 95% interval of Krippendorff's alpha (over "
            "the four dimensions) the study may have."
        ),
    ] = None,
    rule: Annotated[
        str, typer.Option(help="The rule that makes the labels: dawid-skene or majority.")
    ] = "dawid-skene",
    k_max: Annotated[int, typer.Option(help="Largest k to simulate.")] = 7,
    threshold: Annotated[
        float, typer.Option(help="dawid-skene: the posterior that makes a clip final.")
    ] = DEFAULT_POSTERIOR_THRESHOLD,
    seeds: Annotated[int, typer.Option(help="Simulated studies per k (seeds 0..N-1).")] = 5,
    schema_file: Annotated[Path | None, typer.Option("--schema", help="Schema file.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Also write the accuracy-vs-k chart here (SVG).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Recommend annotators per clip (k) for a target label accuracy, by simulation."""
    from fgtext.console import fmt
    from fgtext.design import accuracy_svg, meets, pool_from_pilot, recommend, study, uniform_pool
    from fgtext.schema import load_schema
    from fgtext.synth.annotators import parse_accuracies
    from fgtext.vocabulary import DAWID_SKENE, ConsensusRule

    if rule not in (DAWID_SKENE, ConsensusRule.MAJORITY):
        raise FgTextError(f"--rule {rule!r}: expected dawid-skene or majority")
    if not 0 < target <= 1 or clips < 1 or seeds < 1 or k_max < 1:
        raise FgTextError("--target must be in (0, 1]; --clips, --seeds and --k-max at least 1")
    if alpha_width is not None and not 0 < alpha_width <= 2:
        raise FgTextError(f"--alpha-width must be in (0, 2] (got {alpha_width:g})")
    if pilot is not None:
        pool = pool_from_pilot(str(pilot))
        source = f"pilot {pilot}"
    else:
        acc = parse_accuracies(accuracy)
        if not acc or not all(0 <= a <= 1 for a in acc):
            raise FgTextError(f"--accuracy {accuracy!r}: expected probabilities from 0 to 1")
        pool = uniform_pool(list(acc) * k_max if len(acc) == 1 else list(acc))
        source = f"accuracy {accuracy}"
    size = len(next(iter(pool.values())))
    k_values = list(range(1, min(k_max, size) + 1))
    rows = study(clips, load_schema(schema_file), pool, k_values=k_values, seeds=range(seeds),
                 threshold=threshold, alpha=alpha_width is not None)  # fmt: skip
    best = recommend(rows, target, rule, alpha_width)
    goal = (
        f"alpha's intervals at most {alpha_width:g} wide"
        if alpha_width is not None
        else f"{rule}: {target:g} of the 4-tuples right"
    )
    if as_json:
        print_json({
            "clips": clips, "target": target, "rule": rule, "pool": pool, "recommended_k": best,
            "max_alpha_width": alpha_width,
            "rows": [{"k": r.k, "majority": r.majority.__dict__,
                      "dawid_skene": r.dawid_skene.__dict__, "alpha_width": r.alpha_width}
                     for r in rows],
        })  # fmt: skip
    else:
        table = Table(title=f"{clips} clips, {source}, {seeds} seeds: 4-tuple right [95% CI]")
        columns = ["k", "majority", "final (maj.)", "dawid-skene", "final (DS)"]
        if alpha_width is not None:
            columns.append("alpha CI width")
        for column in (*columns, "target"):
            table.add_column(column, justify="right")
        for r in rows:
            cells = []
            for s in (r.majority, r.dawid_skene):
                cells += [f"{fmt(s.correct[0])} [{fmt(s.correct[1])}, {fmt(s.correct[2])}]",
                          fmt(s.final[0])]  # fmt: skip
            if alpha_width is not None:
                w = r.alpha_width
                cells.append("—" if w is None else f"{fmt(w[0])} [{fmt(w[1])}, {fmt(w[2])}]")
            table.add_row(str(r.k), *cells, "yes" if meets(r, target, rule, alpha_width) else "")
        out_console.print(table)
        if best is None:
            out_console.print(f"No k up to {k_values[-1]} meets the target ({goal}).")
        else:
            out_console.print(f"Recommended: k = {best} ({goal}).")
    if plot is not None:
        plot.parent.mkdir(parents=True, exist_ok=True)
        plot.write_text(accuracy_svg(rows, target, f"{clips} clips, {source}"), encoding="utf-8")
        if not as_json:
            out_console.print(f"Wrote the chart to [bold]{plot}[/]")


# -- schema ------------------------------------------------------------------------------------


@app.command()
def schema(
    path: Annotated[
        Path | None,
        typer.Argument(help="A schema file (default: the built-in micro-gesture schema)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Show the four dimensions and their allowed values."""
    from fgtext.schema import DIMENSIONS, load_schema

    s = load_schema(path)
    if as_json:
        print_json(s.to_dict())
        return
    out_console.print(f"[bold]{s.name}[/] {s.version}")
    for d in DIMENSIONS:
        out_console.print(f"[bold]{d}[/] ({s.descriptions.get(d, '')}): " + ", ".join(s.values(d)))


@app.command()
def compose(
    initiator: Annotated[str, typer.Argument()],
    receiver: Annotated[str, typer.Argument()],
    direction: Annotated[str, typer.Argument()],
    motion_type: Annotated[str, typer.Argument()],
    schema_file: Annotated[Path | None, typer.Option("--schema", help="Schema file.")] = None,
) -> None:
    """Print the FG-Text sentence for four attribute values."""
    from fgtext.compose import compose_fg_text
    from fgtext.schema import load_schema

    attrs = dict(
        initiator=initiator, receiver=receiver, direction=direction, motion_type=motion_type
    )
    print(compose_fg_text(attrs, load_schema(schema_file)))


# -- export / db (the annotation store) --------------------------------------------------------

db_app = typer.Typer(
    help="The annotation database: apply its migrations and show its revision.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")

DbUrl = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="FGTEXT_DATABASE_URL",
        help="Database URL: sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE "
        "(default: $FGTEXT_DATABASE_URL).",
    ),
]


@contextmanager
def _database(url: str) -> Iterator[Any]:
    """An engine for the command; a database that fails mid-command is one error line."""
    from sqlalchemy.exc import OperationalError

    from fgtext.store import create_db_engine, describe_url

    engine = create_db_engine(url)
    try:
        yield engine
    except OperationalError as e:
        reason = str(e.orig or e).strip().splitlines()[0]
        raise FgTextError(f"database {describe_url(engine)}: {reason}") from None
    finally:
        engine.dispose()


@app.command()
def export(
    db: DbUrl,
    project: Annotated[str, typer.Option("--project", help="The project's name.")],
    out: OutDir,
    include_unfinished: Annotated[
        bool,
        typer.Option(
            "--include-unfinished",
            help="Also write clips without final labels (status unlabelled, null attributes).",
        ),
    ] = False,
    copy_videos: Annotated[
        bool,
        typer.Option(
            "--copy-videos",
            help="Copy the videos into OUT/videos/ (else rows point at the originals).",
        ),
    ] = False,
    parquet: Parquet = False,
    overwrite: Overwrite = False,
) -> None:
    """Write a project's final labels from the annotation database as an FG-Text dataset."""
    from sqlmodel import Session

    from fgtext.store import export_project, get_project_by_name, require_current_schema

    with _database(db) as engine:
        require_current_schema(engine, auto_upgrade=False)
        with Session(engine) as session:
            found = get_project_by_name(session, name=project)
            root = export_project(
                session, project=found, out_dir=out, include_unfinished=include_unfinished,
                overwrite=overwrite, parquet=parquet, copy_videos=copy_videos,
            )  # fmt: skip
    from fgtext.dataset import open_dataset

    ds = open_dataset(root)
    status = Counter(c.status for c in ds.clips())
    summary = ", ".join(f"{k} {v}" for k, v in sorted(status.items())) or "no final labels yet"
    out_console.print(
        f"Wrote {len(ds)} clips of project {escape(project)!r} ({summary}) to [bold]{root}[/]"
    )


@db_app.command("upgrade")
def db_upgrade(
    db: DbUrl,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Migrate the database up to the newest schema (creates the tables in an empty one)."""
    from fgtext.store import schema_status, upgrade_database

    with _database(db) as engine:
        before = schema_status(engine)
        after = upgrade_database(engine, revision)
    if before.current == after.current:
        out_console.print(f"{after.url} is already at revision {after.current}")
    else:
        out_console.print(
            f"Upgraded {after.url} from revision {before.current or 'none'} to {after.current}"
        )


@db_app.command("downgrade")
def db_downgrade(
    db: DbUrl,
    revision: Annotated[
        str, typer.Option(help="Target revision; base removes every fgtext table.")
    ],
) -> None:
    """Migrate the database down to an older revision (data in dropped columns is lost)."""
    from fgtext.store import downgrade_database, schema_status

    with _database(db) as engine:
        before = schema_status(engine)
        after = downgrade_database(engine, revision)
    out_console.print(
        f"Downgraded {after.url} from revision {before.current or 'none'} "
        f"to {after.current or 'base (no fgtext tables)'}"
    )


@db_app.command("status")
def db_status(db: DbUrl, as_json: AsJson = False) -> None:
    """Show the database's schema revision and the one this fgtext needs."""
    from fgtext.store import schema_status

    with _database(db) as engine:
        status = schema_status(engine)
    if as_json:
        print_json({"url": status.url, "current": status.current, "head": status.head,
                    "is_current": status.is_current})  # fmt: skip
    else:
        out_console.print(status.describe())


# -- demo --------------------------------------------------------------------------------------


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo's results.")] = Path(
        "demo"
    ),
    classes: Annotated[int, typer.Option(help="Number of synthetic classes.")] = 6,
    clips_per_class: Annotated[int, typer.Option(help="Clips per class.")] = 10,
) -> None:
    """The pipeline end to end: synthesise clips and labels -> agreement -> FG-Text dataset."""
    from fgtext.demo import run_demo

    run_demo(
        out,
        classes=classes,
        clips_per_class=clips_per_class,
        console=out_console,
        progress_bar=progress_bar,
    )


def main(argv: list[str] | None = None) -> None:
    run_cli(app, "fgtext", argv)


if __name__ == "__main__":
    main()
