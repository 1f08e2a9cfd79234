"""What a Hugging Face model repo holds, read from its files' text (no huggingface_hub).

The Hugging Face source (fetching, resolving) hands these functions bytes and file lists;
they never touch the network or the disk:

- :func:`read_config` summarises ``config.json`` (architectures, sizes, labels, dtype);
- :func:`read_card` reads a model card's YAML front matter (license, pipeline tag,
  base model, reported metrics);
- :func:`card_bases` gives the base models a card declares (valid repo ids only);
- :func:`read_adapter_config` reads a PEFT ``adapter_config.json``, :func:`adapter_base`
  just its base model;
- :func:`check_repo_id` checks a repo id by huggingface_hub's own rules, and
  :func:`check_repo_path` a file path from a repo listing;
- :func:`choose_files` picks which files of a repo make the package, and
  :func:`weights_format` says which kind of weights they are.

Every input is bounded and type-checked: a hostile config or card gives a ValueError
(configs) or an empty summary (cards, which are documentation), never a crash.

    >>> read_config(b'{"architectures": ["BertForMaskedLM"], "model_type": "bert", '
    ...             b'"hidden_size": 768, "vocab_size": 30522}')["architectures"]
    ['BertForMaskedLM']
    >>> choose_files(["model.safetensors", "pytorch_model.bin", "config.json", "README.md",
    ...               "onnx/model.onnx", ".gitattributes"], None, None, None)
    ['README.md', 'config.json', 'model.safetensors']
"""

from __future__ import annotations

import re

from mlpm.registry.hfid import check_repo_id  # the Hub's rule; re-exported for readers here

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_CONFIG_SIZE = 16 * 1024 * 1024  # a config.json; ImageNet-21k's 21,843 labels take ~1 MB
MAX_CARD_SIZE = 512 * 1024  # the front matter of a model card (read by libyaml)
MAX_CARD_SIZE_PURE = 64 * 1024  # the same, when PyYAML has no libyaml (~50 KB/s)
MAX_LABELS = 100_000
MAX_LIST = 1_000  # items of one card list (tags, datasets, metrics...)
MAX_TEXT = 1_000  # characters of one card string; longer ones are dropped
MAX_VISITS = 100_000  # model-index entries looked at
MAX_FILES = 100_000  # files in one repo listing
MAX_PATH = 1_024



def _text(raw: bytes | str, limit: int, what: str) -> str:
    if len(raw) > limit:
        raise ValueError(f"{what} is over {limit} bytes, too large to be a real one.")
    if isinstance(raw, str):
        return raw
    try:
        return bytes(raw).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{what} is not UTF-8 text; download it again.") from None


def _json_object(raw: bytes | str, limit: int, what: str) -> dict:
    import json

    text = _text(raw, limit, what)
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply to be a real one.") from None
    except ValueError as err:
        detail = f" ({err.msg} at offset {err.pos})" if isinstance(err, json.JSONDecodeError) \
            else ""
        raise ValueError(f"{what} is not valid JSON{detail}; download it again.") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} is not a JSON object; download it again.")
    return data


