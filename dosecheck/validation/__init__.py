"""Validation of the DVH engine against published reference data."""
