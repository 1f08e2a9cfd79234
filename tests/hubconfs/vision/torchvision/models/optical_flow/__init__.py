# ruff: noqa
from .raft import RAFT, raft_large, raft_small
