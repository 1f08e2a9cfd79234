# ruff: noqa
from typing import Any, Optional

from torch import nn

__all__ = ["DeepLabV3", "deeplabv3_resnet50"]


class DeepLabV3(nn.Module):
    def __init__(self, backbone: nn.Module, classifier: nn.Module, aux_classifier: Optional[nn.Module] = None) -> None:
        super().__init__()


def deeplabv3_resnet50(
    *,
    weights=None,
    progress: bool = True,
    num_classes: Optional[int] = None,
    aux_loss: Optional[bool] = None,
    weights_backbone=None,
    **kwargs: Any,
) -> DeepLabV3:
    """Constructs a DeepLabV3 model with a ResNet-50 backbone."""
    raise NotImplementedError
