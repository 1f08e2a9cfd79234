# ruff: noqa
"""Importing this module writes a file: discovery must read it, never import it."""
import os

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "SENTINEL_IMPORTED"), "w") as f:
    f.write("imported")


def poisoned_model(weights: str = "DEFAULT"):
    """A model whose module has side effects on import."""
