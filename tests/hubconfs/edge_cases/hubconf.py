# ruff: noqa
"""Entrypoints of a small zoo, written with the odd corners real hubconf.py files have."""
import functools
import os
import sys
import os.path as _osp
from typing import Optional

import torch
from fvcore.common.registry import Registry

dependencies = ["torch"]
MODEL_DIR = os.environ.get("ZOO_MODEL_DIR", os.path.expanduser("~/.cache/zoo"))
VERSION = "1.2.0"
CONFIG = {"depth": 18}
REGISTRY = Registry("zoo")
resnet_depths = (18, 34)

try:
    from zoo_ext.fast import fast_net  # optional compiled extension
except ImportError:
    def fast_net(pretrained: bool = True):
        """Pure-Python fallback of fast_net."""

if torch.cuda.is_available():
    def gpu_net(pretrained=True, device="cuda"):
        """Only defined when CUDA is there."""
else:
    def cpu_net(pretrained=True, threads: int = 4):
        """Only defined without CUDA."""


def net(pretrained=True, /, depth=18, *blocks, width: int = 64, **kwargs) -> "torch.nn.Module":
    """A net with every kind of parameter."""


async def fetch_weights(url: str, *, timeout: float = 30.0):
    """Download weights without blocking."""


class Net(torch.nn.Module):
    """Constructed directly: torch.hub.load('acme/zoo', 'Net', depth=34)."""

    def __init__(self, depth: int = 18, num_classes: int = 1000):
        super().__init__()


class NetSmall(Net):
    """Same constructor as Net."""


def old_net(pretrained=False):
    """Deprecated, and removed below."""


del old_net


def version():
    return VERSION


def version(full: bool = False):
    """The zoo version (this later def wins)."""
    return VERSION


def _resnet(depth, pretrained=False, progress=True):
    """A ResNet of the given depth."""


def _make_factory(kind):
    def build(pretrained=True):
        return kind
    return build


net_v2 = net  # an alias
resnet101 = None  # placeholder, not callable
made_net = _make_factory("made")  # built by a call: cannot be read statically

for _depth in resnet_depths:  # a literal table: these names are known
    globals()[f"resnet{_depth}"] = functools.partial(_resnet, _depth)

globals()["literal_net"] = net
globals().update({"updated_net": _resnet})


def _registry():
    return {"registry_net": net}


for _name, _fn in _registry().items():  # not a literal: cannot be known statically
    globals()[_name] = _fn

if __name__ == "__main__":
    def main_only():
        pass

    print(net())
