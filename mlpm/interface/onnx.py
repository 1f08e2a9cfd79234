"""Interface and a weights digest of an ONNX model, read without onnx or onnxruntime.

Field numbers follow onnx/onnx.proto (ModelProto, GraphProto, ValueInfoProto,
TypeProto, TensorShapeProto, TensorProto, NodeProto, AttributeProto).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlpm.interface import protobuf as pb
from mlpm.interface.protobuf import DecodeError, InvalidModelFile

# TensorProto.DataType -> numpy / ml_dtypes names (what onnx.helper.tensor_dtype_to_np_dtype
# gives, with "string" for STRING rather than numpy's "object")
DTYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
    8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
    14: "complex64", 15: "complex128", 16: "bfloat16", 17: "float8_e4m3fn",
    18: "float8_e4m3fnuz", 19: "float8_e5m2", 20: "float8_e5m2fnuz", 21: "uint4", 22: "int4",
    23: "float4_e2m1fn", 24: "float8_e8m0fnu", 25: "uint2", 26: "int2", 27: "float6_e2m3fn",
    28: "float6_e3m2fn",
}
# bytes per int32_data entry as raw_data would store it; the rest (8-bit, sub-byte) take 1
_INT32_DATA_WIDTH = {6: 4, 5: 2, 4: 2, 10: 2, 16: 2}
_MAX_DEPTH = 32  # nested types / subgraphs deeper than this are hostile, not real models


def read_interface(path: str | Path) -> dict:
    """The inputs, outputs, opsets and producer of the ONNX model at ``path``.

    Inputs keep graph order and leave out initializers; a dim is an int, the name of
    a symbolic dim (``"batch"``) or ``None``; a shape of unknown rank is ``None``.

    >>> read_interface("linear.onnx")  # doctest: +SKIP
    {'signatures': [{'name': 'main',
                     'inputs': [{'name': 'x', 'dtype': 'float32', 'shape': ['batch', 4]}],
                     'outputs': [{'name': 'y', 'dtype': 'float32', 'shape': ['batch', 3]}]}],
     'opset': {'': 17}, 'producer': 'pytorch 2.13.0'}
    """
    path = Path(path)
    try:
        return _interface(pb.read_file(path))
    except DecodeError as err:
        raise _invalid(path, err) from None


def weights_digest(path: str | Path) -> str:
    """``sha256:`` over every weight tensor: equal iff the tensors are bit-identical.

    Covers initializers, sparse initializers and tensors held in node attributes
    (Constant nodes, subgraphs), by name, dtype, dims and little-endian bytes; the
    same values stored as raw_data, typed fields or external data hash alike, and doc
    strings, producer or node order do not count.

    >>> weights_digest("linear.onnx") == weights_digest("linear-redocumented.onnx")
    ... # doctest: +SKIP
    True
    """
    path = Path(path)
    try:
        records = sorted(_weights(pb.read_file(path)), key=lambda record: record[0])
        digest = hashlib.sha256()
        for key, dtype, dims, content in records:
            _hash_tensor(digest, key, dtype, dims, content, path)
    except DecodeError as err:
        raise _invalid(path, err) from None
    return "sha256:" + digest.hexdigest()


def _invalid(path: Path, err: DecodeError) -> InvalidModelFile:
    return InvalidModelFile(f"{path} {err}; export the model again or download it again.")


# -- interface ------------------------------------------------------------------------


def _interface(data: memoryview) -> dict:
    producer, version, opset, graph = "", "", {}, memoryview(b"")
    for number, wire, value in pb.fields(data):
        if number == 2:  # ModelProto.producer_name
            producer = pb.text(number, wire, value)
        elif number == 3:  # ModelProto.producer_version
            version = pb.text(number, wire, value)
        elif number == 7:  # ModelProto.graph
            graph = pb.message(number, wire, value)
        elif number == 8:  # ModelProto.opset_import: OperatorSetIdProto {domain, version}
            domain, level = "", 0
            for n, w, v in pb.fields(pb.message(number, wire, value)):
                if n == 1:
                    domain = pb.text(n, w, v)
                elif n == 2:
                    level = pb.signed(pb.scalar(n, w, v))
            opset[domain] = level
    inputs, outputs, weights = [], [], set()
    for number, wire, value in pb.fields(graph):
        if number == 11:  # GraphProto.input
            inputs.append(_value_info(pb.message(number, wire, value)))
        elif number == 12:  # GraphProto.output
            outputs.append(_value_info(pb.message(number, wire, value)))
        elif number == 5:  # GraphProto.initializer: TensorProto, name is field 8
            weights.add(_tensor_name(pb.message(number, wire, value)))
        elif number == 15:  # GraphProto.sparse_initializer: named by its values tensor
            for n, w, v in pb.fields(pb.message(number, wire, value)):
                if n == 1:
                    weights.add(_tensor_name(pb.message(n, w, v)))
    signature = {"name": "main", "inputs": [i for i in inputs if i["name"] not in weights],
                 "outputs": outputs}
    return {"signatures": [signature], "opset": dict(sorted(opset.items())),
            "producer": f"{producer} {version}".strip()}


def _tensor_name(tensor: memoryview) -> str:
    for number, wire, value in pb.fields(tensor):
        if number == 8:  # TensorProto.name
            return pb.text(number, wire, value)
    return ""


def _value_info(info: memoryview) -> dict:
    name, dtype, shape = "", "undefined", None
    for number, wire, value in pb.fields(info):
        if number == 1:  # ValueInfoProto.name
            name = pb.text(number, wire, value)
        elif number == 2:  # ValueInfoProto.type
            dtype, shape = _type(pb.message(number, wire, value), 0)
    return {"name": name, "dtype": dtype, "shape": shape}


def _type(proto: memoryview, depth: int) -> tuple[str, list | None]:
    """A TypeProto as (dtype, shape): tensors by element type, containers spelled out."""
    if depth > _MAX_DEPTH:
        raise DecodeError(f"is not a valid protobuf message: types nested over {_MAX_DEPTH} deep")
    for number, wire, value in pb.fields(proto):
        body = pb.message(number, wire, value) if number in (1, 4, 5, 8, 9) else memoryview(b"")
        if number == 1:  # tensor_type {elem_type, shape}
            return _tensor_type(body)
        if number == 8:  # sparse_tensor_type, same layout as tensor_type
            dtype, shape = _tensor_type(body)
            return f"sparse({dtype})", shape
        if number in (4, 9):  # sequence_type / optional_type {elem_type: TypeProto}
            inner = "undefined"
            for n, w, v in pb.fields(body):
                if n == 1:
                    inner = _type(pb.message(n, w, v), depth + 1)[0]
            return f"{'sequence' if number == 4 else 'optional'}({inner})", None
        if number == 5:  # map_type {key_type: DataType, value_type: TypeProto}
            key, inner = "undefined", "undefined"
            for n, w, v in pb.fields(body):
                if n == 1:
                    key = _dtype(pb.scalar(n, w, v))
                elif n == 2:
                    inner = _type(pb.message(n, w, v), depth + 1)[0]
            return f"map({key},{inner})", None
        if number == 7:  # opaque_type
            return "opaque", None
    return "undefined", None


def _tensor_type(body: memoryview) -> tuple[str, list | None]:
    dtype, shape = "undefined", None  # no shape field means unknown rank
    for number, wire, value in pb.fields(body):
        if number == 1:
            dtype = _dtype(pb.scalar(number, wire, value))
        elif number == 2:
            shape = [_dim(pb.message(n, w, v))
                     for n, w, v in pb.fields(pb.message(number, wire, value)) if n == 1]
    return dtype, shape


def _dim(proto: memoryview) -> int | str | None:
    dim: int | str | None = None
    for number, wire, value in pb.fields(proto):
        if number == 1:  # Dimension.dim_value
            dim = pb.signed(pb.scalar(number, wire, value))
        elif number == 2:  # Dimension.dim_param
            dim = pb.text(number, wire, value)
    return dim


def _dtype(number: int) -> str:
    return DTYPES.get(number, f"dtype_{number}")


# -- weights --------------------------------------------------------------------------

# A weight as (sort key, dtype, dims, content); content is the little-endian bytes or an
# external reference (location, offset, length).
Weight = tuple[str, int, list[int], "memoryview | bytes | tuple[str, int, int | None]"]


def _weights(data: memoryview) -> Iterator[Weight]:
    for number, wire, value in pb.fields(data):
        if number == 7:  # ModelProto.graph
            yield from _graph_weights(pb.message(number, wire, value), "", 0)
        elif number == 25:  # ModelProto.functions: FunctionProto, nodes are field 7
            function = pb.message(number, wire, value)
            name = "/".join(pb.text(n, w, v) for n, w, v in pb.fields(function) if n in (10, 1))
            for n, w, v in pb.fields(function):
                if n == 7:
                    yield from _node_weights(pb.message(n, w, v), f"function:{name}/", 0)


def _graph_weights(graph: memoryview, prefix: str, depth: int) -> Iterator[Weight]:
    if depth > _MAX_DEPTH:
        raise DecodeError(f"is not a valid protobuf message: graphs nested over {_MAX_DEPTH} deep")
    for number, wire, value in pb.fields(graph):
        if number == 5:  # GraphProto.initializer
            yield _tensor(pb.message(number, wire, value), prefix + "initializer:")
        elif number == 15:  # GraphProto.sparse_initializer
            yield from _sparse(pb.message(number, wire, value), prefix + "sparse:")
        elif number == 1:  # GraphProto.node
            yield from _node_weights(pb.message(number, wire, value), prefix, depth)


def _node_weights(node: memoryview, prefix: str, depth: int) -> Iterator[Weight]:
    """Tensors in a node's attributes (Constant values) and its subgraphs' weights."""
    # a node is known by its first output (unique in the graph), so node order does not count
    outputs = [pb.text(n, w, v) for n, w, v in pb.fields(node) if n in (2, 3)]
    prefix = f"{prefix}node:{outputs[0] if outputs else ''}/"
    for number, wire, value in pb.fields(node):
        if number != 5:  # NodeProto.attribute
            continue
        attribute = pb.message(number, wire, value)
        name = next((pb.text(n, w, v) for n, w, v in pb.fields(attribute) if n == 1), "")
        index = 0
        for n, w, v in pb.fields(attribute):
            where = f"{prefix}{name}#{index}/"
            if n in (5, 10):  # AttributeProto.t / tensors
                yield _tensor(pb.message(n, w, v), where)
            elif n in (22, 23):  # sparse_tensor / sparse_tensors
                yield from _sparse(pb.message(n, w, v), where)
            elif n in (6, 11):  # g / graphs
                yield from _graph_weights(pb.message(n, w, v), where, depth + 1)
            else:
                continue
            index += 1


def _sparse(proto: memoryview, prefix: str) -> Iterator[Weight]:
    dims = []
    for number, wire, value in pb.fields(proto):
        if number == 1:  # SparseTensorProto.values
            yield _tensor(pb.message(number, wire, value), prefix + "values:")
        elif number == 2:  # SparseTensorProto.indices
            yield _tensor(pb.message(number, wire, value), prefix + "indices:")
        elif number == 3:  # SparseTensorProto.dims
            dims += _ints(wire, value)
    yield prefix + "dims:", 7, [len(dims)], b"".join(d.to_bytes(8, "little") for d in dims)


def _tensor(tensor: memoryview, prefix: str) -> Weight:
    """One TensorProto as a Weight, its values in the bytes raw_data would hold."""
    name, dtype, dims, raw, typed = "", 0, [], None, bytearray()
    external: dict[str, str] = {}
    varints: list[int] = []
    varint_field = 0
    for number, wire, value in pb.fields(tensor):
        if number == 8:
            name = pb.text(number, wire, value)
        elif number == 2:
            dtype = pb.scalar(number, wire, value)
        elif number == 1:
            dims += [pb.signed(d) for d in _ints(wire, value)]
        elif number == 9:  # raw_data
            raw = pb.message(number, wire, value)
        elif number == 13:  # external_data: StringStringEntryProto {key, value}
            entry = {n: pb.text(n, w, v) for n, w, v in pb.fields(pb.message(number, wire, value))
                     if n in (1, 2)}
            external[entry.get(1, "")] = entry.get(2, "")
        elif number in (4, 10):  # float_data (fixed32) / double_data (fixed64): already LE
            if wire == pb.LENGTH:
                typed += pb.message(number, wire, value)
            elif wire == (pb.FIXED32 if number == 4 else pb.FIXED64):
                typed += pb.scalar(number, wire, value).to_bytes(4 if number == 4 else 8, "little")
            else:
                raise DecodeError(f"is not a valid protobuf message: tensor field {number} "
                                  f"has wire type {wire}")
        elif number in (5, 7, 11):  # int32_data / int64_data / uint64_data: varints
            varints += _ints(wire, value)
            varint_field = number
        elif number == 6:  # string_data: length-prefixed so strings cannot run together
            item = pb.message(number, wire, value)
            typed += b"%d:" % len(item) + item
    if varints:  # packed after the loop: their width depends on data_type, wherever it came
        width = (_INT32_DATA_WIDTH.get(dtype, 1) if varint_field == 5
                 else 4 if varint_field == 11 and dtype == 12 else 8)
        mask = (1 << 8 * width) - 1
        typed += b"".join((item & mask).to_bytes(width, "little") for item in varints)
    content: memoryview | bytes | tuple[str, int, int | None]
    if external:
        content = _external_ref(external, name)
    else:
        content = raw if raw is not None else bytes(typed)
    return prefix + name, dtype, dims, content


def _ints(wire: int, value: int | memoryview) -> list[int]:
    """A repeated varint field's values, packed or not."""
    # fields() gives a memoryview exactly for wire type LENGTH
    return [value] if isinstance(value, int) else pb.packed_varints(value)


