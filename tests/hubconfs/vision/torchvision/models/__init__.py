# ruff: noqa
from ._api import get_weight, register_model
from .alexnet import *
from .resnet import *
from . import optical_flow, segmentation
