"""Deterministic synthetic radiotherapy plans for tests, samples and benchmarks.

:mod:`dosecheck.synthetic.pelvis` builds a rectal-cancer VMAT plan (structures,
dose and plan information) as :mod:`dosecheck.model` objects with NumPy only, and
can write it as DICOM RT files with :mod:`dosecheck.dicom.writer`.
"""

from dosecheck.synthetic.pelvis import (
    ROI_ROLES,
    PelvisPlan,
    make_pelvis_plan,
    roi_by_role,
    write_plan,
)

__all__ = ["ROI_ROLES", "PelvisPlan", "make_pelvis_plan", "roi_by_role", "write_plan"]
