"""The input shapes a conversion works with, and the sample inputs its parity check feeds.

Shapes come from the model's signature (interface record); a dimension the signature
leaves open is the batch when it is the first one (sampled at sizes 1 and 2), and must
be given with ``--input-shape`` otherwise. Values come, per input, from the first of:
a ``.npz`` file of named arrays (the user's ``--sample``, else the package's published
``samples.npz``), the publisher's declared values (``sr = { values = [16000] }`` in
``[package.interface]``), or deterministic noise: numpy's ``default_rng(0)``, floats
uniform in [0, 1), integers in [0, 10). A model that only accepts meaningful inputs (a
sample rate, a real signal) needs one of the first two; parity measured on a real signal
is the honest number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlpm.convert.errors import ConversionError

BATCH_SIZES = (1, 2)  # a variable batch is checked at both: catches a batch baked into a trace
SAMPLES = 2  # samples drawn for a model whose shapes are all fixed
_FLOATS = ("float16", "bfloat16", "float32", "float64", "half", "float", "double")
_INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
_NUMPY = {"half": "float16", "float": "float32", "double": "float64", "bfloat16": "float32"}
MAX_SAMPLE_BYTES = 64 << 20  # a --sample file, and the arrays it unpacks to, at most this
MAX_PUBLISHED_SAMPLES_BYTES = 16 << 20  # a package's samples.npz: a few real inputs
MAX_SAMPLE_ARRAYS = 256
MAX_DECLARED_VALUES = 64  # values = [...] of one input
RANDOM = "random"
PUBLISHER_SAMPLES = "publisher-samples"
PUBLISHER_VALUES = "publisher-values"
SAMPLES_ROLE = "samples"  # the artifact role (and format) of a package's samples.npz
# [package.interface] keys that are never an input's declared values
_INTERFACE_KEYS = ("signatures", "entrypoints", "default-entrypoint", "hub-dependencies",
                   "notes", "discovered", "preprocessing", "labels", "formats", "inputs",
                   "outputs")


class Samples:
    """Real values for a conversion's sample inputs, and where they come from.

    ``arrays`` (input name -> numpy array) come from one ``.npz`` file: the user's
    ``--sample`` or the package's ``samples.npz``; ``values`` (input name -> list of
    numbers) are the publisher's declared values. ``origin`` is what mlpm.lock records of
    the file: ``user:sha256:HEX`` or ``publisher-samples``; ``label`` names it for people
    (``vad.npz (yours)``, ``samples.npz (publisher)``).

    >>> Samples(values={"sr": [16000]}).key()
    {'arrays': None, 'values': {'sr': [16000]}}
    """

    __slots__ = ("arrays", "values", "origin", "label", "digest")

    def __init__(self, arrays: dict | None = None, values: dict[str, list] | None = None,
                 origin: str = RANDOM, label: str = "", digest: str = ""):
        self.arrays = dict(arrays or {})
        self.values = dict(values or {})
        self.origin, self.label, self.digest = origin, label, digest

    @classmethod
    def from_file(cls, path: Path, *, publisher: bool = False,
                  name: str | None = None) -> Samples:
        """The named arrays of the ``.npz`` at ``path`` (``publisher``: a package's
        ``samples.npz``, bounded tighter); a ConversionError says what is wrong with it."""
        from mlpm.store import file_sha256

        path = Path(path)
        shown = name or path.name
        limit = MAX_PUBLISHED_SAMPLES_BYTES if publisher else MAX_SAMPLE_BYTES
        arrays = read_npz(path, limit, shown)
        digest = file_sha256(path)
        if publisher:
            return cls(arrays, origin=PUBLISHER_SAMPLES, label=f"{shown} (publisher)",
                       digest=digest)
        return cls(arrays, origin=f"user:sha256:{digest}", label=f"{shown} (yours)",
                   digest=digest)

    def with_values(self, values: dict[str, list]) -> Samples:
        """These samples plus the publisher's declared values (for inputs the file lacks)."""
        return Samples(self.arrays, {**values}, self.origin, self.label, self.digest)

    def __bool__(self) -> bool:
        return bool(self.arrays or self.values)

    def key(self) -> dict:
        """What of the samples decides the conversion (for its cache key)."""
        return {"arrays": f"sha256:{self.digest}" if self.arrays else None,
                "values": {k: self.values[k] for k in sorted(self.values)} or None}

    def __repr__(self) -> str:
        return f"Samples({self.origin!r}, arrays={sorted(self.arrays)}, values={self.values})"


