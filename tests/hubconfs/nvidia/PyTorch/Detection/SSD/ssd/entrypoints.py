# ruff: noqa
import os
import sys


def nvidia_ssd_processing_utils():
    """Helpers to prepare COCO images for SSD300 and decode its detections."""
    import numpy as np

    class Processing:
        @staticmethod
        def prepare_input(img_uri):
            return np.zeros((300, 300, 3))

    return Processing()


def nvidia_ssd(pretrained=True, **kwargs):
    """Constructs an SSD300 model.
    For detailed information on model input and output, training recipies, inference and performance
    visit: github.com/NVIDIA/DeepLearningExamples and/or ngc.nvidia.com

    Args:
        pretrained (bool, True): If True, returns a model pretrained on COCO dataset.
        model_math (str, 'fp32'): returns a model in given precision ('fp32' or 'fp16')
    """
    from ssd import model as ssd  # found through the sys.path entry hubconf.py adds

    return ssd.SSD300()
