"""Safetensors checkpoints (one file or the shards of an index) as a dict of tensors.

safetensors never runs code from a file, so there is nothing to scan first. Merging a
base model's tensors with an adapter's is the caller's job; this only loads.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path
    from typing import Any

# framework -> (the safetensors module that loads into it, the pip extra providing it)
_MODULES = {"numpy": ("safetensors.numpy", "hf"), "torch": ("safetensors.torch", "torch")}
_MAX_INDEX_SIZE = 64 * 1024 * 1024  # as mlpm.interface.safetensors.MAX_INDEX_SIZE


def load_files(paths: str | Path | Iterable[str | Path], framework: str = "numpy",
               **_: Any) -> dict[str, Any]:
    """Every tensor of the safetensors files at ``paths``, by name, on the CPU.

    ``paths`` is one path or several: ``.safetensors`` files, or a sharded checkpoint's
    ``model.safetensors.index.json`` (its shards, in the index's folder, are loaded and
    each tensor must be in the shard the index names). ``framework`` is ``"numpy"``
    (``safetensors.numpy.load_file``) or ``"torch"`` (``safetensors.torch.load_file``).
    A tensor name in two files is refused: the checkpoint would be ambiguous.

        >>> tensors = load_files(["model-00001-of-00002.safetensors",
        ...                       "model-00002-of-00002.safetensors"])  # doctest: +SKIP
        >>> load_files("model.safetensors.index.json", framework="torch")  # doctest: +SKIP
        {'lm_head.weight': tensor([[...]]), ...}
    """
    import importlib
    from pathlib import Path

    from mlpm.errors import FrameworkMissing, ModelLoadError

    if framework not in _MODULES:
        raise ValueError(f"safetensors files load into {' or '.join(_MODULES)}, not "
                         f"{framework!r}; pass framework='numpy' or framework='torch'.")
    module_name, extra = _MODULES[framework]
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    placement: dict[str, Path] = {}  # tensor -> the shard an index puts it in
    for path in map(Path, paths):
        if path.name.endswith(".index.json"):
            shards, weight_map = _read_index(path)
            files.extend(shards)
            placement.update(weight_map)
        else:
            files.append(path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise FrameworkMissing(
            f"loading safetensors files into {framework} needs the Python package "
            f"'{exc.name}', which is not installed; run `pip install 'mlpm[{extra}]'`."
        ) from None
    tensors: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    for file in files:
        for name, tensor in _load_one(module, file, framework).items():
            if name in tensors:
                raise ModelLoadError(
                    f"tensor {name!r} is in both {origin[name].name} and {file.name}, so the "
                    "checkpoint is ambiguous; ask its publisher to fix the shards.")
            if placement and placement.get(name) != file:
                where = placement.get(name)
                raise ModelLoadError(
                    f"tensor {name!r} is in {file.name} but the index "
                    + (f"places it in {where.name}" if where else "does not list it")
                    + "; the shards do not match their index, so download them again.")
            tensors[name] = tensor
            origin[name] = file
    missing = sorted(set(placement) - set(tensors))
    if missing:
        raise ModelLoadError(f"tensor {missing[0]!r} is in the index but in none of its "
                             "shards; download the checkpoint again.")
    return tensors


def _load_one(module: Any, path: Path, framework: str) -> dict[str, Any]:
    from mlpm.errors import ModelLoadError

    try:
        if framework == "torch":
            return module.load_file(str(path), device="cpu")
        return module.load_file(str(path))
    # a dtype numpy lacks (BF16, F8_*): a KeyError, or numpy's AttributeError for float8
    except (KeyError, TypeError, AttributeError) as exc:
        if framework == "torch":
            raise
        raise ModelLoadError(
            f"{path.name} holds tensors of a dtype numpy cannot hold ({str(exc).strip()[:80]}); "
            "load it with framework='torch'.") from None
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as exc:
        if type(exc).__name__ != "SafetensorError" and not isinstance(exc, OSError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{path.name} is not a valid safetensors file ({first}); "
                             "download it again.") from None


def _read_index(path: Path) -> tuple[list[Path], dict[str, Path]]:
    """The shards of a ``*.safetensors.index.json`` and where it puts each tensor."""
    import json

    from mlpm.errors import ModelLoadError

    def bad(why: str) -> ModelLoadError:
        return ModelLoadError(f"{path.name} is not a valid safetensors shard index ({why}); "
                              "download the checkpoint again.")

    with open(path, "rb") as f:
        raw = f.read(_MAX_INDEX_SIZE + 1)
    if len(raw) > _MAX_INDEX_SIZE:
        raise bad(f"over {_MAX_INDEX_SIZE} bytes")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        raise bad("not JSON") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict):
        raise bad("no weight_map object")
    shards: dict[str, Path] = {}
    placement: dict[str, Path] = {}
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or shard not in shards:
            # a plain file name in the index's folder: the index cannot point elsewhere
            if not (isinstance(shard, str) and shard.endswith(".safetensors")
                    and "/" not in shard and "\\" not in shard and ".." not in shard
                    and not shard.startswith(".") and shard.isprintable()):
                raise bad(f"the shard {str(shard)[:120]!r} is not a plain file name")
            shards[shard] = path.parent / shard
        placement[name] = shards[shard]
    return [shards[name] for name in sorted(shards)], placement
