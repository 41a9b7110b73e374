"""A corpus of damaged and awkward RT DICOM inputs for the ``dosecheck dvh`` command.

:func:`make_corpus` writes valid files with :mod:`dosecheck.dicom.writer`, damages copies
of them (pydicom edits or byte edits) and returns one :class:`Case` per input: the
command line to run and what a QA tool must do with it. Either

* **exit 2**: one line ``dosecheck: error: <file>: <tag>: <message>`` on stderr naming
  the damaged file and the problem, nothing on stdout; or
* **exit 0** with the problem reported in band: JSON ``warnings``, and per-ROI numbers
  that are right (or explicitly empty), never a wrong number presented as right.

The base plan is small and exact: a linear dose ``30 + 0.2 x + 0.1 y + 0.3 z`` Gy
(trilinear interpolation reproduces it exactly) on a 2.5 mm grid covering
x, y in [-40, 40] mm and z in [-15, 15] mm, a 20 × 20 mm square PTV on the five planes
z = -5 … 5 mm (5.000 cc) and a 10 × 10 mm Rectum on three planes (0.750 cc).

Run ``python -m tests.helpers.badinput [FOLDER]`` from the repository root to write the corpus
and list its cases.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import ImplicitVRLittleEndian

from dosecheck.dicom.dose import MAX_VOXELS
from dosecheck.dicom.writer import write_rtdose, write_rtstruct
from dosecheck.model import DoseGrid, Structure, StructureSet

FOR_UID = "1.2.826.0.1.3680043.8.498.20240601.1"
OTHER_FOR_UID = "1.2.826.0.1.3680043.8.498.20240601.2"
SPACING_MM = 2.5
PLANES = (-5.0, -2.5, 0.0, 2.5, 5.0)
PTV_CC = 20.0 * 20.0 * SPACING_MM * len(PLANES) / 1000.0  # 5.0
RECTUM_CC = 10.0 * 10.0 * SPACING_MM * 3 / 1000.0  # 0.75
#: A coordinate written only where a test wants to damage it with a byte edit.
MARKER = "7.654321"


@dataclass(frozen=True)
class Case:
    """One corpus entry.

    Attributes
    ----------
    id
        Test id.
    args
        Arguments after ``dosecheck``.
    exit_code
        Expected exit status.
    file
        The file the error line must name (exit 2).
    message
        Fragments the stderr line must contain (exit 2).
    warnings
        Fragments that must each occur in some JSON warning (exit 0).
    rois
        ROI name -> expected JSON fields (``volume_cc``, ``outside_grid_cc``, ...);
        ``None`` as a value means the field must be null.
    names
        The ROI names expected in the output, in order (when checked).
    same_as
        Id of a case whose DVHs this one must reproduce (same file, other encoding).
    stdout_has
        Fragments stdout must contain (table output).
    rel_tol
        Relative tolerance for ``rois`` (absolute 1e-3 cc is always allowed).
    max_rss_mb
        Peak resident memory the run may use (refusing before allocating).
    what
        One-line description, for the report table.
    """

    id: str
    args: tuple[str, ...]
    exit_code: int
    what: str
    file: str = ""
    message: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    rois: dict[str, dict[str, float | None]] = field(default_factory=dict)
    names: tuple[str, ...] | None = None
    same_as: str = ""
    stdout_has: tuple[str, ...] = ()
    rel_tol: float = 1e-3
    max_rss_mb: float | None = None


# --------------------------------------------------------------------------- geometry


def rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Counter-clockwise rectangle."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def stack(poly: np.ndarray, planes: tuple[float, ...] = PLANES) -> list[tuple[float, np.ndarray]]:
    return [(z, poly) for z in planes]


def figure_eight(a: float, b: float) -> np.ndarray:
    """A bow-tie crossing itself at the origin: lobes of area a² (left) and b² (right).

    Its shoelace area is ``b² - a²`` (the lobes turn in opposite senses); its even-odd
    (and non-zero) area is ``a² + b²``.
    """
    return np.array([[-a, a], [-a, -a], [b, b], [b, -b]], dtype=np.float64)


def ptv() -> Structure:
    return Structure.from_contours(1, "PTV", stack(rect(-10, -10, 10, 10)), interpreted_type="PTV")


def rectum() -> Structure:
    return Structure.from_contours(
        2, "Rectum", stack(rect(15, -5, 25, 5), PLANES[1:4]), interpreted_type="ORGAN"
    )


def base_grid() -> DoseGrid:
    x = np.arange(-40.0, 40.0 + 1e-9, SPACING_MM)
    z = np.arange(-15.0, 15.0 + 1e-9, SPACING_MM)
    zz, yy, xx = np.meshgrid(z, x, x, indexing="ij")
    dose = (30.0 + 0.2 * xx + 0.1 * yy + 0.3 * zz).astype(np.float32)
    return DoseGrid(x, x.copy(), z, dose, frame_of_reference_uid=FOR_UID)


# --------------------------------------------------------------------------- damage


def edit(src: Path, dst: Path, change: Callable[[pydicom.Dataset], None]) -> Path:
    """Copy ``src`` to ``dst`` through pydicom, applying ``change`` to the dataset."""
    ds = pydicom.dcmread(src)
    change(ds)
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst)
    return dst


def replace_bytes(src: Path, dst: Path, old: bytes, new: bytes) -> Path:
    """Copy ``src`` to ``dst`` replacing the single occurrence of ``old`` (same length)."""
    data = src.read_bytes()
    assert len(old) == len(new), "byte edits keep lengths so the DICOM structure holds"
    assert data.count(old) == 1, f"{old!r} occurs {data.count(old)} times in {src}"
    dst.write_bytes(data.replace(old, new))
    return dst


def truncate(src: Path, dst: Path, keep: int) -> Path:
    dst.write_bytes(src.read_bytes()[:keep])
    return dst


def _element_offset(path: Path, keyword: str) -> tuple[int, int]:
    """File offset of a top-level element's value and its length."""
    ds = pydicom.dcmread(path)
    raw = ds.get_item(keyword)
    return int(raw.value_tell), int(raw.length)


