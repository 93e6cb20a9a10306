"""What no column and no JSON answer can hold, refused where input is read: NUL characters and
lone surrogates in text, non-finite and denormal numbers, integers beyond the databases' range.

PostgreSQL text cannot hold NUL; a lone surrogate cannot be encoded as UTF-8 (to a database, a
password hash or a JSON answer); NaN and infinities are not JSON; a denormal number divides into
infinity; SQLite cannot bind an integer beyond 64 bits (OverflowError) and PostgreSQL refuses
one beyond 32 bits compared with an INTEGER column (every id, frame and version is one). The
API's request models and the dataset readers share these types.
"""

from __future__ import annotations

import math
import sys
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationError

MAX_INT32 = 2**31 - 1  # the largest value of an INTEGER column on PostgreSQL
MAX_ID = MAX_INT32  # ids are INTEGER columns
MAX_OFFSET = 2**63 - 1  # the largest integer SQLite binds (PostgreSQL's OFFSET is a bigint)


def check_text(value: str) -> str:
    """`value` unless it holds a NUL character or a lone surrogate (ValueError)."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (a lone surrogate is not)") from None
    return value


def check_normal(value: float) -> float:
    """`value` unless it is denormal (non-zero, below the smallest normal float: ValueError)."""
    if value != 0 and abs(value) < sys.float_info.min:
        raise ValueError("must be 0 or a normal number (this one is too close to 0)")
    return value


def finite_or_none(value: float | None) -> float | None:
    """A stored number as it may be shown: NaN, the infinities and denormals (which earlier
    versions accepted) read as unknown."""
    if (
        value is None
        or not math.isfinite(value)
        or (value != 0 and abs(value) < sys.float_info.min)
    ):
        return None
    return value


Text = Annotated[str, AfterValidator(check_text)]
# A finite, normal number: the constraints of the field (ge, le) come with each use.
Number = Annotated[float, Field(allow_inf_nan=False), AfterValidator(check_normal)]


def first_error(err: ValidationError) -> str:
    """A pydantic validation error as one sentence: the first problem, with where it is."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    return f"field {loc!r}: {msg}" if loc else msg
