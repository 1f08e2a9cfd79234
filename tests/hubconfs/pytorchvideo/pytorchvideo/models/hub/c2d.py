# ruff: noqa
from typing import Any

import torch.nn as nn

from .utils import MODEL_ZOO_ROOT_DIR, hub_model_builder


def c2d_r50(pretrained: bool = False, progress: bool = True, **kwargs: Any) -> nn.Module:
    r"""
    C2D R50 model architecture trained with an 8x8 setting on the Kinetics400 dataset.
    Model with pretrained weights has top1 accuracy of 71.46.

    Args:
        pretrained (bool): If True, returns a model pre-trained on Kinetics400 dataset
        progress (bool): If True, displays a progress bar of the download to stderr
        kwargs: use these to modify any of the other model settings.
    """
    return hub_model_builder(None, pretrained=pretrained, progress=progress, **kwargs)
