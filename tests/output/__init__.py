"""Tests of ``dosecheck/output/``."""
