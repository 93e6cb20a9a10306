"""FG-Text sentences: four attributes -> T_fg, class name -> T_c.

T_fg follows the schema's `fg_text` template, e.g. "The right hand rubs the eyes with a
back-and-forth movement." The verb agrees with the initiator ("both hands rub") and takes its
intransitive form when there is no receiver ("the shoulders rise"). Empty phrases (receiver
`none`, direction `static`) drop out; the result is one capitalised sentence ending in a period.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fgtext.schema import Schema, default_schema

_SPACES = re.compile(r"\s+")


def _sentence(text: str) -> str:
    text = _SPACES.sub(" ", text).strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."


def compose_fg_text(attributes: Mapping[str, str], schema: Schema | None = None) -> str:
    """The fine-grained sentence T_fg for one clip's four attributes (validated)."""
    schema = schema or default_schema()
    return _compose(schema, schema.check_attributes(attributes))


def compose_fg_text_draft(
    attributes: Mapping[str, str | None], schema: Schema | None = None
) -> str:
    """T_fg while labels are still being chosen: each missing dimension shows as "[dimension]"
    (the annotation page's live sentence); a full set gives exactly `compose_fg_text`."""
    schema = schema or default_schema()
    chosen = {d: schema.check_value(d, v) for d, v in attributes.items() if v not in (None, "")}
    return _compose(schema, chosen)


def _compose(schema: Schema, attrs: Mapping[str, str]) -> str:
    def phrase(dimension: str) -> Mapping[str, object]:
        if dimension in attrs:
            return schema.phrase(dimension, attrs[dimension])
        blank = f"[{dimension.replace('_', ' ')}]"
        return {"text": blank, "plural_text": blank}

    subject, motion = phrase("initiator"), phrase("motion_type")
    receiver = phrase("receiver")["text"]
    plural = bool(subject.get("plural"))
    if receiver:
        verb = motion.get("plural_text" if plural else "text")
    else:
        verb = motion.get("intransitive_plural_text" if plural else "intransitive_text")
        verb = verb or motion.get("plural_text" if plural else "text")
    verb = verb or attrs["motion_type"].replace("_", " ")
    return _sentence(
        schema.templates["fg_text"].format(
            initiator=subject["text"],
            motion=verb,
            receiver=receiver,
            direction=phrase("direction")["text"],
        )
    )


def compose_class_text(name: str, schema: Schema | None = None) -> str:
    """The class-level description T_c from the schema's `class_text` template."""
    schema = schema or default_schema()
    return _sentence(schema.templates["class_text"].format(name=name.strip()))
