"""Plain data objects shared by the I/O layer and the numerical core.

Nothing here imports pydicom: the DICOM readers in :mod:`dosecheck.dicom` produce
these objects, and the numerical core in :mod:`dosecheck.core` consumes them.

Coordinates are DICOM patient coordinates in millimetres. Doses are in gray.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dosecheck.core.dose_scale import DoseScaleCheck
    from dosecheck.core.structures import SharedDVHs


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
    scaling_gy
        Gy per stored integer (DoseGridScaling, converted from cGy where needed):
        every value of the file is quantised to it. ``0.0`` when unknown (a summed
        or derived grid, or one not read from a file).
    referenced_beam_numbers
        The RTPLAN beams this dose belongs to (ReferencedRTPlanSequence >
        ReferencedFractionGroupSequence > ReferencedBeamSequence >
        ReferencedBeamNumber): one number for a BEAM dose, one per file for summed
        BEAM doses; ``()`` when the file names no beam.
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
    scaling_gy: float = 0.0
    referenced_beam_numbers: tuple[int, ...] = ()

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(nz, ny, nx)``."""
        return tuple(self.dose_gy.shape)  # type: ignore[return-value]

    @property
    def max_gy(self) -> float:
        """Maximum dose on the grid (Gy)."""
        return float(self.dose_gy.max()) if self.dose_gy.size else 0.0


#: The attributes of a :class:`Structure` that a deferred one makes on first use.
_GEOMETRY_FIELDS = ("xy", "offsets", "z")


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

    @classmethod
    def deferred(
        cls,
        number: int,
        name: str,
        geometry: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]],
        n_contours: int,
        n_points: int,
        **kwargs: object,
    ) -> Structure:
        """A structure whose ``xy``, ``offsets`` and ``z`` are made on first use.

        ``geometry()`` returns them (and raises the reader's error for bad contour
        data); it runs once, when one of the three is first read. A reader uses this
        so that a check that needs three ROIs of thirty does not parse and verify the
        contour data of the other twenty-seven (issue #11). ``geometry`` must be
        picklable for the structure to be, and give ``n_contours`` contours of
        ``n_points`` points in all (known before parsing, so :attr:`is_empty` and
        :attr:`n_points` do not parse).
        """
        self = object.__new__(cls)
        values = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
        values.update(number=number, name=name, **kwargs)
        for key, value in values.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_geometry", geometry)
        object.__setattr__(self, "_n_contours", int(n_contours))
        object.__setattr__(self, "_n_points", int(n_points))
        return self

    def __getattr__(self, attr: str) -> np.ndarray:
        # Only reached when normal lookup fails: a deferred structure's geometry.
        if attr in _GEOMETRY_FIELDS:
            geometry = self.__dict__.get("_geometry")
            if geometry is not None:
                for key, value in zip(_GEOMETRY_FIELDS, geometry(), strict=True):
                    object.__setattr__(self, key, value)
                object.__setattr__(self, "_geometry", None)
                return self.__dict__[attr]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def adopt_geometry(self, xy: np.ndarray, offsets: np.ndarray, z: np.ndarray) -> None:
        """Take the geometry a copy of this deferred structure made elsewhere (a worker
        process that parsed it), instead of parsing again; no effect once made here."""
        if not self.is_deferred:
            return
        for key, value in zip(_GEOMETRY_FIELDS, (xy, offsets, z), strict=True):
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_geometry", None)

    @property
    def is_deferred(self) -> bool:
        """True while the geometry of a :meth:`deferred` structure has not been made."""
        return self.__dict__.get("_geometry") is not None

    @property
    def n_contours(self) -> int:
        if self.is_deferred:
            return int(self.__dict__["_n_contours"])
        return int(self.z.shape[0])

    @property
    def n_points(self) -> int:
        """Number of contour points (of the contours kept)."""
        if self.is_deferred:
            return int(self.__dict__["_n_points"])
        return int(self.xy.shape[0])

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
class BeamDoseInfo:
    """One ReferencedBeamSequence item of the RTPLAN's first fraction group.

    ``dose_gy`` is BeamDose (Gy per fraction, ``None`` when absent, e.g. setup beams);
    ``point_mm`` is BeamDoseSpecificationPoint ``(x, y, z)`` (``None`` when absent).
    """

    beam_number: int
    dose_gy: float | None = None
    point_mm: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class DoseReferencePoint:
    """A DoseReferenceSequence item with DoseReferencePointCoordinates.

    ``prescription_gy`` is its TargetPrescriptionDose (Gy for the course; ``None`` when
    absent, e.g. organ-at-risk points).
    """

    number: int
    description: str
    reference_type: str
    point_mm: tuple[float, float, float]
    prescription_gy: float | None = None


