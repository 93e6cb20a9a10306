"""Export round trip (store -> fgtext-dataset/1 -> open_dataset) and the `fgtext export` /
`fgtext db` commands, on both back ends."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fgtext import store
from fgtext.compose import compose_fg_text
from fgtext.consensus import consensus
from fgtext.dataset import open_dataset, validate_dataset
from fgtext.errors import FgTextError
from fgtext.merge import merge_labels, write_labels_csv
from fgtext.synth import simulated_labels
from tests.fgtext.helpers import fgtext


@pytest.fixture
def labelled(session, admin, synth_project, synth_dataset):
    """The synthetic project labelled by its three simulated annotators; the first 8 clips
    fully (disputed ones adjudicated with the ground truth), clips 9-10 by one annotator, the
    last two not at all."""
    ds = open_dataset(synth_dataset)
    names = sorted({a.annotator for c in ds.clips() for a in c.annotations})
    users = {}
    for name in names:
        users[name] = store.create_user(session, username=name, password_hash="h", role="annotator")
        store.add_member(session, project=synth_project, user=users[name], actor=admin)
    reviewer = store.create_user(session, username="rev", password_hash="h", role="reviewer")
    clips = {c.clip_id: c for c in store.list_clips(session, project=synth_project)}
    truth = {}
    for i, clip in enumerate(ds.clips()):
        truth[clip.clip_id] = clip.attributes
        for a in clip.annotations[: 3 if i < 8 else 1 if i < 10 else 0]:
            store.submit_annotation(
                session, clip=clips[clip.clip_id], user=users[a.annotator], attributes=a.attributes
            )
    for clip in store.review_queue(session, project=synth_project):
        store.adjudicate(
            session, clip=clip, reviewer=reviewer, attributes=truth[clip.clip_id], reason="truth"
        )
    return synth_project, truth


def test_export_round_trip_matches_the_submitted_labels(session, labelled, synth_dataset, tmp_path):
    project, truth = labelled
    out = store.export_project(session, project=project, out_dir=tmp_path / "export")
    exported = open_dataset(out)
    source = open_dataset(synth_dataset)
    assert validate_dataset(out)["clips"] == 8
    assert exported.schema == source.schema and exported.classes == source.classes
    simulated = {c.clip_id: c for c in source.clips()}
    adjudicated = 0
    for clip in exported.clips():
        given = simulated[clip.clip_id]
        assert [a.model_dump() for a in clip.annotations] == [
            a.model_dump() for a in given.annotations
        ]
        final, status = consensus([a.attributes for a in given.annotations], "majority")
        if status == "disputed":
            final, status = truth[clip.clip_id], "adjudicated"
            adjudicated += 1
        assert (clip.attributes, clip.status) == (final, status)
        assert clip.text == compose_fg_text(final, source.schema)
        assert (clip.label, clip.split) == (given.label, given.split)
        assert exported.video_path(clip) == source.video_path(given).resolve()
    assert adjudicated >= 1  # the fixture's labels include disputes (annotator_error 0.3)
    assert exported.info.source["project"] == "synth"
    assert exported.info.source["consensus_rule"] == "majority"

    with pytest.raises(FgTextError, match="exists and is not empty; pass --overwrite"):
        store.export_project(session, project=project, out_dir=out)
    everything = store.export_project(
        session, project=project, out_dir=out, include_unfinished=True, overwrite=True
    )
    clips = list(open_dataset(everything).clips())
    assert len(clips) == 12
    unfinished = [c for c in clips if c.status == "unlabelled"]
    assert [len(c.annotations) for c in unfinished] == [1, 1, 0, 0]
    assert all(c.attributes is None and c.text is None for c in unfinished)


def test_export_agrees_with_fgtext_merge_on_the_same_labels(
    session, labelled, synth_dataset, tmp_path
):
    """Two code paths, one answer: the store's export and `fgtext merge` of a labels CSV with
    exactly the labels the store holds (same final values, same agreement figures)."""
    project, _ = labelled
    order = [c.clip_id for c in open_dataset(synth_dataset).clips()]
    rows, seen = [], {}
    for row in simulated_labels(synth_dataset):  # what the fixture submitted, in its order
        i = order.index(row["clip_id"])
        seen[i] = seen.get(i, 0) + 1
        if seen[i] <= (3 if i < 8 else 1 if i < 10 else 0):
            rows.append(row)
    merge_labels(synth_dataset, write_labels_csv(rows, tmp_path / "labels.csv"),
                 tmp_path / "merged", rule="majority")  # fmt: skip
    merged = open_dataset(tmp_path / "merged")
    ours = open_dataset(store.export_project(session, project=project, out_dir=tmp_path / "ours"))
    exported = {c.clip_id: c for c in ours.clips()}
    statuses = {}
    for clip in merged.clips():
        statuses[clip.clip_id] = clip.status
        if clip.status == "consensus":
            assert exported[clip.clip_id].attributes == clip.attributes
            assert exported[clip.clip_id].annotations == clip.annotations
    # merge finalises a one-label clip ("single"); the store waits for k = 3 labels
    assert sorted(c for c, s in statuses.items() if s == "single") == sorted(order[8:10])
    assert ours.info.agreement == merged.info.agreement
    assert ours.info.agreement["motion_type"]["krippendorff_alpha"] is not None


# -- the CLI ----------------------------------------------------------------------------------


def test_db_commands_through_the_cli(database_url, capsys):
    head = store.head_revision()
    code, out, err = fgtext(capsys, "db", "status", "--db", database_url)
    assert code == 0 and f"has no fgtext tables yet; this fgtext needs revision {head}" in out
    code, out, err = fgtext(capsys, "db", "upgrade", "--db", database_url)
    assert code == 0 and f"from revision none to {head}" in out, err
    code, out, _ = fgtext(capsys, "db", "upgrade", "--db", database_url)
    assert code == 0 and f"is already at revision {head}" in out
    code, out, _ = fgtext(capsys, "db", "status", "--db", database_url, "--json")
    assert code == 0 and json.loads(out)["is_current"] is True
    code, out, _ = fgtext(capsys, "db", "downgrade", "--db", database_url, "--revision", "base")
    assert code == 0 and f"from revision {head} to base" in out


def test_db_upgrade_as_a_real_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'proc.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "fgtext.cli", "db", "upgrade"],
        capture_output=True, text=True, env={"FGTEXT_DATABASE_URL": url, "PATH": "/usr/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"Upgraded {url} from revision none to {store.head_revision()}" in done.stdout


def test_export_through_the_cli(engine, database_url, labelled, tmp_path, capsys):
    out = tmp_path / "cli-export"
    code, stdout, err = fgtext(
        capsys, "export", "--db", database_url, "--project", "synth", "--out", out
    )
    assert code == 0, err
    assert "Wrote 8 clips of project 'synth'" in stdout
    assert len(open_dataset(out)) == 8
    code, stdout, err = fgtext(
        capsys, "export", "--db", database_url, "--project", "synth", "--out", out,
        "--include-unfinished", "--overwrite", "--parquet",
    )  # fmt: skip
    assert code == 0 and "Wrote 12 clips" in stdout and "unlabelled 4" in stdout
    import pyarrow.parquet as pq

    flat = pq.read_table(out / "clips.parquet").to_pylist()
    assert [r["clip_id"] for r in flat] == [c.clip_id for c in open_dataset(out).clips()]
    code, stdout, err = fgtext(
        capsys, "export", "--db", database_url, "--project", "synth", "--out", out,
        "--overwrite", "--copy-videos",
    )  # fmt: skip
    assert code == 0, err
    carried = open_dataset(out)
    assert all(c.video.startswith("videos/") and carried.video_path(c).is_file()
               for c in carried.clips())  # fmt: skip


def test_cli_errors_are_one_line(engine, database_url, tmp_path, capsys):
    code, _, err = fgtext(
        capsys, "export", "--db", database_url, "--project", "nope", "--out", tmp_path / "x"
    )
    assert code == 1
    assert err.strip() == "error: project 'nope' does not exist (projects: none yet)"

    unreachable = "postgresql://nobody@127.0.0.1:1/nowhere"
    code, _, err = fgtext(capsys, "db", "upgrade", "--db", unreachable)
    assert code == 1 and err.startswith("error: cannot connect to postgresql+psycopg://nobody@")
    assert len(err.strip().splitlines()) == 1

    code, _, err = fgtext(capsys, "export", "--db", "nonsense", "--project", "p", "--out", tmp_path)
    assert code == 1 and "database URL 'nonsense' is not a URL" in err


def test_export_refuses_an_outdated_database(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    code, _, err = fgtext(capsys, "export", "--db", url, "--project", "p", "--out", tmp_path / "o")
    assert code == 1
    assert f"upgrade it with: fgtext db upgrade --db {url}" in err


def test_export_can_carry_its_videos(session, admin, synth_dataset, tmp_path):
    """`copy_videos`: each source video lands once in OUT/videos/, rows point there, segments
    keep their frame ranges, equal file names from different folders stay apart."""
    shared = tmp_path / "shared"
    shutil.copytree(synth_dataset, shared)
    rows = [json.loads(line) for line in (shared / "clips.jsonl").read_text().splitlines()]
    first_video = rows[0]["video"]
    rows[0] |= {"start_frame": 0, "end_frame": 3}
    rows[1] |= {"video": first_video, "start_frame": 2, "end_frame": 5}  # one video, 2 segments
    (shared / "other").mkdir()
    twin = shared / "other" / Path(rows[3]["video"]).name  # same name, another folder and bytes
    twin.write_bytes((shared / rows[2]["video"]).read_bytes())
    rows[2]["video"] = f"other/{twin.name}"
    (shared / "clips.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    project = store.create_project_from_dataset(
        session, name="shared", dataset_dir=shared, actor=admin, media_root=shared
    )

    out = store.export_project(
        session, project=project, out_dir=tmp_path / "out", include_unfinished=True,
        copy_videos=True,
    )  # fmt: skip
    ds = open_dataset(out)
    clips = {c.clip_id: c for c in ds.clips()}
    assert len(clips) == len(rows)
    for row in rows:
        clip = clips[row["clip_id"]]
        assert clip.video.startswith("videos/")
        assert ds.video_path(clip).read_bytes() == (shared / row["video"]).read_bytes()
        assert (clip.start_frame, clip.end_frame) == (row["start_frame"], row["end_frame"])
    assert clips[rows[0]["clip_id"]].video == clips[rows[1]["clip_id"]].video
    assert clips[rows[2]["clip_id"]].video != clips[rows[3]["clip_id"]].video
    assert len(list((out / "videos").iterdir())) == len(rows) - 1  # the shared one once
    assert ds.info.source["videos"] == "copied"

    (shared / rows[4]["video"]).unlink()
    with pytest.raises(FgTextError, match=rf"clip {rows[4]['clip_id']}: video .* not found"):
        store.export_project(
            session, project=project, out_dir=tmp_path / "broken", include_unfinished=True,
            copy_videos=True,
        )  # fmt: skip
    assert not (tmp_path / "broken").exists()  # nothing half-written


def test_export_copies_the_file_video_file_names_and_stops_where_it_refuses(
    session, admin, synth_project, tmp_path
):
    """`video_file` decides which file each copied video is (the annotator passes its media
    containment rule); when it raises, nothing is written."""
    stand_in = tmp_path / "stand-in.mp4"
    stand_in.write_bytes(b"the file video_file chose")
    asked = []

    def video_file(project, clip):
        asked.append(clip.clip_id)
        return stand_in

    out = store.export_project(
        session, project=synth_project, out_dir=tmp_path / "out", include_unfinished=True,
        copy_videos=True, video_file=video_file,
    )  # fmt: skip
    ds = open_dataset(out)
    clips = list(ds.clips())
    assert sorted(asked) == sorted(c.clip_id for c in clips)
    assert {ds.video_path(c).read_bytes() for c in clips} == {b"the file video_file chose"}

    def refuse(project, clip):
        raise store.InvalidInputError(f"clip {clip.clip_id}: not exported")

    with pytest.raises(store.InvalidInputError, match=r"clip .*: not exported"):
        store.export_project(
            session, project=synth_project, out_dir=tmp_path / "refused",
            include_unfinished=True, copy_videos=True, video_file=refuse,
        )  # fmt: skip
    assert not (tmp_path / "refused").exists()
