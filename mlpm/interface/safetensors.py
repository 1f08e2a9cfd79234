"""What a safetensors checkpoint holds, read from its header alone (no numpy, no framework).

A safetensors file is an 8-byte little-endian u64 ``N``, then ``N`` bytes of UTF-8 JSON,
then the tensor bytes. The JSON maps each tensor name to ``{"dtype", "shape",
"data_offsets": [begin, end]}`` (offsets into the bytes after the header) plus an optional
``"__metadata__"`` of string to string. The header is checked as the safetensors library
(0.8.0, ``Metadata::validate``) checks it, so a file accepted here is one it would load:

- ``N`` at most 100,000,000 and the header inside the file;
- strict UTF-8, a JSON object, no NaN / Infinity, no duplicate keys (the library keeps the
  last of two equal names, leaving the first one's bytes unexplained; refused here);
- dtypes among :data:`DTYPE_BITS`; shapes and offsets are unsigned 64-bit integers;
- sorted by begin offset, the tensors tile the data exactly: each begins where the
  previous one ended, holds ``prod(shape) * bits / 8`` bytes (a whole number of bytes),
  and the last one ends at the end of the file (when its size is known).

    >>> import json, struct
    >>> body = json.dumps({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
    ...                    "__metadata__": {"format": "pt"}}).encode()
    >>> n = header_length(struct.pack("<Q", len(body)))
    >>> table = parse_header(body, total_size=8 + n + 24)
    >>> table.tensors, table.metadata, table.parameters
    ({'w': ('F32', (2, 3))}, {'format': 'pt'}, 6)

A checkpoint too big for one file is split into shards named by
``model.safetensors.index.json`` (:func:`parse_index`); :func:`merge_tables` joins their
tables. :func:`compare_tables` says which SemVer level a change of tables needs (the level
names of :mod:`mlpm.interface.diff`), and :func:`table_fingerprint` hashes a table for the
lock. Every malformed input raises :class:`ValueError` with one sentence; callers that
know the file's name wrap it in ``InvalidModelFile``.
"""

from __future__ import annotations

import json
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

MAX_HEADER_SIZE = 100_000_000  # the safetensors library's own limit (tensor.rs)
MAX_INDEX_SIZE = 64 * 1024 * 1024  # a model.safetensors.index.json; the largest real ones ~10 MB
MAX_SHARDS = 10_000
MAX_TENSORS = 10_000_000
_U64 = 1 << 64

# every dtype safetensors 0.8.0 reads (its Dtype enum), as bits per element
DTYPE_BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8,
    "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16,
    "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64,
    "U64": 64,
}


class TensorTable:
    """The tensors of one safetensors file (or of all the shards of a checkpoint).

    ``tensors`` maps each name to ``(dtype, shape)``, sorted by name; ``metadata`` is the
    header's ``__metadata__`` (empty when absent); ``parameters`` the number of elements
    over all tensors; ``header_bytes`` the JSON header's length ``N`` (summed over shards)
    and ``data_bytes`` the length of the tensor data.

        >>> t = TensorTable({"b": ("F16", (4,)), "a": ("F32", (2, 2))}, header_bytes=80)
        >>> list(t.tensors), t.parameters, t.data_bytes
        (['a', 'b'], 8, 24)
        >>> TensorTable.from_json(t.to_json()) == t
        True
    """

    __slots__ = ("tensors", "metadata", "parameters", "header_bytes", "data_bytes")

    tensors: dict[str, tuple[str, tuple[int, ...]]]
    metadata: dict[str, str]
    parameters: int
    header_bytes: int
    data_bytes: int

    def __init__(self, tensors: Mapping[str, tuple[str, Iterable[int]]],
                 metadata: Mapping[str, str] | None = None, header_bytes: int = 0) -> None:
        self.tensors = {name: (dtype, tuple(shape))
                        for name, (dtype, shape) in sorted(tensors.items())}
        self.metadata = dict(sorted((metadata or {}).items()))
        self.header_bytes = header_bytes
        self.parameters = 0
        bits = 0
        for dtype, shape in self.tensors.values():
            count = _product(shape)
            self.parameters += count
            bits += count * DTYPE_BITS.get(dtype, 0)
        self.data_bytes = bits // 8

    def to_json(self) -> dict:
        """The table as JSON-ready data (tensors as ``[dtype, [dims]]``)."""
        return {"tensors": {name: [dtype, list(shape)]
                            for name, (dtype, shape) in self.tensors.items()},
                "metadata": dict(self.metadata), "header_bytes": self.header_bytes}

    @classmethod
    def from_json(cls, data: object) -> TensorTable:
        """The table :meth:`to_json` wrote; malformed data raises ValueError."""
        if not isinstance(data, dict) or not isinstance(data.get("tensors"), dict):
            raise ValueError("a tensor table must be an object with a 'tensors' object.")
        tensors = {}
        for name, entry in data["tensors"].items():
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                    and entry[0] in DTYPE_BITS
                    and isinstance(entry[1], list) and all(_is_u64(d) for d in entry[1])):
                raise ValueError(f"tensor {name!r} of the table is not [dtype, [dims]].")
            tensors[name] = (entry[0], tuple(entry[1]))
        metadata = data.get("metadata") or {}
        header = data.get("header_bytes", 0)
        if not (isinstance(metadata, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
                and _is_u64(header)):
            raise ValueError("a tensor table's metadata must map strings to strings.")
        return cls(tensors, metadata, header)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TensorTable):
            return NotImplemented
        return (self.tensors, self.metadata, self.header_bytes) == (
            other.tensors, other.metadata, other.header_bytes)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return (f"TensorTable({len(self.tensors)} tensors, {self.parameters} parameters, "
                f"{self.data_bytes} bytes)")