def _string(value: object, limit: int = MAX_TEXT) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _positive_int(value: object) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _strings(value: object) -> list[str]:
    """A string or list of strings as a list (other items dropped, at most MAX_LIST)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [item for item in value[:MAX_LIST] if _string(item) is not None]


# ---------------------------------------------------------------- config.json


def read_config(raw: bytes | str) -> dict:
    """A summary of a transformers ``config.json``; missing fields are None.

    ``hidden_size``, ``num_hidden_layers`` and ``vocab_size`` also take GPT-2's names
    (``n_embd``, ``n_layer``) and ``d_model`` / ``num_layers``, then the same fields of a
    multimodal model's ``text_config``. ``labels`` are ``id2label``'s names in id order
    when the ids are exactly 0..n-1 (at most :data:`MAX_LABELS`), else None.
    ``torch_dtype`` is also read from transformers 5's ``dtype``.

        >>> read_config('{"model_type": "vit", "id2label": {"1": "dog", "0": "cat"}, '
        ...             '"torch_dtype": "float32", "num_hidden_layers": 12}')
        ... # doctest: +NORMALIZE_WHITESPACE
        {'architectures': [], 'model_type': 'vit', 'hidden_size': None,
         'num_hidden_layers': 12, 'vocab_size': None, 'labels': ['cat', 'dog'],
         'torch_dtype': 'float32'}
    """
    data = _json_object(raw, MAX_CONFIG_SIZE, "config.json")
    text_config = data.get("text_config")
    fallback = text_config if isinstance(text_config, dict) else {}

    def size(*names: str) -> int | None:
        for source in (data, fallback):
            for name in names:
                value = _positive_int(source.get(name))
                if value is not None:
                    return value
        return None

    dtype = _string(data.get("torch_dtype"), 40) or _string(data.get("dtype"), 40)
    return {
        "architectures": _strings(data.get("architectures")),
        "model_type": _string(data.get("model_type"), 200),
        "hidden_size": size("hidden_size", "n_embd", "d_model"),
        "num_hidden_layers": size("num_hidden_layers", "n_layer", "num_layers"),
        "vocab_size": size("vocab_size"),
        "labels": _labels(data.get("id2label")),
        "torch_dtype": dtype,
    }


def _labels(id2label: object) -> list[str] | None:
    if not isinstance(id2label, dict) or not 0 < len(id2label) <= MAX_LABELS:
        return None
    labels: list[str | None] = [None] * len(id2label)
    for key, name in id2label.items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 7
                and isinstance(name, str) and len(name) <= MAX_TEXT):
            return None
        index = int(key)
        if index >= len(labels) or labels[index] is not None:
            return None
        labels[index] = name
    return [label for label in labels if label is not None]


# ---------------------------------------------------------------- README.md


def front_matter(text: bytes | str) -> str | None:
    """The YAML between a leading ``---`` line and the next ``---`` line, or None.

        >>> front_matter("---\\nlicense: mit\\n---\\n# My model\\n")
        'license: mit\\n'
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text[:MAX_CARD_SIZE + 16]).decode("utf-8-sig", errors="replace")
    text = text.lstrip("\ufeff")
    head = re.match(r"---[ \t]*\r?\n", text)
    if head is None:
        return None
    end = re.compile(r"^---[ \t]*\r?$", re.MULTILINE).search(text, head.end(), MAX_CARD_SIZE)
    if end is None:
        return None
    return text[head.end():end.start()]


def read_card(text: bytes | str) -> dict:
    """The metadata of a model card (README.md) from its YAML front matter.

    Gives ``license``, ``pipeline_tag``, ``library_name`` (strings or None), ``tags``,
    ``datasets``, ``base_model``, ``language`` (lists of strings; a lone string becomes a
    one-item list) and ``metrics``: each reported result of ``model-index`` as
    ``{"name", "type", "value", "task", "dataset"}`` (``value`` a number or string; the
    others strings or None). Items of the wrong type are dropped. A card without front
    matter, with YAML that does not parse (or is hostile: nested over 1000 deep, front
    matter over :data:`MAX_CARD_SIZE`, or :data:`MAX_CARD_SIZE_PURE` when PyYAML lacks
    libyaml), or read without PyYAML installed gives the empty summary: a card is
    documentation. The YAML is read with ``yaml.safe_load``'s loader (libyaml's
    ``CSafeLoader`` when available): plain data only, never Python objects.

        >>> card = '''---
        ... license: apache-2.0
        ... base_model: google-bert/bert-base-uncased
        ... tags: [text-classification, 42]
        ... model-index:
        ... - name: my-model
        ...   results:
        ...   - task: {type: text-classification}
        ...     dataset: {name: GLUE SST2, type: glue}
        ...     metrics:
        ...     - {type: accuracy, value: 0.93, name: Accuracy}
        ... ---
        ... '''
        >>> summary = read_card(card)
        >>> summary["base_model"], summary["tags"], summary["metrics"]
        ... # doctest: +NORMALIZE_WHITESPACE
        (['google-bert/bert-base-uncased'], ['text-classification'],
         [{'name': 'Accuracy', 'type': 'accuracy', 'value': 0.93,
           'task': 'text-classification', 'dataset': 'GLUE SST2'}])
    """
    summary: dict = {"license": None, "pipeline_tag": None, "library_name": None, "tags": [],
                     "datasets": [], "base_model": [], "language": [], "metrics": []}
    yaml_text = front_matter(text)
    if not yaml_text or len(yaml_text) > MAX_CARD_SIZE:
        return summary
    try:
        import yaml  # type: ignore[import-untyped]  # PyYAML: a huggingface_hub dependency
    except ImportError:
        return summary
    # libyaml's loader is ~10x faster and refuses nesting over 1000 levels itself; the
    # pure-Python one (the same safe constructors) gets a tighter size bound
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None and len(yaml_text) > MAX_CARD_SIZE_PURE:
        return summary
    try:
        data = yaml.load(yaml_text, Loader=loader or yaml.SafeLoader)  # = yaml.safe_load
    except Exception:  # YAMLError, RecursionError, a bad date's ValueError...: hostile or broken
        return summary
    if not isinstance(data, dict):
        return summary
    for key in ("license", "pipeline_tag", "library_name"):
        summary[key] = _string(data.get(key), 200)
    for key in ("tags", "datasets", "base_model", "language"):
        summary[key] = _strings(data.get(key))
    summary["metrics"] = _metrics(data.get("model-index"))
    return summary


