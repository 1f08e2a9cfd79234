# ruff: noqa
from typing import Any, Callable, Optional

import torch.nn as nn

MODEL_ZOO_ROOT_DIR = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo"


def hub_model_builder(
    model_builder_func: Callable,
    pretrained: bool = False,
    progress: bool = True,
    checkpoint_path: str = "",
    default_config: Optional[Any] = None,
    **kwargs: Any,
) -> nn.Module:
    raise NotImplementedError