def _product(shape: Iterable[int]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _is_u64(value: object) -> bool:
    return type(value) is int and 0 <= value < _U64


# ---------------------------------------------------------------- one file


def header_length(first8: bytes, limit: int = MAX_HEADER_SIZE) -> int:
    """The header length ``N`` from a file's first 8 bytes, refused above ``limit``.

        >>> header_length(b"\\x10\\x00\\x00\\x00\\x00\\x00\\x00\\x00")
        16
    """
    if len(first8) < 8:
        raise ValueError("is shorter than the 8-byte header length, so it is not a "
                         "safetensors file.")
    (n,) = struct.unpack("<Q", bytes(first8[:8]))
    if n > limit:
        raise ValueError(f"declares a {n}-byte header, over the {limit}-byte limit, so it is "
                         "not a safetensors file mlpm will read.")
    return n


def parse_header(raw: bytes, total_size: int | None = None) -> TensorTable:
    """The table in ``raw``, the ``N`` JSON bytes after the 8-byte length.

    ``total_size`` is the whole file's size (the 8 bytes, the header and the data): the
    tensors must then end exactly at the end of the file. None skips that one check (the
    header was fetched alone, e.g. by an HTTP range request).

        >>> parse_header(b'{"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}')
        Traceback (most recent call last):
        ...
        ValueError: tensor 'x' holds 8 bytes (F32 [2]) but its data_offsets span 4.
    """
    if len(raw) > MAX_HEADER_SIZE:
        raise ValueError(f"has a header over the {MAX_HEADER_SIZE}-byte limit, so it is not a "
                         "safetensors file mlpm will read.")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("has a header that is not UTF-8 text, so it is not a safetensors "
                         "file.") from None
    header = _load_json(text, "header")
    if not isinstance(header, dict):
        raise ValueError("has a header that is not a JSON object, so it is not a safetensors "
                         "file.")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict) or not all(
            isinstance(v, str) for v in metadata.values()):
        raise ValueError("has a __metadata__ that does not map strings to strings, so it is "
                         "not a safetensors file.")
    for key, value in metadata.items():
        _check_text(key, "a __metadata__ key")
        _check_text(value, "a __metadata__ value")
    if len(header) > MAX_TENSORS:
        raise ValueError(f"lists over {MAX_TENSORS} tensors, more than mlpm will read.")
    entries = []
    for name, info in header.items():
        _check_text(name, "a tensor name")
        entries.append((_tensor_info(name, info), name))
    entries.sort(key=lambda item: item[0][2])  # by (begin, end), as the library sorts them
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    end = 0
    for (dtype, shape, (begin, stop)), name in entries:
        if begin != end or stop < begin:
            raise ValueError(f"tensor {name!r} has data_offsets [{begin}, {stop}] that do not "
                             f"start where the previous tensor ends ({end}); the tensors "
                             "overlap or leave a gap.")
        count = 1
        for dim in shape:  # checked at every step, as the library's checked_mul is
            count *= dim
            if count >= _U64:
                break
        bits = count * DTYPE_BITS[dtype]
        if count >= _U64 or bits >= _U64:
            raise ValueError(f"tensor {name!r} has a shape too large to address.")
        if bits % 8:
            raise ValueError(f"tensor {name!r} ({dtype} {list(shape)}) does not fill a whole "
                             "number of bytes.")
        if stop - begin != bits // 8:
            raise ValueError(f"tensor {name!r} holds {bits // 8} bytes ({dtype} {list(shape)}) "
                             f"but its data_offsets span {stop - begin}.")
        tensors[name] = (dtype, shape)
        end = stop
    if total_size is not None and 8 + len(raw) + end != total_size:
        raise ValueError(f"is {total_size} bytes but its header accounts for "
                         f"{8 + len(raw) + end}; the file is truncated or has extra bytes.")
    return TensorTable(tensors, metadata, len(raw))


