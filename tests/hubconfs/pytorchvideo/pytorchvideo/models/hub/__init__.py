# ruff: noqa
from .csn import csn_r101
from .resnet import c2d_r50, slow_r50
from .slowfast import slowfast_r50
from .x3d import x3d_m, x3d_s
