# ruff: noqa
from typing import List

import torch


def read_audio(path: str, sampling_rate: int = 16000):
    """Reads an audio file into a mono float tensor at `sampling_rate`."""
    raise NotImplementedError


def init_jit_model(model_url: str, device: torch.device = torch.device('cpu')):
    raise NotImplementedError


class Decoder:
    def __init__(self, labels: List[str]):
        self.labels = labels
