"""``dosecheck constraints``: list, show and validate constraint sets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from dosecheck.checking.model import ConstraintSet

app = typer.Typer(
    name="constraints",
    help="List, show and validate constraint sets (YAML; format in docs/constraints.md).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SetArg = Annotated[str, typer.Argument(help="Shipped set name or YAML file.", show_default=False)]


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
