"""``dosecheck constraints``: list, show and validate constraint sets."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from dosecheck.checking.model import ConstraintSet

app = typer.Typer(
    name="constraints",
    help=(
        "List, show, validate, import and compare constraint sets (YAML, or planning-system "
        "templates; formats in docs/constraints.md)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SetArg = Annotated[
    str,
    typer.Argument(
        help="Shipped set name, YAML file or planning-system template (CSV, XML, JSON).",
        show_default=False,
    ),
]


def _prescription(cset: ConstraintSet) -> str:
    from dosecheck.checking.sets import describe_prescription

    return describe_prescription(cset.prescription_gy, cset.fractions)


@app.command("list")
def list_sets() -> None:
    """List the shipped constraint sets: name, prescription, description."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from dosecheck.checking.sets import shipped_sets

    table = Table(title="Shipped constraint sets (use the name with --constraints)")
    table.add_column("Name", no_wrap=True)
    table.add_column("Prescription", no_wrap=True)
    table.add_column("Description")
    for s in shipped_sets():
        c = s.constraint_set
        table.add_row(Text(s.key), Text(_prescription(c)), Text(c.description or c.name))
    Console(highlight=False).print(table)


@app.command("show")
def show(constraint_set: SetArg) -> None:
    """Show a set's structures and constraints."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from dosecheck.checking.sets import resolve_constraint_set

    c = resolve_constraint_set(constraint_set)
    console = Console(highlight=False)
    head = Text()
    head.append(f"{c.name}\n", style="bold")
    rows = [
        ("File", c.path),
        ("sha256", c.sha256),
        ("Prescription", _prescription(c)),
        ("Source", c.source),
        ("Description", c.description),
        ("Version", c.version),
    ]
    for key, value in rows:
        if value:
            head.append(f"{key}: ", style="bold")
            head.append(f"{value}\n")
    console.print(head)
    for spec in c.structures:
        title = Text(spec.name, style="bold")
        match = []
        if spec.target:
            match.append(f"target: the {spec.target} at the prescription dose")
        if spec.aliases:
            match.append("aliases: " + ", ".join(spec.aliases))
        if spec.regex:
            match.append(f"regex: {spec.regex}")
        table = Table(title=title, title_justify="left")
        table.add_column("Constraint", no_wrap=True)
        table.add_column("Priority")
        table.add_column("Note / reference")
        table.add_column("Line", justify="right")
        for con in spec.constraints:
            text = con.text
            if con.limit_unit_is_percent_rx and c.prescription_gy is not None:
                gy = con.limit_in_metric_unit(c.prescription_gy)
                text += f"  (= {gy:.2f} {con.metric.output_unit})"
            note = " — ".join(x for x in (con.note, con.reference) if x)
            style = "yellow" if con.priority == "optimal" else ""
            table.add_row(
                Text(text),
                Text(con.priority, style=style),
                Text(note),
                Text("" if con.line is None else str(con.line)),
            )
        console.print(table)
        for line in match:
            console.print(Text(f"  {line}", style="dim"), soft_wrap=True)


@app.command("validate")
def validate(constraint_set: SetArg) -> None:
    """Check a constraint-set file: exit 0 and a count, or exit 2 with file:line and the
    problem."""
    from dosecheck.checking.sets import resolve_constraint_set

    c = resolve_constraint_set(constraint_set)
    n_s = len(c.structures)
    n_c = len(c.constraints)
    typer.echo(
        f"OK: {n_s} structure{'s' if n_s != 1 else ''}, {n_c} constraint{'s' if n_c != 1 else ''}"
    )


@app.command("import")
def import_template(
    template: Annotated[
        str, typer.Argument(help="A planning-system template (CSV, XML, JSON).", show_default=False)
    ],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Write the YAML set here (default: stdout)."),
    ] = None,
    prescription: Annotated[
        float | None,
        typer.Option("--prescription", help="Prescription dose (Gy), when the template has none."),
    ] = None,
    fractions: Annotated[
        int | None,
        typer.Option("--fractions", help="Number of fractions, when the template has none."),
    ] = None,
) -> None:
    """Convert a template into a dosecheck YAML set; what cannot be imported is listed on
    stderr (and in the YAML's comments)."""
    from dosecheck.checking.templates import read_constraint_file
    from dosecheck.checking.templates.export import to_yaml
    from dosecheck.output.write import write_text

    imported = read_constraint_file(template)
    text = to_yaml(imported, prescription_gy=prescription, fractions=fractions)
    if output:
        write_text(text, Path(output))
    else:
        typer.echo(text, nl=False)
    c = imported.constraint_set
    typer.echo(
        f"{imported.format}: {len(c.structures)} structures, {len(c.constraints)} constraints"
        + (f" written to {output}" if output else ""),
        err=True,
    )
    for n in imported.not_imported:
        typer.echo(f"not imported: {n.describe()}", err=True)


class DiffFormat(StrEnum):
    table = "table"
    json = "json"


@app.command("diff")
def diff(
    a: Annotated[str, typer.Argument(help="Set A (any format).", show_default=False)],
    b: Annotated[str, typer.Argument(help="Set B (any format).", show_default=False)],
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f", help="Output format.")] = (
        DiffFormat.table
    ),
) -> None:
    """Compare two sets per structure and metric: exit 0 when they hold the same
    constraints, 1 when they differ."""
    import json

    from dosecheck.checking.sets import resolve_constraint_set
    from dosecheck.checking.templates.diff import diff_sets

    set_a, set_b = resolve_constraint_set(a), resolve_constraint_set(b)
    rows = diff_sets(set_a, set_b)
    if fmt is DiffFormat.json:
        doc = {
            "a": {"path": set_a.path, "sha256": set_a.sha256, "name": set_a.name},
            "b": {"path": set_b.path, "sha256": set_b.sha256, "name": set_b.name},
            "equal": not rows,
            "differences": [r.to_dict() for r in rows],
        }
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        console = Console(highlight=False)
        if not rows:
            console.print(
                Text(f"EQUAL: {a} and {b} hold the same {len(set_a.constraints)} constraints")
            )
        else:
            console.print(
                Text(f"DIFFER: {len(rows)} differences (A = {a}, B = {b})"), soft_wrap=True
            )
            table = Table()
            for col in ("Structure", "Metric", "Difference", "A", "B"):
                table.add_column(col)
            label = {
                "only_a": "only in A",
                "only_b": "only in B",
                "limit": "limit differs",
                "variation": "variation differs",
                "priority": "priority differs",
            }
            for r in rows:
                table.add_row(
                    Text(r.structure), Text(r.metric), Text(label[r.kind]), Text(r.a), Text(r.b)
                )
            console.print(table)
    if rows:
        raise typer.Exit(1)
