# ruff: noqa
# Copyright (c) 2015-present, Facebook, Inc.
# All rights reserved.
# Style of facebookresearch/deit: everything arrives through star imports of the repo's
# model files (with and without __all__), plus one star import of an outside package.
from models import *
from cait_models import *
from resmlp_models import *
from timm.models.efficientnet import *  # extra architectures straight from timm
#from patchconvnet_models import *

dependencies = ["torch", "torchvision", "timm"]
