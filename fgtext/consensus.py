"""When several annotators' labels make a final label without a reviewer.

The rules are `fgtext.vocabulary.ConsensusRule`; the default is `majority` everywhere.
`unanimous`: every annotator gave the same value on every dimension. `majority`: on every
dimension one value has more than half of the votes. A clip with one annotation is final with
status "single". Anything else needs adjudication (returns None). The annotation store uses the
same rule, so a project's setting means the same thing everywhere.

With the reliability model (`fgtext.agreement.dawid_skene`), a clip's labels give a posterior per
dimension instead of votes: `posterior_status` is the `dawid-skene` rule (final when every
dimension's posterior of its most probable value reaches the threshold) and
`needs_another_annotator` is adaptive k (ask one more annotator while a clip is below the
threshold, from k_min up to k_max). Both are pure, so `fgtext merge`, the benches and the store
decide alike. `vote_posterior` is the cheap posterior of one clip from its own votes, each
weighed by its annotator's estimated accuracy: what the store decides a clip by when it is
labelled, between two fits of the whole model.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS
from fgtext.vocabulary import CONSENSUS_RULES, DEFAULT_CONSENSUS_RULE, ClipStatus, ConsensusRule


def consensus(
    annotations: Sequence[Mapping[str, str]], rule: str = DEFAULT_CONSENSUS_RULE
) -> tuple[dict[str, str] | None, str]:
    """(final attributes or None, status) for one clip's annotations (each a 4-value mapping)."""
    if rule not in CONSENSUS_RULES:
        raise FgTextError(
            f"unknown consensus rule {rule!r}; expected one of {', '.join(CONSENSUS_RULES)}"
        )
    if not annotations:
        return None, ClipStatus.UNLABELLED
    if len(annotations) == 1:
        return {d: annotations[0][d] for d in DIMENSIONS}, ClipStatus.SINGLE
    final = {}
    for d in DIMENSIONS:
        (value, votes), *_ = Counter(a[d] for a in annotations).most_common(1)
        needed = len(annotations) if rule == ConsensusRule.UNANIMOUS else len(annotations) // 2 + 1
        if votes < needed:
            return None, ClipStatus.DISPUTED
        final[d] = value
    return final, ClipStatus.CONSENSUS


def _confident(confidence: Mapping[str, float] | Iterable[float], threshold: float) -> bool:
    values = confidence.values() if isinstance(confidence, Mapping) else confidence
    return min(values) >= threshold


def posterior_status(
    n_annotations: int, confidence: Mapping[str, float] | Iterable[float], threshold: float
) -> str:
    """The `dawid-skene` rule: "single" or "consensus" (final) when every dimension's posterior
    of its chosen value reaches `threshold`, else "disputed" (to review); no labels: unlabelled."""
    if n_annotations == 0:
        return ClipStatus.UNLABELLED
    if not _confident(confidence, threshold):
        return ClipStatus.DISPUTED
    return ClipStatus.SINGLE if n_annotations == 1 else ClipStatus.CONSENSUS


def needs_another_annotator(
    n_annotations: int,
    confidence: Mapping[str, float] | Iterable[float] | None,
    *,
    k_min: int,
    k_max: int,
    threshold: float,
) -> bool:
    """Adaptive k: whether a clip with `n_annotations` labels and these posteriors (None: not
    fitted yet) should go to one more annotator. Below k_min always, at k_max never, between
    them while any dimension's posterior is below `threshold`."""
    if not 1 <= k_min <= k_max:
        raise FgTextError(f"adaptive k needs 1 <= k_min <= k_max (got {k_min}, {k_max})")
    if n_annotations < k_min:
        return True
    if n_annotations >= k_max:
        return False
    return confidence is None or not _confident(confidence, threshold)


def vote_posterior(
    votes: Sequence[tuple[float, Mapping[str, str]]], n_values: Mapping[str, int]
) -> tuple[dict[str, str], dict[str, float]]:
    """(most probable value, its posterior) per dimension of one clip from its `votes`, each
    (the annotator's estimated accuracy, their four values). One-coin model with a uniform
    prior: an annotator gives the true value with their accuracy, else any of the dimension's
    other `n_values - 1` values alike. Ties go to the value voted first."""
    final, confidence = {}, {}
    for d in DIMENSIONS:
        n = max(n_values[d], 2)
        accuracies = [min(max(acc, 1e-6), 1 - 1e-6) for acc, _ in votes]
        wrong = [math.log((1 - acc) / (n - 1)) for acc in accuracies]
        # log-likelihood of each voted value; every value nobody voted has sum(wrong)
        scores: dict[str, float] = {}
        for (_, values), acc, miss in zip(votes, accuracies, wrong, strict=True):
            scores.setdefault(values[d], sum(wrong))
            scores[values[d]] += math.log(acc) - miss
        unvoted = n - len(scores)
        top = max(scores.values())
        total = sum(math.exp(v - top) for v in scores.values())
        total += unvoted * math.exp(sum(wrong) - top)
        best = max(scores, key=scores.get)
        final[d], confidence[d] = best, math.exp(scores[best] - top) / total
    return final, confidence
