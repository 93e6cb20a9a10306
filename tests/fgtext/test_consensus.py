import pytest

from fgtext.consensus import consensus, vote_posterior
from fgtext.errors import FgTextError

A = dict(initiator="right_hand", receiver="eyes", direction="back_and_forth", motion_type="rub")
B = {**A, "motion_type": "scratch"}
C = {**A, "direction": "upward"}


@pytest.mark.parametrize(
    ("annotations", "rule", "expected"),
    [
        ([], "unanimous", (None, "unlabelled")),
        ([A], "unanimous", (A, "single")),
        ([A, A, A], "unanimous", (A, "consensus")),
        ([A, A, B], "unanimous", (None, "disputed")),
        ([A, A, B], "majority", (A, "consensus")),
        ([A, B], "majority", (None, "disputed")),  # 1 of 2 is not more than half
        ([A, B, C], "majority", (A, "consensus")),  # motion_type rub 2/3, direction 2/3
        ([A, B, C], "unanimous", (None, "disputed")),
        ([A, B, B, C], "majority", (None, "disputed")),  # motion_type 2/4 is not a majority
    ],
)
def test_consensus_rules(annotations, rule, expected):
    assert consensus(annotations, rule) == expected


def test_majority_is_per_dimension():
    # Each dimension has its own majority even though no annotator matches the result fully.
    x = {**A, "receiver": "nose"}
    assert A not in (B, C, x)
    assert consensus([B, C, x], "majority") == (A, "consensus")


def test_unknown_rule():
    with pytest.raises(FgTextError, match="unknown consensus rule 'plurality'"):
        consensus([A], "plurality")


def test_vote_posterior_worked_example():
    """Ten values per dimension. Two votes for A at accuracy 0.9: A has 0.9 * 0.9 = 0.81, each
    of the nine others (0.1 / 9)^2; A's posterior is 0.81 / (0.81 + 9 * (0.1 / 9)^2)."""
    ten = dict.fromkeys(A, 10)
    final, confidence = vote_posterior([(0.9, A), (0.9, A)], ten)
    assert final == A
    assert confidence["initiator"] == pytest.approx(0.81 / (0.81 + 9 * (0.1 / 9) ** 2))
    # A careful 0.9 against a careless 0.6 on motion_type: 0.9 * 0.4/9 vs 0.1/9 * 0.6
    final, confidence = vote_posterior([(0.9, A), (0.6, B)], ten)
    a, b = 0.9 * 0.4 / 9, 0.1 / 9 * 0.6
    rest = 8 * (0.1 / 9) * (0.4 / 9)
    assert final == A and confidence["motion_type"] == pytest.approx(a / (a + b + rest))
