"""``dosecheck verify RESULT.json PLAN``: is the plan on disk the one that was checked?

Exit codes: 0 every object recorded is there with the same SHA-256; 1 one is missing
or changed (each named on stderr); 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def verify(
    result: Annotated[
        Path,
        typer.Argument(help="The JSON of 'dosecheck check --format json', or a results database."),
    ],
    plan: Annotated[Path, typer.Argument(help="The plan's folder (or a file of it).")],
    plan_id: Annotated[
        int | None,
        typer.Option(
            "--id",
            help="With a results database: the evaluation's id "
            "(evaluation_id in results --format json).",
        ),
    ] = None,
) -> None:
    """Re-hash the plan's files against the SHA-256 and SOP Instance UIDs the check
    recorded (in its JSON, or in a results database with --id). Exit 0 same plan, 1 an
    object changed or missing, 2 bad input."""
    from dosecheck.batch.verify_records import recorded_objects_in_db
    from dosecheck.checking.verify import load_result, verify_plan

    if plan_id is not None:
        objects = recorded_objects_in_db(result, plan_id)
        outcome = verify_plan(None, plan, where=result, objects=objects)
    else:
        outcome = verify_plan(load_result(result), plan, where=result)
    if outcome.ok:
        sys.stdout.write(
            f"same: the {len(outcome.same)} object(s) checked in {result} are in {plan} unchanged\n"
        )
        return
    for line in outcome.changed:
        sys.stderr.write(f"changed: {line}\n")
    raise typer.Exit(1)
