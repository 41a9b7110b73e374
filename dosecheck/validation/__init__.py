"""Validation of the DVH engine against published reference data (the Nelms 2015
analytical set: :mod:`~dosecheck.validation.nelms`, run by ``scripts/validate.py``)."""
