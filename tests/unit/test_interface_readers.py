"""Reading a model's interface without its framework: a publisher's SavedModel or ONNX
file is described exactly as TensorFlow / onnxruntime would describe it, hostile bytes
give one clear error, and the weights digest tells retrained weights from a re-packaging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlpm.errors import MlpmError
from mlpm.interface import onnx as onnx_reader
from mlpm.interface import protobuf as pb
from mlpm.interface import savedmodel
from mlpm.interface.protobuf import InvalidModelFile
from tests.conftest import needs

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("tensorflow", "onnx", "onnxruntime", "torch", "google.protobuf", "numpy",
              "keras", "tf_keras")
HOSTILE = settings(max_examples=300, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def framework_home(tmp_path_factory):
    """Module fixtures run before the per-test isolation: give TF / torch a temp home too."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"HOME": home, "XDG_CACHE_HOME": home / ".cache",
                           "TORCH_HOME": home / "torch", "KERAS_HOME": home / "keras",
                           "TF_CPP_MIN_LOG_LEVEL": "3"}.items():
            patch.setenv(key, str(value))
        yield home


# -- SavedModels built with TensorFlow --------------------------------------------------


def _tf_signatures(path: Path) -> list[dict]:
    """What TensorFlow itself says the signatures are, in read_signatures' shape."""
    tf = needs("tensorflow")

    def spec(name, tensor_spec):
        shape = None if tensor_spec.shape.rank is None else tensor_spec.shape.as_list()
        return {"name": name, "dtype": tensor_spec.dtype.name, "shape": shape}

    from tensorflow.python.saved_model import loader_impl

    proto = loader_impl.parse_saved_model(str(path))  # TF's own protobuf parse, for methods
    graph = next((g for g in proto.meta_graphs if "serve" in g.meta_info_def.tags),
                 proto.meta_graphs[0])
    methods = {name: definition.method_name for name, definition in graph.signature_def.items()}
    loaded = tf.saved_model.load(str(path), tags=list(graph.meta_info_def.tags) or None)
    found = []
    for name, function in sorted(loaded.signatures.items()):
        inputs = function.structured_input_signature[1]
        outputs = function.structured_outputs
        found.append({"name": name, "method": methods[name],
                      "inputs": [spec(k, inputs[k]) for k in sorted(inputs)],
                      "outputs": [spec(k, outputs[k]) for k in sorted(outputs)]})
    return found


@pytest.fixture(scope="module")
def saved_models(framework_home, tmp_path_factory):
    """Real SavedModels, built once: two signatures (twice, then retrained), unknown rank,
    TF1 with two meta graphs, Keras; with what TensorFlow reports for each."""
    tf = needs("tensorflow")

    folder = tmp_path_factory.mktemp("savedmodels")

    class Classifier(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.random.stateless_normal([64, 10], seed=[1, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32, name="pixels")])
        def serve(self, pixels):
            return {"logits": pixels @ self.w}

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32, name="image")])
        def features(self, image):
            return {"classes": tf.argmax(tf.reshape(image, [-1, 64]) @ self.w, axis=1)}

    class Anything(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name="anything"),
                                      tf.TensorSpec([], tf.string, name="text"),
                                      tf.TensorSpec([3], tf.bool, name="flags"),
                                      tf.TensorSpec([2, None], tf.uint8, name="bytes")])
        def serve(self, anything, text, flags, bytes):
            return {"doubled": anything * 2, "length": tf.strings.length(text),
                    "any": tf.reduce_any(flags), "wide": tf.cast(bytes, tf.float64)}

    def save(module, name, **signatures):
        path = folder / name
        tf.saved_model.save(module, str(path), signatures=signatures)
        return path

    model = Classifier()
    paths = {"two": save(model, "two", serving_default=model.serve, features=model.features),
             "again": save(model, "again", serving_default=model.serve,
                           features=model.features)}
    model.w.assign(model.w + tf.one_hot([[0]], 10)[0] * 1e-3)  # "retraining": one weight moves
    paths["retrained"] = save(model, "retrained", serving_default=model.serve,
                              features=model.features)
    anything = Anything()
    paths["unknown_rank"] = save(anything, "unknown_rank", serving_default=anything.serve)

    paths["tf1"] = folder / "tf1"  # TF1 / TF Hub style: a "train" and a "serve" meta graph
    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as session:
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        y = tf.identity(x @ v1.get_variable("w", [3, 2]), name="y")
        ids = v1.placeholder(tf.int64, [None], name="ids")
        examples = v1.placeholder(tf.string, [None], name="examples")
        session.run(v1.global_variables_initializer())
        builder = v1.saved_model.Builder(str(paths["tf1"]))
        builder.add_meta_graph_and_variables(session, ["train"], signature_def_map={
            "train_step": v1.saved_model.predict_signature_def({"ids": ids}, {"y": y})})
        builder.add_meta_graph(["serve"], signature_def_map={
            "predict": v1.saved_model.predict_signature_def({"x": x}, {"y": y}),
            "serving_default": v1.saved_model.classification_signature_def(
                examples, classes=tf.constant(["a"]), scores=None)})
        builder.save()

    import keras

    inputs = keras.Input((5,), name="features")
    keras_model = keras.Model(inputs, keras.layers.Dense(2, name="scores")(inputs))
    paths["keras"] = folder / "keras"
    keras_model.export(str(paths["keras"]), verbose=False)
    return {name: (path, _tf_signatures(path)) for name, path in paths.items()}


