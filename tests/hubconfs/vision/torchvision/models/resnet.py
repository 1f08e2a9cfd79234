# ruff: noqa
from typing import Any, List, Optional, Type, Union

from torch import nn

from ._api import WeightsEnum, register_model
from ._utils import handle_legacy_interface

__all__ = [
    "ResNet",
    "ResNet18_Weights",
    "ResNet50_Weights",
    "resnet18",
    "resnet50",
    "wide_resnet50_2",
]


class ResNet(nn.Module):
    def __init__(
        self,
        block: Type[nn.Module],
        layers: List[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
    ) -> None:
        super().__init__()


class ResNet18_Weights(WeightsEnum):
    IMAGENET1K_V1 = "https://download.pytorch.org/models/resnet18-f37072fd.pth"


class ResNet50_Weights(WeightsEnum):
    IMAGENET1K_V1 = "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    IMAGENET1K_V2 = "https://download.pytorch.org/models/resnet50-11ad3fa6.pth"


def _resnet(block, layers, weights, progress: bool, **kwargs: Any) -> ResNet:
    return ResNet(block, layers, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNet18_Weights.IMAGENET1K_V1))
def resnet18(*, weights: Optional[ResNet18_Weights] = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-18 from `Deep Residual Learning for Image Recognition <https://arxiv.org/abs/1512.03385>`__.

    Args:
        weights (ResNet18_Weights, optional): The pretrained weights to use.
        progress (bool, optional): If True, displays a progress bar of the download to stderr.
    """
    return _resnet(None, [2, 2, 2, 2], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNet50_Weights.IMAGENET1K_V1))
def resnet50(*, weights: Optional[ResNet50_Weights] = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-50 from `Deep Residual Learning for Image Recognition <https://arxiv.org/abs/1512.03385>`__."""
    return _resnet(None, [3, 4, 6, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNet50_Weights.IMAGENET1K_V1))
def wide_resnet50_2(
    *, weights: Optional[ResNet50_Weights] = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """Wide ResNet-50-2 model from `Wide Residual Networks <https://arxiv.org/abs/1605.07146>`_."""
    kwargs["width_per_group"] = 64 * 2
    return _resnet(None, [3, 4, 6, 3], weights, progress, **kwargs)
