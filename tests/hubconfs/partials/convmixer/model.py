# ruff: noqa
import torch.nn as nn


class ConvMixer(nn.Sequential):
    """ConvMixer from "Patches Are All You Need?"."""

    def __init__(self, dim, depth, kernel_size=9, patch_size=7, n_classes=1000):
        super().__init__(nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size), nn.GELU())
