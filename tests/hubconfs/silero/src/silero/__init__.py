# ruff: noqa
from .silero import (
    silero_stt,
    silero_tts,
    silero_te,
)
from .utils import (Decoder, init_jit_model, read_audio)
