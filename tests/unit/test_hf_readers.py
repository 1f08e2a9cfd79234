"""Reading Hugging Face model repos without a framework: safetensors headers exactly as the
safetensors library reads them (real files, hand-built hostile headers, shards), config.json,
model cards and adapter configs that cannot crash the reader, which files of a repo make a
package, and safetensors checkpoints loaded back equal to what was saved."""

from __future__ import annotations

import doctest
import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from mlpm.errors import FrameworkMissing, ModelLoadError
from mlpm.interface import hfrepo
from mlpm.interface import safetensors as st
from mlpm.interface.hfrepo import (
    adapter_base,
    card_bases,
    check_repo_id,
    check_repo_path,
    choose_files,
    read_adapter_config,
    read_card,
    read_config,
    weights_format,
)
from mlpm.interface.safetensors import (
    ShardIndex,
    TensorTable,
    compare_tables,
    header_length,
    merge_tables,
    parse_header,
    parse_index,
    read_table,
    table_fingerprint,
)

ROOT = Path(__file__).resolve().parents[2]
SAFETENSORS_REASON = "needs safetensors: pip install 'mlpm[hf]'"


def needs_safetensors():
    return pytest.importorskip("safetensors", reason=SAFETENSORS_REASON)


def needs_framework(module: str):
    """numpy / torch, or skip naming the extra (tests.conftest.needs, without importing it)."""
    extra = {"numpy": "onnx", "torch": "torch"}[module]
    return pytest.importorskip(module, reason=f"needs {module}: pip install 'mlpm[{extra}]'")


def build(header: object, data: bytes = b"", raw: bytes | None = None) -> bytes:
    """A safetensors file by hand: the u64 length, the JSON header (or ``raw``), the data."""
    body = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(body)) + body + data


def parse_file(blob: bytes) -> TensorTable:
    n = header_length(blob[:8])
    if 8 + n > len(blob):
        raise ValueError("header beyond the file.")
    return parse_header(blob[8:8 + n], total_size=len(blob))


def library_accepts(blob: bytes) -> bool | None:
    """Whether the safetensors library loads ``blob`` (None when it is not installed)."""
    try:
        import safetensors
    except ImportError:
        return None
    try:
        safetensors.deserialize(blob)
    except safetensors.SafetensorError:
        return False
    return True


# ---------------------------------------------------------------- real files


def test_a_numpy_file_reads_as_the_library_wrote_it(tmp_path):
    needs_safetensors()
    np = needs_framework("numpy")
    from safetensors.numpy import save_file

    tensors = {"fc.weight": np.ones((4, 3), np.float32), "fc.bias": np.zeros(4, np.float16),
               "steps": np.array(7, np.int64), "mask": np.zeros((2, 0), bool),
               "ids": np.arange(6, dtype=np.uint8).reshape(2, 3)}
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path), metadata={"format": "np", "note": "é"})
    table = read_table(path)
    assert table.tensors == {
        "fc.bias": ("F16", (4,)), "fc.weight": ("F32", (4, 3)), "ids": ("U8", (2, 3)),
        "mask": ("BOOL", (2, 0)), "steps": ("I64", ())}
    assert table.metadata == {"format": "np", "note": "é"}
    assert table.parameters == 12 + 4 + 1 + 0 + 6
    data = path.read_bytes()
    assert table.header_bytes == struct.unpack("<Q", data[:8])[0]
    assert 8 + table.header_bytes + table.data_bytes == len(data)


def test_a_torch_file_with_every_torch_dtype_reads_as_the_library_wrote_it(tmp_path):
    needs_safetensors()
    torch = needs_framework("torch")
    from safetensors.torch import save_file

    dtypes = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32,
              "F64": torch.float64, "I8": torch.int8, "I16": torch.int16, "I32": torch.int32,
              "I64": torch.int64, "U8": torch.uint8, "BOOL": torch.bool,
              "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
              "C64": torch.complex64}
    tensors = {f"t.{code}": torch.zeros((3, 2), dtype=dtype) for code, dtype in dtypes.items()}
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt"})
    table = read_table(path)
    assert table.tensors == {f"t.{code}": (code, (3, 2)) for code in sorted(dtypes)}
    assert table.parameters == 6 * len(dtypes)
    assert table.metadata == {"format": "pt"}


