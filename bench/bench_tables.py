"""What the benchmarks print: each table for people (rich) and again as Markdown for README."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table


def show_table(
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    console: Console,
    left: Sequence[str] = (),
) -> None:
    """`rows` under `header` as a rich table on `console` (the columns named in `left` flush
    left, the figures right), then as a Markdown table on stdout."""
    table = Table(title=title)
    for h in header:
        table.add_column(h, justify="left" if h in left else "right")
    for r in rows:
        table.add_row(*r)
    console.print(table)
    print(f"{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