def test_two_signatures_read_as_tensorflow_reports_them(saved_models):
    path, expected = saved_models["two"]
    found = savedmodel.read_signatures(path)
    assert found == expected
    assert found == [
        {"name": "features", "method": "tensorflow/serving/predict",
         "inputs": [{"name": "image", "dtype": "float32", "shape": [None, 8, 8, 1]}],
         "outputs": [{"name": "classes", "dtype": "int64", "shape": [None]}]},
        {"name": "serving_default", "method": "tensorflow/serving/predict",
         "inputs": [{"name": "pixels", "dtype": "float32", "shape": [None, 64]}],
         "outputs": [{"name": "logits", "dtype": "float32", "shape": [None, 10]}]},
    ]
    assert savedmodel.read_signatures(path / "saved_model.pb") == found


def test_unknown_rank_scalars_and_other_dtypes(saved_models):
    path, expected = saved_models["unknown_rank"]
    found = savedmodel.read_signatures(str(path))
    assert found == expected
    inputs = {i["name"]: i for i in found[0]["inputs"]}
    assert inputs["anything"]["shape"] is None
    assert inputs["text"] == {"name": "text", "dtype": "string", "shape": []}
    assert inputs["bytes"]["shape"] == [2, None]


def test_keras_export_is_read_as_tensorflow_reports_it(saved_models):
    path, expected = saved_models["keras"]
    found = savedmodel.read_signatures(path)
    assert found == expected
    assert "serving_default" in [s["name"] for s in found]
    assert all(s["name"] != "__saved_model_init_op" for s in found)


def test_tf1_model_is_read_from_its_serve_meta_graph(saved_models):
    path, expected = saved_models["tf1"]
    found = savedmodel.read_signatures(path)
    assert found == expected
    assert [(s["name"], s["method"]) for s in found] == [
        ("predict", "tensorflow/serving/predict"),
        ("serving_default", "tensorflow/serving/classify")]


def test_dtype_names_match_tensorflow(saved_models):
    tf = needs("tensorflow")

    for number, name in savedmodel.DTYPES.items():
        assert tf.as_dtype(number).name == name
    assert savedmodel._tensor("t", memoryview(b"\x10\x63"))["dtype"] == "dtype_99"


def test_savedmodel_weights_digest_changes_only_with_the_weights(saved_models):
    digest = savedmodel.weights_digest(saved_models["two"][0])
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    assert savedmodel.weights_digest(saved_models["again"][0]) == digest
    assert savedmodel.weights_digest(saved_models["two"][0] / "saved_model.pb") == digest
    assert savedmodel.weights_digest(saved_models["retrained"][0]) != digest