def test_the_header_is_checked_against_the_library_on_random_mutations():
    """A differential check: thousands of small mutations of a valid header, each accepted
    here exactly when the safetensors library accepts it, with the same tensors."""
    needs_safetensors()
    import safetensors

    rng = random.Random(20261205)
    dtypes = list(st.DTYPE_BITS) + ["F128", "f32", "BF8", ""]
    outcomes = [0, 0]  # accepted, refused
    for _ in range(1500):
        header: dict = {}
        offset = 0
        for i in range(rng.randint(0, 4)):
            dtype = rng.choice(dtypes[:22])
            shape = [rng.randint(0, 4) for _ in range(rng.randint(0, 3))]
            count = 1
            for dim in shape:
                count *= dim
            size = count * st.DTYPE_BITS[dtype] // 8
            header[f"t{i}"] = {"dtype": dtype, "shape": shape,
                               "data_offsets": [offset, offset + size]}
            offset += size
        data_len = offset
        mutation = rng.randint(0, 9)
        names = list(header)
        if mutation == 1 and names:
            header[rng.choice(names)]["dtype"] = rng.choice(dtypes)
        elif mutation == 2 and names:
            entry = header[rng.choice(names)]
            entry["shape"] = [rng.choice([0, 1, 2, 3, -1, 2**64, 2**63]) for _ in entry["shape"]]
        elif mutation == 3 and names:
            entry = header[rng.choice(names)]
            entry["data_offsets"][rng.randint(0, 1)] += rng.choice([-1, 1, 2, 8])
        elif mutation == 4:
            data_len += rng.choice([-1, 1])
        elif mutation == 5 and len(names) > 1:  # swap two tensors' offsets
            a, b = rng.sample(names, 2)
            header[a]["data_offsets"], header[b]["data_offsets"] = (
                header[b]["data_offsets"], header[a]["data_offsets"])
        elif mutation == 6:
            header["__metadata__"] = rng.choice([{"a": "b"}, {"a": 1}, None, [], "x", {}])
        elif mutation == 7 and names:
            header[rng.choice(names)]["extra"] = rng.choice([1, "x", None, [1]])
        elif mutation == 8 and names:
            del header[rng.choice(names)][rng.choice(["dtype", "shape", "data_offsets"])]
        data_len = max(data_len, 0)
        blob = build(header, bytes(data_len))
        try:
            library = {name: (v["dtype"], tuple(v["shape"]))
                       for name, v in safetensors.deserialize(blob)}
        except safetensors.SafetensorError:
            library = None
        try:
            ours = parse_file(blob).tensors
        except ValueError:
            ours = None
        assert ours == library, header
        outcomes[ours is None] += 1
    assert min(outcomes) > 300, outcomes  # both verdicts are exercised, often


def test_sub_byte_dtypes_follow_the_library(tmp_path):
    # F4 is 4 bits: an odd element count is not a whole number of bytes; F6 is 6 bits
    good = build({"x": {"dtype": "F4", "shape": [2, 3], "data_offsets": [0, 3]},
                  "y": {"dtype": "F6_E2M3", "shape": [4], "data_offsets": [3, 6]}}, bytes(6))
    assert parse_file(good).tensors == {"x": ("F4", (2, 3)), "y": ("F6_E2M3", (4,))}
    assert parse_file(good).data_bytes == 6
    odd = build({"x": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, bytes(2))
    with pytest.raises(ValueError, match="whole number of bytes"):
        parse_file(odd)
    for blob, accepted in ((good, True), (odd, False)):
        assert library_accepts(blob) in (None, accepted)


# ---------------------------------------------------------------- hostile headers

VALID = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
         "b": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]}}


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE = {
    "length beyond the file": struct.pack("<Q", 1000) + b"{}",
    "shorter than 8 bytes": b"\x02\x00\x00",
    "huge N": struct.pack("<Q", 2**63) + b"{}",
    "N just over the limit": struct.pack("<Q", st.MAX_HEADER_SIZE + 1) + b"{}",
    "overlapping offsets": build({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}},
                                 bytes(12)),
    "a gap between tensors": build(
        {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
         "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, bytes(12)),
    "two tensors on the same bytes": build(
        {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
         "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)),
    "end before begin": build({"a": {"dtype": "U8", "shape": [0], "data_offsets": [4, 0]}},
                              bytes(4)),
    "size does not match shape": build(
        {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)),
    "unknown dtype": build({"a": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}},
                           bytes(16)),
    "lower-case dtype": build({"a": {"dtype": "f32", "shape": [1], "data_offsets": [0, 4]}},
                              bytes(4)),
    "dtype not a string": build({"a": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}},
                                bytes(4)),
    "negative dim": build({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}),
    "float dim": build({"a": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}},
                       bytes(4)),
    "bool dim": build({"a": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}},
                      bytes(4)),
    "three offsets": build({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}},
                           bytes(4)),
    "offsets beyond u64": build(
        {"a": {"dtype": "U8", "shape": [0], "data_offsets": [2**64, 2**64]}}),
    "shape overflowing u64": build(
        {"a": {"dtype": "F32", "shape": [2**32, 2**32, 2], "data_offsets": [0, 0]}}),
    "intermediate overflow with a zero dim": build(
        {"a": {"dtype": "F32", "shape": [2**40, 2**40, 0], "data_offsets": [0, 0]}}),
    "JSON array": build([1, 2]),
    "JSON string": build("tensor"),
    "JSON number": build(None, raw=b"12"),
    "not JSON": build(None, raw=b"{'a': 1}"),
    "deep nesting": build(None, raw=_deep(100_000)),
    "deep nesting in a tensor": build(None, raw=b'{"a": ' + _deep(50_000) + b"}"),
    "NaN": build(None, raw=b'{"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4], '
                           b'"x": NaN}}', data=bytes(4)),
    "duplicate name": build(None, raw=b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": '
                                      b'[0, 4]}, "a": {"dtype": "F32", "shape": [1], '
                                      b'"data_offsets": [4, 8]}}', data=bytes(8)),
    "metadata not strings": build({"__metadata__": {"n": 1}}),
    "metadata a list": build({"__metadata__": ["x"]}),
    "tensor not an object": build({"a": [0, 4]}, bytes(4)),
    "missing data_offsets": build({"a": {"dtype": "F32", "shape": [1]}}, bytes(4)),
    "invalid UTF-8": build(None, raw=b'{"\xff": {"dtype": "U8", "shape": [0], '
                                     b'"data_offsets": [0, 0]}}'),
    "UTF-16 header": build(None, raw='{}'.encode("utf-16")),
    "lone surrogate name": build(None, raw=b'{"\\ud800": {"dtype": "U8", "shape": [0], '
                                           b'"data_offsets": [0, 0]}}'),
    "truncated data": build(VALID, bytes(15)),
    "extra trailing bytes": build(VALID, bytes(17)),
    "huge integer literal": build(None, raw=b'{"a": {"dtype": "U8", "shape": [' + b"9" * 5000
                                            + b'], "data_offsets": [0, 0]}}'),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_headers_give_one_clear_error(case, tmp_path):
    blob = HOSTILE[case]
    with pytest.raises(ValueError) as err:
        parse_file(blob)
    message = str(err.value)
    assert message.endswith(".") and "\n" not in message and len(message) < 400
    path = tmp_path / "model.safetensors"
    path.write_bytes(blob)
    with pytest.raises(ValueError) as err:
        read_table(path)
    assert str(err.value).endswith(".") and "\n" not in str(err.value)
    assert library_accepts(blob) in (None, False), "the library refuses it too"


