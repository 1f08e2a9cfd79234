# ruff: noqa
from .deeplabv3 import *
from .fcn import *
