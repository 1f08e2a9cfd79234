# ruff: noqa
# Copyright (c) 2015-present, Facebook, Inc.
# All rights reserved.
import torch
import torch.nn as nn

__all__ = [
    'cait_XXS24_224', 'cait_S24_224',
]


class Cait(nn.Module):
    # taken from https://github.com/rwightman/pytorch-image-models/blob/master/timm/models/vision_transformer.py
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000, embed_dim=768, depth=12):
        super().__init__()


def cait_XXS24_224(pretrained=False, **kwargs):
    return Cait(img_size=224, embed_dim=192, depth=24, **kwargs)


def cait_S24_224(pretrained=False, **kwargs):
    return Cait(img_size=224, embed_dim=384, depth=24, **kwargs)
