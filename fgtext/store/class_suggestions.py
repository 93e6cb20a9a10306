"""Class suggestions: the typical combinations of the four values of a project's classes
(`ProjectClass.typical`), which the annotation page offers after a clip's model suggestions
(`fgtext.store.suggestions`). They come from a class list (`fgtext-classes/1`: the built-in smg
and imigue lists, or a file) and are set when a project is created; migration 0004 filled them
in for the projects that existed before, by `builtin_typicals` as creation does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from fgtext.dataset import ClassInfo
from fgtext.errors import FgTextError
from fgtext.schema import BUILTIN_CLASS_LISTS, DIMENSIONS, ClassDef, Schema, load_class_list


def _name_key(name: str) -> str:
    return name.strip().casefold()


@cache
def _builtin_typicals() -> dict[str, dict[str, tuple[Mapping[str, str], ...]]]:
    """{built-in class list: {class name key: typical combinations}} (default schema)."""
    return {
        name: {_name_key(c.name): c.attributes for c in load_class_list(name)}
        for name in BUILTIN_CLASS_LISTS
    }


def builtin_typicals(schema: Schema, names: Sequence[str]) -> list[list[dict[str, str]]]:
    """Each class name's typical combinations from the built-in class list (smg or imigue)
    that knows most of `names` (case-insensitive, trimmed; a tie goes to smg), keeping only the
    combinations `schema` allows; [] for a name the list lacks. Project creation and migration
    0004's backfill both use it."""
    keys = [_name_key(n) for n in names]
    lists = _builtin_typicals()
    best = max(BUILTIN_CLASS_LISTS, key=lambda ls: sum(k in lists[ls] for k in keys))
    return [
        [
            {d: a[d] for d in DIMENSIONS}
            for a in lists[best].get(k, ())
            if schema.attribute_problem(a) is None
        ]
        for k in keys
    ]


def class_typicals(
    schema: Schema,
    classes: Sequence[ClassDef | ClassInfo],
    class_list: str | Path | None = None,
) -> dict[int, list[dict[str, str]]]:
    """{class id: typical combinations} for a new project's classes.

    With `class_list` (smg, imigue or an `fgtext-classes/1` file): its classes' combinations,
    matched to the project's classes by name (case-insensitive, trimmed); a value the project's
    schema lacks, or a list that names none of the classes, is refused (FgTextError). Without:
    a class given with its combinations (a ClassDef) keeps them (checked against the schema),
    the others get those of the built-in class list their names match (`builtin_typicals`)."""
    if class_list is not None:
        listed = {
            _name_key(c.name): c.attributes for c in load_class_list(class_list, schema=schema)
        }
        if not any(_name_key(c.name) in listed for c in classes):
            raise FgTextError(
                f"class list {str(class_list)!r} names none of the project's classes "
                f"({', '.join(repr(c.name) for c in classes[:5])}, ...); give the class list "
                "of the dataset's classes"
            )
        return {c.id: [dict(a) for a in listed.get(_name_key(c.name), ())] for c in classes}
    matched = builtin_typicals(schema, [c.name for c in classes])
    typicals = {}
    for c, fallback in zip(classes, matched, strict=True):
        given = getattr(c, "attributes", ())
        typicals[c.id] = (
            [schema.check_attributes(a, where=f"class {c.name!r}: ") for a in given]
            if given
            else fallback
        )
    return typicals
