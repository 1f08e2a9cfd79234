# ruff: noqa
# No __all__ here: `from .fcn import *` takes every public name, modules included.
from typing import Any, Optional

from torch import nn

_COMMON_META = {"categories": ["__background__", "aeroplane"]}


class FCN(nn.Module):
    def __init__(self, backbone: nn.Module, classifier: nn.Module) -> None:
        super().__init__()


def _fcn_resnet(backbone, num_classes: int) -> FCN:
    return FCN(backbone, None)


def fcn_resnet50(
    *,
    weights=None,
    progress: bool = True,
    num_classes: Optional[int] = None,
    aux_loss: Optional[bool] = None,
    **kwargs: Any,
) -> FCN:
    """Fully-Convolutional Network model with a ResNet-50 backbone."""
    raise NotImplementedError
