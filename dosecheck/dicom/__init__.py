"""DICOM RT files to the plain objects of :mod:`dosecheck.model`, and back.

This is the only package that reads DICOM with pydicom (besides the tools
``reference_engine`` and ``synthetic``, and the tag-number lookup in
:mod:`dosecheck.errors`; ``tests/test_architecture.py`` checks it). Its readers turn
RTSTRUCT, RTDOSE and RTPLAN files into the plain objects of :mod:`dosecheck.model`:

* :func:`dosecheck.dicom.structures.read_rtstruct` → :class:`~dosecheck.model.StructureSet`
* :func:`dosecheck.dicom.dose.read_rtdose` → :class:`~dosecheck.model.DoseGrid`
  (:mod:`dosecheck.dicom.dose_sum`: several doses summed, beams against the plan dose)
* :func:`dosecheck.dicom.plan.read_rtplan` → :class:`~dosecheck.model.PlanInfo`
* :func:`dosecheck.dicom.discovery.find_plan_files` → :class:`~dosecheck.model.PlanFiles`
  (one plan in a folder) and :func:`dosecheck.dicom.discovery.discover` (every plan in
  folders and zip archives; the grouping rules are in that module's docstring), over
  :mod:`dosecheck.dicom.files` and :mod:`dosecheck.dicom.headers`
* :func:`dosecheck.dicom.load.load_plan` → :class:`~dosecheck.model.Plan`

:mod:`dosecheck.dicom.writer` writes valid RT files from model objects (tests, sample
plans, benchmarks).
"""
