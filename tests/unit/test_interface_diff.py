"""A publisher's new version is classified MAJOR / MINOR / PATCH as docs/reference/semver.md says.

Each test is one story: a model changes in one way between two releases, and the
registry states which level that needs and says why in one sentence.
"""

from __future__ import annotations

import copy
import doctest

import pytest

from mlpm.interface import diff as diff_module
from mlpm.interface.diff import (
    InterfaceChange,
    InvalidVersionStep,
    bump_level,
    diff,
    fingerprint,
    required_level,
    smallest_allowed,
    summarize,
)

OLD_WEIGHTS = "sha256:" + "a" * 64
NEW_WEIGHTS = "sha256:" + "b" * 64


def tensor(name: str, shape, dtype: str = "float32") -> dict:
    return {"name": name, "dtype": dtype, "shape": shape}


def param(name: str, kind: str = "positional_or_keyword", default: str | None = None,
          annotation: str | None = None) -> dict:
    return {"name": name, "kind": kind, "default": default, "annotation": annotation}


def mobilenet() -> dict:
    """An image classifier as the registry index stores it: hub entrypoints and a signature."""
    return {
        "entrypoints": [
            {"name": "mobilenet_v2", "doc": "MobileNetV2 from 'Inverted Residuals'.",
             "parameters": [param("pretrained", default="True", annotation="bool"),
                            param("progress", default="True"),
                            param("kwargs", "var_keyword")],
             "known": True},
        ],
        "default-entrypoint": "mobilenet_v2",
        "signatures": [{
            "name": "serving_default",
            "inputs": [tensor("pixels", ["batch", 224, 224, 3])],
            "outputs": [tensor("logits", [None, 1001])],
        }],
        "preprocessing": "RGB, resized to 224x224, values scaled to [0, 1].",
        "labels": "ImageNet-1k (1001 classes, 0 = background)",
        "eval-transform": "Resize(256), CenterCrop(224)",
        "notes": "first release",
    }


def changed(edit) -> dict:
    """A copy of the mobilenet interface with ``edit`` applied to it."""
    new = copy.deepcopy(mobilenet())
    edit(new)
    return new


def only(changes: list[InterfaceChange]) -> InterfaceChange:
    assert len(changes) == 1, [c.text for c in changes]
    return changes[0]


def signature(iface: dict) -> dict:
    return iface["signatures"][0]


def entrypoint(iface: dict) -> dict:
    return iface["entrypoints"][0]


def test_the_module_examples_run():
    assert doctest.testmod(diff_module).failed == 0


# ---------------------------------------------------------------- PATCH


def test_identical_interface_and_weights_need_only_a_patch():
    changes = diff(mobilenet(), mobilenet(), old_weights=OLD_WEIGHTS, new_weights=OLD_WEIGHTS,
                   old_formats=["onnx", "savedmodel"], new_formats=["savedmodel", "onnx"])
    assert changes == []
    assert required_level(changes) == "patch"
    assert summarize(changes) == "no change"


def test_docs_notes_annotations_and_eval_transform_are_not_the_contract():
    def edit(new):
        entrypoint(new)["doc"] = "MobileNetV2, now with a longer description."
        entrypoint(new)["parameters"][0]["annotation"] = "bool | None"
        new["eval-transform"] = "Resize(232), CenterCrop(224)"
        new["notes"] = "docs only"
        new["preprocessing"] = "RGB,  resized to 224x224,\n values scaled to [0, 1]. "
        signature(new)["inputs"][0]["shape"] = ["N", 224, 224, 3]  # another symbolic name

    assert diff(mobilenet(), changed(edit)) == []


# ---------------------------------------------------------------- weights


def test_retrained_weights_need_a_minor():
    change = only(diff(mobilenet(), mobilenet(), old_weights=OLD_WEIGHTS, new_weights=NEW_WEIGHTS))
    assert (change.level, change.kind) == ("minor", "weights-changed")
    assert "new weights" in change.text


