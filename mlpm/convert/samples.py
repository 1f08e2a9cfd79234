"""The input shapes a conversion works with, and the sample inputs its parity check feeds.

Shapes come from the model's signature (interface record); a dimension the signature
leaves open is the batch when it is the first one (sampled at sizes 1 and 2), and must
be given with ``--input-shape`` otherwise. Samples are deterministic: numpy's
``default_rng(0)``, floats uniform in [0, 1), integers in [0, 10).
"""

from __future__ import annotations

from mlpm.convert.errors import ConversionError

BATCH_SIZES = (1, 2)  # a variable batch is checked at both: catches a batch baked into a trace
SAMPLES = 2  # samples drawn for a model whose shapes are all fixed
_FLOATS = ("float16", "bfloat16", "float32", "float64", "half", "float", "double")
_INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


class TensorSpec:
    """One input: its name, dtype, concrete dims, and whether dim 0 is a variable batch."""

    __slots__ = ("name", "dtype", "dims", "batch")

    def __init__(self, name: str, dtype: str, dims: list[int], batch: bool):
        self.name, self.dtype, self.dims, self.batch = name, dtype, dims, batch

    def shape(self, batch_size: int | None = None) -> list[int]:
        if self.batch and batch_size is not None:
            return [batch_size, *self.dims[1:]]
        return list(self.dims)

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype,
                "shape": [None, *self.dims[1:]] if self.batch else list(self.dims)}

    def __repr__(self) -> str:
        return f"TensorSpec({self.to_json()})"


def parse_input_shapes(input_shapes: dict[str, list[int]] | None) -> dict[str, list[int]]:
    """``{name: dims}`` validated: positive sizes, ``-1`` allowed first (a variable batch)."""
    out = {}
    for name, dims in (input_shapes or {}).items():
        try:
            dims = [int(d) for d in dims]
        except (TypeError, ValueError):
            dims = []
        if not dims or any(d == 0 or d < -1 for d in dims) or -1 in dims[1:]:
            raise ConversionError(
                f"--input-shape {name}={','.join(map(str, dims)) or '?'} is not a shape; give "
                f"positive sizes like {name}=1,3,224,224 (-1 first for a variable batch).")
        out[str(name)] = dims
    return out


def input_specs(signature: dict | None, input_shapes: dict[str, list[int]] | None,
                label: str) -> list[TensorSpec]:
    """The inputs of ``signature`` with every dimension known, or a ConversionError saying
    which ``--input-shape`` is needed."""
    given = parse_input_shapes(input_shapes)
    inputs = (signature or {}).get("inputs") or []
    if not inputs:
        if not given:
            raise ConversionError(
                f"mlpm does not know the input shapes of {label} (its interface declares no "
                "signature); pass --input-shape NAME=1,3,224,224 for each input (-1 first "
                "for a variable batch).")
        return [_spec(name, "float32", None, dims, label) for name, dims in given.items()]
    names = [t["name"] for t in inputs]
    extra = [n for n in given if n not in names]
    if extra:
        raise ConversionError(f"{label} has no input '{extra[0]}'; its inputs are "
                              f"{', '.join(names)}: name one of those in --input-shape.")
    return [_spec(t["name"], t.get("dtype") or "float32", t.get("shape"), given.get(t["name"]),
                  label) for t in inputs]


def _spec(name: str, dtype: str, declared: list | None, given: list[int] | None,
          label: str) -> TensorSpec:
    if dtype not in _FLOATS and dtype not in _INTS and dtype != "bool":
        raise ConversionError(f"the input '{name}' of {label} is {dtype}; mlpm can only make "
                              "numeric and bool sample inputs, so it cannot check this "
                              "conversion: publish the converted format instead.")
    if given is not None:
        dims = list(given)
        batch = dims[0] == -1
        if declared is not None:
            if len(declared) != len(dims):
                raise ConversionError(
                    f"--input-shape {name} has {len(dims)} dimensions but {label}'s input "
                    f"'{name}' has {len(declared)} ({_text(declared)}); give all of them.")
            for i, d in enumerate(declared):
                if isinstance(d, int) and d != dims[i] and not (i == 0 and batch):
                    raise ConversionError(
                        f"--input-shape {name} gives size {dims[i]} at position {i}, but "
                        f"{label} fixes it to {d} ({_text(declared)}); give {d} there.")
            batch = batch or (bool(declared) and not isinstance(declared[0], int))
        if batch:
            dims[0] = 1
        return TensorSpec(name, dtype, dims, batch)
    if declared is None:
        raise ConversionError(f"the input '{name}' of {label} has no known shape; pass "
                              f"--input-shape {name}=1,3,224,224 with its full shape.")
    batch = bool(declared) and not isinstance(declared[0], int)
    unknown = [i for i, d in enumerate(declared)
               if not isinstance(d, int) and not (i == 0 and batch)]
    if unknown:
        example = ",".join("1" if i == 0 and batch else (str(d) if isinstance(d, int) else "?")
                           for i, d in enumerate(declared))
        raise ConversionError(
            f"the input '{name}' of {label} has dimensions of unknown size ({_text(declared)}); "
            f"pass --input-shape {name}={example} with each ? replaced by the size it takes.")
    return TensorSpec(name, dtype, [1 if i == 0 and batch else d for i, d in enumerate(declared)],
                      batch)


def _text(shape: list | None) -> str:
    return "[" + ", ".join("None" if d is None else str(d) for d in shape or []) + "]"


def sample_inputs(specs: list[TensorSpec]) -> list[dict]:
    """Deterministic sample inputs: batch sizes 1 and 2 when any batch is variable, else two
    draws at the fixed shapes. Returns one ``{name: numpy array}`` per sample."""
    import numpy as np

    rng = np.random.default_rng(0)
    sizes = BATCH_SIZES if any(s.batch for s in specs) else (None,) * SAMPLES
    samples = []
    for size in sizes:
        sample = {}
        for spec in specs:
            shape = spec.shape(size)
            value: np.ndarray
            if spec.dtype == "bool":
                value = rng.random(shape) < 0.5
            elif spec.dtype in _INTS:
                value = rng.integers(0, 10, shape).astype(spec.dtype)
            else:
                value = rng.random(shape, dtype=np.float32)
                value = value.astype(np.float64 if spec.dtype in ("float64", "double")
                                     else np.float16 if spec.dtype in ("float16", "half")
                                     else np.float32)
            sample[spec.name] = value
        samples.append(sample)
    return samples


def shapes_of(samples: list[dict]) -> list[dict[str, list[int]]]:
    return [{name: list(value.shape) for name, value in sample.items()} for sample in samples]
