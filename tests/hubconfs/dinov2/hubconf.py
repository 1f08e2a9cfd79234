# ruff: noqa
# Style of facebookresearch/dinov2: backbones re-exported from dinov2.hub, plus defs
# with keyword-only, annotated parameters and private helpers / private classes.

import torch
import torch.nn as nn

from dinov2.hub.backbones import dinov2_vitb14, dinov2_vitg14, dinov2_vitl14, dinov2_vits14
from dinov2.hub.classifiers import dinov2_vitb14_lc, dinov2_vits14_lc
from dinov2.layers.attention import Attention

dependencies = ["torch"]

_DEPTH_BASE_URL = "https://dl.fbaipublicfiles.com/dinov2"


def _make_depth_head(*, embed_dim: int = 1024, layers: int = 4, pretrained: bool = True):
    head = nn.Linear((1 + layers) * embed_dim, 256)
    if pretrained:
        url = _DEPTH_BASE_URL + f"/depth_head_{layers}.pth"
        head.load_state_dict(torch.hub.load_state_dict_from_url(url, map_location="cpu"))
    return head


class _DepthWrapper(nn.Module):
    def __init__(self, *, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head


def dinov2_vits14_ld(*, layers: int = 4, pretrained: bool = True, **kwargs):
    """
    Linear depth head on top of a DINOv2 ViT-S/14 backbone (optionally) pretrained on LVD-142M.
    """
    backbone = dinov2_vits14(pretrained=pretrained, **kwargs)
    return _DepthWrapper(backbone=backbone, head=_make_depth_head(embed_dim=384, layers=layers))
