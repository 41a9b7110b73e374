"""Tests of ``dosecheck/dicom/``."""
