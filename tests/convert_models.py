"""Small real models that tests/test_convert.py converts, importable from a subprocess.

Frameworks are imported inside the builders only, so that a subprocess importing this
module (to show that a cached conversion needs no framework) imports none.
"""

from __future__ import annotations

from pathlib import Path

CNN_SIGNATURE = {
    "name": "forward",
    "inputs": [{"name": "pixels", "dtype": "float32", "shape": ["batch", 1, 8, 8]}],
    "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", 3]}],
}
CNN_DIGEST = "sha256:" + "c" * 64  # stands for sha256(artifacts + entrypoint + kwargs)


def cnn(seed: int = 0):
    """Conv2d -> ReLU -> max-pool -> Linear on [batch, 1, 8, 8] images: 3 class scores."""
    import torch
    from torch import nn

    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(4 * 4 * 4, 3)

        def forward(self, pixels):
            return self.fc(torch.flatten(self.pool(torch.relu(self.conv(pixels))), 1))

    torch.manual_seed(seed)
    return SmallCNN().eval()


def data_dependent():
    """A module whose Python control flow depends on the input's values: torch.export
    cannot capture it, and a trace would silently keep one branch."""
    import torch

    class Branchy(torch.nn.Module):
        def forward(self, pixels):
            if pixels.sum() > 0:
                return pixels * 2
            return pixels - 1

    return Branchy().eval()


def text_output():
    """A module that returns a string: nothing a converted model could return."""
    import torch

    class Talker(torch.nn.Module):
        def forward(self, pixels):
            return "a cat"

    return Talker().eval()


def save_torchscript(path: Path) -> Path:
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated upstream
        torch.jit.save(torch.jit.trace(cnn(), torch.zeros(2, 1, 8, 8)), str(path))
    return path


def save_exported_program(path: Path) -> Path:
    import torch

    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(cnn(), (torch.zeros(2, 1, 8, 8),),
                                  dynamic_shapes=({0: batch},), strict=False)
    torch.export.save(program, str(path))
    return path


def save_savedmodel(folder: Path, seed: int = 0) -> Path:
    """A SavedModel with two signatures: class scores, and a feature vector."""
    import numpy as np
    import tensorflow as tf

    class Model(tf.Module):
        def __init__(self):
            rng = np.random.default_rng(seed)
            self.w = tf.Variable(rng.standard_normal((4, 3)).astype("float32"))
            self.f = tf.Variable(rng.standard_normal((4, 2)).astype("float32"))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serving_default(self, x):
            return {"scores": tf.nn.softmax(x @ self.w)}

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def features(self, x):
            return {"embedding": tf.nn.relu(x @ self.f)}

    model = Model()
    tf.saved_model.save(model, str(folder),
                        signatures={"serving_default": model.serving_default,
                                    "features": model.features})
    return folder