@dataclass(frozen=True)
class TargetReference:
    """A VOLUME dose reference of an RTPLAN: the ROI a prescription is written for.

    Attributes
    ----------
    roi_number
        ReferencedROINumber (the ROINumber in the RTSTRUCT).
    prescription_gy
        TargetPrescriptionDose (Gy), or ``None`` when absent.
    dose_reference_number
        DoseReferenceNumber, or ``None`` when absent.
    dose_reference_type
        DoseReferenceType (``TARGET`` or ``ORGAN_AT_RISK``; ``""`` when absent).
    description
        DoseReferenceDescription (may be empty).
    """

    roi_number: int
    prescription_gy: float | None = None
    dose_reference_number: int | None = None
    dose_reference_type: str = ""
    description: str = ""


@dataclass(frozen=True)
class PlanInfo:
    """What dosecheck uses from an RTPLAN.

    ``beam_doses``, ``dose_reference_points`` and ``brachytherapy`` (brachy
    application setups, no beams) serve the dose-scale check
    (:mod:`dosecheck.core.dose_scale`). ``target_references`` are the
    DoseReferenceSequence items of structure type VOLUME with a ReferencedROINumber and
    type TARGET (or no type), restricted to those the first fraction group lists in
    ReferencedDoseReferenceSequence when it lists any: the prescribed target, for
    structure matching and the dose-scale check's target fallback.
    ``prescription_levels_gy`` are the distinct TargetPrescriptionDose values of all
    DoseReferenceSequence items, in file order (``prescription_gy`` is the largest):
    how many dose levels the RTPLAN records, for telling a ``_High`` target apart.
    """

    path: str = ""
    label: str = ""
    name: str = ""
    sop_instance_uid: str = ""
    prescription_gy: float | None = None
    fractions: int | None = None
    referenced_structure_set_uid: str = ""
    frame_of_reference_uid: str = ""
    patient_id: str = ""
    beam_doses: tuple[BeamDoseInfo, ...] = ()
    dose_reference_points: tuple[DoseReferencePoint, ...] = ()
    target_references: tuple[TargetReference, ...] = ()
    brachytherapy: bool = False
    prescription_levels_gy: tuple[float, ...] = ()

    @property
    def prescribed_roi_numbers(self) -> tuple[int, ...]:
        """ROINumbers of the target references that carry a TargetPrescriptionDose."""
        return tuple(
            dict.fromkeys(
                t.roi_number for t in self.target_references if t.prescription_gy is not None
            )
        )


@dataclass(frozen=True)
class PlanFiles:
    """The files that make up one plan.

    Attributes
    ----------
    rtstruct, rtdose, rtplan
        The structure set, the dose file(s) (several are summed) and the RTPLAN.
    root
        The folder the plan was found in (``""`` for explicit files).
    beam_doses
        BEAM doses of the plan beside its PLAN dose ``rtdose``: not added to it, but
        summed and compared with it voxel by voxel (:class:`BeamDoseCheck`).
    """

    rtstruct: str
    rtdose: tuple[str, ...]
    rtplan: str | None = None
    root: str = ""
    beam_doses: tuple[str, ...] = ()


