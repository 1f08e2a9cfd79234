"""Unit tests: one mlpm module's functions, in-process (tests/unit/test_X.py tests mlpm/X)."""