def test_weights_that_became_unknown_cannot_be_called_identical():
    change = only(diff(mobilenet(), mobilenet(), old_weights=OLD_WEIGHTS, new_weights=None))
    assert (change.level, change.kind) == ("minor", "weights-unknown")


def test_weights_unknown_on_both_sides_are_not_reported():
    assert diff(mobilenet(), mobilenet(), old_weights=None, new_weights=None) == []


# ---------------------------------------------------------------- signatures and tensors


def test_renamed_output_is_major_and_names_both():
    def edit(new):
        signature(new)["outputs"][0]["name"] = "probabilities"

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "output-renamed")
    assert "'logits'" in change.text and "'probabilities'" in change.text
    assert change.text == "signature 'serving_default': output 'logits' renamed to 'probabilities'"


def test_renamed_output_with_new_weights_still_needs_a_major():
    def edit(new):
        signature(new)["outputs"][0]["name"] = "probabilities"

    changes = diff(mobilenet(), changed(edit), old_weights=OLD_WEIGHTS, new_weights=NEW_WEIGHTS)
    assert [c.level for c in changes] == ["major", "minor"]
    assert required_level(changes) == "major"


def test_removed_output_is_major():
    def edit(new):
        signature(new)["outputs"].append(tensor("features", [None, 1280]))

    change = only(diff(changed(edit), mobilenet()))
    assert (change.level, change.kind, change.text) == (
        "major", "output-removed", "signature 'serving_default': output 'features' removed")


def test_added_output_is_minor():
    def edit(new):
        signature(new)["outputs"].append(tensor("features", [None, 1280]))

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("minor", "output-added")


def test_added_input_is_major_because_callers_do_not_pass_it():
    def edit(new):
        signature(new)["inputs"].append(tensor("mask", [None, 224, 224, 1]))

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "input-added")


def test_added_signature_is_minor_and_removed_signature_major():
    def edit(new):
        new["signatures"].append({"name": "feature_vector",
                                  "inputs": [tensor("pixels", [None, 224, 224, 3])],
                                  "outputs": [tensor("features", [None, 1280])]})

    added = only(diff(mobilenet(), changed(edit)))
    assert (added.level, added.kind) == ("minor", "signature-added")
    removed = only(diff(changed(edit), mobilenet()))
    assert (removed.level, removed.kind) == ("major", "signature-removed")


def test_renamed_signature_is_major():
    def edit(new):
        signature(new)["name"] = "predict"

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "signature-renamed")
    assert change.text == "signature 'serving_default' renamed to 'predict'"


def test_dtype_change_is_major():
    def edit(new):
        signature(new)["inputs"][0]["dtype"] = "uint8"

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "dtype-changed")
    assert "float32 -> uint8" in change.text


def test_fixed_dimension_relaxed_to_variable_is_minor():
    def edit(new):
        signature(new)["inputs"][0]["shape"] = ["batch", "height", "width", 3]

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("minor", "dimension-relaxed")


def test_fixed_dimension_changed_224_to_256_is_major():
    def edit(new):
        signature(new)["inputs"][0]["shape"] = [None, 256, 256, 3]

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "dimension-changed")
    assert change.detail == "input 'pixels' shape [None, 224, 224, 3] -> [None, 256, 256, 3]"


def test_variable_dimension_made_fixed_is_major():
    def edit(new):
        signature(new)["inputs"][0]["shape"] = [1, 224, 224, 3]

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "dimension-fixed")


def test_rank_change_is_major():
    def edit(new):
        signature(new)["inputs"][0]["shape"] = [None, 224 * 224 * 3]

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "rank-changed")


def test_input_rank_becoming_unknown_accepts_more_and_is_minor():
    # Was MAJOR ("rank-changed"); inputs are contravariant (test_interface_variance.py).
    def edit(new):
        signature(new)["inputs"][0]["shape"] = None

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("minor", "rank-unknown")


