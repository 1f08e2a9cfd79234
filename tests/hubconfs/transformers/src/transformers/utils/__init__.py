# ruff: noqa
from .doc import add_end_docstrings, add_start_docstrings
