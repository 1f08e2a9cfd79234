# ruff: noqa
import torch.nn as nn

from .base_model import BaseModel


class DPT(BaseModel):
    def __init__(self, head, features=256, backbone="vitb_rn50_384", readout="project", channels_last=False, use_bn=False, **kwargs):
        super().__init__()


class DPTDepthModel(DPT):
    def __init__(self, path=None, non_negative=True, **kwargs):
        super().__init__(nn.Identity(), **kwargs)
