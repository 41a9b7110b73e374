"""Write valid DICOM RT files (RTSTRUCT, RTDOSE, RTPLAN) from model objects.

Used by the tests, the sample-plan generator and the benchmarks. The files are
Explicit VR Little Endian with a proper File Meta Information header and the
standard SOP Class UIDs, and every writer returns the SOPInstanceUID it wrote.

:func:`write_rtdose` can encode the same physical dose in any of the four
patient orientations (and transposed ones), with a relative or absolute
GridFrameOffsetVector in ascending or descending order, so reader round trips can
be tested on every layout the reader accepts.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import format_number_as_ds

from dosecheck.model import DoseGrid, PlanInfo, StructureSet

__all__ = [
    "ORIENTATIONS",
    "RT_DOSE_SOP_CLASS",
    "RT_PLAN_SOP_CLASS",
    "RT_STRUCT_SOP_CLASS",
    "write_rtdose",
    "write_rtplan",
    "write_rtstruct",
]

RT_STRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
RT_DOSE_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.2"
RT_PLAN_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.5"

#: ImageOrientationPatient of the four standard patient positions.
ORIENTATIONS: dict[str, tuple[int, int, int, int, int, int]] = {
    "HFS": (1, 0, 0, 0, 1, 0),
    "FFS": (-1, 0, 0, 0, 1, 0),
    "HFP": (-1, 0, 0, 0, -1, 0),
    "FFP": (1, 0, 0, 0, -1, 0),
}

_CONTOUR_DATA = Tag(0x3006, 0x0050)


def _ds(value: float) -> str:
    """Format one number as a valid DICOM decimal string (≤ 16 characters)."""
    return format_number_as_ds(float(value))


def _ds_list(values: Sequence[float] | np.ndarray) -> list[str]:
    return [_ds(v) for v in np.asarray(values, dtype=np.float64).ravel().tolist()]


def _new_file_dataset(
    path: str | Path,
    *,
    sop_class_uid: str,
    sop_instance_uid: str,
    modality: str,
    patient_id: str,
    patient_name: str,
    study_uid: str | None,
    series_uid: str | None,
) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    now = _dt.datetime.now()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    ds.StudyDate = now.strftime("%Y%m%d")
    ds.StudyTime = now.strftime("%H%M%S")
    ds.AccessionNumber = ""
    ds.Modality = modality
    ds.Manufacturer = "dosecheck"
    ds.ReferringPhysicianName = ""
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.StudyID = ""
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    return ds


def _save(ds: FileDataset, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)


# --------------------------------------------------------------------------- RTSTRUCT


def _format_values(values: np.ndarray) -> list[str]:
    """Format float64 values as DS strings of at most 16 characters.

    ``%.10g`` keeps short decimals exact (``1.5`` → ``"1.5"``) and never exceeds
    16 characters for ``1e-99 < |v| < 1e100``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(v)):
        raise ValueError("contour coordinates must be finite")
    if v.size and np.max(np.abs(v)) >= 1e99:
        raise ValueError("contour coordinates must be smaller than 1e99 mm")
    v = np.where(np.abs(v) < 1e-90, 0.0, v)
    return ["%.10g" % x for x in v.tolist()]  # noqa: UP031 (fastest formatter measured)


def _raw_ds_element(tag: int, text: str) -> RawDataElement:
    data = text.encode("ascii")
    if len(data) % 2:
        data += b" "
    return RawDataElement(Tag(tag), "DS", len(data), data, 0, False, True)