def _external_ref(entries: dict[str, str], name: str) -> tuple[str, int, int | None]:
    try:
        offset = int(entries.get("offset") or 0)
        length = int(entries["length"]) if entries.get("length") else None
    except ValueError:
        raise DecodeError(f"is not a valid protobuf message: tensor {name!r} has a "
                          "non-numeric external offset or length") from None
    return entries.get("location", ""), offset, length


def _hash_tensor(digest: Any, key: str, dtype: int, dims: list[int],
                 content: memoryview | bytes | tuple[str, int, int | None], model: Path) -> None:
    header = f"{len(key)}:{key}|{dtype}|{','.join(map(str, dims))}|"
    if not isinstance(content, tuple):
        digest.update(f"{header}{len(content)}:".encode())
        digest.update(content)
        return
    # hash the referenced bytes themselves, so moving data out is not a change
    file, offset, length = _external_slice(model, *content, key)
    digest.update(f"{header}{length}:".encode())
    with open(file, "rb") as handle:
        handle.seek(offset)
        while length > 0 and (chunk := handle.read(min(length, 1 << 20))):
            digest.update(chunk)
            length -= len(chunk)


def _external_slice(model: Path, location: str, offset: int, length: int | None,
                    key: str) -> tuple[Path, int, int]:
    """The file, offset and length of external data, confined to the model's folder."""
    folder = model.resolve().parent
    try:
        file = (folder / location).resolve()
        inside = bool(location) and "\0" not in location and file.is_relative_to(folder)
        exists = inside and file.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte...
        inside = exists = False
    if not inside:
        raise InvalidModelFile(f"{model}: tensor {key!r} refers to external data "
                               f"{location[:200]!r} outside the model's folder; export it again.")
    if not exists:
        raise InvalidModelFile(f"{model}: tensor {key!r} needs its external data file "
                               f"{file}, which is missing; keep it next to the model.")
    size = file.stat().st_size
    length = size - offset if length is None else length
    if offset < 0 or length < 0 or offset + length > size:
        raise InvalidModelFile(f"{model}: tensor {key!r} points past the end of {file}; "
                               "export the model again.")
    return file, offset, length


