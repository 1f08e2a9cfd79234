"""SemVer respects variance: a caller passes inputs and receives outputs.

An input that accepts more, or an output that promises more, breaks nobody; the opposite
can. Every row of docs/reference/semver.md "Inputs and outputs: variance" is checked here
for an input and for an output, on the records ``diff()`` receives (dicts as published,
and the typed ``Interface``), plus one real ONNX re-export through ``mlpm publish``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlpm.interface.diff import diff, required_level
from mlpm.registry.records import Interface
from tests.conftest import assert_clean_error, needs, publish, run_mlpm
from tests.models import make_onnx


def tensor(name: str, shape, dtype: str = "float32", **extra) -> dict:
    return {"name": name, "dtype": dtype, "shape": shape, **extra}


def record(inputs: list[dict], outputs: list[dict]) -> dict:
    return {"signatures": [{"name": "main", "inputs": inputs, "outputs": outputs}]}


def change_on(side: str, old: dict, new: dict) -> tuple[dict, dict]:
    """Two records where only the tensor on ``side`` differs (the other side stays fixed)."""
    other = tensor("other", [None, 4])
    if side == "input":
        return record([old], [other]), record([new], [other])
    return record([other], [old]), record([other], [new])


def levels(old: dict, new: dict) -> tuple[str, list[tuple[str, str]]]:
    changes = diff(old, new)
    # The typed record gives the same answer as the JSON one.
    assert diff(Interface.from_json(old), Interface.from_json(new)) == changes
    return required_level(changes), [(c.level, c.kind) for c in changes]


# (row, old shape, new shape, (input level, kind), (output level, kind))
SHAPE_ROWS = [
    ("rank known -> unknown", [None, 8], None,
     ("minor", "rank-unknown"), ("major", "rank-unknown")),
    ("rank unknown -> known", None, [None, 8],
     ("major", "rank-known"), ("minor", "rank-known")),
    ("rank changed", [None, 8], [None, 2, 4],
     ("major", "rank-changed"), ("major", "rank-changed")),
    ("fixed -> None", [1, 8], [None, 8],
     ("minor", "dimension-relaxed"), ("major", "dimension-relaxed")),
    ("fixed -> '?'", [1, 8], ["?", 8],
     ("minor", "dimension-relaxed"), ("major", "dimension-relaxed")),
    ("fixed -> symbolic", [1, 8], ["batch", 8],
     ("minor", "dimension-relaxed"), ("major", "dimension-relaxed")),
    ("None -> fixed", [None, 8], [2, 8],
     ("major", "dimension-fixed"), ("minor", "dimension-fixed")),
    ("symbolic -> fixed", ["batch", 8], [2, 8],
     ("major", "dimension-fixed"), ("minor", "dimension-fixed")),
    ("the re-export: all symbolic -> partly fixed", [None, None, None], [2, None, 128],
     ("major", "dimension-fixed"), ("minor", "dimension-fixed")),
    ("fixed value changed", [None, 224], [None, 256],
     ("major", "dimension-changed"), ("major", "dimension-changed")),
    ("one dim fixed, another relaxed", [1, None], [None, 8],
     ("major", "dimension-fixed"), ("major", "dimension-relaxed")),
]


@pytest.mark.parametrize("side", ["input", "output"])
@pytest.mark.parametrize("row, old_shape, new_shape, as_input, as_output", SHAPE_ROWS,
                         ids=[r[0] for r in SHAPE_ROWS])
def test_shape_rows(side, row, old_shape, new_shape, as_input, as_output):
    old, new = change_on(side, tensor("t", old_shape), tensor("t", new_shape))
    expected = as_input if side == "input" else as_output
    level, found = levels(old, new)
    assert (level, found) == (expected[0], [expected]), row
    # The opposite direction of the same edit, for the other side, mirrors it.
    assert diff(new, old)[0].text.startswith(f"signature 'main': {side} 't' shape")


@pytest.mark.parametrize("side", ["input", "output"])
@pytest.mark.parametrize("old_shape, new_shape", [
    (["batch", 8], ["N", 8]), (["batch", 8], [None, 8]), (["?", 8], [None, 8]),
    (["batch", "seq"], ["seq", "batch"]),
])
def test_symbolic_names_renamed_is_a_patch(side, old_shape, new_shape):
    old, new = change_on(side, tensor("t", old_shape), tensor("t", new_shape))
    assert levels(old, new) == ("patch", [])
    assert levels(new, old) == ("patch", [])


@pytest.mark.parametrize("side", ["input", "output"])
def test_dtype_change_is_major_both_ways(side):
    old, new = change_on(side, tensor("t", [None, 8]), tensor("t", [None, 8], "float16"))
    assert levels(old, new) == ("major", [("major", "dtype-changed")])
    assert levels(new, old) == ("major", [("major", "dtype-changed")])


def test_required_input_added_or_removed_is_major():
    x, mask = tensor("x", [None, 8]), tensor("mask", [None, 8], "bool")
    out = [tensor("y", [None, 3])]
    assert levels(record([x], out), record([x, mask], out)) == ("major", [("major", "input-added")])
    assert levels(record([x, mask], out), record([x], out)) == (
        "major", [("major", "input-removed")])


@pytest.mark.parametrize("optional", [{"optional": True}, {"default": "0.5"}])
def test_optional_input_added_is_minor_and_removed_is_major(optional):
    x, temp = tensor("x", [None, 8]), tensor("temperature", [], **optional)
    out = [tensor("y", [None, 3])]
    change = diff(record([x], out), record([x, temp], out))
    assert [(c.level, c.kind) for c in change] == [("minor", "optional-input-added")]
    assert change[0].text == "signature 'main': optional input 'temperature' added"
    assert levels(record([x, temp], out), record([x], out)) == (
        "major", [("major", "input-removed")])


def test_input_made_optional_is_minor_and_made_required_is_major():
    out = [tensor("y", [None, 3])]
    required, optional = tensor("x", [None, 8]), tensor("x", [None, 8], optional=True)
    assert levels(record([required], out), record([optional], out)) == (
        "minor", [("minor", "input-now-optional")])
    assert levels(record([optional], out), record([required], out)) == (
        "major", [("major", "input-now-required")])


def test_output_added_is_minor_and_removed_is_major():
    inp = [tensor("x", [None, 8])]
    y, emb = tensor("y", [None, 3]), tensor("embedding", [None, 16])
    assert levels(record(inp, [y]), record(inp, [y, emb])) == ("minor", [("minor", "output-added")])
    assert levels(record(inp, [y, emb]), record(inp, [y])) == (
        "major", [("major", "output-removed")])


def test_outputs_have_no_optional_rule():
    # "optional" means nothing to a caller receiving a value: only inputs read it.
    inp = [tensor("x", [None, 8])]
    old, new = tensor("y", [None, 3]), tensor("y", [None, 3], optional=True)
    assert levels(record(inp, [old]), record(inp, [new])) == ("patch", [])


def test_the_reported_sentence_names_the_side_and_both_shapes():
    old, new = change_on("output", tensor("t", ["batch", "seq", "hidden"]),
                         tensor("t", ["batch", "seq", 128]))
    (change,) = diff(old, new)
    assert change.text == "signature 'main': output 't' shape [None, None, None] -> " \
                          "[None, None, 128]"


# ---------------------------------------------------------------- through mlpm publish


def _with_output_shape(source: Path, target: Path, dims: list) -> Path:
    """The same graph and weights; only the declared output shape differs."""
    onnx = needs("onnx")
    model = onnx.load(str(source))
    shape = model.graph.output[0].type.tensor_type.shape
    for proto, dim in zip(shape.dim, dims, strict=True):
        proto.Clear()
        if isinstance(dim, int):
            proto.dim_value = dim
        elif isinstance(dim, str):
            proto.dim_param = dim
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return target


def test_an_output_made_fixed_in_a_re_export_publishes_as_a_minor(registry, tmp_path):
    base = make_onnx(tmp_path / "base.onnx", 1, inputs=4, outputs=3)
    loose = _with_output_shape(base, tmp_path / "loose.onnx", ["batch", "classes"])
    fixed = _with_output_shape(base, tmp_path / "fixed.onnx", ["batch", 3])
    assert publish(registry.root, loose, "tiny", "1.0.0").code == 0

    # Output more specific: nobody breaks, but it is a new promise (MINOR), not MAJOR.
    result = run_mlpm("publish", str(fixed), "--registry", str(registry.root), "--name", "tiny",
                      "--version", "1.0.1", cwd=tmp_path)
    assert_clean_error(result, 1, "need a minor release", "1.1.0")
    assert "output 'y' shape [None, None] -> [None, 3]" in result.err
    assert publish(registry.root, fixed, "tiny", "1.1.0").code == 0

    index = registry.root / "index" / "ti" / "ny" / "tiny"
    records = [json.loads(line) for line in index.read_text().splitlines()]
    assert [r["version"] for r in records] == ["1.0.0", "1.1.0"]
    assert records[0]["weights"] == records[1]["weights"]
    # The ONNX code digest hashes the graph's declared inputs and outputs too, so it also
    # reports new code (MINOR); the output shape alone was MAJOR before variance.
    changes = diff(records[0]["interface"], records[1]["interface"])
    assert [(c.level, c.kind) for c in changes] == [("minor", "dimension-fixed")]

    # Back to the looser output is a break for callers relying on the 3.
    result = run_mlpm("publish", str(loose), "--registry", str(registry.root), "--name", "tiny",
                      "--version", "1.2.0", cwd=tmp_path)
    assert_clean_error(result, 1, "need a major release", "2.0.0")
