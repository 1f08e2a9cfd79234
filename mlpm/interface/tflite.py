"""The signatures of a TFLite model, read from its flatbuffer without TensorFlow.

Tables and field numbers follow tensorflow/compiler/mlir/lite/schema/schema.fbs: Model
(2 subgraphs, 7 signature_defs), SubGraph (0 tensors, 1 inputs, 2 outputs, 4 name),
Tensor (0 shape, 1 type, 3 name, 7 shape_signature), SignatureDef (0 inputs, 1 outputs,
2 signature_key, 4 subgraph_index), TensorMap (0 name, 1 tensor_index). A model with
SignatureDefs gives one signature each; one without gives its first subgraph's inputs
and outputs as ``main``. Every offset is checked against the file, so a hostile file is
refused, not followed.
"""

from __future__ import annotations

import struct
from pathlib import Path

from mlpm.interface.protobuf import InvalidModelFile

# schema.fbs TensorType -> numpy-style names
DTYPES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
    7: "int16", 8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64",
    13: "resource", 14: "variant", 15: "uint32", 16: "uint16", 17: "int4", 18: "bfloat16",
    19: "int2", 20: "uint4",
}
MAX_ITEMS = 1_000_000  # tensors, subgraphs or dims in one vector: more is hostile
MAX_SIGNATURES = 10_000
MAX_NAME = 4096


class _Bad(ValueError):
    pass


class _Buffer:
    """A flatbuffer: bounds-checked reads of tables, vectors and strings."""

    def __init__(self, data: memoryview):
        self.data = data
        self.size = len(data)

    def _u(self, fmt: str, pos: int) -> int:
        width = struct.calcsize(fmt)
        if pos < 0 or pos + width > self.size:
            raise _Bad(f"an offset ({pos}) points outside the file")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def root(self) -> int:
        return self._u("<I", 0)

    def field(self, table: int, index: int) -> int | None:
        """The position of field ``index`` of the table at ``table``, or None if absent."""
        vtable = table - self._u("<i", table)
        vsize = self._u("<H", vtable)
        if vsize < 4 or vsize % 2:
            raise _Bad("a vtable is malformed")
        slot = 4 + 2 * index
        if slot + 2 > vsize:
            return None
        offset = self._u("<H", vtable + slot)
        return table + offset if offset else None

    def indirect(self, pos: int) -> int:
        return pos + self._u("<I", pos)

    def scalar(self, table: int, index: int, fmt: str, default: int = 0) -> int:
        pos = self.field(table, index)
        return default if pos is None else self._u(fmt, pos)

    def vector(self, table: int, index: int, width: int) -> tuple[int, int] | None:
        """(start of elements, count) of a vector field, or None if absent."""
        pos = self.field(table, index)
        if pos is None:
            return None
        start = self.indirect(pos)
        count = self._u("<I", start)
        if count > MAX_ITEMS or start + 4 + count * width > self.size:
            raise _Bad("a vector runs past the end of the file")
        return start + 4, count

    def tables(self, table: int, index: int, limit: int = MAX_ITEMS) -> list[int]:
        found = self.vector(table, index, 4)
        if found is None:
            return []
        start, count = found
        if count > limit:
            raise _Bad(f"it has more than {limit} entries in one list")
        return [self.indirect(start + 4 * i) for i in range(count)]

    def ints(self, table: int, index: int) -> list[int] | None:
        found = self.vector(table, index, 4)
        if found is None:
            return None
        start, count = found
        return list(struct.unpack_from(f"<{count}i", self.data, start))

    def string(self, table: int, index: int) -> str:
        pos = self.field(table, index)
        if pos is None:
            return ""
        start = self.indirect(pos)
        length = self._u("<I", start)
        if start + 4 + length > self.size:
            raise _Bad("a string runs past the end of the file")
        raw = bytes(self.data[start + 4:start + 4 + min(length, MAX_NAME)])
        return raw.decode("utf-8", "replace")


