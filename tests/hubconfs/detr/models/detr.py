# ruff: noqa
"""DETR model and criterion classes."""
from torch import nn


class DETR(nn.Module):
    """ This is the DETR module that performs object detection """

    def __init__(self, backbone, transformer, num_classes, num_queries, aux_loss=False):
        """ Initializes the model."""
        super().__init__()


class PostProcess(nn.Module):
    """ This module converts the model's output into the format expected by the coco api"""

    def forward(self, outputs, target_sizes):
        return outputs
