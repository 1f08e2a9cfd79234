# ruff: noqa
from .entrypoints import nvidia_waveglow
