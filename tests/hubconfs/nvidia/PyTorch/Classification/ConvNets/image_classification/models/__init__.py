# ruff: noqa
from .resnet import resnet50, resnext101_32x4d
from .efficientnet import efficientnet_b0, efficientnet_b4
from .entrypoints import nvidia_convnets_processing_utils
