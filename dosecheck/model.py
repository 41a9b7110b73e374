"""Plain data objects shared by the I/O layer and the numerical core.

Nothing here imports pydicom: the DICOM readers in :mod:`dosecheck.dicom` produce
these objects, and the numerical core in :mod:`dosecheck.core` consumes them.

Coordinates are DICOM patient coordinates in millimetres. Doses are in gray.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class DoseGrid:
    """A 3-D dose distribution on a rectilinear, axis-aligned grid.

    The reader normalises every supported orientation so that all three coordinate
    vectors are strictly ascending and ``dose_gy[k, j, i]`` is the dose at
    ``(x[i], y[j], z[k])``. Spacing along z may be non-uniform.

    Attributes
    ----------
    x, y, z
        Voxel-centre coordinates (mm), strictly ascending, shapes ``(nx,)``,
        ``(ny,)``, ``(nz,)``.
    dose_gy
        Dose in Gy, ``float32``, shape ``(nz, ny, nx)``.
    frame_of_reference_uid
        FrameOfReferenceUID of the dose (empty if absent).
    summation_type
        DoseSummationType as read (``PLAN``, ``MULTI_PLAN``, ``FRACTION``, ``BEAM``;
        ``"PLAN"`` when the attribute is missing, with a note), or ``"PLAN"`` after
        FRACTION dose was scaled or BEAM doses were summed to the plan dose.
    sources
        Paths of the file(s) this grid was read or summed from.
    sop_instance_uids
        SOPInstanceUID of each source file.
    notes
        Human-readable notes on how the grid was derived (summed, scaled,
        resampled), for the report.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    dose_gy: np.ndarray
    frame_of_reference_uid: str = ""
    summation_type: str = "PLAN"
    sources: tuple[str, ...] = ()
    sop_instance_uids: tuple[str, ...] = ()
    referenced_plan_uid: str = ""
    notes: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(nz, ny, nx)``."""
        return tuple(self.dose_gy.shape)  # type: ignore[return-value]

    @property
    def max_gy(self) -> float:
        """Maximum dose on the grid (Gy)."""
        return float(self.dose_gy.max()) if self.dose_gy.size else 0.0


@dataclass(frozen=True, eq=False)
class Structure:
    """One ROI's closed planar contours, stored as flat NumPy arrays.

    Contour ``i`` is ``xy[offsets[i]:offsets[i + 1]]`` and lies on the plane
    ``z = z[i]``. Contours are implicitly closed (last point joins the first).

    Attributes
    ----------
    number
        ROINumber.
    name
        ROIName as written in the file.
    xy
        ``(n_points, 2)`` float64 in-plane coordinates (mm).
    offsets
        ``(n_contours + 1,)`` int64 start offsets into ``xy``.
    z
        ``(n_contours,)`` float64 plane coordinate of each contour (mm).
    interpreted_type
        RTROIInterpretedType (``PTV``, ``ORGAN``, ``EXTERNAL``, …) or ``""``.
    color
        ROIDisplayColor as ``(r, g, b)`` or ``None``.
    notes
        What the reader skipped or repaired (POINT/OPEN contours, …).
    """

    number: int
    name: str
    xy: np.ndarray
    offsets: np.ndarray
    z: np.ndarray
    interpreted_type: str = ""
    color: tuple[int, int, int] | None = None
    notes: tuple[str, ...] = ()

    @property
    def n_contours(self) -> int:
        return int(self.z.shape[0])

    @property
    def is_empty(self) -> bool:
        """True when the ROI has no closed planar contour."""
        return self.n_contours == 0

    @classmethod
    def from_contours(
        cls,
        number: int,
        name: str,
        contours: list[tuple[float, np.ndarray]],
        **kwargs: object,
    ) -> Structure:
        """Build from a list of ``(z, (n, 2) array)`` pairs (convenient in tests)."""
        if contours:
            xy = np.concatenate([np.asarray(c, dtype=np.float64) for _, c in contours])
            lengths = np.array([len(c) for _, c in contours], dtype=np.int64)
            z = np.array([zz for zz, _ in contours], dtype=np.float64)
        else:
            xy = np.zeros((0, 2))
            lengths = np.zeros(0, dtype=np.int64)
            z = np.zeros(0)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return cls(number=number, name=name, xy=xy, offsets=offsets, z=z, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class StructureSet:
    """The ROIs of one RTSTRUCT file."""

    structures: tuple[Structure, ...]
    frame_of_reference_uid: str = ""
    path: str = ""
    sop_instance_uid: str = ""
    label: str = ""
    patient_id: str = ""
    patient_name: str = ""
    notes: tuple[str, ...] = ()

    def by_number(self, number: int) -> Structure:
        for s in self.structures:
            if s.number == number:
                return s
        raise KeyError(number)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.structures]


@dataclass(frozen=True)
class PlanInfo:
    """What dosecheck uses from an RTPLAN."""

    path: str = ""
    label: str = ""
    name: str = ""
    sop_instance_uid: str = ""
    prescription_gy: float | None = None
    fractions: int | None = None
    referenced_structure_set_uid: str = ""
    frame_of_reference_uid: str = ""
    patient_id: str = ""


@dataclass(frozen=True)
class PlanFiles:
    """The files that make up one plan."""

    rtstruct: str
    rtdose: tuple[str, ...]
    rtplan: str | None = None
    root: str = ""


@dataclass(frozen=True)
class PlanSumPart:
    """One plan of a plan sum (e.g. the boost of a sequential boost course).

    Attributes
    ----------
    label
        RTPlanLabel.
    plan_uid
        SOPInstanceUID of the RTPLAN.
    prescription_gy
        TargetPrescriptionDose of the RTPLAN (``None`` when it gives none).
    fractions
        NumberOfFractionsPlanned of the RTPLAN.
    rtplan
        Path of the RTPLAN.
    rtdose
        Path(s) of the RTDOSE file(s) of this plan.
    """

    label: str
    plan_uid: str
    prescription_gy: float | None
    fractions: int
    rtplan: str
    rtdose: tuple[str, ...]

    @property
    def dose_per_fraction_gy(self) -> float | None:
        """Prescription dose per fraction (Gy), ``None`` without a prescription."""
        return None if self.prescription_gy is None else self.prescription_gy / self.fractions

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: the attributes and ``dose_per_fraction_gy``."""
        return {
            "label": self.label,
            "plan_uid": self.plan_uid,
            "prescription_gy": self.prescription_gy,
            "fractions": self.fractions,
            "dose_per_fraction_gy": self.dose_per_fraction_gy,
            "rtplan": self.rtplan,
            "rtdose": list(self.rtdose),
        }


