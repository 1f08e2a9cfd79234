"""Signatures read from model files without their framework: exported programs (.pt2),
TorchScript (.pt), TFLite. Real files are built with the framework in the test; hostile
archives are refused with InvalidModelFile."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from mlpm.errors import InvalidModelFile
from tests.conftest import needs

# -- exported programs ---------------------------------------------------------------------


def _exported(tmp_path: Path, dynamic: bool) -> Path:
    torch = needs("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 3)

        def forward(self, x, mask):
            return self.linear(x) * mask.to(torch.float32).sum(), x.to(torch.float16)

    x, mask = torch.randn(2, 4), torch.ones(2, 5, dtype=torch.int64)
    shapes = ({0: torch.export.Dim("batch")}, None) if dynamic else None
    program = torch.export.export(Net().eval(), (x, mask), dynamic_shapes=shapes)
    file = tmp_path / ("dynamic.pt2" if dynamic else "static.pt2")
    torch.export.save(program, str(file))
    return file


def test_exported_program_signature_with_a_dynamic_batch(tmp_path):
    from mlpm.interface.exported import read_signatures

    [sig] = read_signatures(_exported(tmp_path, dynamic=True))
    assert sig["name"] == "main"
    x, mask = sig["inputs"]
    assert (x["name"], x["dtype"], x["shape"][1:]) == ("x", "float32", [4])
    batch = x["shape"][0]
    assert isinstance(batch, str) and batch  # the symbol's name, e.g. "s77"
    assert mask == {"name": "mask", "dtype": "int64", "shape": [2, 5]}
    assert [o["dtype"] for o in sig["outputs"]] == ["float32", "float16"]
    assert [o["name"] for o in sig["outputs"]] == ["output_0", "output_1"]
    assert sig["outputs"][0]["shape"] == [batch, 3]
    assert sig["outputs"][1]["shape"] == [batch, 4]


def test_exported_program_signature_static(tmp_path):
    from mlpm.interface.exported import read_signatures

    [sig] = read_signatures(_exported(tmp_path, dynamic=False))
    assert [(t["name"], t["shape"]) for t in sig["inputs"]] == [("x", [2, 4]), ("mask", [2, 5])]


def test_exported_program_signature_reaches_the_interface_record(tmp_path):
    from mlpm.interface.build import describe

    file = _exported(tmp_path, dynamic=True)
    iface, _, _ = describe("model", [("exported-program", "model", file, "0" * 64)], None)
    assert iface.discovered == ["signatures"]
    assert [t["name"] for t in (iface.signatures or [])[0]["inputs"]] == ["x", "mask"]


def test_exported_program_symbol_spellings():
    from mlpm.interface.exported import _dim

    assert _dim({"as_int": 3}) == 3
    assert _dim({"as_expr": {"expr_str": "Symbol('batch', positive=True, integer=True)"}}) \
        == "batch"
    assert _dim({"as_expr": {"expr_str": "s0"}}) == "s0"
    assert _dim({"as_expr": {"expr_str": "2*s0"}}) == "2*s0"
    assert _dim({"as_expr": {"expr_str": "x" * 5000}}) == "x" * 1000
    assert _dim("junk") is None


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("members, message", [
    (None, "not a zip archive"),
    ({"m/data/0": b"x"}, "has no models/model.json"),
    ({"m/models/model.json": b"{not json"}, "is not JSON"),
    ({"m/models/model.json": b"[" * 100_000 + b"]" * 100_000}, "is not JSON"),
    ({"m/models/model.json": b"[1]"}, "is not a JSON object"),
    ({"m/models/model.json": json.dumps({"graph_module": {"graph": 1}}).encode()},
     "malformed"),
    ({"m/models/model.json": json.dumps({"graph_module": {
        "graph": {"tensor_values": []}, "signature": {"input_specs": [
            {"user_input": {"arg": {"as_tensor": {"name": "x"}}}}]}}}).encode()},
     "malformed"),
])
def test_hostile_exported_programs_are_refused(tmp_path, members, message):
    from mlpm.interface.exported import read_signatures

    file = tmp_path / "bad.pt2"
    if members is None:
        file.write_bytes(b"not a zip at all")
    else:
        _zip(file, members)
    with pytest.raises(InvalidModelFile, match=message):
        read_signatures(file)


def test_exported_program_bounds(tmp_path, monkeypatch):
    from mlpm.interface import exported

    file = _zip(tmp_path / "big.pt2", {"m/models/model.json": b" " * 5000 + b"{}",
                                       "m/a": b"", "m/b": b""})
    monkeypatch.setattr(exported, "MAX_JSON_BYTES", 1000)
    with pytest.raises(InvalidModelFile, match="larger than"):
        exported.read_signatures(file)
    monkeypatch.setattr(exported, "MAX_MEMBERS", 2)
    with pytest.raises(InvalidModelFile, match="more than 2 files"):
        exported.read_signatures(file)


# -- TorchScript ---------------------------------------------------------------------------


def _torchscript(tmp_path: Path) -> Path:
    torch = needs("torch")
    from typing import Tuple

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 3)

        def forward(self, x: torch.Tensor, lengths: torch.Tensor, scale: float = 2.0,
                    sr: int = 16000) -> Tuple[torch.Tensor, torch.Tensor]:
            return self.linear(x) * scale, lengths + sr

    file = tmp_path / "model.pt"
    torch.jit.script(Net()).save(str(file))
    return file


def test_torchscript_signature_from_forward(tmp_path):
    from mlpm.interface.torchscript import SHAPES_NOTE, read_signatures

    [sig] = read_signatures(_torchscript(tmp_path))
    assert sig["inputs"] == [
        {"name": "x", "dtype": None, "shape": None, "type": "Tensor"},
        {"name": "lengths", "dtype": None, "shape": None, "type": "Tensor"}]
    assert sig["options"] == [{"name": "scale", "type": "float", "default": 2.0},
                              {"name": "sr", "type": "int", "default": 16000}]
    assert [o["name"] for o in sig["outputs"]] == ["output_0", "output_1"]
    assert sig["shapes"] == SHAPES_NOTE


def test_torchscript_declared_signatures_win_and_onnx_replaces_read_ones(tmp_path):
    from mlpm.interface.build import describe
    from tests.models import make_onnx

    file = _torchscript(tmp_path)
    iface, _, _ = describe("model", [("torchscript", "model", file, "0" * 64)], None)
    assert iface.discovered == ["signatures"]
    assert (iface.signatures or [])[0]["shapes"]
    declared = {"inputs": [{"name": "x", "dtype": "float32", "shape": [None, 4]}]}
    iface, _, _ = describe("model", [("torchscript", "model", file, "0" * 64)], declared)
    assert (iface.signatures or [])[0]["inputs"][0]["shape"] == [None, 4]
    assert iface.discovered is None
    onnx = make_onnx(tmp_path / "m.onnx", 1)
    iface, _, _ = describe("model", [("torchscript", "model", file, "0" * 64),
                                     ("onnx", "model", onnx, "0" * 64)], None)
    assert "shapes" not in (iface.signatures or [])[0]
    assert iface.discovered == ["signatures"]


@pytest.mark.parametrize("members, message", [
    (None, "not a zip archive"),
    ({"m/code/__torch__.py": b"class M: pass"}, "has no data.pkl"),
    ({"m/data.pkl": b"\x80\x02cos\nsystem\nq\x00."}, "does not hold a TorchScript module"),
    ({"m/data.pkl": b"garbage"}, "does not hold a TorchScript module"),
    ({"m/data.pkl": b"\x80\x02c__torch__\nM\nq\x00."}, "has no m/code/__torch__.py"),
    ({"m/data.pkl": b"\x80\x02c__torch__\nM\nq\x00.", "m/code/__torch__.py": b"def ("},
     "is not Python"),
    ({"m/data.pkl": b"\x80\x02c__torch__\nM\nq\x00.", "m/code/__torch__.py": b"\xff\xfe"},
     "is not UTF-8"),
    ({"m/data.pkl": b"\x80\x02c__torch__\nM\nq\x00.",
      "m/code/__torch__.py": b"class N:\n  def forward(self, x: Tensor) -> Tensor: pass\n"},
     "has no class M with a forward method"),
    ({"m/data.pkl": b"\x80\x02c__torch__\nM\nq\x00.",
      "m/code/__torch__.py": b"x = " + b"(" * 100_000 + b")" * 100_000},
     "is not Python"),
])
def test_hostile_torchscript_is_refused(tmp_path, members, message):
    from mlpm.interface.torchscript import read_signatures

    file = tmp_path / "bad.pt"
    if members is None:
        file.write_bytes(b"PK\x03\x04 truncated")
    else:
        _zip(file, members)
    with pytest.raises(InvalidModelFile, match=message):
        read_signatures(file)


def test_torchscript_code_size_is_bounded(tmp_path, monkeypatch):
    from mlpm.interface import torchscript

    file = _zip(tmp_path / "big.pt", {"m/data.pkl": b"\x80\x02c__torch__\nM\nq\x00.",
                                      "m/code/__torch__.py": b"#" * 5000})
    monkeypatch.setattr(torchscript, "MAX_CODE_BYTES", 1000)
    with pytest.raises(InvalidModelFile, match="larger than"):
        torchscript.read_signatures(file)


# -- TFLite --------------------------------------------------------------------------------


def _tflite(tmp_path: Path, signatures: bool = True) -> Path:
    tf = needs("tensorflow")

    class Net(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.ones([4, 3]))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x"),
                                      tf.TensorSpec([2], tf.int64, name="ids")])
        def __call__(self, x, ids):
            return {"y": tf.matmul(x, self.w), "n": ids + 1}

    net = Net()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [net.__call__.get_concrete_function()], net)
    data = converter.convert()
    file = tmp_path / "model.tflite"
    file.write_bytes(data)
    return file


def test_tflite_signature_defs(tmp_path):
    from mlpm.interface.build import describe
    from mlpm.interface.tflite import read_signatures

    file = _tflite(tmp_path)
    [sig] = read_signatures(file)
    assert sig == {"name": "serving_default",
                   "inputs": [{"name": "ids", "dtype": "int64", "shape": [2]},
                              {"name": "x", "dtype": "float32", "shape": [None, 4]}],
                   "outputs": [{"name": "n", "dtype": "int64", "shape": [2]},
                               {"name": "y", "dtype": "float32", "shape": [None, 3]}]}
    iface, _, _ = describe("model", [("tflite", "model", file, "0" * 64)], None)
    assert iface.signatures == [sig] and iface.discovered == ["signatures"]


def _flatbuffer_without_signature_defs() -> bytes:
    """Model{subgraphs: [SubGraph{tensors: [Tensor{shape [1, 3], type INT8, name "t"}],
    inputs [0], outputs [0]}]}, laid out by hand."""
    import struct

    out = bytearray(b"\0" * 8)
    out[4:8] = b"TFL3"

    def here() -> int:
        return len(out)

    def vtable(offsets: list[int], table_size: int) -> int:
        pos = here()
        out.extend(struct.pack(f"<HH{len(offsets)}H", 4 + 2 * len(offsets), table_size,
                               *offsets))
        return pos

    def table(vt: int, fields: bytes) -> int:
        pos = here()
        out.extend(struct.pack("<i", pos - vt) + fields)
        return pos

    def patch(at: int, target: int) -> None:
        struct.pack_into("<I", out, at, target - at)

    # uoffsets point forwards, so each referrer is written before what it refers to
    vt_model = vtable([0, 0, 4], 8)  # Model: subgraphs (2, at +4)
    vt_graph = vtable([4, 8, 12], 16)  # SubGraph: tensors (0), inputs (1), outputs (2)
    vt_tensor = vtable([4, 8, 0, 12], 16)  # Tensor: shape (0), type (1), name (3)
    model = table(vt_model, b"\0" * 4)
    graphs = here()
    out.extend(struct.pack("<II", 1, 0))
    patch(model + 4, graphs)
    graph = table(vt_graph, b"\0" * 12)
    patch(graphs + 4, graph)
    tensors = here()
    out.extend(struct.pack("<II", 1, 0))
    patch(graph + 4, tensors)
    ios = here()
    out.extend(struct.pack("<Ii", 1, 0))
    patch(graph + 8, ios)
    patch(graph + 12, ios)
    tensor = table(vt_tensor, b"\0" * 4 + struct.pack("<b", 9) + b"\0" * 3 + b"\0" * 4)
    patch(tensors + 4, tensor)
    shape = here()
    out.extend(struct.pack("<I2i", 2, 1, 3))
    patch(tensor + 4, shape)
    name = here()
    out.extend(struct.pack("<I", 1) + b"t\0\0\0")
    patch(tensor + 12, name)
    struct.pack_into("<I", out, 0, model)
    return bytes(out)


def test_tflite_without_signature_defs_reads_the_first_subgraph(tmp_path):
    from mlpm.interface.tflite import read_signatures

    file = tmp_path / "bare.tflite"
    file.write_bytes(_flatbuffer_without_signature_defs())
    assert read_signatures(file) == [{
        "name": "main", "inputs": [{"name": "t", "dtype": "int8", "shape": [1, 3]}],
        "outputs": [{"name": "t", "dtype": "int8", "shape": [1, 3]}]}]


@pytest.mark.parametrize("mutate, message", [
    (lambda data: b"", "TFL3 identifier"),
    (lambda data: data[:4] + b"XXXX" + data[8:], "TFL3 identifier"),
    (lambda data: b"\xff\xff\xff\x7f" + data[4:], "outside the file"),
    (lambda data: data[:-12], "outside the file|past the end"),
    (lambda data: data[:-30] + b"\xff" * 30, "outside the file|past the end|malformed|names"),
])
def test_hostile_tflite_is_refused(tmp_path, mutate, message):
    from mlpm.interface.tflite import read_signatures

    file = tmp_path / "bad.tflite"
    file.write_bytes(mutate(_flatbuffer_without_signature_defs()))
    with pytest.raises(InvalidModelFile, match=message):
        read_signatures(file)


def test_hostile_tflite_fuzzed_never_crashes(tmp_path):
    import random

    from mlpm.interface.tflite import read_signatures

    data = _flatbuffer_without_signature_defs()
    rng = random.Random(0)
    file = tmp_path / "fuzz.tflite"
    for _ in range(300):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            mutated[rng.randrange(8, len(mutated))] = rng.randrange(256)
        file.write_bytes(bytes(mutated))
        try:
            read_signatures(file)
        except InvalidModelFile:
            pass
