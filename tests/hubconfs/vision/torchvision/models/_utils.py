# ruff: noqa
import functools
from typing import Any, Callable, Dict, Tuple


def handle_legacy_interface(**weights: Tuple[str, Any]):
    """Maps the deprecated `pretrained=True` keyword onto `weights=`."""

    def outer_wrapper(builder: Callable) -> Callable:
        @functools.wraps(builder)
        def inner_wrapper(*args: Any, **kwargs: Any):
            for weights_param, (pretrained_param, default) in weights.items():
                if kwargs.pop(pretrained_param, False):
                    kwargs[weights_param] = default
            return builder(*args, **kwargs)

        return inner_wrapper

    return outer_wrapper
