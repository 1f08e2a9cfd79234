# ruff: noqa
"""from https://github.com/keithito/tacotron"""


def text_to_sequence(text, cleaner_names):
    return [ord(c) for c in text]
