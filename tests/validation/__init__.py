"""Accuracy against references: analytic phantoms, the Nelms data set, real exports."""