def test_the_valid_neighbour_of_the_hostile_headers_is_accepted():
    blob = build(VALID, bytes(16))
    assert parse_file(blob).tensors == {"a": ("F32", (2,)), "b": ("I64", (1,))}
    assert library_accepts(blob) in (None, True)
    # header padding (the library pads with spaces) and any key order are fine
    padded = build(None, raw=json.dumps(dict(reversed(list(VALID.items())))).encode() + b"    ",
                   data=bytes(16))
    assert parse_file(padded).tensors == parse_file(blob).tensors


def test_read_table_refuses_a_header_beyond_the_file_and_never_reads_the_data(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 10_000) + b"{}")
    with pytest.raises(ValueError, match="only 10 bytes"):
        read_table(path)
    # a 64 GiB tensor in a sparse file: only the header is read, so this is instant
    header = json.dumps({"w": {"dtype": "F32", "shape": [2**34], "data_offsets": [0, 2**36]}})
    with open(path, "wb") as f:
        f.write(build(None, raw=header.encode()))
        f.truncate(8 + len(header) + 2**36)
    assert read_table(path).parameters == 2**34
    with pytest.raises(ValueError, match="over the 16-byte limit"):
        header_length(struct.pack("<Q", 17), limit=16)


def test_tensor_tables_round_trip_through_json():
    table = TensorTable({"w": ("BF16", (2, 3)), "b": ("F32", [3])}, {"format": "pt"}, 120)
    data = json.loads(json.dumps(table.to_json()))
    assert TensorTable.from_json(data) == table
    assert (table.parameters, table.data_bytes, table.header_bytes) == (9, 24, 120)
    assert "2 tensors, 9 parameters" in repr(table)
    for bad in ([], {"tensors": []}, {"tensors": {"w": ["F99", [1]]}},
                {"tensors": {"w": [["F32"], [1]]}}, {"tensors": {"w": ["F32", [-1]]}},
                {"tensors": {}, "metadata": {"a": 1}}):
        with pytest.raises(ValueError):
            TensorTable.from_json(bad)


# ---------------------------------------------------------------- shards


def _index(weight_map: dict, total: object = 0) -> bytes:
    return json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}).encode()


def test_a_sharded_checkpoint_merges_into_one_table(tmp_path):
    needs_safetensors()
    np = needs_framework("numpy")
    from safetensors.numpy import save_file

    shards = {"model-00001-of-00002.safetensors": {"embed": np.zeros((8, 4), np.float32),
                                                   "layer.0": np.zeros(4, np.float32)},
              "model-00002-of-00002.safetensors": {"head": np.zeros((4, 2), np.float16)}}
    weight_map = {}
    for shard, tensors in shards.items():
        save_file(tensors, str(tmp_path / shard), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, shard))
    index = parse_index(_index(weight_map, total=32 * 4 + 4 * 4 + 8 * 2))
    assert index.shards == sorted(shards)
    assert index.total_size == 160
    tables = {shard: read_table(tmp_path / shard) for shard in index.shards}
    merged = merge_tables(tables, index)
    assert merged.tensors == {"embed": ("F32", (8, 4)), "head": ("F16", (4, 2)),
                              "layer.0": ("F32", (4,))}
    assert merged.data_bytes == index.total_size
    assert merged.metadata == {"format": "pt"}

    # the index says otherwise, a tensor is in two shards, a shard is missing
    moved = ShardIndex({**weight_map, "layer.0": "model-00002-of-00002.safetensors"})
    with pytest.raises(ValueError, match="index places it in"):
        merge_tables(tables, moved)
    twice = {**tables, "extra.safetensors": TensorTable({"head": ("F16", (4, 2))})}
    with pytest.raises(ValueError, match="is in both"):
        merge_tables(twice)
    with pytest.raises(ValueError, match="do not match the index"):
        merge_tables({"model-00001-of-00002.safetensors": tables[index.shards[0]]}, index)
    with pytest.raises(ValueError, match="in none of the shards"):
        merge_tables(tables, ShardIndex({**weight_map,
                                         "ghost": "model-00002-of-00002.safetensors"}))


