# ruff: noqa
from typing import Any

import torch.nn as nn

from .utils import hub_model_builder


def slowfast_r50(pretrained: bool = False, progress: bool = True, **kwargs: Any) -> nn.Module:
    r"""
    SlowFast R50 model architecture [1] trained with an 8x8 setting on the
    Kinetics400 dataset. Model with pretrained weights has top1 accuracy of 76.4.
    """
    return hub_model_builder(None, pretrained=pretrained, progress=progress, **kwargs)
