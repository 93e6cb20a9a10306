"""A whole project through the HTTP API: three simulated annotators label a synthetic dataset
clip by clip as the server hands the clips out, a reviewer settles the disputes, and the
exported dataset read back with the fgtext reader holds exactly the submitted labels, the
final values `fgtext merge` computes from the same labels and the same agreement figures."""

from __future__ import annotations

import io
import shutil
import zipfile

import pytest

from fgtext.compose import compose_fg_text
from fgtext.dataset import open_dataset
from fgtext.merge import merge_labels, write_labels_csv
from fgtext.schema import DIMENSIONS
from fgtext.synth import SynthConfig, simulated_labels, synthesize

NOISY = "noisy"  # the dataset's folder inside the media root


@pytest.fixture(scope="module")
def noisy_dataset(tmp_path_factory):
    """3 classes x 3 clips, each labelled by three simulated annotators who err 30% of the time."""
    config = SynthConfig(
        classes=3, clips_per_class=3, width=64, height=48, fps=10, seconds=0.5, annotators=3,
        annotator_error=0.3, seed=7,
    )  # fmt: skip
    return synthesize(tmp_path_factory.mktemp("noisy") / NOISY, config, workers=1)


def test_synthetic_labels_submitted_through_the_api_come_back_in_the_export(
    admin, make_user, media_root, noisy_dataset, tmp_path
):
    shutil.copytree(noisy_dataset, media_root / NOISY)
    created = admin.client.post(
        "/api/v1/projects",
        json={"name": "noisy", "dataset_dir": NOISY, "annotators_per_clip": 3},
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    source = open_dataset(noisy_dataset)
    given = {  # (clip name, annotator) -> the simulated annotator's values
        (row["clip_id"], row["annotator"]): {d: row[d] for d in DIMENSIONS}
        for row in simulated_labels(noisy_dataset)
    }
    annotators = sorted({name for _, name in given})
    actors = {}
    for name in [*annotators, "rita"]:
        actors[name] = make_user(name, "reviewer" if name == "rita" else "annotator")
        reply = admin.client.post(f"/api/v1/projects/{pid}/members", json={"username": name})
        assert reply.status_code == 201, reply.text

    # Round-robin, as people work side by side: each asks for a clip and labels it.
    submitted: dict[tuple[str, str], dict[str, str]] = {}
    active = list(annotators)
    while active:
        for name in list(active):
            reply = actors[name].client.post(f"/api/v1/projects/{pid}/next")
            if reply.status_code == 204:
                active.remove(name)
                continue
            clip = reply.json()
            values = given[(clip["clip_id"], name)]
            done = actors[name].client.post(
                f"/api/v1/clips/{clip['id']}/annotations", json={"attributes": values}
            )
            assert done.status_code == 201, done.text
            submitted[(clip["clip_id"], name)] = values
    assert submitted == given  # every clip got exactly its three labels, no more

    rita = actors["rita"]
    queue = rita.client.get(f"/api/v1/projects/{pid}/review").json()
    truth = {c.clip_id: c.attributes for c in source.clips()}
    for item in queue:
        reply = rita.client.post(
            f"/api/v1/clips/{item['clip']['id']}/adjudication",
            json={"attributes": truth[item["clip"]["clip_id"]], "reason": "watched it"},
        )
        assert reply.status_code == 200, reply.text
    assert queue, "the noisy annotators should disagree somewhere"

    reply = admin.client.get(f"/api/v1/projects/{pid}/export")
    assert reply.status_code == 200
    with zipfile.ZipFile(io.BytesIO(reply.content)) as z:
        z.extractall(tmp_path / "export")
    exported = open_dataset(tmp_path / "export" / "noisy")

    merge_labels(noisy_dataset, write_labels_csv(simulated_labels(noisy_dataset),
                 tmp_path / "labels.csv"), tmp_path / "merged", rule="majority")  # fmt: skip
    merged = {c.clip_id: c for c in open_dataset(tmp_path / "merged").clips()}
    disputed = {item["clip"]["clip_id"] for item in queue}
    clips = list(exported.clips())
    assert sorted(c.clip_id for c in clips) == sorted(truth)
    for clip in clips:
        labels = {a.annotator: a.attributes for a in clip.annotations}
        assert labels == {name: given[(clip.clip_id, name)] for name in annotators}
        if clip.clip_id in disputed:
            assert (clip.status, clip.attributes) == ("adjudicated", truth[clip.clip_id])
            assert clip.clip_id not in merged  # merge leaves disputed clips out
        else:
            assert clip.status == merged[clip.clip_id].status == "consensus"
            assert clip.attributes == merged[clip.clip_id].attributes
        assert clip.text == compose_fg_text(clip.attributes, exported.schema)
        source_clip = next(c for c in source.clips() if c.clip_id == clip.clip_id)
        assert (clip.label, clip.split) == (source_clip.label, source_clip.split)
    assert exported.info.agreement == open_dataset(tmp_path / "merged").info.agreement


def test_partly_labelled_clips_are_handed_out_before_fresh_ones(project, member):
    ivan, jana = member("ivan"), member("jana")
    pid = project["id"]
    first = ivan.client.post(f"/api/v1/projects/{pid}/next").json()
    reply = ivan.client.post(
        f"/api/v1/clips/{first['id']}/annotations",
        json={"attributes": {"initiator": "right_hand", "receiver": "eyes",
                             "direction": "back_and_forth", "motion_type": "rub"}},
    )  # fmt: skip
    assert reply.status_code == 201
    # jana gets the clip ivan started (it needs one more label), not a fresh one
    assert jana.client.post(f"/api/v1/projects/{pid}/next").json()["id"] == first["id"]
    # and ivan, who labelled it, never gets it again
    assert ivan.client.post(f"/api/v1/projects/{pid}/next").json()["id"] != first["id"]