def _tensor_info(name: str, info: object) -> tuple[str, tuple[int, ...], tuple[int, int]]:
    if not isinstance(info, dict):
        raise ValueError(f"tensor {name!r} is not described by a JSON object.")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        known = ", ".join(DTYPE_BITS)
        raise ValueError(f"tensor {name!r} has dtype {str(dtype)[:40]!r}, which safetensors "
                         f"does not know ({known}).")
    if not isinstance(shape, list) or not all(_is_u64(d) for d in shape):
        raise ValueError(f"tensor {name!r} has a shape that is not a list of non-negative "
                         "integers.")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_u64(o) for o in offsets)):
        raise ValueError(f"tensor {name!r} has data_offsets that are not two non-negative "
                         "integers.")
    return str(dtype), tuple(shape), (offsets[0], offsets[1])


class _Refused(ValueError):
    """A JSON document refused by a hook of :func:`_load_json` (its message is final)."""


def _load_json(text: str, what: str) -> object:
    def no_constants(token: str) -> object:
        raise _Refused(f"has {token} in its {what}, which JSON does not allow.")

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict:
        result = dict(pairs)
        if len(result) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise _Refused(f"names {key[:80]!r} twice in its {what}, which is "
                                     "ambiguous.")
                seen.add(key)
        return result

    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except RecursionError:
        raise ValueError(f"has a {what} nested too deeply to be a real one.") from None
    except _Refused as err:
        raise ValueError(str(err)) from None
    except json.JSONDecodeError as err:
        raise ValueError(f"has a {what} that is not valid JSON ({err.msg} at offset "
                         f"{err.pos}).") from None
    except ValueError:  # an integer of over 4300 digits
        raise ValueError(f"has a {what} with a number too long to be real.") from None


def _check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape, which the library refuses
        raise ValueError(f"has {what} that is not valid Unicode.") from None


def read_table(path: str | Path) -> TensorTable:
    """The table of the safetensors file at ``path``, reading only its header.

    The file's size is checked against the header, so a truncated download is refused;
    the tensor data is never read.

        >>> read_table("model.safetensors").parameters  # doctest: +SKIP
        124439808
    """
    import os

    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        n = header_length(f.read(8))
        if 8 + n > size:
            raise ValueError(f"declares a {n}-byte header but is only {size} bytes; the file "
                             "is truncated or not a safetensors file.")
        raw = f.read(n)
    if len(raw) != n:
        raise ValueError("was truncated while being read; download it again.")
    return parse_header(raw, total_size=size)


# ---------------------------------------------------------------- sharded checkpoints


class ShardIndex:
    """A ``model.safetensors.index.json``: which shard file holds each tensor.

    ``weight_map`` maps tensor names to shard file names (sorted by tensor name),
    ``shards`` lists the distinct shard files (sorted), ``total_size`` is the declared
    size of the tensor data (None when absent) and ``metadata`` the whole ``"metadata"``
    object.

        >>> index = parse_index(b'{"metadata": {"total_size": 32}, "weight_map": '
        ...     b'{"b": "model-00002-of-00002.safetensors", '
        ...     b'"a": "model-00001-of-00002.safetensors"}}')
        >>> index.shards, index.total_size
        (['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'], 32)
    """

    __slots__ = ("weight_map", "shards", "total_size", "metadata")

    weight_map: dict[str, str]
    shards: list[str]
    total_size: int | None
    metadata: dict

    def __init__(self, weight_map: Mapping[str, str], metadata: Mapping | None = None) -> None:
        self.weight_map = dict(sorted(weight_map.items()))
        self.shards = sorted(set(self.weight_map.values()))
        self.metadata = dict(metadata or {})
        total = self.metadata.get("total_size")
        self.total_size = total if _is_u64(total) else None

    def __repr__(self) -> str:
        return f"ShardIndex({len(self.weight_map)} tensors in {len(self.shards)} shards)"


