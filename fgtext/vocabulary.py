"""The project's closed vocabularies, each named once: roles, consensus (and merge) rules, clip
statuses, suggestion modes, sources and conditions.

StrEnums, so a member is its string ("admin" == Role.ADMIN): the database columns, the JSON API,
the CLIs and the dataset files all hold the plain strings. The four FG-Text dimensions are
`fgtext.schema.DIMENSIONS` (their values come from a versioned schema file, not from here).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args


class Role(StrEnum):
    """What a user of the annotation app may do (`annotator/policies` says exactly what)."""

    ADMIN = "admin"  # everything, every project
    REVIEWER = "reviewer"  # their projects: everyone's labels, agreement, adjudication
    ANNOTATOR = "annotator"  # their projects: the next clip, their own labels only


ROLES: tuple[str, ...] = tuple(Role)
REVIEWING_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.REVIEWER)  # see everyone's labels


class ConsensusRule(StrEnum):
    """When several annotators' labels are final without a reviewer (`fgtext.consensus`)."""

    UNANIMOUS = "unanimous"  # every annotator gave the same value on every dimension
    MAJORITY = "majority"  # on every dimension one value has more than half of the votes


CONSENSUS_RULES: tuple[str, ...] = tuple(ConsensusRule)
DEFAULT_CONSENSUS_RULE = ConsensusRule.MAJORITY  # projects, `fgtext merge` and the CLIs
# The reliability model's rule: a clip is final when every dimension's Dawid-Skene posterior
# reaches a threshold (`fgtext.consensus.posterior_status`). It needs all the labels at once, so
# it is not a vote rule of `fgtext.consensus.consensus`; `fgtext merge` and a store project may
# use it (`fgtext.store.reliability` says how the store keeps it off the hot path).
DAWID_SKENE = "dawid-skene"
MERGE_RULES: tuple[str, ...] = (*CONSENSUS_RULES, DAWID_SKENE)
PROJECT_RULES = MERGE_RULES  # the rules a project of the annotation store may use
ProjectRule = Literal["unanimous", "majority", "dawid-skene"]
assert get_args(ProjectRule) == PROJECT_RULES
DEFAULT_POSTERIOR_THRESHOLD = 0.9


class ClipStatus(StrEnum):
    """Where a clip stands: in the labelling workflow (the store) and in a dataset's rows."""

    UNLABELLED = "unlabelled"  # no annotation yet (or, in a dataset, no final values)
    IN_PROGRESS = "in_progress"  # some annotations, fewer than the project's k
    CONSENSUS = "consensus"  # k annotations that meet the consensus rule (final)
    SINGLE = "single"  # one annotation where one is enough (final)
    DISPUTED = "disputed"  # k annotations without consensus: in the review queue
    ADJUDICATED = "adjudicated"  # a reviewer set the final values (final)
    GOLD = "gold"  # ground truth known by construction (synthetic clips; final)


# The statuses of the annotation store's workflow, in workflow order.
WORKFLOW_STATUSES: tuple[ClipStatus, ...] = (
    ClipStatus.UNLABELLED,
    ClipStatus.IN_PROGRESS,
    ClipStatus.CONSENSUS,
    ClipStatus.SINGLE,
    ClipStatus.DISPUTED,
    ClipStatus.ADJUDICATED,
)
# "Final": the clip's attributes are settled and a dataset row carries them (and T_fg).
FINAL_STATUSES: tuple[ClipStatus, ...] = (
    ClipStatus.CONSENSUS,
    ClipStatus.SINGLE,
    ClipStatus.ADJUDICATED,
)
# Clips an annotator can still be handed.
OPEN_STATUSES: tuple[ClipStatus, ...] = (ClipStatus.UNLABELLED, ClipStatus.IN_PROGRESS)
# The statuses a row of an `fgtext-dataset` file (versions 1 and 2) may have: final ones, gold, or none yet
# (a Literal, so the format's validation messages list the plain strings).
DatasetStatus = Literal["consensus", "adjudicated", "single", "gold", "unlabelled"]
DATASET_STATUSES: tuple[str, ...] = get_args(DatasetStatus)
assert set(DATASET_STATUSES) == {*FINAL_STATUSES, ClipStatus.GOLD, ClipStatus.UNLABELLED}


def is_final(status: str) -> bool:
    """Whether a clip with this status has settled attributes (gold counts: it is known)."""
    return status in FINAL_STATUSES or status == ClipStatus.GOLD


class SuggestionMode(StrEnum):
    """Whether and when the annotation page offers suggestions of the four values (a project
    setting; `fgtext.store.suggestions` says what is offered)."""

    OFF = "off"  # none: every clip starts empty
    AFTER_FIRST = "after_first"  # once the annotator has chosen the initiator themselves
    AT_ONCE = "at_once"  # as soon as the clip is shown


SUGGESTION_MODES: tuple[str, ...] = tuple(SuggestionMode)


class SuggestionSource(StrEnum):
    """Where an offered suggestion comes from."""

    MODEL = "model"  # a trained model's prediction for the clip (an imported suggestions file)
    CLASS = "class"  # a typical combination of the clip's class (the project's class list)


class SuggestionCondition(StrEnum):
    """Whether attribute suggestions (a class's typical combinations, a model's predictions) were
    shown with an annotation and what became of them (`fgtext.agreement.suggestion_bias`)."""

    NOT_SHOWN = "not_shown"  # the annotator saw no suggestion
    ACCEPTED = "accepted"  # a suggestion was chosen and submitted unchanged
    EDITED = "edited"  # suggestions were shown and none was submitted unchanged


SUGGESTION_CONDITIONS: tuple[str, ...] = tuple(SuggestionCondition)
