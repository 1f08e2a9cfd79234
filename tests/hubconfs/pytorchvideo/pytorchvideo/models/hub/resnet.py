# ruff: noqa
from typing import Any

import torch.nn as nn

from pytorchvideo.models.hub.c2d import c2d_r50  # noqa: F401  (moved; kept importable here)

from .utils import hub_model_builder


def slow_r50(pretrained: bool = False, progress: bool = True, **kwargs: Any) -> nn.Module:
    r"""
    Slow R50 model architecture [1] with pretrained weights based on 8x8 setting
    on the Kinetics dataset. Model with pretrained weights has top1 accuracy of 74.58.
    """
    return hub_model_builder(None, pretrained=pretrained, progress=progress, **kwargs)
