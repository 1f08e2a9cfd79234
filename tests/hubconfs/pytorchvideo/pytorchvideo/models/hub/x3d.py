# ruff: noqa
from typing import Any

import torch.nn as nn

from .utils import hub_model_builder

root_dir = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics"
checkpoint_paths = {
    "x3d_s": f"{root_dir}/X3D_S.pyth",
    "x3d_m": f"{root_dir}/X3D_M.pyth",
}


def x3d_s(pretrained: bool = False, progress: bool = True, **kwargs):
    r"""
    X3D-S model architecture [1] trained on the Kinetics dataset.
    Model with pretrained weights has top1 accuracy of 73.33.

    Args:
        pretrained (bool): If True, returns a model pre-trained on the Kinetics dataset
        progress (bool): If True, displays a progress bar of the download to stderr
    """
    return hub_model_builder(None, pretrained=pretrained, progress=progress, **kwargs)


def x3d_m(pretrained: bool = False, progress: bool = True, **kwargs):
    r"""
    X3D-M model architecture [1] trained on the Kinetics dataset.
    Model with pretrained weights has top1 accuracy of 75.94.
    """
    return hub_model_builder(None, pretrained=pretrained, progress=progress, **kwargs)
