# ruff: noqa
# Copyright (c) 2015-present, Facebook, Inc.
# All rights reserved.
# No __all__: `from resmlp_models import *` takes its public imports along.
from functools import partial

import torch
import torch.nn as nn
from timm.models.layers import DropPath, trunc_normal_


class Affine(nn.Module):
    def __init__(self, dim):
        super().__init__()


class resmlp_models(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000, embed_dim=768, depth=12, drop_rate=0.):
        super().__init__()


def resmlp_12(pretrained=False, dist=False, **kwargs):
    model = resmlp_models(patch_size=16, embed_dim=384, depth=12, **kwargs)
    return model


def resmlp_24(pretrained=False, dist=False, dino=False, **kwargs):
    model = resmlp_models(patch_size=16, embed_dim=384, depth=24, **kwargs)
    return model