def read_npz(path: Path, limit: int, shown: str) -> dict:
    """The arrays of an ``.npz`` (``np.savez``) file, read with ``allow_pickle=False``:
    numeric or bool arrays only, the file and what it unpacks to at most ``limit`` bytes."""
    import zipfile

    try:
        import numpy as np
    except ImportError:  # publish needs no framework, but reading .npz needs numpy
        raise ConversionError(f"reading the samples file {shown} needs numpy, not installed "
                              "here; run `pip install numpy`.") from None

    fix = "save the arrays with numpy.savez(FILE, name=array, ...), one per input"
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConversionError(f"cannot read the samples file {shown}: {exc.strerror}; "
                              "give the path of an .npz file.") from None
    if size > limit:
        raise ConversionError(f"the samples file {shown} is {size / 2**20:.1f} MiB, more "
                              f"than the {limit >> 20} MiB a samples file may have; keep a few "
                              "inputs (one short clip, a handful of images).")
    if not zipfile.is_zipfile(path):
        raise ConversionError(f"the samples file {shown} is not an .npz file; {fix}.")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise ConversionError(f"the samples file {shown} is a damaged .npz ({exc}); "
                              f"{fix}.") from None
    if len(infos) > MAX_SAMPLE_ARRAYS:
        raise ConversionError(f"the samples file {shown} holds {len(infos)} arrays, more than "
                              f"{MAX_SAMPLE_ARRAYS}; give one array per input.")
    if sum(i.file_size for i in infos) > limit:  # a small file that unpacks to a huge one
        raise ConversionError(f"the samples file {shown} unpacks to more than "
                              f"{limit >> 20} MiB; keep a few inputs.")
    if not infos or any(not i.filename.endswith(".npy") for i in infos):
        raise ConversionError(f"the samples file {shown} is not an .npz of arrays; {fix}.")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                arrays[key] = data[key]
    except ValueError as exc:
        why = "it holds Python objects, which mlpm never unpickles" if "pickle" in str(exc) \
            else str(exc)
        raise ConversionError(f"cannot read the samples file {shown}: {why}; {fix}, as "
                              "numbers.") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ConversionError(f"the samples file {shown} is a damaged .npz ({exc}); "
                              f"{fix}.") from None
    for key, value in arrays.items():
        if value.dtype.kind not in "biuf":
            raise ConversionError(f"the array '{key}' in the samples file {shown} is "
                                  f"{value.dtype}; sample inputs are numbers or booleans.")
    return arrays


def declared_values(interface: dict | None, names: list[str] | None = None) -> dict[str, list]:
    """The per-input values a publisher declares in ``[package.interface]``
    (``sr = { values = [16000] }``): input name -> list of numbers. With ``names``, only
    those inputs; a declaration that is not well formed raises ValueError.

    >>> declared_values({"sr": {"values": [16000]}, "labels": "digits"})
    {'sr': [16000]}
    """
    out: dict[str, list] = {}
    for key, value in (interface or {}).items():
        if key in _INTERFACE_KEYS or not isinstance(value, dict) or "values" not in value:
            continue
        if names is not None and key not in names:
            raise ValueError(f"declares values for '{key}', which is not an input (the inputs "
                             f"are {', '.join(names) or 'none'})")
        values = value["values"]
        if not isinstance(values, list) or not values or len(values) > MAX_DECLARED_VALUES:
            raise ValueError(f"'{key}' values must be a list of 1 to {MAX_DECLARED_VALUES} "
                             f"numbers, e.g. {key} = {{ values = [16000] }}")
        if any(isinstance(v, bool) != isinstance(values[0], bool) or
               not isinstance(v, (int, float)) for v in values):
            raise ValueError(f"'{key}' values must all be numbers (or all booleans), not "
                             f"{values!r}")
        extra = sorted(set(value) - {"values"})
        if extra:
            raise ValueError(f"'{key}' has unknown keys {extra}; only values = [...] is read")
        out[key] = list(values)
    return out


