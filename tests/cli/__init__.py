"""Tests of the command line: ``dosecheck/cli.py`` and ``dosecheck/commands/``."""
