# ruff: noqa
from torch import nn


class RAFT(nn.Module):
    def __init__(self, *, feature_encoder, context_encoder, corr_block, update_block, mask_predictor=None):
        super().__init__()


def raft_large(*, weights=None, progress=True, **kwargs) -> RAFT:
    """RAFT model from `RAFT: Recurrent All Pairs Field Transforms for Optical Flow`."""
    raise NotImplementedError


def raft_small(*, weights=None, progress=True, **kwargs) -> RAFT:
    """RAFT "small" model from `RAFT: Recurrent All Pairs Field Transforms for Optical Flow`."""
    raise NotImplementedError
