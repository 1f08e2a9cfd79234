# ruff: noqa
__version__ = "0.0.0+fixture"

from .models.auto import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer
from .utils import add_end_docstrings, add_start_docstrings
