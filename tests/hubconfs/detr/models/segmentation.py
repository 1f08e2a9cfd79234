# ruff: noqa
"""This file provides the definition of the convolutional heads used to predict masks."""
from torch import nn


class _SegmBase(nn.Module):
    def __init__(self, detr, freeze_detr=False):
        super().__init__()


class DETRsegm(_SegmBase):
    """DETR with a mask head; the constructor is the base class's."""


class PostProcessPanoptic(nn.Module):
    """This class converts the output of the model to the final panoptic result."""

    def __init__(self, is_thing_map, threshold=0.85):
        super().__init__()
