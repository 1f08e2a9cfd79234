# ruff: noqa
from .model import EntryPoint, Model, ModelArch


def build_resnet(arch, **kwargs):
    raise NotImplementedError


resnet_configs = {
    "resnet50": Model(constructor=build_resnet, arch=ModelArch()),
    "resnext101-32x4d": Model(constructor=build_resnet, arch=ModelArch()),
}

# made by a static factory method: what it returns cannot be read without running it
resnet50 = EntryPoint.create("resnet50", resnet_configs["resnet50"])
resnext101_32x4d = EntryPoint.create("resnext101-32x4d", resnet_configs["resnext101-32x4d"])
