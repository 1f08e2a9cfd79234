"""Signatures and a weights digest of a TensorFlow SavedModel, read without TensorFlow.

Field numbers follow tensorflow/core/protobuf/saved_model.proto and meta_graph.proto,
tensorflow/core/framework/tensor_shape.proto and types.proto.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlpm.interface import protobuf as pb
from mlpm.interface.protobuf import DecodeError, InvalidModelFile

# tensorflow/core/framework/types.proto DataType -> the name tf.as_dtype(n).name gives
DTYPES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
    7: "string", 8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8",
    13: "qint32", 14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16",
    18: "complex128", 19: "float16", 20: "resource", 21: "variant", 22: "uint32",
    23: "uint64", 24: "float8_e5m2", 25: "float8_e4m3fn", 26: "float8_e4m3fnuz",
    27: "float8_e4m3b11fnuz", 28: "float8_e5m2fnuz", 29: "int4", 30: "uint4",
    31: "int2", 32: "uint2", 33: "float4_e2m1fn",
}
# TF's own init op, saved next to the user's signatures since TF 2.x
_INIT_OP = "__saved_model_init_op"


def read_signatures(path: str | Path) -> list[dict]:
    """The signatures of the SavedModel at ``path`` (its folder or its saved_model.pb).

    Sorted by name, tensors sorted by name; a dim of unknown size is ``None`` and a
    shape of unknown rank is ``None``.

    >>> read_signatures("mobilenet/")  # doctest: +SKIP
    [{'name': 'serving_default', 'method': 'tensorflow/serving/predict',
      'inputs': [{'name': 'pixels', 'dtype': 'float32', 'shape': [None, 224, 224, 3]}],
      'outputs': [{'name': 'logits', 'dtype': 'float32', 'shape': [None, 1001]}]}]
    """
    file = _pb_file(Path(path))
    try:
        return _signatures(_meta_graph(pb.read_file(file)))
    except DecodeError as err:
        raise InvalidModelFile(f"{file} {err}; re-export it with tf.saved_model.save "
                               "or download it again.") from None


def weights_digest(path: str | Path) -> str:
    """``sha256:`` over the files in ``variables/``: equal iff the weights are bit-identical.

    >>> weights_digest("mobilenet/")  # doctest: +SKIP
    'sha256:5f0c...'
    """
    folder = _pb_file(Path(path)).parent  # refuse what is not a SavedModel, as reading does
    digest = hashlib.sha256()
    variables = folder / "variables"
    files = [p for p in variables.rglob("*") if p.is_file()] if variables.is_dir() else []
    for file in sorted(files, key=lambda p: p.relative_to(variables).as_posix()):
        name = file.relative_to(variables).as_posix().encode()
        # length-prefixed name and size: no two file lists hash alike by concatenation
        digest.update(b"%d:%s%d:" % (len(name), name, file.stat().st_size))
        with open(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _pb_file(path: Path) -> Path:
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return path / "saved_model.pb"
        hint = " (saved_model.pbtxt is not supported)" if (path / "saved_model.pbtxt").exists() \
            else ""
        raise InvalidModelFile(f"{path} is not a SavedModel folder: it has no saved_model.pb"
                               f"{hint}; pass the folder tf.saved_model.save wrote.")
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; pass a SavedModel folder.")
    return path


def _meta_graph(data: memoryview) -> memoryview | None:
    """The MetaGraphDef tagged "serve", else the first one (TF1 hub models have several)."""
    first = None
    for number, wire, value in pb.fields(data):
        if number == 2:  # SavedModel.meta_graphs
            graph = pb.message(number, wire, value)
            first = graph if first is None else first
            if "serve" in _tags(graph):
                return graph
    return first


def _tags(graph: memoryview) -> list[str]:
    for number, wire, value in pb.fields(graph):
        if number == 1:  # MetaGraphDef.meta_info_def
            return [pb.text(n, w, v) for n, w, v in pb.fields(pb.message(number, wire, value))
                    if n == 4]  # MetaInfoDef.tags
    return []


def _signatures(graph: memoryview | None) -> list[dict]:
    found = {}
    for number, wire, value in pb.fields(graph if graph is not None else b""):
        if number == 5:  # MetaGraphDef.signature_def: map<string, SignatureDef>
            name, body = _map_entry(pb.message(number, wire, value))
            if name != _INIT_OP:
                found[name] = _signature(name, body)
    return [found[name] for name in sorted(found)]


def _map_entry(entry: memoryview) -> tuple[str, memoryview]:
    key, value = "", memoryview(b"")
    for number, wire, item in pb.fields(entry):
        if number == 1:
            key = pb.text(number, wire, item)
        elif number == 2:
            value = pb.message(number, wire, item)
    return key, value


def _signature(name: str, body: memoryview) -> dict:
    tensors: dict[int, dict[str, dict]] = {1: {}, 2: {}}
    method = ""
    for number, wire, value in pb.fields(body):
        if number in tensors:  # SignatureDef.inputs / outputs: map<string, TensorInfo>
            key, info = _map_entry(pb.message(number, wire, value))
            tensors[number][key] = _tensor(key, info)
        elif number == 3:  # SignatureDef.method_name
            method = pb.text(number, wire, value)
    return {"name": name, "method": method,
            "inputs": [tensors[1][k] for k in sorted(tensors[1])],
            "outputs": [tensors[2][k] for k in sorted(tensors[2])]}


def _tensor(name: str, info: memoryview) -> dict:
    dtype = 0
    shape: list[int | None] | None = []
    for number, wire, value in pb.fields(info):
        if number == 2:  # TensorInfo.dtype
            dtype = pb.scalar(number, wire, value)
        elif number == 3:  # TensorInfo.tensor_shape
            shape = _shape(pb.message(number, wire, value))
    return {"name": name, "dtype": DTYPES.get(dtype, f"dtype_{dtype}"), "shape": shape}


def _shape(proto: memoryview) -> list[int | None] | None:
    dims: list[int | None] = []
    for number, wire, value in pb.fields(proto):
        if number == 2:  # TensorShapeProto.dim
            size = 0
            for n, w, v in pb.fields(pb.message(number, wire, value)):
                if n == 1:  # Dim.size; -1 means unknown
                    size = pb.signed(pb.scalar(n, w, v))
            dims.append(size if size >= 0 else None)
        elif number == 3 and pb.scalar(number, wire, value):  # TensorShapeProto.unknown_rank
            return None
    return dims
