"""One interface and one set of digests per format: how two releases of a package with
several formats are compared (mlpm/interface/diff.py), fingerprinted, and what publish
records (mlpm/interface/build.py, ``format-digests``)."""

from __future__ import annotations

import json

import pytest

from mlpm.interface.diff import diff, fingerprint, required_level
from mlpm.registry.records import Interface, Record
from tests.conftest import needs
from tests.models import make_onnx, make_torchscript


def tensor(name: str, shape: list, dtype: str = "float32") -> dict:
    return {"name": name, "dtype": dtype, "shape": shape}


def sig(name: str, inputs: list[dict], outputs: list[dict]) -> dict:
    return {"name": name, "inputs": inputs, "outputs": outputs}


SAVED = [sig("serving_default", [tensor("audio", [None, 4])],
             [tensor("scores", [None, 3]), tensor("embedding", [None, 2])])]
ONNX = [sig("main", [tensor("serving_default_audio:0", ["unk__1", 4])],
            [tensor("StatefulPartitionedCall:1", ["unk__2", 2]),
             tensor("StatefulPartitionedCall:0", ["unk__3", 3])])]
FORMATS = ["savedmodel", "onnx", "tflite"]


def multi(saved=SAVED, onnx=ONNX, tflite=SAVED) -> dict:
    """The interface publish writes for a SavedModel with its ONNX and TFLite exports."""
    return {"signatures": saved, "formats": {"savedmodel": {"signatures": saved},
                                             "onnx": {"signatures": onnx},
                                             "tflite": {"signatures": tflite}}}


def texts(changes) -> list[str]:
    return [c.text for c in changes]


# ---------------------------------------------------------------- signatures per format


def test_a_change_in_the_onnx_file_alone_is_checked_and_names_the_format():
    renamed = [sig("main", [tensor("input_2", ["unk__1", 4])], ONNX[0]["outputs"])]
    changes = diff(multi(), multi(onnx=renamed), old_formats=FORMATS, new_formats=FORMATS)
    assert texts(changes) == ["onnx signature 'main': input 'serving_default_audio:0' "
                              "renamed to 'input_2'"]
    assert required_level(changes) == "major"


def test_an_onnx_output_order_change_is_major_for_the_onnx_format_only():
    swapped = [sig("main", ONNX[0]["inputs"], ONNX[0]["outputs"][::-1])]
    (change,) = diff(multi(), multi(onnx=swapped), old_formats=FORMATS, new_formats=FORMATS)
    assert (change.level, change.kind) == ("major", "outputs-reordered")
    assert change.text.startswith("onnx signature 'main': outputs reordered")


def test_a_change_every_format_shares_is_said_once_without_a_format():
    wider = [sig("serving_default", [tensor("audio", [None, 4])],
                 [*SAVED[0]["outputs"], tensor("logits", [None, 3])])]
    onnx = [sig("main", ONNX[0]["inputs"], [*ONNX[0]["outputs"], tensor("logits", [None, 3])])]
    changes = diff(multi(), multi(saved=wider, onnx=onnx, tflite=wider),
                   old_formats=FORMATS, new_formats=FORMATS)
    assert texts(changes) == ["savedmodel, tflite signature 'serving_default': output "
                              "'logits' added", "onnx signature 'main': output 'logits' added"]
    # the same change in every format the two releases share: said once, as for one format
    formats = ["savedmodel", "tflite"]
    both = diff(multi(), multi(saved=wider, tflite=wider), old_formats=formats,
                new_formats=formats)
    assert texts(both) == ["signature 'serving_default': output 'logits' added"]


def test_a_single_format_release_is_compared_with_that_format_of_the_next():
    # 1.0.0: the SavedModel alone (no `formats`); 1.1.0 adds exports that name things
    # their own way: only the SavedModel is compared, the others are new formats
    changes = diff({"signatures": SAVED}, multi(), old_formats=["savedmodel"],
                   new_formats=FORMATS)
    assert texts(changes) == ["formats added: onnx, tflite"]
    assert required_level(changes) == "minor"


def test_an_older_multi_format_record_is_compared_by_its_package_signatures():
    # published before formats had their own signatures: the ONNX's are unknown, so only
    # the package's are compared (a side that is unknown is compared with nothing)
    changes = diff({"signatures": SAVED}, multi(), old_formats=FORMATS, new_formats=FORMATS)
    assert changes == []


def test_formats_removed_are_major_and_named_together():
    changes = diff(multi(), {"signatures": SAVED}, old_formats=FORMATS,
                   new_formats=["savedmodel"])
    assert texts(changes) == ["formats removed: onnx, tflite"]
    assert required_level(changes) == "major"


# ---------------------------------------------------------------- digests per format


def test_formats_added_to_identical_weights_are_not_new_weights():
    old = {"savedmodel": {"weights": "sha256:aa"}}
    new = {"savedmodel": {"weights": "sha256:aa"}, "onnx": {"weights": "sha256:bb"},
           "tflite": {"weights": "sha256:cc"}}
    changes = diff(multi(), multi(), old_formats=["savedmodel"], new_formats=FORMATS,
                   old_weights="sha256:aa", new_weights="sha256:abc", old_digests=old,
                   new_digests=new)
    assert texts(changes) == ["formats added: onnx, tflite"]


def test_new_weights_in_one_format_name_it():
    old = {"savedmodel": {"weights": "sha256:aa"}, "onnx": {"weights": "sha256:bb"}}
    new = {"savedmodel": {"weights": "sha256:aa"}, "onnx": {"weights": "sha256:dd"}}
    (change,) = diff(multi(), multi(), old_formats=["savedmodel", "onnx"],
                     new_formats=["savedmodel", "onnx"], old_digests=old, new_digests=new)
    assert (change.level, change.text) == ("minor", "new weights (onnx sha256:bb -> sha256:dd)")