@dataclass(frozen=True)
class BeamDoseCheck:
    """The PLAN dose compared with the sum of its BEAM doses.

    Attributes
    ----------
    plan_dose
        The PLAN dose file.
    beam_doses
        The BEAM dose files summed.
    max_abs_diff_gy
        Largest |PLAN − sum of beams| over the compared voxels (Gy); when some are
        beyond their tolerance, the largest among those.
    at_mm
        Where it is: voxel centre ``(x, y, z)`` of the PLAN grid (mm).
    tolerance_gy
        The difference allowed there: half a DoseGridScaling step of the PLAN dose
        plus half a step of each beam dose (each file's values are rounded to its
        step), plus, where the beams were resampled, a bound on the trilinear
        interpolation error.
    consistent
        Every compared voxel is within its tolerance.
    resampled
        The beam doses were on other grids and were interpolated onto the PLAN grid.
    n_compared
        Voxels compared (PLAN voxels inside every beam grid).
    """

    plan_dose: str
    beam_doses: tuple[str, ...]
    max_abs_diff_gy: float
    at_mm: tuple[float, float, float]
    tolerance_gy: float
    consistent: bool
    resampled: bool = False
    n_compared: int = 0

    def describe(self) -> str:
        """The finding in one sentence (for the warning or the ``--strict`` error)."""
        x, y, z = self.at_mm
        n = len(self.beam_doses)
        where = f"at ({x:.1f}, {y:.1f}, {z:.1f}) mm"
        how = " (beams resampled onto the PLAN grid)" if self.resampled else ""
        if self.consistent:
            return (
                f"the PLAN dose agrees with the sum of its {n} BEAM doses{how}: largest "
                f"difference {self.max_abs_diff_gy:.4g} Gy {where}, within the "
                f"{self.tolerance_gy:.2g} Gy the dose files' DoseGridScaling allows"
            )
        return (
            f"the PLAN dose and the sum of its {n} BEAM doses differ{how} by "
            f"{self.max_abs_diff_gy:.4g} Gy {where}, more than the {self.tolerance_gy:.2g} Gy "
            "the dose files' DoseGridScaling allows (a beam missing, or a beam of another "
            "plan?)"
        )

    def to_dict(self) -> dict[str, object]:
        """The JSON record (``plan.beam_dose_check``)."""
        return {
            "plan_dose": self.plan_dose,
            "beam_doses": list(self.beam_doses),
            "max_abs_diff_gy": self.max_abs_diff_gy,
            "at_mm": list(self.at_mm),
            "tolerance_gy": self.tolerance_gy,
            "consistent": self.consistent,
            "resampled": self.resampled,
            "n_compared": self.n_compared,
        }


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

    ``beam_dose_check`` is set when BEAM doses were given beside the PLAN dose.
    ``plan_sum`` is set when the dose is the sum of several plans of one structure
    set (then ``plan_info`` holds their summed prescription and fractions).
    """

    files: PlanFiles
    structure_set: StructureSet
    dose: DoseGrid
    plan_info: PlanInfo | None = None
    warnings: list[str] = field(default_factory=list)
    #: The check of the dose's scale against the RTPLAN, set by the loader.
    dose_scale: DoseScaleCheck | None = None
    #: The PLAN dose against the sum of its BEAM doses, set by the loader.
    beam_dose_check: BeamDoseCheck | None = None
    #: The parts when the dose is the sum of several plans, set by the plan-sum loader.
    plan_sum: PlanSum | None = None
    #: The dose field and DVHs the loader computed on ``dose`` (the dose-scale check's
    #: target), reused by the DVH step when it asks for the same ones.
    shared_dvhs: SharedDVHs | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class PlanIdentity:
    """Who and what a loaded plan is: files, patient, label, UIDs, prescription.

    The ``plan`` object of the JSON outputs (:meth:`to_dict`).
    """

    path: str
    rtstruct: str
    rtdose: tuple[str, ...]
    rtplan: str | None
    patient_id: str
    plan_label: str
    structure_set_uid: str
    dose_uids: tuple[str, ...]
    plan_uid: str
    dose_summation_type: str
    prescription_gy: float | None
    fractions: int | None
    dose_scale: DoseScaleCheck | None = None
    beam_dose_check: BeamDoseCheck | None = None
    plan_sum: PlanSum | None = None

    @classmethod
    def of(cls, plan: Plan) -> PlanIdentity:
        """The identity of a loaded plan (RTPLAN values where there is one)."""
        info = plan.plan_info
        ss = plan.structure_set
        return cls(
            path=plan.files.root,
            rtstruct=plan.files.rtstruct,
            rtdose=tuple(plan.files.rtdose),
            rtplan=plan.files.rtplan,
            patient_id=ss.patient_id or (info.patient_id if info else ""),
            plan_label=info.label if info else "",
            structure_set_uid=ss.sop_instance_uid,
            dose_uids=tuple(plan.dose.sop_instance_uids),
            plan_uid=info.sop_instance_uid if info else "",
            dose_summation_type=plan.dose.summation_type,
            prescription_gy=info.prescription_gy if info else None,
            fractions=info.fractions if info else None,
            dose_scale=plan.dose_scale,
            beam_dose_check=plan.beam_dose_check,
            plan_sum=plan.plan_sum,
        )

    def to_dict(self) -> dict[str, object]:
        """JSON keys in a fixed order; ``dose_scale`` always (``None`` when not checked),
        ``beam_dose_check`` and ``plan_sum`` only when there is one."""
        out: dict[str, object] = {
            "path": self.path,
            "rtstruct": self.rtstruct,
            "rtdose": list(self.rtdose),
            "rtplan": self.rtplan,
            "patient_id": self.patient_id,
            "plan_label": self.plan_label,
            "structure_set_uid": self.structure_set_uid,
            "dose_uids": list(self.dose_uids),
            "plan_uid": self.plan_uid,
            "dose_summation_type": self.dose_summation_type,
            "prescription_gy": self.prescription_gy,
            "fractions": self.fractions,
            "dose_scale": self.dose_scale.to_dict() if self.dose_scale is not None else None,
        }
        if self.beam_dose_check is not None:
            out["beam_dose_check"] = self.beam_dose_check.to_dict()
        if self.plan_sum is not None:
            out["plan_sum"] = self.plan_sum.to_dict()
        return out
