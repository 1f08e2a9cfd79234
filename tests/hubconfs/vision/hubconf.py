# ruff: noqa
# Style of pytorch/vision: every entrypoint is a re-export from the package itself.
# Optional list of dependencies required by the package
dependencies = ["torch"]

from torchvision.models import get_weight
from torchvision.models.alexnet import alexnet
from torchvision.models.optical_flow import raft_small
from torchvision.models.resnet import (
    resnet18,
    resnet50,
    wide_resnet50_2,
)
from torchvision.models.segmentation import deeplabv3_resnet50, fcn_resnet50