def test_new_code_and_unknown_weights_per_format():
    old = {"onnx": {"weights": "sha256:bb", "code": "sha256:c1"}}
    new = {"onnx": {"code": "sha256:c2"}}
    changes = diff(None, None, old_formats=["onnx"], new_formats=["onnx"],
                   old_digests=old, new_digests=new)
    assert [(c.kind, c.level) for c in changes] == [("weights-unknown", "minor"),
                                                    ("code-changed", "minor")]


def test_without_digests_per_format_the_package_digests_are_compared():
    changes = diff(None, None, old_weights="sha256:aa", new_weights="sha256:bb",
                   old_digests=None, new_digests={"onnx": {"weights": "sha256:aa"}})
    assert texts(changes) == ["new weights (sha256:aa -> sha256:bb)"]


def test_a_single_format_record_has_its_package_digests_as_its_formats():
    record = Record("m", "1.0.0", "onnx", [], extra={"weights": "sha256:aa", "code": "sha256:c"})
    record.artifacts = [_artifact("onnx")]
    assert record.format_digests == {"onnx": {"weights": "sha256:aa", "code": "sha256:c"}}
    record.artifacts.append(_artifact("tflite"))
    assert record.format_digests is None  # an older record of several formats
    record.extra["format-digests"] = {"onnx": {"weights": "sha256:aa"}, "tflite": "junk"}
    assert record.format_digests == {"onnx": {"weights": "sha256:aa"}}


def _artifact(fmt: str):
    from mlpm.registry.records import Artifact

    return Artifact(fmt, f"model.{fmt}", "0" * 64, 1, f"artifacts/00/{fmt}")


# ---------------------------------------------------------------- fingerprint, record


def test_fingerprint_counts_a_formats_own_signatures_only_where_they_differ():
    plain = fingerprint({"signatures": SAVED})
    agreeing = {"signatures": SAVED, "formats": {"savedmodel": {"signatures": SAVED},
                                                 "tflite": {"signatures": SAVED}}}
    assert fingerprint(agreeing) == plain
    assert fingerprint(multi()) != plain
    reordered = json.loads(json.dumps(multi()))
    reordered["formats"] = dict(reversed(list(reordered["formats"].items())))
    assert fingerprint(reordered) == fingerprint(multi())


def test_interface_answers_for_one_format_and_round_trips():
    iface = Interface.from_json(multi())
    assert iface.signatures_for("onnx") == ONNX
    assert iface.signatures_for("torchscript") == SAVED  # not read: the package's
    assert iface.signature("main", "onnx") == ONNX[0]
    assert iface.signature("main") is None
    assert iface.to_json() == multi()


# ---------------------------------------------------------------- what publish records


def test_describe_gives_each_format_its_digests(tmp_path):
    needs("onnx")
    from mlpm.interface.build import describe

    onnx_file = make_onnx(tmp_path / "m.onnx", 1)
    weights = tmp_path / "m.bin"
    weights.write_bytes(b"\x00" * 64)
    alone = describe("onnx", [("onnx", None, onnx_file, "")], None)
    both = describe("onnx", [("onnx", None, onnx_file, ""),
                             ("state-dict", "weights", weights, "")], None)
    assert both.weights != alone.weights  # the package's digest covers both formats
    assert both.weights_over(["onnx"]) == alone.weights
    assert both.code_over(["onnx"]) == alone.code
    table = both.digests(["onnx", "state-dict"])
    assert table["onnx"] == {"weights": alone.weights, "code": alone.code}
    assert set(table["state-dict"]) == {"weights"}
    # the ONNX file's signatures are the package's; the state dict has none of its own
    assert both.interface.formats == {"onnx": {"signatures": alone.interface.signatures}}


def test_publish_compares_an_older_multi_format_record_over_its_formats(tmp_path):
    """A record published before format-digests existed (onnx + state dict): a release
    that adds a format with the same files is not new weights."""
    needs("onnx")
    needs("torch")
    from mlpm.errors import PublishError
    from mlpm.ops.publish import publish

    registry = tmp_path / "registry"
    make_onnx(tmp_path / "pkg" / "model.onnx", 1)
    (tmp_path / "pkg" / "model.bin").write_bytes(b"\x01" * 32)
    make_torchscript(tmp_path / "pkg" / "model.pt", 1)

    def manifest(version: str, *extra: str) -> None:
        (tmp_path / "pkg" / "mlpm.toml").write_text(
            f'[package]\nname = "lin"\nversion = "{version}"\nframework = "onnx"\n'
            '[[package.artifacts]]\nformat = "onnx"\nfile = "model.onnx"\n'
            '[[package.artifacts]]\nformat = "state-dict"\nrole = "weights"\n'
            'file = "model.bin"\n' + "".join(extra))

    manifest("1.0.0")
    publish(tmp_path / "pkg", str(registry))
    index = registry / "index" / "3" / "l" / "lin"
    old = json.loads(index.read_text())
    del old["format-digests"], old["interface"]["formats"]  # as an older mlpm wrote it
    index.write_text(json.dumps(old) + "\n")

    manifest("1.0.1", '[[package.artifacts]]\nformat = "torchscript"\nfile = "model.pt"\n')
    with pytest.raises(PublishError) as refused:
        publish(tmp_path / "pkg", str(registry))
    assert "MINOR: format added: torchscript" in str(refused.value)
    assert "new weights" not in str(refused.value)
    manifest("1.1.0", '[[package.artifacts]]\nformat = "torchscript"\nfile = "model.pt"\n')
    record = publish(tmp_path / "pkg", str(registry))
    assert set(record.format_digests or {}) == {"onnx", "state-dict", "torchscript"}
