# ruff: noqa


def nvidia_tacotron2(pretrained=True, **kwargs):
    """Constructs a Tacotron 2 model (nn.module with additional infer(input) method).

    Args (type[, default value]):
        pretrained (bool, True): If True, returns a model pretrained on LJ Speech dataset.
        model_math (str, 'fp32'): returns a model in given precision ('fp32' or 'fp16')
    """
    raise NotImplementedError


def nvidia_tts_utils():
    """Text-to-sequence helpers for Tacotron 2."""
    raise NotImplementedError
