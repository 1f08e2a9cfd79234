# ruff: noqa
# Style of snakers4/silero-models: a short hubconf.py re-exporting from src/, an explicit
# __all__, and a sys.path edit after the imports.
dependencies = ['torch', 'omegaconf', 'torchaudio']

import sys

from src.silero import (
    silero_stt,
    silero_tts,
    silero_te,
)
from src.silero.utils import read_audio

__all__ = [
    'silero_stt',
    'silero_tts',
    'silero_te',
]

sys.path.append('src')