@pytest.mark.parametrize("shard", [
    "../model.safetensors", "/etc/model.safetensors", "sub/model.safetensors",
    "sub\\model.safetensors", "model.bin", "", ".safetensors", "..safetensors",
    "a\nb.safetensors", 5, None, ["model.safetensors"], "x" * 300 + ".safetensors"])
def test_hostile_shard_names_are_refused(shard):
    with pytest.raises(ValueError, match="shard"):
        parse_index(_index({"w": shard}))


@pytest.mark.parametrize("raw", [
    b"[]", b"{}", b'{"weight_map": []}', b'{"weight_map": {}, "metadata": []}',
    b'{"weight_map": {}, "metadata": {"total_size": -1}}',
    b'{"weight_map": {}, "metadata": {"total_size": "12"}}', b"\xff\xfe", b"not json",
    b'{"weight_map": ' + _deep(100_000) + b"}"])
def test_malformed_indexes_are_refused(raw):
    with pytest.raises(ValueError):
        parse_index(raw)


def test_an_index_is_bounded(monkeypatch):
    monkeypatch.setattr(st, "MAX_SHARDS", 3)
    many = {f"t{i}": f"model-{i:05d}-of-00010.safetensors" for i in range(10)}
    with pytest.raises(ValueError, match="over 3 shard files"):
        parse_index(_index(many))
    monkeypatch.setattr(st, "MAX_INDEX_SIZE", 100)
    with pytest.raises(ValueError, match="too large"):
        parse_index(b" " * 101)
    # a float total_size (some tools write one) is read as an int; no total is fine
    assert parse_index(_index({}, total=12.0)).total_size == 12
    assert parse_index(b'{"weight_map": {}}').total_size is None


# ---------------------------------------------------------------- versions


def T(**tensors) -> TensorTable:
    return TensorTable({name.replace("_", "."): entry for name, entry in tensors.items()})


COMPARE_ROWS = [
    ("identical", T(w=("F32", (2, 3))), T(w=("F32", (2, 3))), "patch", []),
    ("metadata only", TensorTable({"w": ("F32", (2,))}, {"a": "1"}),
     TensorTable({"w": ("F32", (2,))}, {"a": "2"}), "patch", []),
    ("added", T(w=("F32", (2,))), T(w=("F32", (2,)), b=("F32", (1,))), "minor",
     ["tensor 'b' added"]),
    ("removed", T(w=("F32", (2,)), b=("F32", (1,))), T(w=("F32", (2,))), "major",
     ["tensor 'b' renamed or removed"]),
    ("renamed", T(fc_weight=("F32", (4, 2))), T(head_weight=("F32", (4, 2))), "major",
     ["tensor 'fc.weight' renamed to 'head.weight'"]),
    ("ambiguous rename", T(a=("F32", (1,)), b=("F32", (1,))), T(c=("F32", (1,))), "major",
     ["tensor 'a' renamed or removed", "tensor 'b' renamed or removed", "tensor 'c' added"]),
    ("dtype", T(w=("F32", (2,))), T(w=("BF16", (2,))), "major",
     ["tensor 'w' dtype F32 -> BF16"]),
    ("shape", T(w=("F32", (2, 3))), T(w=("F32", (3, 2))), "major",
     ["tensor 'w' shape [2, 3] -> [3, 2]"]),
    ("rank", T(w=("F32", ())), T(w=("F32", (1,))), "major", ["tensor 'w' shape [] -> [1]"]),
    ("empty to something", T(), T(w=("F32", (1,))), "minor", ["tensor 'w' added"]),
]


@pytest.mark.parametrize("case", COMPARE_ROWS, ids=[row[0] for row in COMPARE_ROWS])
def test_compare_tables(case):
    _, old, new, level, reasons = case
    assert compare_tables(old, new) == (level, reasons)
    from mlpm.interface.diff import LEVELS

    assert level in LEVELS


def test_table_fingerprint_hashes_only_names_dtypes_and_shapes():
    a = TensorTable({"w": ("F32", (2, 3)), "b": ("F32", (3,))}, {"format": "pt"}, 100)
    b = TensorTable({"b": ("F32", [3]), "w": ("F32", [2, 3])}, {}, 104)
    assert table_fingerprint(a) == table_fingerprint(b)
    assert table_fingerprint(a).startswith("sha256:") and len(table_fingerprint(a)) == 71
    for other in (T(w=("F16", (2, 3)), b=("F32", (3,))), T(w=("F32", (6,)), b=("F32", (3,))),
                  T(w=("F32", (2, 3)), c=("F32", (3,))), T(w=("F32", (2, 3)))):
        assert table_fingerprint(other) != table_fingerprint(a)


# ---------------------------------------------------------------- config.json

BERT = {"architectures": ["BertForSequenceClassification"], "model_type": "bert",
        "hidden_size": 768, "num_hidden_layers": 12, "vocab_size": 30522,
        "id2label": {"0": "NEGATIVE", "1": "POSITIVE"}, "torch_dtype": "float32",
        "label2id": {"NEGATIVE": 0, "POSITIVE": 1}, "transformers_version": "4.57.0"}


