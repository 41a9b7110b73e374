"""Tests of ``dosecheck/checking/``."""