def test_reading_imports_no_framework(saved_models, onnx_models):
    """What `mlpm info` does on a machine without TF: it must not import it."""
    script = (
        "import json, sys\n"
        "from mlpm.interface.savedmodel import read_signatures, weights_digest\n"
        "from mlpm.interface.onnx import read_interface, weights_digest as onnx_digest\n"
        f"signatures = read_signatures({str(saved_models['two'][0])!r})\n"
        f"weights_digest({str(saved_models['two'][0])!r})\n"
        f"read_interface({str(onnx_models['torch'])!r})\n"
        f"onnx_digest({str(onnx_models['torch'])!r})\n"
        f"loaded = [m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r}"
        f" or m.startswith({FRAMEWORKS!r})]\n"
        "print(json.dumps({'signatures': signatures, 'loaded': loaded}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ), timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["loaded"] == []
    assert result["signatures"] == saved_models["two"][1]


# -- ONNX models built with onnx.helper and torch -----------------------------------------


def _helper_model(weight: float = 0.5, doc: str = "", producer: str = ""):
    """Several dtypes, symbolic and unnamed dims, an initializer listed as an input too."""
    np = needs("numpy")
    needs("onnx")
    from onnx import TensorProto, helper, numpy_helper

    value = helper.make_tensor_value_info
    weights = numpy_helper.from_array(np.array([weight, 1.0, 2.0], np.float32), "W")
    offsets = numpy_helper.from_array(np.arange(7, dtype=np.int64), "offsets")
    graph = helper.make_graph(
        [helper.make_node("Cast", ["image"], ["image16"], to=TensorProto.FLOAT16),
         helper.make_node("Not", ["mask"], ["inverted"]),
         helper.make_node("Add", ["ids", "offsets"], ["shifted"]),
         helper.make_node("Cast", ["shifted"], ["ids8"], to=TensorProto.UINT8),
         helper.make_node("Mul", ["scale", "scale"], ["squared"]),
         helper.make_node("Identity", ["W"], ["w_out"]),
         helper.make_node("Identity", ["text"], ["text_out"]),
         helper.make_node("Constant", [], ["bias"], value=numpy_helper.from_array(
             np.array([3, 4], np.int32), "bias_value"))],
        "several",
        [value("image", TensorProto.FLOAT, ["batch", 3, "height", "width"]),
         value("mask", TensorProto.BOOL, ["batch"]),
         value("ids", TensorProto.INT64, [None, 7]),
         value("W", TensorProto.FLOAT, [3]),
         value("scale", TensorProto.DOUBLE, []),
         value("text", TensorProto.STRING, ["n"])],
        [value("image16", TensorProto.FLOAT16, ["batch", 3, "height", "width"]),
         value("inverted", TensorProto.BOOL, ["batch"]),
         value("ids8", TensorProto.UINT8, [None, 7]),
         value("squared", TensorProto.DOUBLE, []),
         value("w_out", TensorProto.FLOAT, [3]),
         value("text_out", TensorProto.STRING, ["n"]),
         value("bias", TensorProto.INT32, [2])],
        initializer=[weights, offsets], doc_string=doc,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("ai.onnx.ml", 3)],
                              producer_name=producer, doc_string=doc)
    model.ir_version = 8
    return model


def _save(model, path: Path, check: bool = True, **options) -> Path:
    onnx = needs("onnx")

    if check:
        onnx.checker.check_model(model)
    onnx.save(model, str(path), **options)
    return path


