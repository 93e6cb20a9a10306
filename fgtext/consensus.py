"""When several annotators' labels make a final label without a reviewer.

The rules are `fgtext.vocabulary.ConsensusRule`; the default is `majority` everywhere.
`unanimous`: every annotator gave the same value on every dimension. `majority`: on every
dimension one value has more than half of the votes. A clip with one annotation is final with
status "single". Anything else needs adjudication (returns None). The annotation store uses the
same rule, so a project's setting means the same thing everywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

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