def test_read_config():
    assert read_config(json.dumps(BERT).encode()) == {
        "architectures": ["BertForSequenceClassification"], "model_type": "bert",
        "hidden_size": 768, "num_hidden_layers": 12, "vocab_size": 30522,
        "labels": ["NEGATIVE", "POSITIVE"], "torch_dtype": "float32"}
    gpt2 = read_config('{"model_type": "gpt2", "n_embd": 768, "n_layer": 12, '
                       '"vocab_size": 50257, "dtype": "bfloat16"}')
    assert (gpt2["hidden_size"], gpt2["num_hidden_layers"], gpt2["torch_dtype"]) == (
        768, 12, "bfloat16")
    llava = read_config('{"architectures": ["LlavaForConditionalGeneration"], '
                        '"text_config": {"hidden_size": 4096, "num_hidden_layers": 32}}')
    assert (llava["hidden_size"], llava["num_hidden_layers"], llava["vocab_size"]) == (
        4096, 32, None)
    assert read_config(b"{}") == {"architectures": [], "model_type": None, "hidden_size": None,
                                  "num_hidden_layers": None, "vocab_size": None,
                                  "labels": None, "torch_dtype": None}


@pytest.mark.parametrize("fields", [
    {"architectures": "BertModel"}, {"architectures": [1, None, {"a": 1}]},
    {"hidden_size": "768"}, {"hidden_size": True}, {"hidden_size": -1}, {"hidden_size": 7.5},
    {"id2label": {"0": "a", "2": "b"}}, {"id2label": {"a": "b"}}, {"id2label": ["a"]},
    {"id2label": {"0": 1}}, {"id2label": {"99999999999": "x"}}, {"model_type": ["bert"]},
    {"torch_dtype": {"x": 1}}, {"text_config": "x"}, {"text_config": {"hidden_size": "x"}},
])
def test_read_config_drops_fields_of_the_wrong_type(fields):
    summary = read_config(json.dumps(fields))
    for key in ("hidden_size", "labels", "model_type", "torch_dtype"):
        assert summary[key] is None
    assert all(isinstance(a, str) for a in summary["architectures"])


@pytest.mark.parametrize("raw", [b"[]", b'"x"', b"not json", b"\xff\xfe\x00", _deep(100_000),
                                 b'{"a": ' + _deep(100_000) + b"}"])
def test_read_config_refuses_what_is_not_a_config(raw):
    with pytest.raises(ValueError, match="config.json"):
        read_config(raw)


def test_read_config_is_bounded(monkeypatch):
    monkeypatch.setattr(hfrepo, "MAX_CONFIG_SIZE", 1000)
    with pytest.raises(ValueError, match="too large"):
        read_config(b" " * 1001 + b"{}")
    many = {str(i): f"label {i}" for i in range(21_843)}  # ImageNet-21k
    monkeypatch.undo()
    assert len(read_config(json.dumps({"id2label": many}))["labels"]) == 21_843
    monkeypatch.setattr(hfrepo, "MAX_LABELS", 100)
    assert read_config(json.dumps({"id2label": many}))["labels"] is None


# ---------------------------------------------------------------- model cards

CARD = """---
license: apache-2.0
language:
- en
- fr
library_name: transformers
pipeline_tag: text-classification
tags:
- sentiment
- 3
datasets: stanfordnlp/sst2
base_model: google-bert/bert-base-uncased
model-index:
- name: my-model
  results:
  - task:
      type: text-classification
      name: Text Classification
    dataset:
      name: SST-2
      type: glue
    metrics:
    - type: accuracy
      value: 0.93
      name: Accuracy
    - type: f1
      value: '0.91'
    - type: loss
      value: .nan
    - type: broken
    - value: 1
---

# My model

Some text with --- in it.
"""

EMPTY_CARD = {"license": None, "pipeline_tag": None, "library_name": None, "tags": [],
              "datasets": [], "base_model": [], "language": [], "metrics": []}


def test_read_card():
    pytest.importorskip("yaml", reason=SAFETENSORS_REASON)
    assert read_card(CARD) == {
        "license": "apache-2.0", "pipeline_tag": "text-classification",
        "library_name": "transformers", "tags": ["sentiment"], "datasets": ["stanfordnlp/sst2"],
        "base_model": ["google-bert/bert-base-uncased"], "language": ["en", "fr"],
        "metrics": [{"name": "Accuracy", "type": "accuracy", "value": 0.93,
                     "task": "text-classification", "dataset": "SST-2"},
                    {"name": None, "type": "f1", "value": "0.91",
                     "task": "text-classification", "dataset": "SST-2"}]}
    assert read_card(CARD.encode()) == read_card(CARD)
    assert read_card("\ufeff" + CARD.replace("\n", "\r\n"))["license"] == "apache-2.0"
    assert card_bases(CARD) == ["google-bert/bert-base-uncased"]


LAUGHS = "---\na: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)) + "tags: *j\nmodel-index: [{results: *j}, {results: *j}]\n---\n"