def check_array(name: str, value, dtype: str | None, declared: list | None, where: str,
                label: str) -> None:
    """A sample array agrees with an input's declared dtype and shape (a variable first
    dimension takes any size), else a ConversionError naming the fix."""
    if dtype and _np_name(dtype) != value.dtype.name:
        raise ConversionError(
            f"the array '{name}' in {where} is {value.dtype.name}, but the input '{name}' of "
            f"{label} is {dtype}; save it with .astype('{_np_name(dtype)}').")
    if declared is None:
        return
    shape = list(value.shape)
    if len(shape) != len(declared) or any(
            isinstance(d, int) and d != shape[i] for i, d in enumerate(declared)):
        raise ConversionError(
            f"the array '{name}' in {where} has shape {shape}, but the input '{name}' of "
            f"{label} is {_text(declared)}; save an array of that shape.")


def _np_name(dtype: str) -> str:
    return _NUMPY.get(dtype, dtype)


class TensorSpec:
    """One input: its name, dtype, concrete dims, and whether dim 0 is a variable batch.

    ``given`` is its array from a samples file and ``values`` its publisher-declared
    values (else None: noise); ``scalar`` is ``int``/``float``/``bool`` when the model takes
    it as a Python number, not a tensor (a converter then fixes it at one value).
    """

    __slots__ = ("name", "dtype", "dims", "batch", "given", "values", "scalar")

    def __init__(self, name: str, dtype: str, dims: list[int], batch: bool):
        self.name, self.dtype, self.dims, self.batch = name, dtype, dims, batch
        self.given: Any = None  # a numpy array
        self.values: list | None = None
        self.scalar: str | None = None

    @property
    def source(self) -> str:
        """Where its values come from: ``file``, ``values`` or ``random``."""
        return "file" if self.given is not None else "values" if self.values else RANDOM

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
                label: str, samples: Samples | None = None) -> list[TensorSpec]:
    """The inputs of ``signature`` with every dimension known, or a ConversionError saying
    which ``--input-shape`` (or ``--sample``) is needed. ``samples`` gives inputs real
    values; a samples file's array also gives its input's shape."""
    given = parse_input_shapes(input_shapes)
    samples = samples or Samples()
    inputs = (signature or {}).get("inputs") or []
    if not inputs:
        if not given and not samples.arrays:
            raise ConversionError(
                f"mlpm does not know the input shapes of {label} (its interface declares no "
                "signature); pass --input-shape NAME=1,3,224,224 for each input (-1 first "
                "for a variable batch), or --sample FILE.npz with one array per input.")
        inputs = [{"name": n, "dtype": None, "shape": None}
                  for n in dict.fromkeys([*given, *samples.arrays])]
    names = [t["name"] for t in inputs]
    extra = [n for n in given if n not in names]
    if extra:
        raise ConversionError(f"{label} has no input '{extra[0]}'; its inputs are "
                              f"{', '.join(names)}: name one of those in --input-shape.")
    extra = [n for n in samples.arrays if n not in names]
    if extra:
        raise ConversionError(f"the samples file {samples.label} has an array '{extra[0]}', "
                              f"but {label} has no such input; its inputs are "
                              f"{', '.join(names)}: name the arrays after them.")
    specs = []
    for t in inputs:
        name = t["name"]
        if name in samples.arrays:
            specs.append(_given_spec(name, t.get("dtype"), t.get("shape"), given.get(name),
                                     samples.arrays[name], samples.label, label))
            continue
        values = samples.values.get(name)
        declared = t.get("shape")
        if values and declared is None and name not in given:
            declared = []  # a declared value and no shape: one number
        spec = _spec(name, t.get("dtype") or "float32", declared, given.get(name), label)
        spec.values = values or None
        specs.append(spec)
    _one_batch(specs, samples.label)
    return specs


def _given_spec(name: str, dtype: str | None, declared: list | None, given: list[int] | None,
                value, where: str, label: str) -> TensorSpec:
    """An input whose values come from a samples file: the array's shape is its shape."""
    check_array(name, value, dtype, None, f"the samples file {where}", label)
    shape = list(value.shape)
    batch = bool(given and given[0] == -1) or bool(declared and not isinstance(declared[0], int))
    for what, dims in (("--input-shape", given), ("the signature", declared)):
        if dims is None:
            continue
        if len(dims) != len(shape) or any(isinstance(d, int) and d not in (-1, shape[i])
                                          and not (i == 0 and batch)
                                          for i, d in enumerate(dims)):
            raise ConversionError(
                f"the array '{name}' in the samples file {where} has shape {shape}, but "
                f"{what} says {label}'s input '{name}' is {_text(dims)}; save an array of "
                "that shape.")
    if batch and not shape:
        raise ConversionError(f"the array '{name}' in the samples file {where} is one number, "
                              f"but {label}'s input '{name}' has a batch dimension; save it "
                              "with the batch first.")
    spec = TensorSpec(name, dtype or value.dtype.name, shape, batch)
    spec.given = value
    return spec


