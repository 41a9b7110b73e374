"""dosecheck: check radiotherapy plans against dose-volume constraints.

The public Python API lives in :mod:`dosecheck.api`; import what you need from there.
This module stays light so that ``dosecheck --help`` starts fast.
"""

__version__ = "0.1.0"
#: What ``dosecheck --version`` prints, on both of its paths (``entry`` and ``cli``).
VERSION_LINE = f"dosecheck {__version__}"
