"""Rich tables of the agreement report, for the CLIs and the demo (they pass their console)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fgtext.console import fmt


def print_agreement(report: dict[str, Any], console: Console) -> None:
    """The agreement report's headline figures per dimension, then alpha per class."""
    table = Table(
        title=f"Agreement: {report['n_clips']} clips, {report['n_annotators']} annotators, "
        f"{report['n_labels']} labels",
        caption="α: Krippendorff's alpha (nominal) with bootstrap 95% CI; κ: Fleiss' kappa; "
        "Cohen κ: mean over annotator pairs",
    )
    for column in ("dimension", "α", "α 95% CI", "κ", "agree %", "Cohen κ"):
        table.add_column(column, justify="left" if column == "dimension" else "right", no_wrap=True)
    for dim, r in report["dimensions"].items():
        alpha = r["krippendorff_alpha"]
        ci = alpha.get("ci95") or [None, None]
        kappas = [
            v
            for i, row in enumerate(r["cohen_kappa"]["matrix"])
            for j, v in enumerate(row)
            if i < j and v is not None
        ]
        table.add_row(
            dim, fmt(alpha["value"]), f"{fmt(ci[0])}–{fmt(ci[1])}",
            fmt(r["fleiss_kappa"]["value"]), fmt(_pct(r["percent_agreement"]["value"]), 1),
            fmt(sum(kappas) / len(kappas) if kappas else None),
        )  # fmt: skip
    console.print(table)
    shown = ("krippendorff_alpha", "fleiss_kappa", "percent_agreement")
    notes = {r[k]["note"] for r in report["dimensions"].values() for k in shown if r[k].get("note")}
    for note in sorted(notes):
        console.print(f"[dim]note: {escape(note)}[/]")
    print_per_class(report, console)


def print_per_class(report: dict[str, Any], console: Console) -> None:
    """Krippendorff's alpha per class and dimension, when the labels name the clips' classes."""
    dims = {d: r["per_class"] for d, r in report["dimensions"].items() if r.get("per_class")}
    if not dims:
        return
    table = Table(title="Krippendorff's α per class", caption="— : undefined (one category in use)")
    table.add_column("class")
    table.add_column("clips", justify="right")
    for d in dims:
        table.add_column(d, justify="right", no_wrap=True)
    first = next(iter(dims.values()))
    for cls in first:
        cells = [
            fmt(per_class.get(cls, {}).get("krippendorff_alpha")) for per_class in dims.values()
        ]
        table.add_row(str(cls), str(first[cls]["n_units"]), *cells)
    console.print(table)


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value