def _one_batch(specs: list[TensorSpec], where: str) -> None:
    sizes = {s.name: s.given.shape[0] for s in specs if s.batch and s.given is not None}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{n}: {b}" for n, b in sizes.items())
        raise ConversionError(f"the arrays in the samples file {where} have different batch "
                              f"sizes ({listed}); give every batched input the same first "
                              "dimension.")


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
                              f"--input-shape {name}=1,3,224,224 with its full shape, or "
                              f"--sample FILE.npz with a real '{name}' array.")
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
    """Deterministic sample inputs: batch sizes 1 and 2 when any batch is variable (a given
    array's own batch size and one more), else two draws at the fixed shapes (one sample
    when every input is given). An input with declared values takes them in turn (a Python
    number keeps the first: a converter fixes it); a given array is used as it is, cut or
    repeated along a variable batch. Returns one ``{name: numpy array}`` per sample."""
    import numpy as np

    rng = np.random.default_rng(0)
    batches = [s.given.shape[0] for s in specs if s.batch and s.given is not None]
    if any(s.batch for s in specs):
        sizes: tuple = (batches[0], 2 if batches[0] == 1 else 1) if batches else BATCH_SIZES
    else:
        sizes = (None,) * (1 if all(s.given is not None for s in specs) else SAMPLES)
    samples = []
    fixed: dict[str, object] = {}  # Python-number inputs: one value for every sample
    for i, size in enumerate(sizes):
        sample = {}
        for spec in specs:
            shape = spec.shape(size)
            value: np.ndarray
            if spec.given is not None:
                value = _resized(spec.given, size) if spec.batch else spec.given
            elif spec.values:
                number = spec.values[0 if spec.scalar else i % len(spec.values)]
                value = np.full(shape, number, dtype=_np_name(spec.dtype))
            elif spec.scalar and spec.name in fixed:
                value = fixed[spec.name]  # type: ignore[assignment]
            elif spec.dtype == "bool":
                value = rng.random(shape) < 0.5
            elif spec.dtype in _INTS:
                value = rng.integers(0, 10, shape).astype(spec.dtype)
            else:
                value = rng.random(shape, dtype=np.float32)
                value = value.astype(np.float64 if spec.dtype in ("float64", "double")
                                     else np.float16 if spec.dtype in ("float16", "half")
                                     else np.float32)
            if spec.scalar:
                fixed.setdefault(spec.name, value)
            sample[spec.name] = value
        samples.append(sample)
    return samples


def _resized(value, size: int):
    """``value`` with ``size`` rows: its first rows, or itself repeated."""
    import numpy as np

    if size <= value.shape[0]:
        return value[:size]
    reps = -(-size // value.shape[0])
    return np.concatenate([value] * reps)[:size]


def fixed_inputs(specs: list[TensorSpec], sample: dict) -> dict:
    """The Python-number inputs and the one value each conversion is made with."""
    return {s.name: sample[s.name].item() for s in specs if s.scalar}


def sources(specs: list[TensorSpec], samples: Samples | None) -> dict:
    """What the parity check ran on: ``inputs`` (what mlpm.lock records: the file's origin,
    ``publisher-values`` or ``random``), ``text`` (for people) and each input's source."""
    per = {s.name: s.source for s in specs}
    label = samples.label if samples is not None else ""
    if "file" in per.values():
        origin = samples.origin if samples is not None else RANDOM
    elif "values" in per.values():
        origin = PUBLISHER_VALUES
    else:
        origin = RANDOM
    parts = []
    for source, text in (("file", label), ("values", "the publisher's declared values"),
                         (RANDOM, "random values")):
        names = [n for n, v in per.items() if v == source]
        if names:
            parts.append(text if len(names) == len(per) else f"{text} ({', '.join(names)})")
    return {"inputs": origin, "text": "; ".join(parts) or "random values", "per_input": per}


def shapes_of(samples: list[dict]) -> list[dict[str, list[int]]]:
    return [{name: list(value.shape) for name, value in sample.items()} for sample in samples]
