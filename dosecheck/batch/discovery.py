"""Plan discovery for ``dosecheck batch``: re-exported from :mod:`dosecheck.dicom.discovery`.

``check`` and ``batch`` group files into plans with the same code (the rules are in
:mod:`dosecheck.dicom.discovery`); this module keeps the names batch code and scripts
have imported from here. New code imports from :mod:`dosecheck.dicom`.
"""

from __future__ import annotations

from dosecheck.dicom.discovery import DiscoveredPlan, Discovery, discover, group_plans
from dosecheck.dicom.files import FileRef, iter_files
from dosecheck.dicom.headers import HEADER_TAGS, RT_MODALITIES, UnreadableDicom
from dosecheck.dicom.headers import RTHeader as DicomHeader
from dosecheck.dicom.headers import read_rt_header as read_header

__all__ = [
    "HEADER_TAGS",
    "RT_MODALITIES",
    "DicomHeader",
    "DiscoveredPlan",
    "Discovery",
    "FileRef",
    "UnreadableDicom",
    "discover",
    "group_plans",
    "iter_files",
    "read_header",
]