def _metrics(model_index: object) -> list[dict]:
    """Each metric of each result of each model of ``model-index``: at most MAX_LIST, after
    looking at no more than MAX_VISITS entries (YAML aliases can repeat a list cheaply)."""
    metrics: list[dict] = []
    visits = 0
    models = model_index if isinstance(model_index, list) else []
    for model in models[:MAX_LIST]:
        results = model.get("results") if isinstance(model, dict) else None
        for result in results[:MAX_LIST] if isinstance(results, list) else []:
            visits += 1
            if not isinstance(result, dict):
                continue
            task, dataset = result.get("task"), result.get("dataset")
            task_name = _string(task.get("type")) if isinstance(task, dict) else None
            dataset_name = (_string(dataset.get("name")) or _string(dataset.get("type"))
                            if isinstance(dataset, dict) else None)
            items = result.get("metrics")
            for metric in items[:MAX_LIST] if isinstance(items, list) else []:
                visits += 1
                if visits > MAX_VISITS:
                    return metrics
                if not isinstance(metric, dict) or _string(metric.get("type")) is None:
                    continue
                value = _metric_value(metric.get("value"))
                if value is None:
                    continue
                metrics.append({"name": _string(metric.get("name")), "type": metric["type"],
                                "value": value, "task": task_name, "dataset": dataset_name})
                if len(metrics) >= MAX_LIST:
                    return metrics
            if visits > MAX_VISITS:
                return metrics
    return metrics


def _metric_value(value: object) -> float | int | str | None:
    import math

    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) < 1 << 53 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return _string(value, 100)


# ---------------------------------------------------------------- PEFT adapters


def read_adapter_config(raw: bytes | str) -> dict:
    """The base model and kind of a PEFT ``adapter_config.json``.

    ``base_model`` is ``base_model_name_or_path`` when it is a valid repo id (a local
    path such as ``/home/me/llama`` gives None); ``revision``, ``peft_type`` and
    ``task_type`` are strings or None.

        >>> read_adapter_config('{"base_model_name_or_path": "meta-llama/Llama-3.2-1B", '
        ...                     '"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 8}')
        ... # doctest: +NORMALIZE_WHITESPACE
        {'base_model': 'meta-llama/Llama-3.2-1B', 'revision': None, 'peft_type': 'LORA',
         'task_type': 'CAUSAL_LM'}
    """
    data = _json_object(raw, MAX_CONFIG_SIZE, "adapter_config.json")
    return {"base_model": adapter_base(data), "revision": _string(data.get("revision"), 200),
            "peft_type": _string(data.get("peft_type"), 100),
            "task_type": _string(data.get("task_type"), 100)}


def adapter_base(config: dict | bytes | str) -> str | None:
    """The base model repo id of a PEFT adapter, from its ``adapter_config.json`` (parsed
    or raw); None when it names none or a local path. Raw bytes that are not a JSON object
    raise ValueError.

        >>> adapter_base({"base_model_name_or_path": "Qwen/Qwen2.5-0.5B", "peft_type": "LORA"})
        'Qwen/Qwen2.5-0.5B'
        >>> adapter_base({"base_model_name_or_path": "/home/me/models/qwen"}) is None
        True
    """
    if not isinstance(config, dict):
        return read_adapter_config(config)["base_model"]
    base = config.get("base_model_name_or_path")
    try:
        return check_repo_id(base) if isinstance(base, str) else None
    except ValueError:
        return None


