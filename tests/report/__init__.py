"""Tests of ``dosecheck/report/``."""
