# ruff: noqa
from typing import Any, Optional

from torch import nn

from ._api import WeightsEnum, register_model
from ._utils import handle_legacy_interface

__all__ = ["AlexNet", "AlexNet_Weights", "alexnet"]


class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()


class AlexNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"


@register_model()
@handle_legacy_interface(weights=("pretrained", AlexNet_Weights.IMAGENET1K_V1))
def alexnet(*, weights: Optional[AlexNet_Weights] = None, progress: bool = True, **kwargs: Any) -> AlexNet:
    """AlexNet model architecture from `One weird trick for parallelizing convolutional neural networks`.

    Args:
        weights (AlexNet_Weights, optional): The pretrained weights to use.
        progress (bool, optional): If True, displays a progress bar of the download.
    """
    return AlexNet(**kwargs)