@pytest.fixture(scope="module")
def onnx_models(framework_home, tmp_path_factory):
    """ONNX files: helper-built variants (redocumented, retrained, re-encoded) and a torch
    export with a dynamic batch dim, built once."""
    onnx = needs("onnx")
    torch = needs("torch")

    folder = tmp_path_factory.mktemp("onnx")
    paths = {"helper": _save(_helper_model(), folder / "helper.onnx"),
             "redocumented": _save(_helper_model(doc="now documented", producer="someone"),
                                   folder / "redocumented.onnx"),
             "retrained": _save(_helper_model(weight=0.5000001), folder / "retrained.onnx")}

    typed = _helper_model()  # the same values as typed float_data / int64_data, no raw_data
    for tensor in typed.graph.initializer:
        values = onnx.numpy_helper.to_array(tensor)
        tensor.ClearField("raw_data")
        target = tensor.float_data if values.dtype.kind == "f" else tensor.int64_data
        target.extend(values.tolist())
    paths["typed"] = _save(typed, folder / "typed.onnx")

    external = folder / "external"
    external.mkdir()
    paths["external"] = _save(_helper_model(), external / "model.onnx",
                              save_as_external_data=True, all_tensors_to_one_file=True,
                              location="weights.bin", size_threshold=0)

    constant = _helper_model()  # a weight kept in a Constant node, not an initializer
    constant.graph.node[-1].attribute[0].t.raw_data = bytes([3, 0, 0, 0, 5, 0, 0, 0])
    paths["constant"] = _save(constant, folder / "constant.onnx")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3)
            self.head = torch.nn.Linear(4 * 6 * 6, 10)

        def forward(self, pixels):
            return self.head(self.conv(pixels).flatten(1)).softmax(-1)

    torch.manual_seed(0)
    net = Net().eval()
    paths["torch"] = folder / "net.onnx"
    with warnings.catch_warnings():  # torch's exporter warns about its own internals
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(2, 1, 8, 8),), str(paths["torch"]), dynamo=True,
                          external_data=False, input_names=["pixels"], output_names=["probs"],
                          dynamic_shapes={"pixels": {0: torch.export.Dim("batch")}})
    return paths


def _ort_interface(path: Path) -> dict:
    """What onnxruntime says the model takes and gives, in read_interface's shape."""
    onnx = needs("onnx")
    onnxruntime = needs("onnxruntime")

    def tensor(arg):
        element = arg.type.removeprefix("tensor(").removesuffix(")")
        dtype = onnx_reader.DTYPES[onnx.TensorProto.DataType.Value(element.upper())]
        return {"name": arg.name, "dtype": dtype, "shape": list(arg.shape)}

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model = onnx.load(str(path), load_external_data=False)
    return {"signatures": [{"name": "main",
                            "inputs": [tensor(a) for a in session.get_inputs()],
                            "outputs": [tensor(a) for a in session.get_outputs()]}],
            "opset": {o.domain: o.version for o in sorted(model.opset_import,
                                                           key=lambda o: o.domain)},
            "producer": f"{model.producer_name} {model.producer_version}".strip()}


def test_helper_model_reads_as_onnxruntime_reports_it(onnx_models):
    found = onnx_reader.read_interface(onnx_models["helper"])
    assert found == _ort_interface(onnx_models["helper"])
    inputs = found["signatures"][0]["inputs"]
    assert [i["name"] for i in inputs] == ["image", "mask", "ids", "scale", "text"]
    assert inputs[0] == {"name": "image", "dtype": "float32",
                         "shape": ["batch", 3, "height", "width"]}
    assert inputs[2]["shape"] == [None, 7] and inputs[3] == {"name": "scale",
                                                            "dtype": "float64", "shape": []}
    assert found["opset"] == {"": 17, "ai.onnx.ml": 3}


def test_torch_export_reads_as_onnxruntime_reports_it(onnx_models):
    found = onnx_reader.read_interface(str(onnx_models["torch"]))
    assert found == _ort_interface(onnx_models["torch"])
    torch = needs("torch")

    assert found["producer"] == f"pytorch {torch.__version__}"
    signature = found["signatures"][0]
    assert signature["inputs"] == [{"name": "pixels", "dtype": "float32",
                                    "shape": ["batch", 1, 8, 8]}]
    assert signature["outputs"] == [{"name": "probs", "dtype": "float32",
                                     "shape": ["batch", 10]}]


def test_unknown_rank_and_container_types_are_spelled_out(tmp_path):
    needs("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "types",
        [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, None)],
        [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, None),
         helper.make_tensor_sequence_value_info("seq", TensorProto.INT8, None),
         helper.make_value_info("table", helper.make_map_type_proto(
             TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.FLOAT, [1]))),
         helper.make_value_info("maybe", helper.make_optional_type_proto(
             helper.make_tensor_type_proto(TensorProto.UINT16, [2])))])
    # the checker wants shapes on every output; the reader must cope without them
    path = _save(helper.make_model(graph), tmp_path / "types.onnx", check=False)
    outputs = onnx_reader.read_interface(path)["signatures"][0]["outputs"]
    assert outputs == [
        {"name": "y", "dtype": "bfloat16", "shape": None},
        {"name": "seq", "dtype": "sequence(int8)", "shape": None},
        {"name": "table", "dtype": "map(string,float32)", "shape": None},
        {"name": "maybe", "dtype": "optional(uint16)", "shape": None},
    ]


