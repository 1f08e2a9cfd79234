# ruff: noqa
from .entrypoints import nvidia_ssd, nvidia_ssd_processing_utils
