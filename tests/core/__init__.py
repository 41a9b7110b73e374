"""Tests of ``dosecheck/core/``."""