@pytest.mark.parametrize("card", [
    "# no front matter\n", "", "---\nlicense: mit\n", "---\n---\n", "---\n- a\n- b\n---\n",
    "---\njust a string\n---\n", "---\nlicense: [unclosed\n---\n", "---\n\t\x00bad\n---\n",
    "---\n" + "[" * 5000 + "]" * 5000 + "\n---\n", "---\n" + "a:\n " * 3000 + "x\n---\n",
    "---\nx: !!python/object/apply:os.system ['echo hi']\n---\n",
    "---\ndate: 2024-13-45\n---\n", "---\n? [a, b]\n: c\n---\n", LAUGHS,
    "---\nmodel-index: {results: 1}\n---\n", "---\nmodel-index: [1, {results: [1, "
    "{metrics: 3}, {metrics: [1, {type: [x], value: 1}]}]}]\n---\n",
    "---\nlicense: [mit, apache-2.0]\ntags: {a: 1}\nbase_model: [1, [2]]\n---\n",
])
def test_odd_and_hostile_cards_never_crash(card):
    pytest.importorskip("yaml", reason=SAFETENSORS_REASON)
    summary = read_card(card)
    assert set(summary) == set(EMPTY_CARD)
    for key in ("license", "pipeline_tag", "library_name"):
        assert summary[key] is None or isinstance(summary[key], str)
    for key in ("tags", "datasets", "base_model", "language"):
        assert all(isinstance(item, str) for item in summary[key])
        assert len(summary[key]) <= hfrepo.MAX_LIST
    assert len(summary["metrics"]) <= hfrepo.MAX_LIST
    json.dumps(summary, allow_nan=False)


