"""Validating a clip's four values against the project's schema."""

from __future__ import annotations

from collections.abc import Mapping

from fgtext.schema import DIMENSIONS, Schema
from fgtext.store.errors import InvalidInputError, InvalidLabelError


def validate_attributes(schema: Schema, attributes: object) -> dict[str, str]:
    """The four values in dimension order, or InvalidLabelError naming the dimension, the
    value and the allowed values."""
    if not isinstance(attributes, Mapping):
        raise InvalidInputError(
            f"attributes must be an object with {', '.join(DIMENSIONS)}; "
            f"got {type(attributes).__name__}"
        )
    for key in attributes:
        if key not in DIMENSIONS:
            raise InvalidLabelError(
                f"{key!r} is not a dimension; the dimensions are {', '.join(DIMENSIONS)}",
                dimension=str(key), value=attributes[key], allowed=DIMENSIONS,
            )  # fmt: skip
    out = {}
    for d in DIMENSIONS:
        value = attributes.get(d)
        allowed = schema.values(d)
        if value not in allowed:
            what = "is missing" if value in (None, "") else f"{value!r} is not allowed"
            raise InvalidLabelError(
                f"{d} {what} (schema {schema.name} {schema.version}); "
                f"allowed: {', '.join(allowed)}",
                dimension=d, value=value, allowed=allowed,
            )  # fmt: skip
        out[d] = value
    return out