def test_onnx_dtype_names_match_numpy():
    needs("onnx")
    from onnx import helper

    for number, name in onnx_reader.DTYPES.items():
        expected = helper.tensor_dtype_to_np_dtype(number).name
        assert name == ("string" if expected == "object" else expected)


def test_onnx_weights_digest_ignores_metadata_and_encoding_not_values(onnx_models):
    digest = onnx_reader.weights_digest(onnx_models["helper"])
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    # doc strings, producer, float_data vs raw_data, external data: a PATCH, same digest
    for same in ("redocumented", "typed", "external"):
        assert onnx_reader.weights_digest(onnx_models[same]) == digest, same
    # one float32 weight moved by one ulp, or a Constant node's value: new weights
    for other in ("retrained", "constant"):
        assert onnx_reader.weights_digest(onnx_models[other]) != digest, other


def test_narrow_dtypes_in_int32_data_digest_like_raw_data(tmp_path):
    """onnx stores float16 / int8 / uint16 one per int32_data entry: same values, same digest."""
    np = needs("numpy")
    needs("onnx")
    from onnx import TensorProto, helper

    def digest(raw: bool, int8: list[int]) -> str:
        values = [(TensorProto.FLOAT16, np.float16, [1.5, -2.0, 65504.0]),
                  (TensorProto.INT8, np.int8, int8),
                  (TensorProto.UINT16, np.uint16, [0, 65535]),
                  (TensorProto.BOOL, np.bool_, [True, False])]
        tensors = [helper.make_tensor(f"t{i}", kind, [len(v)],
                                      np.asarray(v, dtype).tobytes() if raw else v, raw=raw)
                   for i, (kind, dtype, v) in enumerate(values)]
        graph = helper.make_graph([], "weights", [], [], initializer=tensors)
        path = _save(helper.make_model(graph), tmp_path / f"{raw}.onnx", check=False)
        return onnx_reader.weights_digest(path)

    assert digest(raw=False, int8=[-128, -1, 127]) == digest(raw=True, int8=[-128, -1, 127])
    assert digest(raw=False, int8=[-128, -2, 127]) != digest(raw=True, int8=[-128, -1, 127])


def test_torch_export_digest_follows_the_weights(onnx_models, tmp_path):
    onnx = needs("onnx")

    original = onnx_reader.weights_digest(onnx_models["torch"])
    model = onnx.load(str(onnx_models["torch"]))
    model.doc_string, model.producer_version = "re-exported", "0.0"
    assert onnx_reader.weights_digest(_save(model, tmp_path / "same.onnx")) == original
    tensor = max(model.graph.initializer, key=lambda t: len(t.raw_data))
    flipped = bytearray(tensor.raw_data)
    flipped[0] ^= 1
    tensor.raw_data = bytes(flipped)
    assert onnx_reader.weights_digest(_save(model, tmp_path / "flipped.onnx")) != original


