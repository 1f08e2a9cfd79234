"""The networks behind hubconf.py's entrypoints: plain ``torch.nn`` modules.

Both take ``pixels``, float32 [batch, 64]: an 8x8 grey digit, row-major, with values
divided by 16 (range [0, 1]); both return ``logits``, float32 [batch, 10], one per digit.
"""

import torch
from torch import nn


class DigitsMLP(nn.Module):
    """Multilayer perceptron 64 -> hidden -> 10 with ReLU, randomly initialised.

    >>> DigitsMLP(hidden=32)(torch.zeros(2, 64)).shape
    torch.Size([2, 10])
    """

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.hidden = nn.Linear(64, hidden)
        self.out = nn.Linear(hidden, 10)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(pixels)))


class DigitsCNN(nn.Module):
    """Two 3x3 convolutions and a linear head over the pixels seen as a 1x8x8 image.

    >>> DigitsCNN()(torch.zeros(2, 64)).shape
    torch.Size([2, 10])
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.head = nn.Linear(16 * 4 * 4, 10)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv1(pixels.reshape(-1, 1, 8, 8)))
        h = torch.max_pool2d(torch.relu(self.conv2(h)), 2)
        return self.head(torch.flatten(h, 1))
