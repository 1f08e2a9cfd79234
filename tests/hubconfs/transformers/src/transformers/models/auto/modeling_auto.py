# ruff: noqa
class _BaseAutoModelClass:
    def __init__(self, *args, **kwargs) -> None:
        raise EnvironmentError(
            f"{self.__class__.__name__} is designed to be instantiated "
            f"using the `{self.__class__.__name__}.from_pretrained(pretrained_model_name_or_path)` or "
            f"`{self.__class__.__name__}.from_config(config)` methods."
        )

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        raise NotImplementedError


class AutoModel(_BaseAutoModelClass):
    """This is a generic model class that will be instantiated as one of the base model classes of the library."""


class AutoModelForCausalLM(_BaseAutoModelClass):
    """This is a generic model class with a causal language modeling head."""