# -- graph ----------------------------------------------------------------------------


def graph_digest(path: str | Path) -> str:
    """``sha256:`` over the computation: operators, their wiring, non-tensor attributes,
    opsets and model-local functions.

    Tensors are weights_digest's business (a Constant's value reads as a placeholder
    here); doc strings, node names, value_info annotations, producer and metadata do not
    count. Two exports of one model agree; swapping an activation does not.
    """
    path = Path(path)
    digest = hashlib.sha256()
    try:
        for number, wire, value in pb.fields(pb.read_file(path)):
            if number == 8:  # ModelProto.opset_import
                _hash_field(digest, number, wire, value)
            elif number == 7:  # ModelProto.graph
                _hash_graph(digest, pb.message(number, wire, value), 0)
            elif number == 25:  # ModelProto.functions: FunctionProto, nodes are field 7
                digest.update(b"function")
                for n, w, v in pb.fields(pb.message(number, wire, value)):
                    if n == 7:
                        _hash_node(digest, pb.message(n, w, v), 0)
                    elif n != 8:  # doc_string
                        _hash_field(digest, n, w, v)
    except DecodeError as err:
        raise _invalid(path, err) from None
    return "sha256:" + digest.hexdigest()


def _hash_field(digest: Any, number: int, wire: int, value: int | memoryview) -> None:
    raw = value.tobytes() if isinstance(value, memoryview) else str(value).encode()
    digest.update(b"%d:%d:%d:" % (number, wire, len(raw)) + raw)