def test_reordered_onnx_outputs_are_major():
    def two_outputs(order):
        def edit(new):
            signature(new)["outputs"] = [tensor(n, [None, 10]) for n in order]
        return changed(edit)

    change = only(diff(two_outputs(["logits", "embedding"]), two_outputs(["embedding", "logits"])))
    assert (change.level, change.kind) == ("major", "outputs-reordered")


# ---------------------------------------------------------------- preprocessing, labels


def test_preprocessing_range_0_1_to_minus1_1_is_major():
    def edit(new):
        new["preprocessing"] = "RGB, resized to 224x224, values scaled to [-1, 1]."

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "preprocessing-changed")
    assert "[0, 1]" in change.text and "[-1, 1]" in change.text


def test_label_space_change_is_major():
    def edit(new):
        new["labels"] = "ImageNet-1k (1000 classes)"

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "labels-changed")


def test_preprocessing_declared_for_the_first_time_is_minor_and_dropped_is_major():
    def edit(new):
        del new["preprocessing"]

    assert [(c.level, c.kind) for c in diff(changed(edit), mobilenet())] == [
        ("minor", "preprocessing-declared")]
    assert [(c.level, c.kind) for c in diff(mobilenet(), changed(edit))] == [
        ("major", "preprocessing-removed")]


# ---------------------------------------------------------------- entrypoints and parameters


def test_added_required_parameter_is_major():
    def edit(new):
        entrypoint(new)["parameters"].insert(2, param("num_classes", "keyword_only"))

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "parameter-required-added")
    assert change.text == "entrypoint 'mobilenet_v2': required parameter 'num_classes' added"


def test_added_optional_parameter_is_minor():
    def edit(new):
        entrypoint(new)["parameters"].insert(2, param("width_mult", "keyword_only", "1.0"))

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("minor", "parameter-added")


def test_removed_parameter_is_major_even_with_kwargs():
    def edit(new):
        del entrypoint(new)["parameters"][1]  # progress; **kwargs would swallow it silently

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "parameter-removed")


def test_changed_default_is_minor_and_quote_style_is_not_a_change():
    def edit(new):
        entrypoint(new)["parameters"][0]["default"] = "False"

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("minor", "default-changed")

    def quoted(quote):
        def edit(new):
            entrypoint(new)["parameters"][0]["default"] = f"{quote}imagenet{quote}"
        return changed(edit)

    assert diff(quoted("'"), quoted('"')) == []


@pytest.mark.parametrize(("new_kind", "level"), [
    ("keyword_only", "major"),     # mobilenet_v2(False) breaks
    ("positional_only", "major"),  # mobilenet_v2(pretrained=False) breaks
])
def test_parameter_kind_change_that_breaks_calls_is_major(new_kind, level):
    def edit(new):
        entrypoint(new)["parameters"][1]["kind"] = new_kind

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == (level, "parameter-kind-changed")


def test_swapped_positional_parameters_are_major():
    def edit(new):
        params = entrypoint(new)["parameters"]
        params[0], params[1] = params[1], params[0]

    change = only(diff(mobilenet(), changed(edit)))
    assert (change.level, change.kind) == ("major", "parameters-reordered")


def test_added_entrypoint_is_minor_removed_major_and_renamed_reported_as_rename():
    def add(new):
        new["entrypoints"].append({"name": "mobilenet_v3_small", "parameters": [], "known": True})

    assert [(c.level, c.kind) for c in diff(mobilenet(), changed(add))] == [
        ("minor", "entrypoint-added")]
    assert [(c.level, c.kind) for c in diff(changed(add), mobilenet())] == [
        ("major", "entrypoint-removed")]

    def rename(new):
        entrypoint(new)["name"] = "mobilenetv2"
        new["default-entrypoint"] = "mobilenetv2"

    change = only(diff(mobilenet(), changed(rename)))
    assert (change.level, change.kind) == ("major", "entrypoint-renamed")
    assert change.text == "entrypoint 'mobilenet_v2' renamed to 'mobilenetv2'"


