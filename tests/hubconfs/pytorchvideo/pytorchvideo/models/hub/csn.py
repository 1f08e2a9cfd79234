# ruff: noqa
from typing import Any

import torch.nn as nn

from .utils import hub_model_builder


def csn_r101(pretrained: bool = False, progress: bool = True, **kwargs: Any) -> nn.Module:
    r"""
    Channel-Separated Convolutional Networks (CSN) R(2+1)D-101 model architecture [1]
    with pretrained weights based on 32x2 setting on the Kinetics400 dataset.
    """
    return hub_model_builder(None, pretrained=pretrained, progress=progress, **kwargs)