@dataclass(frozen=True, eq=False)
class PlanSum:
    """How a plan's dose was summed from several plans of one structure set.

    Attributes
    ----------
    parts
        The plans, in the order summed.
    part_doses_gy
        Each part's physical dose resampled onto the summed grid (``float32``, shape
        of the plan's ``dose.dose_gy``), for the voxel-wise EQD2 sum.
    note
        Why the sum was used when it was not asked for (``""`` when asked for).
    """

    parts: tuple[PlanSumPart, ...]
    part_doses_gy: tuple[np.ndarray, ...]
    note: str = ""

    @property
    def fractions(self) -> tuple[int, ...]:
        """Each part's number of fractions."""
        return tuple(p.fractions for p in self.parts)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``{parts: [...], note}``."""
        return {"parts": [p.to_dict() for p in self.parts], "note": self.note}


@dataclass(eq=False)
class Plan:
    """A loaded plan: structures, dose and (optionally) the RTPLAN.

    ``plan_sum`` is set when the dose is the sum of several plans of one structure
    set (then ``plan_info`` holds their summed prescription and fractions).
    """

    files: PlanFiles
    structure_set: StructureSet
    dose: DoseGrid
    plan_info: PlanInfo | None = None
    warnings: list[str] = field(default_factory=list)
    plan_sum: PlanSum | None = None
