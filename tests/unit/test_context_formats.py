"""Every format a usage context can choose is one `mlpm.load` loads, and a format it
cannot load is refused with the package's own formats, never as a missing framework."""

from __future__ import annotations

import pytest

from mlpm.artifacts import loadable_formats, not_loadable
from mlpm.convert.routes import CONTEXTS, ROUTES, formats_for_context
from mlpm.errors import FormatNotLoadable, FrameworkMissing, InvalidModelFile
from mlpm.frameworks import LOADABLE, LOADERS, load_file
from mlpm.interface.tflite import custom_ops
from mlpm.project import LockedPackage
from mlpm.registry.records import FORMAT_FRAMEWORK, Artifact


def package(*formats: str) -> LockedPackage:
    artifacts = [Artifact(fmt, f"model.{fmt}", f"{i:064x}", 10, f"artifacts/{i}")
                 for i, fmt in enumerate(formats)]
    return LockedPackage("tiny-tf", "2.0.0", "https://models.example.org/", "tensorflow",
                         artifacts)


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_every_format_a_context_can_choose_has_a_loader(context):
    converted_to = {target for targets in ROUTES.values() for target in targets}
    for fmt in CONTEXTS[context]:
        chosen_ever = fmt in FORMAT_FRAMEWORK or fmt in converted_to
        assert fmt in LOADABLE or not chosen_ever, (context, fmt)


def test_the_browser_context_never_chooses_tfjs_it_cannot_make_or_load():
    # tfjs is neither publishable nor a conversion target here: nothing serves "browser"
    assert formats_for_context("browser", ["savedmodel", "tflite"], "savedmodel") == []


def test_a_published_tflite_file_is_chosen_for_edge_and_has_a_loader():
    assert formats_for_context("edge", ["savedmodel", "tflite"], "savedmodel") == ["tflite"]
    assert LOADERS["tflite"][0] == "mlpm.frameworks.tflite"
    assert loadable_formats(package("savedmodel", "tflite")) == ["savedmodel", "tflite"]


def test_the_error_lists_the_package_formats_and_which_of_them_load():
    err = not_loadable(package("savedmodel", "tflite"), "tflite",
                       "its tflite file needs the custom op BesselI1e", "in the edge context")
    assert isinstance(err, FormatNotLoadable) and not isinstance(err, FrameworkMissing)
    assert str(err) == ("tiny-tf@2.0.0 cannot be loaded as tflite in the edge context: its "
                        "tflite file needs the custom op BesselI1e; it has savedmodel, tflite, "
                        "of which mlpm can load savedmodel; load it with format='savedmodel'.")
    alone = not_loadable(package("tflite"), "tflite", "it is broken")
    assert str(alone).endswith("it has tflite, of which mlpm can load none; ask its publisher "
                               "for a format mlpm loads.")


def test_a_format_without_a_loader_is_not_a_missing_framework(tmp_path):
    with pytest.raises(FormatNotLoadable) as err:
        load_file("tfjs", tmp_path / "model.json", "tiny-tf@2.0.0")
    assert "no loader for the tfjs format of tiny-tf@2.0.0" in str(err.value)


@pytest.mark.parametrize("data", [b"", b"\x08\x00\x00\x00TFL3", b"\x00\x00\x00\x00NOPE" * 4,
                                  b"\xff\xff\xff\x7fTFL3" + b"\x00" * 64])
def test_custom_ops_of_a_broken_file_is_a_clear_error(tmp_path, data):
    file = tmp_path / "model.tflite"
    file.write_bytes(data)
    with pytest.raises(InvalidModelFile) as err:
        custom_ops(file)
    assert "is not a readable TFLite model" in str(err.value)


def test_an_onnx_file_onnx_runtime_refuses_is_not_loadable_with_its_reason(tmp_path):
    from tests.conftest import needs

    needs("onnxruntime")
    onnx = needs("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node("BesselI1e", ["x"], ["y"], domain="com.example")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, ir_version=8, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    file = tmp_path / "model.onnx"
    onnx.save(model, str(file))
    with pytest.raises(FormatNotLoadable) as err:
        load_file("onnx", file, "tiny@1.0.0")
    assert str(err.value) == ("ONNX Runtime cannot load this ONNX file (com.example:BesselI1e(-1) "
                              "is not a registered function/op)")