def read_signatures(path: str | Path) -> list[dict]:
    """The signatures of the TFLite model at ``path``; a dim that is dynamic (``-1`` in
    shape_signature) is None.

    >>> read_signatures("model.tflite")  # doctest: +SKIP
    [{'name': 'serving_default',
      'inputs': [{'name': 'x', 'dtype': 'float32', 'shape': [None, 4]}],
      'outputs': [{'name': 'output_0', 'dtype': 'float32', 'shape': [None, 3]}]}]
    """
    from mlpm.interface.protobuf import read_file

    path = Path(path)
    try:
        data = read_file(path)
        if len(data) < 8 or bytes(data[4:8]) != b"TFL3":
            raise _Bad("it does not carry the TFL3 identifier")
        return _signatures(_Buffer(data))
    except (_Bad, struct.error, RecursionError) as exc:
        raise InvalidModelFile(f"{path} is not a readable TFLite model: {exc}; convert it "
                               "again with tf.lite.TFLiteConverter or download it "
                               "again.") from None


def _signatures(buf: _Buffer) -> list[dict]:
    model = buf.root()
    subgraphs = buf.tables(model, 2)
    if not subgraphs:
        raise _Bad("it has no subgraph")
    defs = buf.tables(model, 7, MAX_SIGNATURES)
    if not defs:
        graph = subgraphs[0]
        tensors = buf.tables(graph, 0)
        return [{"name": "main",
                 "inputs": [_tensor(buf, tensors, i, None) for i in buf.ints(graph, 1) or []],
                 "outputs": [_tensor(buf, tensors, i, None)
                             for i in buf.ints(graph, 2) or []]}]
    out = []
    for sig in defs:
        index = buf.scalar(sig, 4, "<I")
        if index >= len(subgraphs):
            raise _Bad(f"a signature names subgraph {index}, which it does not have")
        tensors = buf.tables(subgraphs[index], 0)
        io = {}
        for field, key in ((0, "inputs"), (1, "outputs")):
            io[key] = sorted((_tensor(buf, tensors, buf.scalar(m, 1, "<I"), buf.string(m, 0))
                              for m in buf.tables(sig, field)), key=lambda t: t["name"])
        out.append({"name": buf.string(sig, 2), **io})
    return sorted(out, key=lambda s: s["name"])


def _tensor(buf: _Buffer, tensors: list[int], index: int, name: str | None) -> dict:
    if not 0 <= index < len(tensors):
        raise _Bad(f"a signature names tensor {index}, which its subgraph does not have")
    tensor = tensors[index]
    shape = buf.ints(tensor, 0)
    signature = buf.ints(tensor, 7)
    dims = signature if signature is not None and shape is not None and \
        len(signature) == len(shape) else shape
    return {"name": name if name is not None else buf.string(tensor, 3),
            "dtype": DTYPES.get(buf.scalar(tensor, 1, "<b"), "undefined"),
            "shape": None if dims is None else [d if d >= 0 else None for d in dims]}


# schema.fbs BuiltinOperator.CUSTOM: an op the runtime must have registered by name.
CUSTOM = 32


def custom_ops(path: str | Path) -> list[str]:
    """The custom ops the TFLite model at ``path`` needs, by name (OperatorCode 0
    deprecated_builtin_code, 1 custom_code, 3 builtin_code). ``Flex...`` ops are TensorFlow
    ops that TensorFlow's own interpreter runs; any other needs a kernel registered by the
    application, which no stock interpreter has.

    >>> custom_ops("model.tflite")  # doctest: +SKIP
    ['BesselI1e']
    """
    from mlpm.interface.protobuf import read_file

    path = Path(path)
    try:
        data = read_file(path)
        if len(data) < 8 or bytes(data[4:8]) != b"TFL3":
            raise _Bad("it does not carry the TFL3 identifier")
        buf = _Buffer(data)
        names = []
        for code in buf.tables(buf.root(), 1):
            builtin = max(buf.scalar(code, 0, "<b"), buf.scalar(code, 3, "<i"))
            if builtin == CUSTOM:
                names.append(buf.string(code, 1))
        return sorted(set(names))
    except (_Bad, struct.error, RecursionError) as exc:
        raise InvalidModelFile(f"{path} is not a readable TFLite model: {exc}; convert it "
                               "again with tf.lite.TFLiteConverter or download it "
                               "again.") from None
