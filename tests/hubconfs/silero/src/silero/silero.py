# ruff: noqa
import os
import tempfile
import warnings

import torch
from omegaconf import OmegaConf

from .utils import Decoder, init_jit_model


def silero_stt(language='en', version='latest', jit_model='jit', **kwargs):
    """ Silero Speech-To-Text Model(s)
    language (str): language of the model, now available are ['en', 'de', 'es']
    Returns a model, decoder object and a set of utils
    Please see https://github.com/snakers4/silero-models for usage examples
    """
    raise NotImplementedError


def silero_tts(language='en', speaker='kseniya_16khz', **kwargs):
    """ Silero Text-To-Speech Models
    language (str): language of the model, now available are ['ru', 'en', 'de', 'es', 'fr']
    Returns a model and a set of utils
    Please see https://github.com/snakers4/silero-models for usage examples
    """
    raise NotImplementedError


def silero_te():
    """ Silero Texts Enhancing Model
    Current model supports the following languages: ['en', 'de', 'ru', 'es']
    Returns a model and a set of utils
    Please see https://github.com/snakers4/silero-models for usage examples
    """
    raise NotImplementedError
