# ruff: noqa
"""A hubconf.py whose module level must never run during discovery."""
import os

import sentinel_side_effect
from sentinel_side_effect import poisoned_model

dependencies = ["torch"]

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "PWNED"), "w") as f:
    f.write("hubconf.py was executed")


def safe_model(pretrained: bool = True):
    """Found without running the module level."""


raise SystemExit("hubconf.py must not be executed")


def after_exit():
    """Never defined: the module level raised before reaching it."""