def test_external_data_must_exist_and_stay_in_the_model_folder(onnx_models, tmp_path):
    import shutil

    onnx = needs("onnx")

    folder = tmp_path / "moved"
    folder.mkdir()
    shutil.copy(onnx_models["external"], folder / "model.onnx")
    with pytest.raises(InvalidModelFile, match="weights.bin.*missing"):
        onnx_reader.weights_digest(folder / "model.onnx")

    model = onnx.load(str(onnx_models["external"]), load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../../etc/passwd"
    onnx.save(model, str(folder / "escaping.onnx"))
    with pytest.raises(InvalidModelFile, match="outside the model's folder"):
        onnx_reader.weights_digest(folder / "escaping.onnx")
    assert onnx_reader.read_interface(folder / "escaping.onnx") == \
        onnx_reader.read_interface(onnx_models["helper"])

    for location in (b"/etc/passwd", b"a\0b", b"x" * 5000):  # absolute, NUL, too long
        entry = _field(13, _field(1, b"location") + _field(2, location))
        (folder / "hostile.onnx").write_bytes(_field(7, _field(5, _field(8, b"W") + entry)))
        with pytest.raises(InvalidModelFile, match="outside the model's folder"):
            onnx_reader.weights_digest(folder / "hostile.onnx")


# -- the wire format itself ------------------------------------------------------------


@given(ints=st.lists(st.integers(-2**63, 2**63 - 1), max_size=20),
       floats=st.lists(st.floats(width=32, allow_nan=False), max_size=20),
       name=st.text(max_size=20))
@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fields_decode_what_protobuf_encodes(ints, floats, name):
    """The reader agrees with Google's protobuf on negatives, packed and fixed fields."""
    import struct

    needs("onnx")
    from onnx import TensorProto

    tensor = TensorProto(name=name, int64_data=ints, float_data=floats, dims=[-1, 2**40])
    tensor.uint64_data.append(2**64 - 1)
    tensor.double_data.append(2.5)
    data = tensor.SerializeToString()
    decoded: dict[int, list] = {}
    for number, wire, value in pb.fields(data):
        decoded.setdefault(number, []).append((wire, value))
    # dims is not packed in onnx.proto (proto2), the *_data fields are
    assert [(wire, pb.signed(v)) for wire, v in decoded[1]] == [(0, -1), (0, 2**40)]
    if ints:
        assert [pb.signed(v) for v in pb.packed_varints(decoded[7][0][1])] == ints
    if floats:
        packed = decoded[4][0][1]
        assert isinstance(packed, memoryview) and packed.obj is data  # zero-copy
        assert list(struct.unpack(f"<{len(floats)}f", packed)) == floats
    if name:
        assert pb.text(8, *decoded[8][0]) == name
    assert pb.packed_varints(decoded[11][0][1]) == [2**64 - 1]
    assert struct.unpack("<d", bytes(decoded[10][0][1]))[0] == 2.5


def test_unpacked_fixed_fields_come_as_numbers():
    fixed32 = b"\x0d" + (1234).to_bytes(4, "little")
    fixed64 = b"\x11" + (2**40).to_bytes(8, "little")
    assert list(pb.fields(fixed32 + fixed64)) == [(1, 5, 1234), (2, 1, 2**40)]


# -- hostile input ---------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


READERS = {"read_signatures": savedmodel.read_signatures,
           "savedmodel.weights_digest": savedmodel.weights_digest,
           "read_interface": onnx_reader.read_interface,
           "onnx.weights_digest": onnx_reader.weights_digest}
PROTOBUF_READERS = ("read_signatures", "read_interface", "onnx.weights_digest")


def _read_or_refuse(reader: str, path: Path) -> None:
    """Either a result or InvalidModelFile naming the file: never another exception."""
    try:
        READERS[reader](path)
    except InvalidModelFile as err:
        assert isinstance(err, ValueError) and isinstance(err, MlpmError)
        assert str(path) in str(err)


ALL = set(PROTOBUF_READERS)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("data", "refused_by"), [
    (b"\x08" + b"\xff" * 100, ALL),  # a varint that never ends
    (b"\xff" * 1_000_000, ALL),  # a megabyte of it
    (b"\x12" + _varint(2**62) + b"abc", ALL),  # a length far past the end
    (b"\x12" + _varint(2**64 - 1), ALL),  # the largest length a varint holds
    (b"\x0b\x0c", ALL),  # a group, which neither format uses
    (b"\x00\x00", ALL),  # field number 0
    # the rest break one field: readers that do not need that field may skip it
    (b"\x10\x01", {"read_signatures", "read_interface"}),  # a message sent as a number
    (_field(7, b"\x28\x01"), {"read_interface", "onnx.weights_digest"}),  # initializer too
    (_field(2, _field(5, _field(1, b"\xff\xfe"))), {"read_signatures", "read_interface"}),
    (_field(7, _field(11, _field(2, _field(4, _field(1, b"\x80"))))), {"read_interface"}),
    (_field(7, _field(5, _field(13, _field(1, b"offset") + _field(2, b"x")))),
     {"onnx.weights_digest"}),  # external data at a non-numeric offset
    (_field(7, _field(5, b"\x20" + _varint(2**40))), {"onnx.weights_digest"}),  # float varint
], ids=["endless-varint", "megabyte-varint", "huge-length", "max-length", "group",
        "field-zero", "wrong-wire-type", "initializer-as-number", "bad-utf8",
        "truncated-deep", "external-offset", "float-as-varint"])