def test_a_card_without_pyyaml_gives_the_empty_summary(monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml raises ImportError
    assert read_card(CARD) == EMPTY_CARD


def test_a_card_is_bounded(monkeypatch):
    yaml = pytest.importorskip("yaml", reason=SAFETENSORS_REASON)
    monkeypatch.setattr(hfrepo, "MAX_CARD_SIZE", 100)
    assert read_card("---\nlicense: mit\n" + "#" * 200 + "\n---\n") == EMPTY_CARD
    assert read_card("---\nlicense: mit\n---\n" + "x" * 10_000)["license"] == "mit"
    # PyYAML without libyaml: the slower pure-Python loader gets a tighter bound
    monkeypatch.undo()
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    monkeypatch.setattr(hfrepo, "MAX_CARD_SIZE_PURE", 100)
    assert read_card("---\nlicense: mit\n---\n")["license"] == "mit"
    assert read_card("---\nlicense: mit\n" + "#" * 200 + "\n---\n") == EMPTY_CARD


def test_hostile_cards_are_quick():
    pytest.importorskip("yaml", reason=SAFETENSORS_REASON)
    import time

    limit = hfrepo.MAX_CARD_SIZE - 100
    for body in ("[" * limit, "tags:\n" + "- x\n" * (limit // 4),
                 "".join(" " * i + "a:\n" for i in range(1000))[:limit]):
        started = time.monotonic()
        read_card("---\n" + body + "\n---\n")
        assert time.monotonic() - started < 10


# ---------------------------------------------------------------- adapters and repo ids


def test_read_adapter_config():
    config = {"base_model_name_or_path": "meta-llama/Llama-3.2-1B", "peft_type": "LORA",
              "task_type": "CAUSAL_LM", "revision": None, "r": 16,
              "target_modules": ["q_proj", "v_proj"]}
    assert read_adapter_config(json.dumps(config)) == {
        "base_model": "meta-llama/Llama-3.2-1B", "revision": None, "peft_type": "LORA",
        "task_type": "CAUSAL_LM"}
    assert adapter_base(config) == "meta-llama/Llama-3.2-1B"
    assert adapter_base(json.dumps(config).encode()) == "meta-llama/Llama-3.2-1B"
    for base in ("/home/me/llama", "C:\\models\\llama", "../llama", 5, None, ["a/b"]):
        assert adapter_base({"base_model_name_or_path": base}) is None
    with pytest.raises(ValueError, match="adapter_config.json"):
        adapter_base(b"[]")


REPO_IDS = [
    ("gpt2", True), ("openai-community/gpt2", True), ("Foo-BAR_foo.bar123", True),
    ("123", True), ("_private/x_", True), ("a" * 96, True), ("a" * 96 + "/" + "b" * 96, True),
    ("a" * 97, False), ("", False), ("datasets/foo/bar", False), (".repo_id", False),
    ("repo-", False), ("-repo", False), ("foo--bar", False), ("foo..bar", False),
    ("foo.git", False), ("org/", False), ("/name", False), ("org/na me", False),
    ("café/x", False), ("org/näme", False), ("org\\name", False), ("a/b\n", False),
    ("org/model.v2", True), ("org/.hidden", False),
]


@pytest.mark.parametrize("repo_id,valid", REPO_IDS)
def test_check_repo_id_follows_huggingface_hub(repo_id, valid):
    if valid:
        assert check_repo_id(repo_id) == repo_id
    else:
        with pytest.raises(ValueError, match="is not a Hugging Face repo id"):
            check_repo_id(repo_id)
    try:
        from huggingface_hub.utils import HFValidationError, validate_repo_id
    except ImportError:
        return
    try:
        validate_repo_id(repo_id)
        theirs = True
    except HFValidationError:
        theirs = False
    assert theirs == valid


def test_check_repo_id_refuses_what_is_not_text():
    with pytest.raises(ValueError, match="must be text"):
        check_repo_id(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- file selection

TOKENIZER = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
             "merges.txt", "spiece.model", "added_tokens.json"]
COMMON = ["config.json", "generation_config.json", "README.md", ".gitattributes",
          "preprocessor_config.json", *TOKENIZER]
CHOSEN_COMMON = sorted(set(COMMON) - {".gitattributes"})

SELECTION_ROWS = [
    ("safetensors over bin",
     COMMON + ["model.safetensors", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack",
               "onnx/model.onnx", "coreml/model.mlpackage/Data/weights.bin"],
     dict(), CHOSEN_COMMON + ["model.safetensors"]),
    ("only bin, without Trainer state",
     COMMON + ["pytorch_model.bin", "training_args.bin", "optimizer.pt", "scheduler.pt",
               "rng_state.pth", "scaler.pt", "openvino_model.bin", "openvino_model.xml"],
     dict(), CHOSEN_COMMON + ["pytorch_model.bin"]),
    ("sharded bin",
     ["config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
      "pytorch_model.bin.index.json"],
     dict(), ["config.json", "pytorch_model-00001-of-00002.bin",
              "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json"]),
    ("pt and ckpt", ["model.pt", "last.ckpt", "weights.pth"], dict(),
     ["last.ckpt", "model.pt", "weights.pth"]),
    ("sharded safetensors, not the consolidated copy",
     ["config.json", "consolidated.safetensors", "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors", "model.safetensors.index.json",
      "pytorch_model.bin", "params.json"],
     dict(), ["config.json", "model-00001-of-00002.safetensors",
              "model-00002-of-00002.safetensors", "model.safetensors.index.json"]),
    ("sharded safetensors, shards from the parsed index",
     ["model.safetensors.index.json", "part-a.safetensors", "part-b.safetensors",
      "other.safetensors"],
     dict(shards=["part-b.safetensors", "part-a.safetensors"]),
     ["model.safetensors.index.json", "part-a.safetensors", "part-b.safetensors"]),
    ("adapter",
     ["adapter_config.json", "adapter_model.safetensors", "README.md", "training_args.bin"],
     dict(), ["README.md", "adapter_config.json", "adapter_model.safetensors"]),
    ("onnx at the top",
     COMMON + ["model.safetensors", "model.onnx", "model.onnx_data", "onnx/model.onnx"],
     dict(format="onnx"), CHOSEN_COMMON + ["model.onnx", "model.onnx_data"]),
    ("onnx in onnx/",
     COMMON + ["model.safetensors", "onnx/model.onnx", "onnx/model_quantized.onnx",
               "onnx/model.onnx.data", "onnx/model.onnx_data_1", "onnx/sub/x.onnx"],
     dict(format="onnx"), CHOSEN_COMMON + ["onnx/model.onnx", "onnx/model.onnx.data",
                                           "onnx/model.onnx_data_1",
                                           "onnx/model_quantized.onnx"]),
    ("onnx asked, none there", ["model.safetensors", "config.json"], dict(format="onnx"),
     ["config.json"]),
    ("pickle asked", ["model.safetensors", "pytorch_model.bin"], dict(format="pickle"),
     ["pytorch_model.bin"]),
    ("safetensors asked, none there", ["pytorch_model.bin", "config.json"],
     dict(format="safetensors"), ["config.json"]),
    ("exclude safetensors falls back to pickle",
     ["model.safetensors", "pytorch_model.bin", "config.json"],
     dict(exclude=["*.safetensors"]), ["config.json", "pytorch_model.bin"]),
    ("exclude the card", ["model.safetensors", "README.md"], dict(exclude=["README.md"]),
     ["model.safetensors"]),
    ("include limits, like allow_patterns",
     COMMON + ["model.safetensors", "pytorch_model.bin"], dict(include=["*.json"]),
     ["added_tokens.json", "config.json", "generation_config.json",
      "preprocessor_config.json", "special_tokens_map.json", "tokenizer.json",
      "tokenizer_config.json"]),
    ("include reaches subfolders",
     ["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
      "vae/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.bin"],
     dict(include=["model_index.json", "unet/", "vae/*.safetensors"],
          exclude=["*.bin"]),
     ["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
      "vae/diffusion_pytorch_model.safetensors"]),
    ("include ignores format", ["model.safetensors", "model.onnx"],
     dict(include=["*.safetensors"], format="onnx"), ["model.safetensors"]),
    ("include nothing", ["model.safetensors"], dict(include=[]), []),
    ("one glob as a string", ["model.safetensors", "config.json", "README.md"],
     dict(include="*.json", exclude="README.md"), ["config.json"]),
    ("empty repo", [], dict(), []),
    ("only subfolders", ["text_encoder/model.safetensors"], dict(), []),
]


@pytest.mark.parametrize("case", SELECTION_ROWS, ids=[row[0] for row in SELECTION_ROWS])
def test_choose_files(case):
    _, files, options, expected = case
    expected = sorted(expected)
    assert choose_files(files, **options) == expected
    shuffled = list(reversed(files)) + files[:2]  # order and repeats do not matter
    assert choose_files(shuffled, **options) == expected


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a//b", "a/./b", "a/../b",
                                  "a\\b", "x\n", "", "a/", "x" * 2000])
def test_choose_files_refuses_unsafe_paths(path):
    with pytest.raises(ValueError, match="not a safe relative path"):
        choose_files(["model.safetensors", path])
    with pytest.raises(ValueError):
        check_repo_path(path)


def test_choose_files_refuses_an_unknown_format():
    with pytest.raises(ValueError, match="not a weights format"):
        choose_files(["model.safetensors"], "gguf")