def card_bases(text: bytes | str) -> list[str]:
    """The ``base_model`` repo ids a model card declares (invalid ids left out), in order.

        >>> card_bases("---\\nbase_model:\\n- org/a\\n- not a repo\\n- org/a\\n---\\n")
        ['org/a']
    """
    found: list[str] = []
    for base in read_card(text)["base_model"]:
        try:
            check_repo_id(base)
        except ValueError:
            continue
        if base not in found:
            found.append(base)
    return found


# ---------------------------------------------------------------- file selection

_CONFIGS = ("config.json", "generation_config.json", "adapter_config.json")
_TOKENIZER = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.*",
              "merges.txt", "*.model", "added_tokens.json", "chat_template.json",
              "chat_template.jinja")
_PREPROCESSOR = ("preprocessor_config.json", "processor_config.json",
                 "video_preprocessor_config.json", "feature_extractor*.json")
_DOCS = ("README.md",)
_PICKLE = ("*.bin", "*.pt", "*.pth", "*.ckpt")
# pickles that are not model weights: Trainer checkpoint state and OpenVINO's weights file
_NOT_WEIGHTS = ("training_args.bin", "optimizer.*", "scheduler.*", "scaler.*", "rng_state*",
                "openvino_model.bin")
FORMATS = ("safetensors", "pickle", "onnx")


def check_repo_path(path: object) -> str:
    """``path`` if it is a safe relative POSIX path inside a repo, else ValueError.

        >>> check_repo_path("onnx/model.onnx")
        'onnx/model.onnx'
    """
    if not (isinstance(path, str) and 0 < len(path) <= MAX_PATH and path.isprintable()
            and "\\" not in path and not path.startswith("/")
            and all(part not in ("", ".", "..") for part in path.split("/"))):
        raise ValueError(f"the repo lists the file {str(path)[:200]!r}, which is not a safe "
                         "relative path; the repo cannot be installed as it is.")
    return path


def _match(path: str, patterns: Iterable[str]) -> bool:
    from fnmatch import fnmatchcase

    return any(fnmatchcase(path, pattern) for pattern in patterns)


def _hf_pattern(pattern: str) -> str:
    """huggingface_hub's ``_add_wildcard_to_directories``: ``"dir/"`` means ``"dir/*"``."""
    return pattern + "*" if pattern.endswith("/") else pattern


