"""One vocabulary: every place that names a role, a consensus rule or a clip status uses
fgtext.vocabulary, and the consensus rule has one default everywhere."""

from __future__ import annotations

import inspect

from annotator.api.models import ProjectCreate, UserCreate
from fgtext import store
from fgtext.cli import merge as merge_command
from fgtext.consensus import consensus
from fgtext.dataset import Clip
from fgtext.merge import merge_labels
from fgtext.vocabulary import (
    CONSENSUS_RULES,
    DATASET_STATUSES,
    DEFAULT_CONSENSUS_RULE,
    FINAL_STATUSES,
    ROLES,
    WORKFLOW_STATUSES,
    ClipStatus,
    ConsensusRule,
    Role,
    is_final,
)

A = {"initiator": "right_hand", "receiver": "eyes", "direction": "back_and_forth",
     "motion_type": "rub"}  # fmt: skip
B = A | {"motion_type": "scratch"}


def _default(function, name: str) -> object:
    return inspect.signature(function).parameters[name].default


def test_one_consensus_default_everywhere():
    assert DEFAULT_CONSENSUS_RULE == ConsensusRule.MAJORITY == "majority"
    assert consensus([A, A, B]) == (A, "consensus")  # majority, not unanimity, by default
    assert _default(consensus, "rule") == DEFAULT_CONSENSUS_RULE
    assert _default(merge_labels, "rule") == DEFAULT_CONSENSUS_RULE
    assert _default(store.create_project, "consensus_rule") == DEFAULT_CONSENSUS_RULE
    assert _default(store.create_project_from_dataset, "consensus_rule") == DEFAULT_CONSENSUS_RULE
    assert ProjectCreate.model_fields["consensus_rule"].default == DEFAULT_CONSENSUS_RULE
    assert _default(merge_command, "rule") == DEFAULT_CONSENSUS_RULE
    assert store.Project.model_fields["consensus_rule"].default == DEFAULT_CONSENSUS_RULE


def test_the_names_are_the_strings_stored_and_sent():
    assert ROLES == ("admin", "reviewer", "annotator") == store.ROLES
    assert CONSENSUS_RULES == ("unanimous", "majority")
    assert UserCreate.model_fields["role"].default == Role.ANNOTATOR == "annotator"
    assert store.CLIP_STATUSES == WORKFLOW_STATUSES and store.FINAL_STATUSES == FINAL_STATUSES
    assert set(FINAL_STATUSES) <= set(WORKFLOW_STATUSES)
    assert set(DATASET_STATUSES) == {*FINAL_STATUSES, "gold", "unlabelled"}
    assert Clip.model_fields["status"].default == ClipStatus.UNLABELLED


def test_final_means_one_thing():
    assert [s for s in ClipStatus if is_final(s)] == [
        "consensus", "single", "adjudicated", "gold",
    ]  # fmt: skip
