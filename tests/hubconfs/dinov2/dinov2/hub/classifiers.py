# ruff: noqa
from typing import Union

from .backbones import Weights, _make_dinov2_model


def _make_dinov2_linear_classifier(*, arch_name: str = "vit_large", layers: int = 4, pretrained: bool = True, **kwargs):
    return _make_dinov2_model(arch_name=arch_name, pretrained=pretrained, **kwargs)


def dinov2_vits14_lc(
    *, layers: int = 4, pretrained: bool = True, weights: Union[Weights, str] = Weights.LVD142M, **kwargs
):
    """
    Linear classifier (1 or 4 layers) on top of a DINOv2 ViT-S/14 backbone trained on ImageNet-1k.
    """
    return _make_dinov2_linear_classifier(arch_name="vit_small", layers=layers, pretrained=pretrained, **kwargs)


def dinov2_vitb14_lc(
    *, layers: int = 4, pretrained: bool = True, weights: Union[Weights, str] = Weights.LVD142M, **kwargs
):
    """
    Linear classifier (1 or 4 layers) on top of a DINOv2 ViT-B/14 backbone trained on ImageNet-1k.
    """
    return _make_dinov2_linear_classifier(arch_name="vit_base", layers=layers, pretrained=pretrained, **kwargs)
