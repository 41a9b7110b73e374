"""Shipped constraint sets (installed as ``dosecheck.constraint_sets``)."""