@pytest.mark.parametrize("files,kind", [
    (["model.safetensors", "pytorch_model.bin"], "safetensors"),
    (["config.json", "pytorch_model.bin"], "pickle"),
    (["model.ckpt"], "pickle"),
    (["onnx/model.onnx", "onnx/model.onnx_data", "config.json"], "onnx"),
    (["unet/diffusion_pytorch_model.safetensors"], "safetensors"),
    (["training_args.bin", "model.onnx"], "onnx"),
])
def test_weights_format(files, kind):
    assert weights_format(files) == kind


def test_weights_format_without_weights_says_so():
    with pytest.raises(ValueError, match="no model weights"):
        weights_format(["config.json", "training_args.bin", "model.gguf"])


# ---------------------------------------------------------------- loading


def test_numpy_round_trip(tmp_path):
    needs_safetensors()
    np = needs_framework("numpy")
    from safetensors.numpy import save_file

    from mlpm.frameworks.safetensors import load_files

    rng = np.random.default_rng(0)
    tensors = {"w": rng.standard_normal((3, 4)).astype(np.float32),
               "b": rng.standard_normal(4).astype(np.float16),
               "i": np.arange(5, dtype=np.int64), "u": np.arange(3, dtype=np.uint32),
               "m": np.array([True, False]), "s": np.array(2.5, np.float64),
               "e": np.zeros((0, 3), np.int8)}
    save_file(tensors, str(tmp_path / "model.safetensors"))
    loaded = load_files(tmp_path / "model.safetensors")
    assert sorted(loaded) == sorted(tensors)
    for name, array in tensors.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        assert np.array_equal(loaded[name], array)


def test_torch_round_trip_and_bfloat16(tmp_path):
    needs_safetensors()
    torch = needs_framework("torch")
    from safetensors.torch import save_file

    from mlpm.frameworks.safetensors import load_files

    torch.manual_seed(0)
    tensors = {"w": torch.randn(3, 4), "h": torch.randn(4).to(torch.bfloat16),
               "f8": torch.randn(2).to(torch.float8_e4m3fn), "i": torch.arange(3),
               "e": torch.zeros(0, 2)}
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path))
    loaded = load_files([str(path)], framework="torch")
    assert sorted(loaded) == sorted(tensors)
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype
        assert torch.equal(loaded[name].view(torch.uint8), tensor.view(torch.uint8))
    with pytest.raises(ModelLoadError, match="framework='torch'"):
        load_files(path)  # numpy has no bfloat16


def test_a_sharded_checkpoint_loads_through_its_index(tmp_path):
    needs_safetensors()
    np = needs_framework("numpy")
    from safetensors.numpy import save_file

    from mlpm.frameworks.safetensors import load_files

    shards = {"model-00001-of-00002.safetensors": {"a": np.arange(4, dtype=np.float32)},
              "model-00002-of-00002.safetensors": {"b": np.ones((2, 2), np.int32),
                                                   "c": np.zeros(1, np.uint8)}}
    weight_map = {}
    for shard, tensors in shards.items():
        save_file(tensors, str(tmp_path / shard))
        weight_map.update(dict.fromkeys(tensors, shard))
    index = tmp_path / "model.safetensors.index.json"
    index.write_bytes(_index(weight_map))
    loaded = load_files(index)
    assert sorted(loaded) == ["a", "b", "c"]
    assert np.array_equal(loaded["b"], np.ones((2, 2), np.int32))
    assert sorted(load_files(sorted(tmp_path.glob("*.safetensors")))) == ["a", "b", "c"]

    # the index names the wrong shard, or a tensor no shard holds
    index.write_bytes(_index({**weight_map, "a": "model-00002-of-00002.safetensors"}))
    with pytest.raises(ModelLoadError, match="index"):
        load_files(index)
    index.write_bytes(_index({**weight_map, "z": "model-00002-of-00002.safetensors"}))
    with pytest.raises(ModelLoadError, match="'z' is in the index but in none"):
        load_files(index)
    index.write_bytes(_index({"a": "../model-00001-of-00002.safetensors"}))
    with pytest.raises(ModelLoadError, match="not a plain file name"):
        load_files(index)

    # a tensor in two files
    save_file({"a": np.zeros(1, np.float32)}, str(tmp_path / "copy.safetensors"))
    with pytest.raises(ModelLoadError, match="'a' is in both"):
        load_files([tmp_path / "model-00001-of-00002.safetensors", tmp_path / "copy.safetensors"])


def test_load_files_errors(tmp_path, monkeypatch):
    needs_safetensors()
    needs_framework("numpy")
    from mlpm.frameworks.safetensors import load_files

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(HOSTILE["overlapping offsets"])
    with pytest.raises(ModelLoadError, match="bad.safetensors is not a valid safetensors file"):
        load_files(bad)
    with pytest.raises(FileNotFoundError):
        load_files(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="framework='numpy' or framework='torch'"):
        load_files(bad, framework="tensorflow")
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(FrameworkMissing, match=r"pip install 'mlpm\[hf\]'"):
        load_files(bad)


# ---------------------------------------------------------------- the modules themselves


@pytest.mark.parametrize("module", [st, hfrepo])
def test_docstring_examples_run(module):
    if module is hfrepo:
        pytest.importorskip("yaml", reason=SAFETENSORS_REASON)
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_the_readers_import_nothing_heavy():
    code = ("import sys, mlpm.interface.safetensors, mlpm.interface.hfrepo, "
            "mlpm.frameworks.safetensors; "
            "print(sorted(m for m in ('numpy', 'torch', 'safetensors', 'yaml', "
            "'huggingface_hub') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"