def test_changed_default_entrypoint_is_major():
    def edit(new):
        new["entrypoints"].append({"name": "mobilenet_v3_large", "parameters": []})
        new["default-entrypoint"] = "mobilenet_v3_large"

    changes = diff(mobilenet(), changed(edit))
    assert [(c.level, c.kind) for c in changes] == [
        ("minor", "entrypoint-added"), ("major", "default-entrypoint-changed")]


def test_entrypoint_that_cannot_be_read_statically_is_minor_and_says_so():
    def unknown(new):
        entrypoint(new).update(known=False, parameters=[])

    for old, new in ((mobilenet(), changed(unknown)), (changed(unknown), mobilenet())):
        change = only(diff(old, new))
        assert (change.level, change.kind) == ("minor", "entrypoint-unchecked")
        assert "could not be checked" in change.text
    # Unknown on both sides with nothing visible changed: nothing to report.
    assert diff(changed(unknown), changed(unknown)) == []


# ---------------------------------------------------------------- formats, unknown records


def test_format_added_is_minor_and_format_removed_major():
    added = only(diff(mobilenet(), mobilenet(), old_formats=["onnx"],
                      new_formats=["onnx", "tflite"]))
    assert (added.level, added.kind, added.text) == ("minor", "format-added",
                                                    "format added: tflite")
    removed = only(diff(mobilenet(), mobilenet(), old_formats=["onnx", "torchscript"],
                        new_formats=["onnx"]))
    assert (removed.level, removed.kind) == ("major", "format-removed")


def test_interface_record_that_went_missing_is_minor():
    change = only(diff(mobilenet(), None))
    assert (change.level, change.kind) == ("minor", "interface-unknown")
    assert diff(None, None) == []


# ---------------------------------------------------------------- summary


def test_summary_is_one_line_worst_first():
    def edit(new):
        signature(new)["outputs"] = [tensor("embedding", [None, 1280])]
        signature(new)["inputs"] = [tensor("pixels", [None, 1, 8, 8])]

    line = summarize(diff(mobilenet(), changed(edit), old_weights=OLD_WEIGHTS,
                          new_weights=NEW_WEIGHTS))
    assert line == ("output 'logits' removed; "
                    "input 'pixels' shape [None, 224, 224, 3] -> [None, 1, 8, 8]; "
                    "output 'embedding' added; and 1 more")


def test_summary_names_the_place_when_changes_are_in_several():
    def edit(new):
        signature(new)["outputs"][0]["name"] = "probabilities"
        entrypoint(new)["parameters"][0]["default"] = "False"

    line = summarize(diff(mobilenet(), changed(edit)), limit=2)
    assert line == ("signature 'serving_default': output 'logits' renamed to 'probabilities'; "
                    "entrypoint 'mobilenet_v2': parameter 'pretrained' default True -> False")


# ---------------------------------------------------------------- version steps


@pytest.mark.parametrize(("old", "new", "level"), [
    ("1.2.1", "1.2.2", "patch"),
    ("1.2.1", "1.3.0", "minor"),
    ("1.2.1", "2.0.0", "major"),
    ("1.2.1", "1.3.0-rc.1", "minor"),
    ("2.0.0-rc.1", "2.0.0-rc.2", "patch"),  # prereleases of one x.y.z
    ("2.0.0-rc.2", "2.0.0", "patch"),
    ("0.3.1", "0.4.0", "major"),            # caret: ^0.3.1 stops before 0.4.0
    ("0.3.1", "0.3.2", "minor"),            # a MINOR-level change fits a 0.x patch bump
    ("0.3.1", "1.0.0", "major"),
    ("0.0.3", "0.0.4", "minor"),            # 0.0.x / ~0.0.3 ranges take 0.0.4
    ("0.0.3", "0.1.0", "major"),
])
def test_bump_level(old, new, level):
    assert bump_level(old, new) == level


