# ruff: noqa
from enum import Enum
from typing import Callable, Dict, Optional

BUILTIN_MODELS: Dict[str, Callable] = {}


class WeightsEnum(Enum):
    """Base of the per-architecture weight enums."""


def register_model(name: Optional[str] = None):
    def wrapper(fn):
        key = name if name is not None else fn.__name__
        if key in BUILTIN_MODELS:
            raise ValueError(f"An entry is already registered under the name '{key}'.")
        BUILTIN_MODELS[key] = fn
        return fn

    return wrapper


def get_weight(name: str) -> WeightsEnum:
    """
    Gets the weights enum value by its full name. Example: "ResNet50_Weights.IMAGENET1K_V1"

    Args:
        name (str): The name of the weight enum entry.
    """
    raise NotImplementedError(name)
