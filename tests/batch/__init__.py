"""Tests of ``dosecheck/batch/``."""