def write_rtstruct(
    path: str | Path,
    structure_set: StructureSet,
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
) -> str:
    """Write ``structure_set`` as an RT Structure Set file.

    Every contour is written as a CLOSED_PLANAR item whose ContourData holds
    ``x, y, z`` triplets. ContourData values are formatted with ``%.10g`` in one
    pass and stored as raw element bytes, so 300k points take well under a
    second (pydicom's per-value DS objects would take several).

    Parameters
    ----------
    path
        Output file.
    structure_set
        The ROIs to write. Its ``patient_id``, ``patient_name``, ``label``,
        ``frame_of_reference_uid`` and ``sop_instance_uid`` are used when set.
    study_uid, series_uid
        StudyInstanceUID and SeriesInstanceUID (generated when ``None``).
    sop_instance_uid
        SOPInstanceUID; defaults to ``structure_set.sop_instance_uid`` or a new UID.
    frame_of_reference_uid
        Overrides ``structure_set.frame_of_reference_uid`` (a new UID when both
        are empty).

    Returns
    -------
    str
        The SOPInstanceUID written.
    """
    uid = sop_instance_uid or structure_set.sop_instance_uid or generate_uid()
    for_uid = frame_of_reference_uid or structure_set.frame_of_reference_uid or generate_uid()
    ds = _new_file_dataset(
        path,
        sop_class_uid=RT_STRUCT_SOP_CLASS,
        sop_instance_uid=uid,
        modality="RTSTRUCT",
        patient_id=structure_set.patient_id,
        patient_name=structure_set.patient_name,
        study_uid=study_uid,
        series_uid=series_uid,
    )
    now = _dt.datetime.now()
    ds.StructureSetLabel = structure_set.label or "dosecheck"
    ds.StructureSetDate = now.strftime("%Y%m%d")
    ds.StructureSetTime = now.strftime("%H%M%S")
    ds.FrameOfReferenceUID = for_uid

    ref_for = Dataset()
    ref_for.FrameOfReferenceUID = for_uid
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([ref_for])

    # Format every coordinate of every ROI in one pass.
    xyz_parts = []
    for s in structure_set.structures:
        n = s.xy.shape[0]
        if n:
            lengths = np.diff(s.offsets)
            zcol = np.repeat(np.asarray(s.z, dtype=np.float64), lengths)
            xyz_parts.append(np.column_stack([np.asarray(s.xy, dtype=np.float64), zcol]))
    all_xyz = np.concatenate(xyz_parts) if xyz_parts else np.zeros((0, 3))
    strings = _format_values(all_xyz)
    charset = None

    roi_seq, contour_seq, obs_seq = [], [], []
    point_base = 0
    for obs_number, s in enumerate(structure_set.structures, start=1):
        roi = Dataset()
        roi.ROINumber = int(s.number)
        roi.ReferencedFrameOfReferenceUID = for_uid
        roi.ROIName = s.name
        roi.ROIGenerationAlgorithm = "MANUAL"
        roi_seq.append(roi)

        rc = Dataset()
        if s.color is not None:
            rc.ROIDisplayColor = [int(c) for c in s.color]
        items = []
        offsets = np.asarray(s.offsets, dtype=np.int64).tolist()
        for i in range(len(offsets) - 1):
            a, b = offsets[i], offsets[i + 1]
            item = Dataset()
            item.ContourGeometricType = "CLOSED_PLANAR"
            item.NumberOfContourPoints = b - a
            item.ContourNumber = i + 1
            text = "\\".join(strings[3 * (point_base + a) : 3 * (point_base + b)])
            item[_CONTOUR_DATA] = _raw_ds_element(_CONTOUR_DATA, text)
            if charset is None:
                charset = item._character_set
            # Lets pydicom write the raw bytes as they are instead of decoding them.
            item.set_original_encoding(False, True, charset)
            items.append(item)
        point_base += s.xy.shape[0]
        if items:
            rc.ContourSequence = DicomSequence(items)
        rc.ReferencedROINumber = int(s.number)
        contour_seq.append(rc)

        obs = Dataset()
        obs.ObservationNumber = obs_number
        obs.ReferencedROINumber = int(s.number)
        obs.RTROIInterpretedType = s.interpreted_type
        obs.ROIInterpreter = ""
        obs_seq.append(obs)

    ds.StructureSetROISequence = DicomSequence(roi_seq)
    ds.ROIContourSequence = DicomSequence(contour_seq)
    ds.RTROIObservationsSequence = DicomSequence(obs_seq)
    _save(ds, path)
    return uid


# --------------------------------------------------------------------------- RTDOSE


def _axis_of(vec: Sequence[float]) -> tuple[int, int]:
    """Return ``(axis, sign)`` for a ±unit x (axis 0) or ±unit y (axis 1) vector."""
    v = np.asarray(vec, dtype=np.float64)
    for axis in (0, 1):
        if abs(abs(v[axis]) - 1.0) < 1e-6 and np.allclose(np.delete(v, axis), 0.0, atol=1e-6):
            return axis, int(np.sign(v[axis]))
    raise ValueError(f"direction cosine {list(v)} is not ±x or ±y")


def _uniform_spacing(c: np.ndarray, name: str) -> float:
    if c.size < 2:
        return 1.0
    d = np.diff(c)
    if not np.allclose(d, d[0], rtol=1e-6, atol=1e-6) or d[0] <= 0:
        raise ValueError(f"{name} coordinates must be uniformly spaced and ascending")
    return float(d[0])


