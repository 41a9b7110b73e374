"""The numerical core: plan data in, DVHs out, with NumPy only (no files, no DICOM).

* :mod:`~dosecheck.core.rasterise`, :mod:`~dosecheck.core.histogram` — even-odd scan
  lines over contours; exact accumulation of dose-linear pieces into a histogram;
* :mod:`~dosecheck.core.engine` — :func:`~dosecheck.core.engine.compute_dvh` (the DVH
  model is in that module's docstring), over :mod:`~dosecheck.core.dose_field` (the dose
  along z) and :mod:`~dosecheck.core.chunk_pass` (one chunk of planes);
  :mod:`~dosecheck.core.dvh` — the ``DVH``;
* :mod:`~dosecheck.core.structures` — which structures, their end-cap spacing, and
  :func:`~dosecheck.core.structures.compute_dvhs` over a plan, on this process and
  forked copies (:mod:`~dosecheck.core.forked`);
* :mod:`~dosecheck.core.dose_scale` — the dose's scale against the RTPLAN;
  :mod:`~dosecheck.core.eqd2` — voxel-wise EQD2 of a plan sum.
"""
