# ruff: noqa
from .attention import Attention, MemEffAttention
