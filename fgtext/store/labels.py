"""Validating a clip's four values against the project's schema, for the store and its API.

The rule is the schema's (`Schema.attribute_problem`, also behind `Schema.check_attributes`);
here it is phrased as InvalidLabelError, which names the dimension, the value and the allowed
values (the API's 422 carries them).
"""

from __future__ import annotations

from fgtext.schema import DIMENSIONS, Schema
from fgtext.store.errors import InvalidInputError, InvalidLabelError


def validate_attributes(schema: Schema, attributes: object) -> dict[str, str]:
    """The four values in dimension order, or InvalidLabelError naming the dimension, the
    value and the allowed values."""
    problem = schema.attribute_problem(attributes)
    if problem is None:
        return {d: attributes[d] for d in DIMENSIONS}
    if problem.kind == "not_object":
        raise InvalidInputError(
            f"attributes must be an object with {', '.join(DIMENSIONS)}; "
            f"got {type(attributes).__name__}"
        )
    if problem.kind == "unknown_dimension":
        message = (
            f"{problem.dimension!r} is not a dimension; the dimensions are {', '.join(DIMENSIONS)}"
        )
    else:
        what = "is missing" if problem.kind == "missing" else f"{problem.value!r} is not allowed"
        message = (
            f"{problem.dimension} {what} (schema {schema.name} {schema.version}); "
            f"allowed: {', '.join(problem.allowed)}"
        )
    raise InvalidLabelError(
        message, dimension=problem.dimension, value=problem.value, allowed=problem.allowed
    )
