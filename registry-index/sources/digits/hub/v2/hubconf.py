"""PyTorch Hub entrypoints of mlpm's digits starter models (digits-hub 2.x).

Usage::

    model = torch.hub.load("mlpm-starters/digits-hub", "digits_mlp", hidden=64)
    digits = model(pixels).argmax(dim=1)

Inputs are ``pixels``, float32 [batch, 64]: 8x8 grey digits, row-major, values divided
by 16 (range [0, 1]). Outputs are ``logits``, float32 [batch, 10], for the digits 0-9.

Changed in 2.0: ``digits_mlp`` has pretrained weights for three widths, and ``hidden`` is
a required keyword argument (1.x defaulted to 64; ``hidden=64`` gives 1.1's model).
"""

import torch
from models import DigitsCNN as _DigitsCNN
from models import DigitsMLP  # noqa: F401  (re-exported: torch.hub.list shows it as an entrypoint)

dependencies = ["torch"]

_URL = "https://models.mlpm.dev/digits/"
# This release's weight files. The hex part of each name is the first 8 hex digits of the
# file's sha256, torch.hub's check_hash convention; train_family.py fills the names in.
_WEIGHTS = {
    "digits_mlp_32": "digits_mlp_h32-00000000.pth",
    "digits_mlp_64": "digits_mlp-00000000.pth",
    "digits_mlp_128": "digits_mlp_h128-00000000.pth",
    "digits_cnn": "digits_cnn-00000000.pth",
}


def _load(model: torch.nn.Module, weights: str) -> torch.nn.Module:
    state = torch.hub.load_state_dict_from_url(
        _URL + weights, progress=False, map_location="cpu", check_hash=True, weights_only=True
    )
    model.load_state_dict(state)
    return model.eval()


def digits_mlp(pretrained: bool = True, *, hidden: int) -> torch.nn.Module:
    """Digit classifier: a 64-hidden-10 multilayer perceptron returning logits.

    Args:
        pretrained: load the weights trained on scikit-learn's digits (hidden=32, 64 or
            128); False gives a randomly initialised network of any width.
        hidden: number of hidden units, required; pretrained weights exist for 32, 64
            (digits-hub 1.1's model) and 128.
    """
    key = f"digits_mlp_{hidden}"
    if pretrained and key not in _WEIGHTS:
        raise ValueError(
            f"pretrained weights exist for hidden=32, 64 or 128, not {hidden}; "
            "pass pretrained=False to build another width"
        )
    model = DigitsMLP(hidden=hidden)
    return _load(model, _WEIGHTS[key]) if pretrained else model.eval()


def digits_cnn(pretrained: bool = True) -> torch.nn.Module:
    """Digit classifier: a small convolutional network over the pixels as a 1x8x8 image.

    Args:
        pretrained: load the weights trained on scikit-learn's digits; False gives a
            randomly initialised network.
    """
    model = _DigitsCNN()
    return _load(model, _WEIGHTS["digits_cnn"]) if pretrained else model.eval()
