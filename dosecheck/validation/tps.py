"""dosecheck beside the planning systems' own DVHs on the shared real exports.

Used by ``scripts/validate.py`` (``docs/validation.md``) and the shared-data tests.
Each dataset gives one :class:`TpsRow` per ROI that has a TPS DVH:

* ``dicompyler-core-example``: Eclipse, DVHSequence in the RTDOSE;
* ``robustbrachy-hdr-prostate/v2021_initial`` and ``v2024_updated``: a brachytherapy
  system (presumably Varian Vitesse), DVHSequence with an EXCLUDED ROI, internally
  inconsistent;
* ``slicerrt-eclipse-prostate``: Eclipse 8.1 DVH tables exported as CSV, and the RTDOSE
  only as SlicerRT's NRRD conversion: the NRRD is read into a dose grid here (float32 Gy,
  LPS = DICOM patient axes, origin at the first voxel centre) and the tables into
  TPS DVHs in cc (per cent of the volume the header names).
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dosecheck.core.structures import StructureDVH, compute_dvhs
from dosecheck.core.tps_dvh import TpsDVH
from dosecheck.core.tps_plan import reconcile_plan
from dosecheck.model import DoseGrid, Plan, PlanFiles

__all__ = ["TpsRow", "dataset_rows", "read_eclipse_dvh_table", "read_nrrd_dose"]


@dataclass(frozen=True)
class TpsRow:
    """One ROI: both engines' volume and mean, the comparison's headline figures."""

    roi: str
    tps_volume_cc: float | None
    volume_cc: float
    volume_pct: float | None
    mean_gy: float | None
    d95_gy: float | None
    agree: bool | None
    explanations: tuple[str, ...]


def read_nrrd_dose(path: Path, **identity: str) -> DoseGrid:
    """A gzip-encoded float NRRD dose in LPS with axis-aligned directions, as a grid."""
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n\n")
    fields = {}
    for line in head.decode("ascii").splitlines()[1:]:
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    if fields.get("type") != "float" or fields.get("encoding") != "gzip":
        raise ValueError(f"{path}: only gzip float NRRD is read")
    sizes = [int(x) for x in fields["sizes"].split()]
    dirs = [
        [float(x) for x in d.strip("()").split(",")] for d in fields["space directions"].split()
    ]
    origin = [float(x) for x in fields["space origin"].strip("()").split(",")]
    if fields.get("space") != "left-posterior-superior" or not np.allclose(
        np.abs(dirs), np.diag(np.abs(np.diag(dirs)))
    ):
        raise ValueError(f"{path}: only axis-aligned LPS NRRD is read")
    data = np.frombuffer(gzip.decompress(body), dtype="<f4").reshape(sizes[::-1])
    axes = [origin[i] + dirs[i][i] * np.arange(sizes[i]) for i in range(3)]
    return DoseGrid(
        x=axes[0],
        y=axes[1],
        z=axes[2],
        dose_gy=np.ascontiguousarray(data, dtype=np.float32),
        sources=(str(path),),
        **identity,  # type: ignore[arg-type]
    )


def read_eclipse_dvh_table(
    path: Path, roi_numbers: dict[str, int]
) -> tuple[list[TpsDVH], list[str]]:
    """The SlicerRT-formatted Eclipse DVH table: per ROI, dose (Gy) and cumulative
    volume in per cent of the volume in the header. Rows whose dose breaks the
    ascending order (one corrupted row upstream) are dropped, with a note."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header = [h.strip() for h in rows[0] if h.strip()]
    data = [[c.strip() for c in r] for r in rows[1:] if any(c.strip() for c in r)]
    out: list[TpsDVH] = []
    notes: list[str] = []
    for col in range(0, len(header) - 1, 2):
        name = header[col].split("_DvhArray")[0]
        m = re.search(r"% of ([0-9.]+) cc", header[col + 1])
        number = roi_numbers.get(name.casefold())
        if m is None or number is None:
            continue
        cells = [r for r in data if len(r) > col + 1 and r[col]]
        dose = np.array([float(r[col]) for r in cells])
        vol = np.array([float(r[col + 1]) for r in cells])
        keep = np.ones(dose.size, bool)
        keep[1:] = dose[1:] > np.maximum.accumulate(dose)[:-1]
        if not keep.all():
            notes.append(
                f"{name}: {int((~keep).sum())} row(s) of the Eclipse table with a dose out of "
                "order dropped (the upstream file's corrupted row)"
            )
        dose, vol = dose[keep], vol[keep]
        total = float(m[1])
        out.append(
            TpsDVH(
                item=len(out) + 1,
                rois=((number, "INCLUDED"),),
                dvh_type="CUMULATIVE",
                dose_units="GY",
                dose_type="PHYSICAL",
                volume_units="CM3",
                dose_scaling=1.0,
                declared_bins=None,
                widths=np.diff(dose),
                values=vol[:-1] / 100.0 * total,
                source=str(path),
            )
        )
    return out, notes


def _rows(items: list[StructureDVH]) -> list[TpsRow]:
    rows = []
    for i in items:
        r = i.tps
        if r is None or r.tps is None:
            continue
        c = r.comparison
        curve = r.curve.dvh if r.curve is not None else None
        rows.append(
            TpsRow(
                roi=i.structure.name,
                tps_volume_cc=curve.volume_cc if curve is not None else None,
                volume_cc=i.dvh.volume_cc,
                volume_pct=c.volume_pct if c else None,
                mean_gy=c.mean_gy if c and np.isfinite(c.mean_gy) else None,
                d95_gy=c.dose_metrics_gy.get("D95%") if c else None,
                agree=c.agree if c else None,
                explanations=(c.explanations if c else ()) + ((r.note,) if r.note else ()),
            )
        )
    return rows


def dataset_rows(shared: Path, name: str) -> tuple[list[TpsRow], list[str]]:
    """The comparison rows of one shared dataset (``name`` as in the module docstring)."""
    from dosecheck.dicom.load import load_plan
    from dosecheck.dicom.tps_dvh import reconcile_with_tps

    folder = shared / name
    if name != "slicerrt-eclipse-prostate":
        plan = load_plan(folder)
        items = compute_dvhs(plan, jobs=1)
        structures = [s for s in items if s.structure.interpreted_type != "BRACHY_CHANNEL"]
        out, notes = reconcile_with_tps(plan, structures)
        return _rows(out), notes
    from dosecheck.dicom.plan import read_rtplan
    from dosecheck.dicom.structures import read_rtstruct

    rs = next((folder / "dicom").glob("RS*.dcm"))
    rp = next((folder / "dicom").glob("RP*.dcm"))
    sset = read_rtstruct(rs)
    info = read_rtplan(rp)
    grid = read_nrrd_dose(folder / "dose_nrrd" / "EclipseProstate_Dose.nrrd")
    numbers = {s.name.replace(" ", "").casefold(): s.number for s in sset.structures}
    tps, notes = read_eclipse_dvh_table(
        folder / "reference" / "EclipseProstate_DvhTable_Eclipse.csv", numbers
    )
    plan = Plan(
        files=PlanFiles(rtstruct=str(rs), rtdose=(str(grid.sources[0]),), rtplan=str(rp)),
        structure_set=sset,
        dose=grid,
        plan_info=info,
    )
    wanted = {t.included[0] for t in tps}
    chosen = [s.name for s in sset.structures if s.number in wanted]
    items = compute_dvhs(plan, chosen, jobs=1)
    out, more = reconcile_plan(plan, items, tps)
    return _rows(out), notes + more