@pytest.mark.parametrize(("old", "new"), [("1.2.1", "1.2.1"), ("1.2.1", "1.2.0")])
def test_a_step_must_go_forwards(old, new):
    with pytest.raises(InvalidVersionStep, match="not newer"):
        bump_level(old, new)


@pytest.mark.parametrize(("previous", "level", "existing", "expected"), [
    ("1.2.1", "patch", [], "1.2.2"),
    ("1.2.1", "minor", [], "1.3.0"),
    ("1.2.1", "major", [], "2.0.0"),
    ("0.3.1", "patch", [], "0.3.2"),
    ("0.3.1", "minor", [], "0.3.2"),
    ("0.3.1", "major", [], "0.4.0"),
    ("1.2.1", "minor", ["1.2.1", "1.3.0", "1.4.0", "not-a-version"], "1.5.0"),
    ("1.2.1", "patch", ["1.2.2+build.7"], "1.2.3"),     # build metadata does not free a version
    ("0.3.1", "major", ["0.4.0", "0.5.0-rc.1"], "0.5.0"),
    ("1.3.0-rc.1", "patch", [], "1.3.0"),
    ("1.3.0-rc.1", "minor", [], "1.4.0"),              # 1.3.0 would only be a patch step
])
def test_smallest_allowed(previous, level, existing, expected):
    found = smallest_allowed(previous, level, existing)
    assert found == expected
    assert {"patch": 0, "minor": 1, "major": 2}[bump_level(previous, found)] >= \
        {"patch": 0, "minor": 1, "major": 2}[level]


def test_publish_story_a_renamed_output_refuses_a_minor_and_suggests_the_major():
    def edit(new):
        signature(new)["outputs"][0]["name"] = "probabilities"

    needed = required_level(diff(mobilenet(), changed(edit)))
    assert needed == "major"
    assert bump_level("1.2.1", "1.3.0") == "minor"  # too small: publish refuses it
    assert smallest_allowed("1.2.1", needed, ["1.2.1", "2.0.0"]) == "3.0.0"


# ---------------------------------------------------------------- fingerprint


def test_fingerprint_ignores_docs_key_order_eval_transform_and_symbolic_names():
    base = fingerprint(mobilenet())
    assert base.startswith("sha256:") and len(base) == len("sha256:") + 64

    def edit(new):
        entrypoint(new)["doc"] = "Rewritten docs."
        entrypoint(new)["parameters"][0]["annotation"] = None
        new["eval-transform"] = "something else"
        new["notes"] = "another note"
        signature(new)["inputs"][0]["shape"] = ["N", 224, 224, 3]

    assert fingerprint(changed(edit)) == base
    reordered = {key: mobilenet()[key] for key in reversed(list(mobilenet()))}
    reordered["signatures"] = [{k: v for k, v in reversed(list(signature(reordered).items()))}]
    assert fingerprint(reordered) == base


def test_fingerprint_changes_with_the_contract():
    def dtype(new):
        signature(new)["inputs"][0]["dtype"] = "float16"

    def default(new):
        entrypoint(new)["parameters"][1]["default"] = "False"

    def labels(new):
        new["labels"] = "ImageNet-21k"

    base = fingerprint(mobilenet())
    found = {fingerprint(changed(edit)) for edit in (dtype, default, labels)}
    assert base not in found and len(found) == 3
    assert fingerprint(None) != fingerprint({})


def test_equal_fingerprints_mean_no_interface_change():
    def edit(new):
        entrypoint(new).update(known=False)

    # An entrypoint becoming unreadable is a reported change, so the fingerprint moves too.
    assert diff(mobilenet(), changed(edit)) != []
    assert fingerprint(changed(edit)) != fingerprint(mobilenet())
