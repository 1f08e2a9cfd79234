# ruff: noqa
import importlib
import os

MODEL_REGISTRY = {}


def register_model(name):
    """Register a model class under `name`; models are found by name at run time."""

    def register_model_cls(cls):
        if name in MODEL_REGISTRY:
            raise ValueError("Cannot register duplicate model ({})".format(name))
        MODEL_REGISTRY[name] = cls
        return cls

    return register_model_cls


# automatically import any Python files in the models/ directory
models_dir = os.path.dirname(__file__)
for file in sorted(os.listdir(models_dir)):
    if file.endswith(".py") and not file.startswith("_"):
        importlib.import_module("fairseq.models." + file[: -len(".py")])