def test_malformed_bytes_are_refused_with_the_file_name(tmp_path, data, refused_by):
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    for reader in PROTOBUF_READERS:
        if reader not in refused_by:
            _read_or_refuse(reader, path)
            continue
        with pytest.raises(InvalidModelFile, match="is not a valid protobuf") as caught:
            READERS[reader](path)
        assert str(path) in str(caught.value), reader


@pytest.mark.timeout(60)
def test_deeply_nested_types_and_graphs_are_refused_not_recursed(tmp_path):
    sequence = _field(1, _field(2, _varint(1)))  # a tensor type ...
    for _ in range(5000):
        sequence = _field(4, _field(1, sequence))  # ... inside 5000 sequence types
    model = _field(7, _field(12, _field(1, b"y") + _field(2, sequence)))
    path = tmp_path / "deep.onnx"
    path.write_bytes(model)
    with pytest.raises(InvalidModelFile, match="nested"):
        onnx_reader.read_interface(path)

    graph = b""
    for _ in range(5000):  # an If node whose then_branch holds an If node whose ...
        graph = _field(1, _field(5, _field(1, b"g") + _field(6, graph)))
    path.write_bytes(_field(7, graph))
    with pytest.raises(InvalidModelFile, match="nested"):
        onnx_reader.weights_digest(path)


@pytest.mark.timeout(120)
def test_every_truncation_of_a_real_file_is_refused(saved_models, onnx_models, tmp_path):
    cut = tmp_path / "cut"
    for reader, source in [("read_signatures", saved_models["two"][0] / "saved_model.pb"),
                           ("read_interface", onnx_models["torch"]),
                           ("onnx.weights_digest", onnx_models["helper"])]:
        data = source.read_bytes()
        for end in range(len(data) // 2, len(data), max(1, len(data) // 400)):
            cut.write_bytes(data[:end])
            # the model is one big top-level field, so any cut past its start is detectable
            if reader == "read_signatures":
                with pytest.raises(InvalidModelFile, match=str(cut)):
                    READERS[reader](cut)
            else:
                _read_or_refuse(reader, cut)


@pytest.mark.timeout(300)
@HOSTILE
@given(data=st.binary(max_size=600))
def test_random_bytes_never_crash_a_reader(tmp_path, data):
    path = tmp_path / "random.bin"
    path.write_bytes(data)
    for reader in PROTOBUF_READERS:
        _read_or_refuse(reader, path)


@pytest.mark.timeout(300)
@HOSTILE
@given(choice=st.sampled_from(["savedmodel", "onnx"]),
       flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                      min_size=1, max_size=4))
def test_corrupted_real_files_never_crash_a_reader(saved_models, onnx_models, tmp_path,
                                                   choice, flips):
    """Random byte changes to real files reach deep into the parser, unlike pure noise."""
    source = saved_models["two"][0] / "saved_model.pb" if choice == "savedmodel" \
        else onnx_models["helper"]
    data = bytearray(source.read_bytes())
    for where, byte in flips:
        data[int(where * len(data))] = byte
    path = tmp_path / "corrupted.bin"
    path.write_bytes(bytes(data))
    for reader in PROTOBUF_READERS:
        _read_or_refuse(reader, path)


def test_a_folder_without_saved_model_pb_is_named(tmp_path):
    for read in (savedmodel.read_signatures, savedmodel.weights_digest):
        with pytest.raises(InvalidModelFile, match=f"{tmp_path}.*no saved_model.pb"):
            read(tmp_path)
        with pytest.raises(FileNotFoundError, match="missing"):
            read(tmp_path / "missing" / "saved_model.pb")
