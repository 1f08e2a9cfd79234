# ruff: noqa
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass
class ModelArch:
    pass


@dataclass
class Model:
    constructor: Callable
    arch: ModelArch
    checkpoint_url: Optional[str] = None


class EntryPoint:
    @staticmethod
    def create(name: str, model: Model):
        return EntryPoint(name, model)

    def __init__(self, name: str, model: Model):
        self.name = name
        self.model = model

    def __call__(self, pretrained=True, pretrained_from_file=None, state_dict_key_map_fn=None, **kwargs):
        """Builds the model; `pretrained=True` downloads NGC weights."""
        return self.model.constructor(arch=self.model.arch, **kwargs)
