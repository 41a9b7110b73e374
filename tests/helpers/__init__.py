"""Builders and utilities shared by the tests (no tests here).

Test modules import from this package, never from one another;
``tests/test_architecture.py`` checks it. Fixtures shared by several modules live in a
``conftest.py``.
"""
