"""dosecheck: check radiotherapy plans against dose-volume constraints.

The public Python API lives in :mod:`dosecheck.api`; import what you need from there.
This module stays light so that ``dosecheck --help`` starts fast.
"""

__version__ = "0.1.0"