def _choose_scaling(dmax: float, maxint: int) -> float:
    """Smallest ~9-significant-digit DS value ``s`` with ``dmax / s <= maxint``."""
    if dmax <= 0:
        return 1.0
    scale = dmax / maxint
    for _ in range(10):
        s = float(f"{scale:.9e}")
        if dmax / s <= maxint:
            return s
        scale *= 1 + 1e-9
    return float(f"{scale * 1.000001:.9e}")


def write_rtdose(
    path: str | Path,
    grid: DoseGrid,
    *,
    bits: int = 32,
    summation_type: str | None = None,
    dose_units: str = "GY",
    gfov_mode: str = "relative",
    descending: bool = False,
    orientation: str | Sequence[float] = "HFS",
    referenced_plan_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    patient_id: str = "DOSECHECK",
    patient_name: str = "Dosecheck^Test",
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
    referenced_beam_number: int | None = None,
) -> str:
    """Write ``grid`` as an RT Dose file.

    Parameters
    ----------
    path
        Output file.
    grid
        The dose; ``x`` and ``y`` must be uniformly spaced, ``z`` may not be.
        Doses must be finite and non-negative (PixelRepresentation 0).
    bits
        16 or 32: BitsAllocated of the unsigned pixels. DoseGridScaling is chosen
        so the maximum dose maps to (almost) the largest integer.
    summation_type
        DoseSummationType; defaults to ``grid.summation_type``.
    dose_units
        ``"GY"``, ``"CGY"`` (pixel values are then cGy) or ``"RELATIVE"``.
    gfov_mode
        ``"relative"``: GridFrameOffsetVector starts at 0 and gives offsets along
        the slice normal. ``"absolute"``: it holds the z coordinates of the
        frames (HFS only, as in PS3.3 C.8.8.3.2).
    descending
        Order the frames so that GridFrameOffsetVector decreases.
    orientation
        ``"HFS"``, ``"FFS"``, ``"HFP"``, ``"FFP"`` or six direction cosines whose
        row and column vectors are each ±unit x or ±unit y (transposed layouts).
        The pixel array is flipped/transposed so the file encodes the same
        physical dose.
    referenced_plan_uid
        Written in ReferencedRTPlanSequence; defaults to
        ``grid.referenced_plan_uid`` (no sequence when both are empty).
    frame_of_reference_uid
        Defaults to ``grid.frame_of_reference_uid`` or a new UID.
    patient_id, patient_name, study_uid, series_uid, sop_instance_uid
        Identification; UIDs are generated when ``None``.
    referenced_beam_number
        The beam of a BEAM dose: written as ReferencedFractionGroupSequence (fraction
        group 1) > ReferencedBeamSequence > ReferencedBeamNumber in the
        ReferencedRTPlanSequence item, which then needs a referenced plan UID.
        ``None`` (default) writes no beam reference.

    Returns
    -------
    str
        The SOPInstanceUID written.
    """
    if bits not in (16, 32):
        raise ValueError("bits must be 16 or 32")
    if gfov_mode not in ("relative", "absolute"):
        raise ValueError("gfov_mode must be 'relative' or 'absolute'")
    iop = ORIENTATIONS[orientation] if isinstance(orientation, str) else tuple(orientation)
    if len(iop) != 6:
        raise ValueError("orientation needs six direction cosines")
    r_axis, r_sign = _axis_of(iop[:3])
    c_axis, c_sign = _axis_of(iop[3:])
    if r_axis == c_axis:
        raise ValueError("row and column direction cosines must differ")
    normal_z = int(np.sign(np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))[2]))
    if gfov_mode == "absolute" and tuple(iop) != ORIENTATIONS["HFS"]:
        raise ValueError("an absolute GridFrameOffsetVector is only defined for HFS")

    x = np.asarray(grid.x, dtype=np.float64)
    y = np.asarray(grid.y, dtype=np.float64)
    z = np.asarray(grid.z, dtype=np.float64)
    dose = np.asarray(grid.dose_gy, dtype=np.float64)
    if dose.shape != (z.size, y.size, x.size):
        raise ValueError(f"dose shape {dose.shape} does not match (nz, ny, nx)")
    if dose.size and (not np.all(np.isfinite(dose)) or dose.min() < 0):
        raise ValueError("dose must be finite and non-negative")
    if z.size > 1 and np.any(np.diff(z) <= 0):
        raise ValueError("z must be strictly ascending")
    spacing = (_uniform_spacing(x, "x"), _uniform_spacing(y, "y"))
    coords = (x, y)

    units = dose_units.upper()
    values = dose * 100.0 if units == "CGY" else dose

    # Physical (z, y, x) → file (frame, row, column).
    np_axis = {0: 2, 1: 1}
    arr = values.transpose(0, np_axis[c_axis], np_axis[r_axis])
    row_pos = coords[c_axis]  # coordinate that changes from row to row
    col_pos = coords[r_axis]  # coordinate that changes from column to column
    if c_sign < 0:
        arr = arr[:, ::-1, :]
        row_pos = row_pos[::-1]
    if r_sign < 0:
        arr = arr[:, :, ::-1]
        col_pos = col_pos[::-1]
    z_ascending = (normal_z > 0) != descending
    zf = z if z_ascending else z[::-1]
    if not z_ascending:
        arr = arr[::-1]
    gfov = zf.copy() if gfov_mode == "absolute" else normal_z * (zf - zf[0]) + 0.0

    ipp = [0.0, 0.0, float(zf[0])]
    ipp[r_axis] = float(col_pos[0])
    ipp[c_axis] = float(row_pos[0])

    maxint = 2**bits - 1
    scaling = _choose_scaling(float(values.max()) if values.size else 0.0, maxint)
    dtype = np.dtype("<u2") if bits == 16 else np.dtype("<u4")
    pixels = np.clip(np.rint(arr / scaling), 0, maxint).astype(dtype)

    uid = sop_instance_uid or generate_uid()
    for_uid = frame_of_reference_uid or grid.frame_of_reference_uid or generate_uid()
    ds = _new_file_dataset(
        path,
        sop_class_uid=RT_DOSE_SOP_CLASS,
        sop_instance_uid=uid,
        modality="RTDOSE",
        patient_id=patient_id,
        patient_name=patient_name,
        study_uid=study_uid,
        series_uid=series_uid,
    )
    ds.FrameOfReferenceUID = for_uid
    ds.PositionReferenceIndicator = ""
    ds.SliceThickness = None
    ds.ImagePositionPatient = [_ds(v) for v in ipp]
    ds.ImageOrientationPatient = [_ds(v) for v in iop]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = int(pixels.shape[0])
    ds.FrameIncrementPointer = Tag(0x3004, 0x000C)
    ds.Rows = int(pixels.shape[1])
    ds.Columns = int(pixels.shape[2])
    ds.PixelSpacing = [_ds(spacing[c_axis]), _ds(spacing[r_axis])]
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.DoseUnits = units
    ds.DoseType = "PHYSICAL"
    ds.DoseSummationType = (summation_type or grid.summation_type or "PLAN").upper()
    ds.GridFrameOffsetVector = _ds_list(gfov)
    ds.DoseGridScaling = _ds(scaling)
    plan_uid = referenced_plan_uid or grid.referenced_plan_uid
    if plan_uid:
        ref = Dataset()
        ref.ReferencedSOPClassUID = RT_PLAN_SOP_CLASS
        ref.ReferencedSOPInstanceUID = plan_uid
        if referenced_beam_number is not None:
            beam = Dataset()
            beam.ReferencedBeamNumber = int(referenced_beam_number)
            group = Dataset()
            group.ReferencedFractionGroupNumber = 1
            group.ReferencedBeamSequence = DicomSequence([beam])
            ref.ReferencedFractionGroupSequence = DicomSequence([group])
        ds.ReferencedRTPlanSequence = DicomSequence([ref])
    elif referenced_beam_number is not None:
        raise ValueError("referenced_beam_number needs a referenced_plan_uid")
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds["PixelData"].VR = "OW"
    _save(ds, path)
    return uid