def choose_files(files: Iterable[str], format: str | None = None,
                 include: Iterable[str] | None = None, exclude: Iterable[str] | None = None,
                 shards: Iterable[str] | None = None) -> list[str]:
    """The files of a repo listing that make the package, sorted.

    Every path is first checked by :func:`check_repo_path`, then files matching an
    ``exclude`` glob are dropped. Then:

    - **With ``include``**: exactly the files matching one of its globs, as
      ``snapshot_download(allow_patterns=...)`` selects them (``fnmatch``, so ``*``
      also crosses ``/``; ``"dir/"`` means ``"dir/*"``). ``format`` is not used.
    - **Otherwise**, the default, from the repo's top folder only (subfolders hold other
      formats and variants; name them with ``include``): the weights, plus
      ``config.json``, ``generation_config.json``, ``adapter_config.json``, the tokenizer
      files (``tokenizer.json``, ``tokenizer_config.json``, ``special_tokens_map.json``,
      ``vocab.*``, ``merges.txt``, ``*.model``, ``added_tokens.json``,
      ``chat_template.json``, ``chat_template.jinja``), the preprocessor files
      (``preprocessor_config.json``, ``processor_config.json``,
      ``video_preprocessor_config.json``, ``feature_extractor*.json``) and ``README.md``.

    The weights for ``format``:

    - ``None``: safetensors if the top folder has any, else pickle.
    - ``"safetensors"``: with a ``*.safetensors.index.json``, the index and its shards
      (``shards``, the names the parsed index lists, when given; else the files named
      ``<stem>-NNNNN-of-NNNNN.safetensors``); without one, every ``*.safetensors``.
    - ``"pickle"``: ``*.bin``, ``*.pt``, ``*.pth``, ``*.ckpt`` and ``*.bin.index.json``
      (not Trainer state such as ``training_args.bin``, ``optimizer.pt``, ``rng_state.pth``,
      nor ``openvino_model.bin``).
    - ``"onnx"``: ``*.onnx`` with their external data (``*.onnx_data``, ``*.onnx.data``,
      ``*.onnx_data_*``) from the top folder, or, when it has none, from ``onnx/``.

        >>> choose_files(["pytorch_model.bin", "training_args.bin", "config.json"])
        ['config.json', 'pytorch_model.bin']
        >>> choose_files(["onnx/model.onnx", "onnx/model.onnx_data", "model.safetensors",
        ...               "tokenizer.json"], format="onnx")
        ['onnx/model.onnx', 'onnx/model.onnx_data', 'tokenizer.json']
        >>> choose_files(["a.safetensors", "b/c.safetensors", "x.bin"], include=["b/"])
        ['b/c.safetensors']
    """
    if format is not None and format not in FORMATS:
        raise ValueError(f"{format!r} is not a weights format mlpm can choose; use one of "
                         f"{', '.join(FORMATS)}.")
    if isinstance(include, str):  # one glob, not a list of one-character globs
        include = [include]
    if isinstance(exclude, str):
        exclude = [exclude]
    listing = sorted(set(files))
    if len(listing) > MAX_FILES:
        raise ValueError(f"the repo lists over {MAX_FILES} files, more than mlpm will read.")
    for path in listing:
        check_repo_path(path)
    if exclude is not None:
        drop = [_hf_pattern(p) for p in exclude]
        listing = [path for path in listing if not _match(path, drop)]
    if include is not None:
        keep = [_hf_pattern(p) for p in include]
        return [path for path in listing if _match(path, keep)]
    top = [path for path in listing if "/" not in path]
    chosen = [path for path in top if _match(path, _CONFIGS + _TOKENIZER + _PREPROCESSOR
                                                  + _DOCS)]
    if format is None:
        format = "safetensors" if any(p.endswith(".safetensors") for p in top) else "pickle"
    if format == "safetensors":
        weights = _safetensors_files(top, shards)
    elif format == "pickle":
        weights = [p for p in top if (_match(p, _PICKLE) or p.endswith(".bin.index.json"))
                   and not _match(p, _NOT_WEIGHTS)]
    else:
        weights = _onnx_files(top) or _onnx_files(
            [p for p in listing if p.startswith("onnx/") and p.count("/") == 1])
    return sorted(set(chosen) | set(weights))


def _safetensors_files(top: list[str], shards: Iterable[str] | None) -> list[str]:
    indexes = [p for p in top if p.endswith(".safetensors.index.json")]
    if not indexes:
        return [p for p in top if p.endswith(".safetensors")]
    if shards is not None:
        named = set(shards)
        return indexes + [p for p in top if p in named]
    stems = "|".join(re.escape(p[:-len(".safetensors.index.json")]) for p in indexes)
    pattern = re.compile(rf"(?:{stems})-\d+-of-\d+\.safetensors")
    return indexes + [p for p in top if pattern.fullmatch(p)]


def _onnx_files(folder: list[str]) -> list[str]:
    return [p for p in folder
            if _match(p, ("*.onnx", "*.onnx_data", "*.onnx.data", "*.onnx_data_*"))]


def weights_format(files: Iterable[str]) -> str:
    """Which kind of weights ``files`` hold: ``"safetensors"``, ``"pickle"`` or ``"onnx"``.

    Safetensors wins over pickle, which wins over ONNX (the order :func:`choose_files`
    prefers them by default); Trainer state such as ``training_args.bin`` is not weights.

        >>> weights_format(["config.json", "model.safetensors", "pytorch_model.bin"])
        'safetensors'
        >>> weights_format(["onnx/model.onnx", "config.json"])
        'onnx'
    """
    names = [path.rsplit("/", 1)[-1] for path in files]
    if any(name.endswith(".safetensors") for name in names):
        return "safetensors"
    if any(_match(name, _PICKLE) and not _match(name, _NOT_WEIGHTS) for name in names):
        return "pickle"
    if any(name.endswith(".onnx") for name in names):
        return "onnx"
    raise ValueError("the repo has no model weights mlpm can install (.safetensors, .bin, "
                     ".pt, .pth, .ckpt or .onnx files); choose another repo or name the "
                     "files with include.")