def parse_index(raw: bytes | str) -> ShardIndex:
    """The shard index in ``raw`` (the bytes of ``model.safetensors.index.json``).

    Shard names must be plain file names in the index's own folder ending in
    ``.safetensors`` (no ``/``, ``\\``, ``..``, control characters), at most
    :data:`MAX_SHARDS` of them.

        >>> parse_index(b'{"weight_map": {"w": "../../.ssh/id_rsa.safetensors"}}')
        Traceback (most recent call last):
        ...
        ValueError: names the shard '../../.ssh/id_rsa.safetensors', which is not a plain \
.safetensors file name in the index's folder.
    """
    if len(raw) > MAX_INDEX_SIZE:
        raise ValueError(f"is over {MAX_INDEX_SIZE} bytes, too large for a shard index.")
    if isinstance(raw, (bytes, bytearray, memoryview)):
        try:
            raw = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError("is not UTF-8 text, so it is not a shard index.") from None
    data = _load_json(raw, "shard index")
    if not isinstance(data, dict) or not isinstance(data.get("weight_map"), dict):
        raise ValueError("has no 'weight_map' object, so it is not a safetensors shard index.")
    metadata = data.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise ValueError("has a 'metadata' that is not an object, so it is not a shard index.")
    total = metadata.get("total_size")
    # transformers writes an int; some tools write a float or a string of digits
    if total is not None and not _is_u64(total) and not (
            isinstance(total, float) and total.is_integer() and 0 <= total < _U64):
        raise ValueError("has a metadata.total_size that is not a non-negative number.")
    if isinstance(total, float):
        metadata = {**metadata, "total_size": int(total)}
    weight_map = data["weight_map"]
    if len(weight_map) > MAX_TENSORS:
        raise ValueError(f"maps over {MAX_TENSORS} tensors, more than mlpm will read.")
    shards: set[str] = set()
    for name, shard in weight_map.items():
        _check_text(name, "a tensor name")
        if not isinstance(shard, str) or shard not in shards:
            check_shard_name(shard)
            shards.add(shard)
            if len(shards) > MAX_SHARDS:
                raise ValueError(f"names over {MAX_SHARDS} shard files, more than mlpm will "
                                 "read.")
    return ShardIndex(weight_map, metadata)


def check_shard_name(name: object) -> str:
    """``name`` if it is a plain ``.safetensors`` file name, else ValueError.

        >>> check_shard_name("model-00001-of-00003.safetensors")
        'model-00001-of-00003.safetensors'
    """
    if not (isinstance(name, str) and name.endswith(".safetensors") and len(name) <= 255
            and name not in (".safetensors",) and not name.startswith(".")
            and "/" not in name and "\\" not in name and ".." not in name
            and name.isprintable()):
        raise ValueError(f"names the shard {str(name)[:120]!r}, which is not a plain "
                         ".safetensors file name in the index's folder.")
    return name


