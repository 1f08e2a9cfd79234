# ruff: noqa
class AutoTokenizer:
    r"""
    This is a generic tokenizer class that will be instantiated as one of the tokenizer classes of the library when
    created with the [`AutoTokenizer.from_pretrained`] class method.
    """

    def __init__(self):
        raise EnvironmentError("AutoTokenizer is designed to be instantiated using `from_pretrained`.")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *inputs, **kwargs):
        raise NotImplementedError
