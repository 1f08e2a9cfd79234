# ruff: noqa
"""Hub entrypoints of a model zoo that names its variants with functools.partial."""
import functools
from functools import partial

from convmixer.model import ConvMixer

dependencies = ["torch"]

_URLS = {
    "convmixer_1536_20": "https://github.com/tmp-iclr/convmixer/releases/download/v1.0/convmixer_1536_20_ks9_p7.pth.tar",
    "convmixer_768_32": "https://github.com/tmp-iclr/convmixer/releases/download/v1.0/convmixer_768_32_ks7_p7_relu.pth.tar",
}


def _convmixer(dim, depth, kernel_size=9, patch_size=7, pretrained=False, progress=True, *, num_classes=1000, **kwargs):
    """Build a ConvMixer; with pretrained=True, load its ImageNet-1k weights."""
    model = ConvMixer(dim, depth, kernel_size=kernel_size, patch_size=patch_size, n_classes=num_classes)
    if pretrained:
        import torch

        url = _URLS[f"convmixer_{dim}_{depth}"]
        model.load_state_dict(torch.hub.load_state_dict_from_url(url, progress=progress))
    return model


convmixer_1536_20 = partial(_convmixer, 1536, 20)
convmixer_768_32 = functools.partial(_convmixer, 768, 32, kernel_size=7)
convmixer_1024_20_ks9_p14 = partial(_convmixer, 1024, 20, patch_size=14)
convmixer_768_32_in21k = partial(convmixer_768_32, num_classes=21841)  # a partial of a partial
convmixer_tiny = lambda pretrained=False, **kwargs: _convmixer(256, 8, pretrained=pretrained, **kwargs)
default = convmixer_1536_20  # an alias of another entrypoint
ConvMixer_512 = partial(ConvMixer, 512)  # a partial of a class
_smoke_test = partial(_convmixer, 16, 1)