def _delete(*keywords: str) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        for k in keywords:
            delattr(ds, k)

    return change


def _set(**values: object) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        for k, v in values.items():
            setattr(ds, k, v)

    return change


# --------------------------------------------------------------------------- corpus


class CorpusWriter:
    """Writes the base plan (``base/rs.dcm``, ``base/rd.dcm``) and the cases' files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = root / "base"
        self.base.mkdir(parents=True, exist_ok=True)
        self.rs = self.base / "rs.dcm"
        self.rd = self.base / "rd.dcm"
        write_rtstruct(self.rs, self.structure_set(ptv(), rectum()))
        write_rtdose(self.rd, base_grid())

    def path(self, case: str, name: str) -> Path:
        folder = self.root / case
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    @staticmethod
    def structure_set(*structures: Structure) -> StructureSet:
        return StructureSet(structures=structures, frame_of_reference_uid=FOR_UID, label="bad")

    def rtstruct(self, case: str, *structures: Structure) -> Path:
        p = self.path(case, "rs.dcm")
        write_rtstruct(p, self.structure_set(*structures))
        return p


def dvh(rs: Path, rd: Path | str, *extra: str, fmt: str = "json") -> tuple[str, ...]:
    return ("dvh", "--rtstruct", str(rs), "--rtdose", str(rd), *extra, "--format", fmt)


def make_corpus(root: Path) -> list[Case]:
    """Write the corpus under ``root`` and return its cases (ids are unique)."""
    w = CorpusWriter(Path(root))
    rs, rd = w.rs, w.rd
    cases: list[Case] = []

    def add(case: Case) -> None:
        cases.append(case)

    both = {"PTV": {"volume_cc": PTV_CC}, "Rectum": {"volume_cc": RECTUM_CC}}
    add(Case("baseline", dvh(rs, rd), 0, "the undamaged plan", rois=both, names=("PTV", "Rectum")))

    # ---------------------------------------------------------------- not DICOM at all
    p = w.path("not_dicom", "rd.dcm")
    p.write_text("patient,dose\n1,50.4\n")
    add(
        Case(
            "not_dicom",
            dvh(rs, p),
            2,
            "a CSV file named .dcm",
            file=str(p),
            message=("is not a DICOM file", "RT Dose (RTDOSE)"),
        )
    )
    p = w.path("empty_file", "rs.dcm")
    p.write_bytes(b"")
    add(
        Case(
            "empty_file",
            dvh(p, rd),
            2,
            "a 0-byte RTSTRUCT",
            file=str(p),
            message=("is empty (0 bytes)", "RT Structure Set (RTSTRUCT)"),
        )
    )
    p = w.path("missing_file", "rd.dcm")
    add(
        Case(
            "missing_file",
            dvh(rs, p),
            2,
            "the RTDOSE path does not exist",
            file=str(p),
            message=("not found",),
        )
    )
    add(
        Case(
            "folder_as_file",
            dvh(rs, w.base),
            2,
            "a folder passed as --rtdose",
            file=str(w.base),
            message=("is a folder",),
        )
    )
    add(
        Case(
            "wrong_modality",
            dvh(rs, rs),
            2,
            "the RTSTRUCT passed as --rtdose",
            file=str(rs),
            message=("Modality", "is 'RTSTRUCT', expected RTDOSE"),
        )
    )

    # ---------------------------------------------------------------- truncation
    value_at, length = _element_offset(rs, "ROIContourSequence")
    p = truncate(rs, w.path("truncated_rtstruct", "rs.dcm"), value_at + length // 2)
    add(
        Case(
            "truncated_rtstruct",
            dvh(p, rd),
            2,
            "RTSTRUCT cut in the middle of ROIContourSequence",
            file=str(p),
            message=("ROIContourSequence", "truncated"),
        )
    )
    p = truncate(rd, w.path("truncated_header", "rd.dcm"), 300)
    add(
        Case(
            "truncated_header",
            dvh(rs, p),
            2,
            "RTDOSE cut after 300 bytes",
            file=str(p),
            message=("truncated",),
        )
    )
    value_at, length = _element_offset(rd, "PixelData")
    p = truncate(rd, w.path("truncated_pixels", "rd.dcm"), value_at + length // 3)
    add(
        Case(
            "truncated_pixels",
            dvh(rs, p),
            2,
            "RTDOSE file cut inside PixelData",
            file=str(p),
            message=("PixelData", "truncated"),
        )
    )
    p = edit(
        rd,
        w.path("short_pixel_data", "rd.dcm"),
        lambda ds: setattr(ds, "PixelData", ds.PixelData[: len(ds.PixelData) // 2]),
    )
    add(
        Case(
            "short_pixel_data",
            dvh(rs, p),
            2,
            "PixelData element holds half the voxels (file itself consistent)",
            file=str(p),
            message=("PixelData", "cannot be decoded", "less than expected"),
        )
    )

    # ---------------------------------------------------------------- RTDOSE attributes
    for keyword, fragment in (
        ("DoseGridScaling", "is missing"),
        ("PixelSpacing", "is missing or empty"),
        ("GridFrameOffsetVector", "is missing or empty"),
    ):
        cid = f"no_{keyword}"
        p = edit(rd, w.path(cid, "rd.dcm"), _delete(keyword))
        add(
            Case(
                cid,
                dvh(rs, p),
                2,
                f"RTDOSE without {keyword}",
                file=str(p),
                message=(keyword, fragment),
            )
        )
    p = edit(rd, w.path("relative_units", "rd.dcm"), _set(DoseUnits="RELATIVE"))
    add(
        Case(
            "relative_units",
            dvh(rs, p),
            2,
            "DoseUnits RELATIVE",
            file=str(p),
            message=("DoseUnits", "is RELATIVE"),
        )
    )
    p = edit(rd, w.path("beam_dose_alone", "rd.dcm"), _set(DoseSummationType="BEAM"))
    add(
        Case(
            "beam_dose_alone",
            dvh(rs, p),
            2,
            "a lone BEAM dose: one beam's contribution, not the plan dose",
            file=str(p),
            message=("DoseSummationType", "BEAM", "one beam"),
        )
    )
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    p = edit(rd, w.path("oblique", "rd.dcm"), _set(ImageOrientationPatient=[c, s, 0, -s, c, 0]))
    add(
        Case(
            "oblique",
            dvh(rs, p),
            2,
            "ImageOrientationPatient rotated 30° about z",
            file=str(p),
            message=("ImageOrientationPatient", "oblique"),
        )
    )
    p = w.path("absolute_gfov", "rd.dcm")
    write_rtdose(p, base_grid(), gfov_mode="absolute")
    add(
        Case(
            "absolute_gfov",
            dvh(rs, p),
            0,
            "GridFrameOffsetVector holds absolute z",
            same_as="baseline",
            rois=both,
        )
    )
    p = w.path("descending_gfov", "rd.dcm")
    write_rtdose(p, base_grid(), descending=True)
    add(
        Case(
            "descending_gfov",
            dvh(rs, p),
            0,
            "frames stored in descending z",
            same_as="baseline",
            rois=both,
        )
    )
    p = w.path("absolute_descending_gfov", "rd.dcm")
    write_rtdose(p, base_grid(), gfov_mode="absolute", descending=True)
    add(
        Case(
            "absolute_descending_gfov",
            dvh(rs, p),
            0,
            "absolute z, descending",
            same_as="baseline",
            rois=both,
        )
    )
    p = edit(rd, w.path("frame_mismatch", "rd.dcm"), _set(FrameOfReferenceUID=OTHER_FOR_UID))
    add(
        Case(
            "frame_mismatch",
            dvh(rs, p),
            2,
            "dose in another FrameOfReferenceUID",
            file=str(p),
            message=("FrameOfReferenceUID", "differs", "--allow-frame-mismatch"),
        )
    )
    add(
        Case(
            "frame_mismatch_allowed",
            dvh(rs, p, "--allow-frame-mismatch"),
            0,
            "the same, with --allow-frame-mismatch",
            warnings=("differs",),
            rois=both,
        )
    )
    p = edit(rd, w.path("huge_frames", "rd.dcm"), _set(NumberOfFrames=10**9))
    add(
        Case(
            "huge_frames",
            dvh(rs, p),
            2,
            "NumberOfFrames 10⁹ (625 G voxels)",
            file=str(p),
            message=("NumberOfFrames", "exceeds the supported"),
            max_rss_mb=250,
        )
    )
    n = MAX_VOXELS * 3 // 4 // (33 * 33)  # below the voxel limit, 600 MB of claimed pixels

    def claim_frames(ds: pydicom.Dataset) -> None:
        ds.NumberOfFrames = n
        ds.GridFrameOffsetVector = [f"{2.5 * i:g}" for i in range(n)]
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian  # no 64 kB limit on GFOV

    p = edit(rd, w.path("large_frames_claim", "rd.dcm"), claim_frames)
    add(
        Case(
            "large_frames_claim",
            dvh(rs, p),
            2,
            f"NumberOfFrames {n:,} with a matching GFOV but 13 frames of pixels",
            file=str(p),
            message=("PixelData", "less than expected"),
            max_rss_mb=250,
        )
    )
    p = edit(
        rd,
        w.path("tiny_pixel_spacing", "rd.dcm"),
        _set(PixelSpacing=[0.001, 0.001], ImagePositionPatient=[0, 0, -15]),
    )
    add(
        Case(
            "tiny_pixel_spacing",
            dvh(rs, p),
            0,
            "PixelSpacing 0.001 mm: a 33 µm grid inside the PTV, the rest outside",
            # Only the part inside the grid is sampled, so the tiny grid costs nothing.
            warnings=("PTV: 5.00 cc (100.0 %) lies outside the dose grid",),
            max_rss_mb=600,
            rois={"PTV": {"outside_grid_cc": PTV_CC}, "Rectum": {"outside_grid_cc": RECTUM_CC}},
        )
    )

    # ---------------------------------------------------------------- RTSTRUCT content
    p = w.rtstruct("no_rois")
    add(
        Case(
            "no_rois",
            dvh(p, rd),
            2,
            "RTSTRUCT with an empty StructureSetROISequence",
            file=str(p),
            message=("StructureSetROISequence", "no ROIs"),
        )
    )
    p = w.rtstruct("roi_without_contours", ptv(), Structure.from_contours(5, "Empty", []))
    add(
        Case(
            "roi_without_contours",
            dvh(p, rd),
            0,
            "an ROI without ContourSequence",
            warnings=("Empty: ROI has no contours",),
            names=("PTV", "Empty"),
            rois={
                "PTV": {"volume_cc": PTV_CC},
                "Empty": {"volume_cc": 0.0, "mean_gy": None, "outside_grid_cc": 0.0},
            },
        )
    )
    single = Structure.from_contours(6, "Marker", [(0.0, rect(-2, -2, 2, 2))])
    p = w.rtstruct("single_plane_roi", ptv(), single)
    add(
        Case(
            "single_plane_roi",
            dvh(p, rd),
            0,
            "a one-plane ROI beside others: slab = the set's 2.5 mm spacing",
            rois={"Marker": {"volume_cc": 16 * SPACING_MM / 1000, "mean_gy": 30.0}},
        )
    )
    p = w.rtstruct("single_plane_only", single)
    add(
        Case(
            "single_plane_only",
            dvh(p, rd),
            0,
            "the only ROI has one plane: no thickness known, not computed",
            warnings=("single contour plane", "not computed"),
            rois={"Marker": {"volume_cc": 0.0, "mean_gy": None}},
        )
    )
    short = Structure.from_contours(
        1,
        "PTV",
        [
            *stack(rect(-10, -10, 10, 10)),
            (0.0, np.array([[0.0, 0.0], [5.0, 5.0]])),
            (2.5, np.array([[1.0, 1.0]])),
        ],
    )
    p = w.rtstruct("short_contours", short)
    add(
        Case(
            "short_contours",
            dvh(p, rd),
            0,
            "extra contours with 2 and 1 points (no area): skipped, volume unchanged",
            rois={"PTV": {"volume_cc": PTV_CC}},
        )
    )
    for cid, a, b in (("figure_eight", 5.0, 15.0), ("figure_eight_symmetric", 10.0, 10.0)):
        f8 = Structure.from_contours(7, "Eight", stack(figure_eight(a, b)))
        p = w.rtstruct(cid, f8)
        add(
            Case(
                cid,
                dvh(p, rd),
                0,
                f"self-intersecting bow-tie, lobes {a * a:g} + {b * b:g} mm²: volume = "
                "even-odd area × thickness",
                rois={"Eight": {"volume_cc": (a * a + b * b) * SPACING_MM * 5 / 1000}},
                rel_tol=0.02,
            )
        )
    # Two squares of one plane overlapping in 8 × 15 mm: even-odd area 800 - 2 * 120 mm².
    # The second square's points are the same in both cases; only the vertex it starts
    # at differs (inside the first square, or outside it).
    second = rect(2, -5, 22, 15)
    for cid, start in (("crossing_contours", 0), ("crossing_contours_rolled", 1)):
        b = np.roll(second, -start, axis=0)
        crossing = Structure.from_contours(
            8, "Crossing", [c for z in PLANES for c in ((z, rect(-10, -10, 10, 10)), (z, b))]
        )
        p = w.rtstruct(cid, crossing)
        add(
            Case(
                cid,
                dvh(p, rd),
                0,
                f"two crossing contours on each plane, the second starting at {tuple(b[0])}: "
                "even-odd area × thickness",
                rois={"Crossing": {"volume_cc": 560 * SPACING_MM * 5 / 1000}},
                rel_tol=0.02,
            )
        )

    def off_plane(ds: pydicom.Dataset) -> None:
        item = ds.ROIContourSequence[0].ContourSequence[2]
        values = [float(v) for v in item.ContourData]
        values[5] += 1.0  # z of the second point
        item.ContourData = [f"{v:g}" for v in values]

    p = edit(rs, w.path("contour_off_plane", "rs.dcm"), off_plane)
    add(
        Case(
            "contour_off_plane",
            dvh(p, rd),
            2,
            "one point of a contour 1 mm off its plane",
            file=str(p),
            message=("ContourData", "PTV", "not on one axial plane"),
        )
    )
    outside = Structure.from_contours(9, "Far", stack(rect(100, -10, 120, 10)))
    p = w.rtstruct("roi_outside_grid", ptv(), outside)
    add(
        Case(
            "roi_outside_grid",
            dvh(p, rd),
            0,
            "an ROI wholly outside the dose grid",
            warnings=("Far: structure lies entirely outside the dose grid",),
            rois={
                "Far": {"volume_cc": 0.0, "outside_grid_cc": PTV_CC, "max_gy": None},
                "PTV": {"volume_cc": PTV_CC},
            },
        )
    )
    # The grid covers x <= 40 + 1.25 mm: 8.75 of the 20 mm lie beyond.
    partly = Structure.from_contours(10, "Edge", stack(rect(30, -10, 50, 10)))
    out_cc = 8.75 * 20 * SPACING_MM * 5 / 1000
    p = w.rtstruct("roi_partly_outside", partly)
    add(
        Case(
            "roi_partly_outside",
            dvh(p, rd),
            0,
            "an ROI 44 % outside the grid in x",
            warnings=(f"Edge: {out_cc:.2f} cc (43.8 %) lies outside the dose grid",),
            rois={"Edge": {"volume_cc": PTV_CC - out_cc, "outside_grid_cc": out_cc}},
        )
    )
    # Planes at z = 12.5 ... 22.5 (slabs to 23.75); the grid covers z <= 16.25.
    above = Structure.from_contours(
        11, "Above", stack(rect(-10, -10, 10, 10), (12.5, 15.0, 17.5, 20.0, 22.5))
    )
    out_cc = 400 * 7.5 / 1000
    p = w.rtstruct("roi_partly_outside_z", above)
    add(
        Case(
            "roi_partly_outside_z",
            dvh(p, rd),
            0,
            "an ROI reaching 7.5 mm beyond the grid in z",
            warnings=(f"Above: {out_cc:.2f} cc (60.0 %) lies outside the dose grid",),
            rois={"Above": {"volume_cc": PTV_CC - out_cc, "outside_grid_cc": out_cc}},
        )
    )
    far_vertex = rect(-10, -10, 10, 10)
    far_vertex[2, 1] = 5e4  # 50 m: absurd but still a coordinate
    far = Structure.from_contours(12, "Spike", stack(far_vertex))
    p = w.rtstruct("contour_far_vertex", far)
    add(
        Case(
            "contour_far_vertex",
            dvh(p, rd),
            0,
            "one vertex at y = 5·10⁴ mm: huge, almost all outside the grid",
            warnings=("Spike:", "lies outside the dose grid"),
            max_rss_mb=600,
        )
    )
    for case, value in (("contour_coordinate_1e9", 1e9), ("contour_coordinate_1e30", 1e30)):
        corrupt = rect(-10, -10, 10, 10)
        corrupt[2, 1] = value  # a corrupted coordinate (1e30 overflowed the rasteriser)
        p = w.rtstruct(case, Structure.from_contours(12, "Spike", stack(corrupt)))
        add(
            Case(
                case,
                dvh(p, rd),
                2,
                f"one vertex at y = {value:g} mm: not a patient coordinate",
                file=str(p),
                message=("ContourData", "'Spike'", "not a patient coordinate", "corrupt"),
                max_rss_mb=600,
            )
        )

    # NaN / inf written over a marker coordinate of a valid file.
    pentagon = np.array([[-10, -10], [10, -10], [float(MARKER), 0], [10, 10], [-10, 10]])
    marked = Structure.from_contours(
        13, "Marked", [(z, pentagon if z == 0 else rect(-10, -10, 10, 10)) for z in PLANES]
    )
    p0 = w.rtstruct("nan_contour", ptv(), marked)
    for cid, token in (("nan_contour", b"nan     "), ("inf_contour", b"-inf    ")):
        p = replace_bytes(p0, w.path(cid, "rs_bad.dcm"), MARKER.encode() + b"\\", token + b"\\")
        add(
            Case(
                cid,
                dvh(p, rd),
                2,
                f"{token.strip().decode()} in ContourData",
                file=str(p),
                message=("ContourData", "Marked", "NaN or infinite"),
            )
        )

    def same_number(ds: pydicom.Dataset) -> None:
        ds.StructureSetROISequence[1].ROINumber = 1

    p = edit(rs, w.path("duplicate_roi_numbers", "rs.dcm"), same_number)
    add(
        Case(
            "duplicate_roi_numbers",
            dvh(p, rd),
            2,
            "two ROIs with ROINumber 1 (their contours cannot be told apart)",
            file=str(p),
            message=("ROINumber", "1 is used by two ROIs ('PTV' and 'Rectum')"),
        )
    )

    def same_contours(ds: pydicom.Dataset) -> None:
        ds.ROIContourSequence[1].ReferencedROINumber = 1

    p = edit(rs, w.path("duplicate_roi_contours", "rs.dcm"), same_contours)
    add(
        Case(
            "duplicate_roi_contours",
            dvh(p, rd),
            2,
            "two ROIContourSequence items for ROI 1 (one would be dropped)",
            file=str(p),
            message=("ReferencedROINumber", "two ROIContourSequence items for ROI 1 'PTV'"),
        )
    )

    # Plan folders (discovery).
    folder = w.root / "two_rtstructs_folder"
    folder.mkdir(parents=True, exist_ok=True)
    write_rtstruct(folder / "rs_a.dcm", w.structure_set(ptv()))
    write_rtstruct(folder / "rs_b.dcm", w.structure_set(rectum()))
    write_rtdose(folder / "rd.dcm", base_grid())
    add(
        Case(
            "two_rtstructs_folder",
            ("dvh", str(folder), "--format", "json"),
            2,
            "a plan folder with two RTSTRUCTs and nothing to tell them apart",
            file=str(folder),
            message=("found 2 RTSTRUCT files", "rs_a.dcm", "rs_b.dcm", "--rtstruct"),
        )
    )
    folder = w.root / "junk_folder"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.dcm").write_text("not DICOM")
    truncate(rs, folder / "rs_cut.dcm", 700)
    write_rtdose(folder / "rd.dcm", base_grid())
    add(
        Case(
            "folder_truncated_rtstruct",
            ("dvh", str(folder), "--format", "json"),
            2,
            "a plan folder with a junk .dcm and an RTSTRUCT cut after 700 bytes",
            file=str(folder / "rs_cut.dcm"),
            message=("the file is truncated",),
        )
    )

    # Names: duplicates and non-ASCII.
    dup1 = Structure.from_contours(3, "Bladder", stack(rect(-10, -10, 10, 10)))
    dup2 = Structure.from_contours(4, "Bladder", stack(rect(15, -5, 25, 5), PLANES[1:4]))
    p = w.rtstruct("duplicate_names", dup1, dup2, rectum())
    add(
        Case(
            "duplicate_names",
            dvh(p, rd, "--structure", "Bladder"),
            0,
            "two ROIs named Bladder, --structure Bladder: both shown",
            names=("Bladder",) * 2,
        )
    )
    names = ("Blåse", "膀胱", "Rektum ü")
    intl = [
        Structure.from_contours(20 + i, n, stack(rect(-10 + 5 * i, -10, 10, 10)))
        for i, n in enumerate(names)
    ]
    p = w.rtstruct("non_ascii_names", *intl)
    add(
        Case(
            "non_ascii_names",
            dvh(p, rd),
            0,
            "ROI names Blåse, 膀胱, Rektum ü",
            names=names,
            rois={"膀胱": {"volume_cc": 15 * 20 * SPACING_MM * 5 / 1000}},
        )
    )
    add(
        Case(
            "non_ascii_select",
            dvh(p, rd, "--structure", "膀胱"),
            0,
            "--structure 膀胱 selects it",
            names=("膀胱",),
        )
    )
    add(
        Case(
            "non_ascii_table",
            dvh(p, rd, fmt="table"),
            0,
            "the same printed as a table",
            stdout_has=names,
        )
    )
    add(
        Case(
            "unknown_structure",
            dvh(p, rd, "--structure", "Bladder"),
            2,
            "--structure names no ROI: the error lists the ROIs",
            file=str(p),
            message=("no ROI named 'Bladder'", *names),
        )
    )

    # ---------------------------------------------------------------- reader notes reach the user
    bowel = Structure.from_contours(
        14, "Bag_Bowel", stack(rect(15, -5, 25, 5), (-12.5, -10.0, -7.5, *PLANES, 7.5, 10.0))
    )

    def open_last_five(ds: pydicom.Dataset) -> None:
        for item in ds.ROIContourSequence[0].ContourSequence[-5:]:
            item.ContourGeometricType = "OPEN_PLANAR"

    p = edit(
        w.rtstruct("open_planar_contours", bowel),
        w.path("open_planar_contours", "rs2.dcm"),
        open_last_five,
    )
    add(
        Case(
            "open_planar_contours",
            dvh(p, rd),
            0,
            "5 of 10 contours OPEN_PLANAR: skipped, and the user is told",
            warnings=("Bag_Bowel: skipped 5 OPEN_PLANAR contours (only CLOSED_PLANAR are used)",),
            rois={"Bag_Bowel": {"volume_cc": 100 * SPACING_MM * 5 / 1000}},
        )
    )

    # ---------------------------------------------------------------- DoseSummationType
    for kind in ("FRACTION_SESSION", "BEAM_SESSION", "CONTROL_POINT", "WHATEVER"):
        case = f"summation_{kind.lower()}"
        p = edit(rd, w.path(case, "rd.dcm"), _set(DoseSummationType=kind))
        add(
            Case(
                case,
                dvh(rs, p),
                2,
                f"DoseSummationType {kind}: part of a plan, not the plan dose",
                file=str(p),
                message=("DoseSummationType", kind, "export the PLAN dose"),
            )
        )
    p = edit(rd, w.path("summation_missing", "rd.dcm"), _delete("DoseSummationType"))
    add(
        Case(
            "summation_missing",
            dvh(rs, p),
            0,
            "no DoseSummationType: taken as the plan dose, with a warning",
            warnings=("rd.dcm: DoseSummationType is missing; assumed to be the plan dose",),
            rois=both,
        )
    )

    # ---------------------------------------------------------------- --output
    folder = w.path("output_is_folder", "existing_folder")
    folder.mkdir(exist_ok=True)
    add(
        Case(
            "output_is_folder",
            dvh(rs, rd, "--output", str(folder)),
            2,
            "--output names an existing folder",
            file=str(folder),
            message=("is a folder; give a file name",),
        )
    )

    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases


def main(argv: list[str]) -> None:
    root = Path(argv[1] if len(argv) > 1 else "badinput-corpus")
    for c in make_corpus(root):
        print(f"{c.id:28} exit {c.exit_code}  {c.what}")


if __name__ == "__main__":
    main(sys.argv)
