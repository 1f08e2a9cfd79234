# ruff: noqa
from fairseq.models import register_model


@register_model("transformer")
class TransformerModel:
    @classmethod
    def hub_models(cls):
        return {
            "transformer.wmt19.en-de": "https://dl.fbaipublicfiles.com/fairseq/models/wmt19.en-de.joined-dict.ensemble.tar.gz",
        }

    @classmethod
    def from_pretrained(cls, model_name_or_path, checkpoint_file="model.pt", data_name_or_path=".", **kwargs):
        raise NotImplementedError
