"""``dosecheck listen``: run as a DICOM node; check every plan the planning system sends.

A thin layer over :class:`dosecheck.node.listener.Listener`: options, logging to
stderr (one line per association and per plan), SIGTERM/SIGINT to stop gracefully
(exit 0). Bad options exit 2 before anything is bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dosecheck._runtime import resume_cyclic_gc
from dosecheck.commands.options import (
    CompareTpsOpt,
    EndCapsOpt,
    ProtocolMapOpt,
    RunConstraintsOpt,
    RunSiteNamesOpt,
    RunStrictOpt,
    ShapeRangeOpt,
)


def listen(
    store: Annotated[
        Path,
        typer.Option(
            "--store",
            help="Folder where every received object is kept (one folder per patient "
            "and study, files named by SOP Instance UID).",
        ),
    ],
    db: Annotated[Path, typer.Option("--db", help="SQLite results database.")] = Path(
        "results.sqlite"
    ),
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")
    ] = 11112,
    ae_title: Annotated[str, typer.Option("--ae-title", help="This node's AE title.")] = (
        "DOSECHECK"
    ),
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Default loopback (this machine only); 0.0.0.0 "
            "for every interface: then restrict senders with --allow-aet and a firewall.",
        ),
    ] = "127.0.0.1",
    allow_aet: Annotated[
        list[str] | None,
        typer.Option("--allow-aet", help="Calling AE title to accept (repeatable); default: any."),
    ] = None,
    reports: Annotated[
        Path | None,
        typer.Option("--reports", help="Folder for one HTML report per plan checked."),
    ] = None,
    constraints: RunConstraintsOpt = None,
    protocol_map: ProtocolMapOpt = None,
    quiet_seconds: Annotated[
        float,
        typer.Option(
            "--quiet-seconds",
            min=0.0,
            help="Check a complete plan once none of its objects arrived for this long "
            "(or its association ended).",
        ),
    ] = 10.0,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: CPUs - 1, 1-4)."),
    ] = None,
    strict: RunStrictOpt = False,
    site_names: RunSiteNamesOpt = None,
    compare_tps: CompareTpsOpt = False,
    end_caps: EndCapsOpt = None,
    shape_range: ShapeRangeOpt = False,
    stop_grace: Annotated[
        float,
        typer.Option(
            "--stop-grace",
            min=0.0,
            help="On SIGTERM, seconds open associations may go on before they are aborted.",
        ),
    ] = 30.0,
    exit_after_idle: Annotated[
        float | None,
        typer.Option(
            "--exit-after-idle",
            min=0.0,
            help="Stop (exit 0) once nothing was received, waiting or being checked for "
            "this long (scripts and tests; a service runs until SIGTERM).",
        ),
    ] = None,
) -> None:
    """Run as a DICOM node (C-STORE SCP): store every object received, check each
    plan once complete, record the results in the database (dosecheck results).

    Runs until SIGTERM or Ctrl-C: it stops accepting, finishes the plans in flight,
    and exits 0.
    """
    resume_cyclic_gc()  # a long run: cycles are collected (dosecheck/_runtime.py)
    import logging
    import signal

    from dosecheck.batch.runner import CheckOptions, ConstraintSelection
    from dosecheck.commands._run import naming_options
    from dosecheck.node.listener import Listener, ListenOptions, default_jobs
    from dosecheck.node.scp import import_pynetdicom

    import_pynetdicom()  # exit 2 with the install line before anything else
    selection = ConstraintSelection.from_options(constraints, protocol_map)
    names = naming_options(site_names.resolve() if site_names else None, None)["site_names"]
    options = ListenOptions(
        store=store,
        db=db,
        ae_title=ae_title,
        host=host,
        port=port,
        allow_aet=tuple(allow_aet or ()),
        reports=reports,
        constraints=constraints,
        protocol_map=protocol_map,
        quiet_seconds=quiet_seconds,
        jobs=jobs or default_jobs(),
        strict=strict,
        check_options=CheckOptions(
            compare_tps=compare_tps,
            end_caps=str(end_caps) if end_caps is not None else None,
            shape_range=shape_range,
        ),
        stop_grace_seconds=stop_grace,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    node_log = logging.getLogger("dosecheck.node")
    node_log.addHandler(handler)
    node_log.setLevel(logging.INFO)
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)  # our own lines say it
    listener = Listener(options, selection=selection, site_names=names)

    def stop(signum: int, frame: object) -> None:
        listener.request_stop()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        listener.start()
        if exit_after_idle is not None:
            listener.serve_until(lambda node: node.idle_for() >= exit_after_idle)
        else:
            listener.serve_until()
        node_log.info("stopping: no new associations; finishing the plans in flight")
        listener.stop()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        node_log.removeHandler(handler)