def merge_tables(tables: Mapping[str, TensorTable], index: ShardIndex | None = None
                 ) -> TensorTable:
    """One table for a sharded checkpoint, from each shard's table by shard file name.

    A tensor in two shards is refused. With the ``index``, the shards must be exactly
    its shards and each tensor must be in the shard the index names for it. Metadata is
    taken from the shards (equal in practice; a key whose values differ is dropped).

        >>> one = TensorTable({"a": ("F32", (2,))}, {"format": "pt"}, 64)
        >>> two = TensorTable({"b": ("F32", (3,))}, {"format": "pt"}, 64)
        >>> merged = merge_tables({"m-1.safetensors": one, "m-2.safetensors": two})
        >>> merged.tensors, merged.header_bytes
        ({'a': ('F32', (2,)), 'b': ('F32', (3,))}, 128)
    """
    if index is not None and sorted(tables) != index.shards:
        missing = sorted(set(index.shards) - set(tables))
        extra = sorted(set(tables) - set(index.shards))
        raise ValueError("the shards do not match the index ("
                         + ", ".join([f"missing {m!r}" for m in missing[:3]]
                                     + [f"not in the index {e!r}" for e in extra[:3]]) + ").")
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    where: dict[str, str] = {}
    metadata: dict[str, str] = {}
    conflicting: set[str] = set()
    header = 0
    for shard in sorted(tables):
        table = tables[shard]
        header += table.header_bytes
        for key, value in table.metadata.items():
            if metadata.setdefault(key, value) != value:
                conflicting.add(key)
        for name, entry in table.tensors.items():
            if name in tensors:
                raise ValueError(f"tensor {name!r} is in both {where[name]!r} and {shard!r}; "
                                 "the checkpoint is ambiguous.")
            if index is not None and index.weight_map.get(name) != shard:
                raise ValueError(f"tensor {name!r} is in {shard!r} but the index places it in "
                                 f"{index.weight_map.get(name)!r}.")
            tensors[name] = entry
            where[name] = shard
    if index is not None and len(tensors) != len(index.weight_map):
        absent = sorted(set(index.weight_map) - set(tensors))
        raise ValueError(f"tensor {absent[0]!r} is in the index but in none of the shards.")
    for key in conflicting:
        del metadata[key]
    return TensorTable(tensors, metadata, header)


# ---------------------------------------------------------------- versions


def compare_tables(old: TensorTable, new: TensorTable) -> tuple[str, list[str]]:
    """The SemVer level a change from ``old`` to ``new`` tensors needs, and why.

    A tensor removed or renamed, or its dtype or shape changed, is ``"major"`` (code that
    loads the old checkpoint into a model breaks); tensors only added is ``"minor"``;
    equal tables are ``"patch"`` with no reasons (whether the weights changed is decided
    by file digests, not here). A removed and an added tensor with the same dtype and
    shape that match only each other are reported as a rename. Metadata is not compared.

        >>> old = TensorTable({"fc.weight": ("F32", (10, 4)), "fc.bias": ("F32", (10,))})
        >>> new = TensorTable({"head.weight": ("F32", (10, 4)), "fc.bias": ("F16", (10,)),
        ...                    "norm.weight": ("F32", (4,))})
        >>> compare_tables(old, new)  # doctest: +NORMALIZE_WHITESPACE
        ('major', ["tensor 'fc.weight' renamed to 'head.weight'",
                   "tensor 'fc.bias' dtype F32 -> F16", "tensor 'norm.weight' added"])
    """
    removed = [name for name in old.tensors if name not in new.tensors]
    added = [name for name in new.tensors if name not in old.tensors]
    by_entry: dict[tuple, list[list[str]]] = {}
    for side, names, table in ((0, removed, old), (1, added, new)):
        for name in names:
            by_entry.setdefault(table.tensors[name], [[], []])[side].append(name)
    renamed = {group[0][0]: group[1][0] for group in by_entry.values()
               if len(group[0]) == 1 and len(group[1]) == 1}
    major: list[str] = []
    for name in removed:
        if name in renamed:
            major.append(f"tensor {name!r} renamed to {renamed[name]!r}")
        else:
            major.append(f"tensor {name!r} renamed or removed")
    for name, (dtype, shape) in old.tensors.items():
        if name not in new.tensors:
            continue
        new_dtype, new_shape = new.tensors[name]
        if dtype != new_dtype:
            major.append(f"tensor {name!r} dtype {dtype} -> {new_dtype}")
        if shape != new_shape:
            major.append(f"tensor {name!r} shape {list(shape)} -> {list(new_shape)}")
    targets = set(renamed.values())
    minor = [f"tensor {name!r} added" for name in added if name not in targets]
    level = "major" if major else "minor" if minor else "patch"
    return level, major + minor


def table_fingerprint(table: TensorTable) -> str:
    """``sha256:`` over the sorted (name, dtype, shape) list: equal iff the tables have the
    same tensors (metadata and header padding do not count).

        >>> a = TensorTable({"w": ("F32", (2, 3))}, {"format": "pt"}, 80)
        >>> b = TensorTable({"w": ("F32", [2, 3])}, header_bytes=88)
        >>> table_fingerprint(a) == table_fingerprint(b), table_fingerprint(a)[:7]
        (True, 'sha256:')
    """
    import hashlib

    canonical = json.dumps([[name, dtype, list(shape)]
                            for name, (dtype, shape) in sorted(table.tensors.items())],
                           separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()