# --------------------------------------------------------------------------- RTPLAN


def write_rtplan(
    path: str | Path,
    plan: PlanInfo,
    *,
    referenced_structure_set_uid: str | None = None,
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
    patient_name: str = "Dosecheck^Test",
) -> str:
    """Write ``plan`` as a minimal RT Plan file (no beams).

    Writes RTPlanLabel/RTPlanName, a DoseReferenceSequence item (SITE, TARGET,
    TargetPrescriptionDose) when ``plan.prescription_gy`` is set, or one VOLUME item
    per ``plan.target_references`` (ReferencedROINumber, their dose; then listed in
    the fraction group's ReferencedDoseReferenceSequence), a COORDINATES item per
    ``plan.dose_reference_points``, a FractionGroupSequence item with
    NumberOfFractionsPlanned when ``plan.fractions`` is set (with a
    ReferencedBeamSequence item, BeamDose and BeamDoseSpecificationPoint, per
    ``plan.beam_doses``; no BeamSequence), and ReferencedStructureSetSequence when a
    structure-set UID is known.

    Parameters
    ----------
    path
        Output file.
    plan
        What to write.
    referenced_structure_set_uid
        Overrides ``plan.referenced_structure_set_uid``.
    study_uid, series_uid, sop_instance_uid
        UIDs; ``sop_instance_uid`` defaults to ``plan.sop_instance_uid`` or a new UID.
    patient_name
        PatientName (PatientID comes from ``plan.patient_id``).

    Returns
    -------
    str
        The SOPInstanceUID written.
    """
    uid = sop_instance_uid or plan.sop_instance_uid or generate_uid()
    ds = _new_file_dataset(
        path,
        sop_class_uid=RT_PLAN_SOP_CLASS,
        sop_instance_uid=uid,
        modality="RTPLAN",
        patient_id=plan.patient_id,
        patient_name=patient_name,
        study_uid=study_uid,
        series_uid=series_uid,
    )
    now = _dt.datetime.now()
    if plan.frame_of_reference_uid:
        ds.FrameOfReferenceUID = plan.frame_of_reference_uid
        ds.PositionReferenceIndicator = ""
    ds.RTPlanLabel = plan.label or "PLAN"
    if plan.name:
        ds.RTPlanName = plan.name
    ds.RTPlanDate = now.strftime("%Y%m%d")
    ds.RTPlanTime = now.strftime("%H%M%S")
    ds.RTPlanGeometry = "PATIENT"
    ss_uid = referenced_structure_set_uid or plan.referenced_structure_set_uid
    if ss_uid:
        ref = Dataset()
        ref.ReferencedSOPClassUID = RT_STRUCT_SOP_CLASS
        ref.ReferencedSOPInstanceUID = ss_uid
        ds.ReferencedStructureSetSequence = DicomSequence([ref])
    refs: list[Dataset] = []
    for n, t in enumerate(plan.target_references, start=1):
        dr = Dataset()
        dr.DoseReferenceNumber = t.dose_reference_number or n
        dr.DoseReferenceUID = generate_uid()
        dr.DoseReferenceStructureType = "VOLUME"
        dr.ReferencedROINumber = int(t.roi_number)
        dr.DoseReferenceDescription = t.description or "Target"
        dr.DoseReferenceType = t.dose_reference_type or "TARGET"
        if t.prescription_gy is not None:
            dr.TargetPrescriptionDose = _ds(t.prescription_gy)
        refs.append(dr)
    if not plan.target_references and plan.prescription_gy is not None:
        dr = Dataset()
        dr.DoseReferenceNumber = 1
        dr.DoseReferenceUID = generate_uid()
        dr.DoseReferenceStructureType = "SITE"
        dr.DoseReferenceDescription = "Target"
        dr.DoseReferenceType = "TARGET"
        dr.TargetPrescriptionDose = _ds(plan.prescription_gy)
        refs.append(dr)
    for point in plan.dose_reference_points:
        dr = Dataset()
        dr.DoseReferenceNumber = int(point.number)
        dr.DoseReferenceUID = generate_uid()
        dr.DoseReferenceStructureType = "COORDINATES"
        dr.DoseReferenceDescription = point.description
        dr.DoseReferencePointCoordinates = _ds_list(point.point_mm)
        dr.DoseReferenceType = point.reference_type or "TARGET"
        if point.prescription_gy is not None:
            dr.TargetPrescriptionDose = _ds(point.prescription_gy)
        refs.append(dr)
    if refs:
        ds.DoseReferenceSequence = DicomSequence(refs)
    if plan.fractions is not None:
        fg = Dataset()
        fg.FractionGroupNumber = 1
        fg.NumberOfFractionsPlanned = int(plan.fractions)
        fg.NumberOfBeams = len(plan.beam_doses)
        fg.NumberOfBrachyApplicationSetups = 0
        if plan.beam_doses:
            items = []
            for beam in plan.beam_doses:
                rb = Dataset()
                rb.ReferencedBeamNumber = int(beam.beam_number)
                if beam.dose_gy is not None:
                    rb.BeamDose = _ds(beam.dose_gy)
                if beam.point_mm is not None:
                    rb.BeamDoseSpecificationPoint = _ds_list(beam.point_mm)
                items.append(rb)
            fg.ReferencedBeamSequence = DicomSequence(items)
        if plan.target_references:
            listed = []
            for item in refs[: len(plan.target_references)]:
                r = Dataset()
                r.ReferencedDoseReferenceNumber = item.DoseReferenceNumber
                listed.append(r)
            fg.ReferencedDoseReferenceSequence = DicomSequence(listed)
        ds.FractionGroupSequence = DicomSequence([fg])
    _save(ds, path)
    return uid