def _hash_graph(digest: Any, graph: memoryview, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise DecodeError(f"is not a valid protobuf message: graphs nested over {_MAX_DEPTH} deep")
    digest.update(b"graph{")
    for number, wire, value in pb.fields(graph):
        if number == 1:  # GraphProto.node
            _hash_node(digest, pb.message(number, wire, value), depth)
        elif number in (11, 12):  # input / output: a subgraph's own interface
            _hash_field(digest, number, wire, value)
        # initializer (5), sparse_initializer (15): weights; name, doc, value_info: cosmetic
    digest.update(b"}")


def _hash_node(digest: Any, node: memoryview, depth: int) -> None:
    digest.update(b"node{")
    for number, wire, value in pb.fields(node):
        if number == 5:  # NodeProto.attribute
            digest.update(b"attribute{")
            for n, w, v in pb.fields(pb.message(number, wire, value)):
                if n in (5, 10, 22, 23):  # t / tensors / sparse tensors: weights
                    digest.update(b"%d:tensor" % n)
                elif n in (6, 11):  # g / graphs
                    _hash_graph(digest, pb.message(n, w, v), depth + 1)
                elif n != 13:  # doc_string
                    _hash_field(digest, n, w, v)
            digest.update(b"}")
        elif number not in (3, 6):  # name, doc_string
            _hash_field(digest, number, wire, value)
    digest.update(b"}")
