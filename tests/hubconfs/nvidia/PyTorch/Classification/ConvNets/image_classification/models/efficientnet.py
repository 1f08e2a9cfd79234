# ruff: noqa
from .model import EntryPoint, Model, ModelArch


def build_efficientnet(arch, **kwargs):
    raise NotImplementedError


# instances of a class with __call__: their parameters are those of EntryPoint.__call__
efficientnet_b0 = EntryPoint("efficientnet-b0", Model(constructor=build_efficientnet, arch=ModelArch()))
efficientnet_b4 = EntryPoint("efficientnet-b4", Model(constructor=build_efficientnet, arch=ModelArch()))
