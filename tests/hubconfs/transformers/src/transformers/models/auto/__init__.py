# ruff: noqa
from .configuration_auto import AutoConfig
from .modeling_auto import AutoModel, AutoModelForCausalLM
from .tokenization_auto import AutoTokenizer
