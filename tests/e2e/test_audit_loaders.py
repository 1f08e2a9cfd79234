"""`mlpm audit` scans what the framework would load, and exported programs never
unpickle code.

Each hostile file below makes the loader it targets create a marker file; the first test
proves that with torch's own loaders, on copies that name another marker. Then the same
files are published to a loopback registry and installed: `mlpm audit` must exit 1 and
name each one, `mlpm.load` must refuse them, and the marker must never appear. Benign real
files (torch.save zip, legacy torch.save, the legacy tar format, an exported program) give
0 findings and still load.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import tomli_w

from mlpm.audit import scan_file
from tests.conftest import needs, run_mlpm


class Evil:
    """Unpickling this runs ``os.system``: it writes the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def n0_pickle(marker: Path) -> bytes:
    """A pickle whose first opcodes are NONE, POP (``N0``), not the usual PROTO header."""
    return b"N0cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."


def torch_zip(obj) -> bytes:
    torch = needs("torch")

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def rewrite_zip(data: bytes, replace: dict[str, bytes], add: dict[str, bytes] | None = None
                ) -> bytes:
    """The zip ``data`` with members replaced (by name suffix) or added, order kept."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            body = next((v for k, v in replace.items() if info.filename.endswith(k)),
                        src.read(info))
            dst.writestr(info.filename, body)
        root = src.infolist()[0].filename.split("/", 1)[0]
        for name, body in (add or {}).items():
            dst.writestr(f"{root}/{name}", body)
    return out.getvalue()


def legacy_save(obj) -> bytes:
    torch = needs("torch")

    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


class _TensorRef(pickle.Pickler):
    def persistent_id(self, obj):
        return 1 if isinstance(obj, _Ref) else None


class _Ref:
    pass


def legacy_tar(payload: bytes | None = None, claimed: int = 3) -> bytes:
    """torch's legacy tar format (before 0.1.10): one float storage of 3 elements (whose
    record claims ``claimed``), one tensor over it, and the object pickle ``{"w": tensor}``
    (or ``payload``)."""
    import struct

    torch = needs("torch")

    storages = (pickle.dumps(1, protocol=2)
                + pickle.dumps((0, "cpu", torch.FloatStorage), protocol=2)
                + struct.pack("<q", claimed) + struct.pack("<3f", 1.0, 2.0, 3.0)
                + pickle.dumps([], protocol=2))
    tensors = (pickle.dumps(1, protocol=2) + pickle.dumps((1, 0, None), protocol=2)
               + struct.pack("<ii", 1, 0) + struct.pack("<q", 3) + struct.pack("<q", 1)
               + struct.pack("<q", 0))
    if payload is None:
        buffer = io.BytesIO()
        _TensorRef(buffer, protocol=2).dump({"w": _Ref()})
        payload = buffer.getvalue()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, body in (("sys_info", pickle.dumps({"little_endian": True}, protocol=2)),
                           ("pickle", payload), ("storages", storages), ("tensors", tensors)):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def tar_fallback(marker: Path) -> bytes:
    """A tar whose first member's name is a pickle, and whose ``storages`` member is cut
    short: torch's tar reader raises TarError, and torch then unpickles the file from byte
    0 -- the name field."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        first = tarfile.TarInfo(f"cos\nsystem\n(S'touch {marker}'\ntR.")
        first.size = 1
        tar.addfile(first, io.BytesIO(b"x"))
        storages = tarfile.TarInfo("storages")
        storages.size = 4096
        tar.addfile(storages, io.BytesIO(bytes(4096)))
    return out.getvalue()[:3 * 512 + 100]


def exported_program() -> bytes:
    torch = needs("torch")

    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).eval()
    buffer = io.BytesIO()
    torch.export.save(torch.export.export(module, (torch.zeros(2, 4),)), buffer)
    return buffer.getvalue()


def pickled_weight(ep: bytes, marker: Path) -> bytes:
    """The exported program with its first weight marked ``use_pickle`` and replaced by a
    pickle: ``torch.export.load`` unpickles it with ``weights_only=False``. The member has
    no pickle suffix."""
    with zipfile.ZipFile(io.BytesIO(ep)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("_weights_config.json"))
        config = json.loads(archive.read(name))
    first = next(iter(config["config"].values()))
    first["use_pickle"] = True
    return rewrite_zip(ep, {name.split("/", 1)[1]: json.dumps(config).encode(),
                            "data/weights/" + first["path_name"]:
                            pickle.dumps(Evil(marker), protocol=4)})


def opaque_constant(ep: bytes, marker: Path) -> bytes:
    """The exported program with a constant ``opaque_obj_0``: ``torch.export.load`` reads
    it with plain ``pickle.loads``."""
    with zipfile.ZipFile(io.BytesIO(ep)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("_constants_config.json"))
    config = {"config": {"payload": {"path_name": "opaque_obj_0", "is_param": False,
                                     "use_pickle": True, "tensor_meta": None}}}
    return rewrite_zip(ep, {name.split("/", 1)[1]: json.dumps(config).encode()},
                       {"data/constants/opaque_obj_0": n0_pickle(marker)})


def sympy_payload(marker: Path) -> bytes:
    """A dynamic-shape exported program whose first shape expression calls os.system:
    ``torch.export.load`` parses it with ``sympy.sympify``, which evaluates Python. No
    pickle at all."""
    torch = needs("torch")

    module = torch.nn.Linear(4, 3).eval()
    program = torch.export.export(module, (torch.zeros(2, 4),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    with zipfile.ZipFile(buffer) as archive:
        name = next(n for n in archive.namelist() if n.endswith("models/model.json"))
        text = archive.read(name).decode()
    evil = text.replace('"expr_str": "Symbol(', '"expr_str": "(__import__(\'os\').system('
                        f"\'touch {marker}\')*0) + Symbol(", 1)
    assert evil != text
    return rewrite_zip(buffer.getvalue(), {name.split("/", 1)[1]: evil.encode()})


def hostile_files(folder: Path, marker: Path) -> dict[str, tuple[str, bytes]]:
    """name -> (format, bytes) of every hostile case; each runs ``touch marker``."""
    torch = needs("torch")

    clean_zip = torch_zip({"weight": torch.ones(2, 2)})
    ep = exported_program()
    return {
        "raw-n0": ("state-dict", n0_pickle(marker)),
        # runs os.system, then breaks off: the unpickler has already run it when it fails
        "raw-broken": ("state-dict", n0_pickle(marker)[:-1] + b"\xff"),
        "zip-n0": ("state-dict", rewrite_zip(clean_zip, {"/data.pkl": n0_pickle(marker)})),
        "legacy-plus-zip": ("state-dict", legacy_save(
            {"weight": torch.zeros(2, 2), "payload": Evil(marker)}) + clean_zip),
        "legacy-tar": ("state-dict", legacy_tar(pickle.dumps(Evil(marker), protocol=2))),
        "tar-fallback": ("state-dict", tar_fallback(marker)),
        "ep-weight": ("exported-program", pickled_weight(ep, marker)),
        "ep-inputs": ("exported-program", rewrite_zip(
            ep, {"data/sample_inputs/model.pt": n0_pickle(marker)})),
        "ep-opaque": ("exported-program", opaque_constant(ep, marker)),
        "ep-sympy": ("exported-program", sympy_payload(marker)),
        "ep-native": ("exported-program", rewrite_zip(
            ep, {}, {"data/aotinductor/model/model.so": b"\x7fELF" + bytes(60)})),
    }


UNSAFE_LOAD = {  # how torch itself loads each format, without mlpm
    "state-dict": "torch.load(path, weights_only=False)",
    "exported-program": "torch.export.load(path)",
}


def test_each_hostile_file_really_runs_code_in_its_own_loader(tmp_path):
    """Not vacuous: torch's loaders, left alone, run every payload (but the native one,
    which is not a real library)."""
    proof = tmp_path / "proof"
    proof.mkdir()
    for name, (fmt, data) in hostile_files(tmp_path, proof / "MARK").items():
        if name == "ep-native":
            continue
        path = tmp_path / f"{name}.bin"
        path.write_bytes(data)
        code = (f"import torch\npath = {str(path)!r}\ntry:\n    {UNSAFE_LOAD[fmt]}\n"
                "except Exception:\n    pass\n")
        subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
        assert (proof / "MARK").exists(), f"{name}: the payload did not run in {fmt}'s loader"
        (proof / "MARK").unlink()


def test_the_scanner_flags_every_case_and_reads_benign_files_clean(tmp_path):
    torch = needs("torch")

    marker = tmp_path / "PWNED"
    for name, (fmt, data) in hostile_files(tmp_path, marker).items():
        path = tmp_path / name
        path.write_bytes(data)
        for guess in (fmt, None):
            scan = scan_file(path, guess)
            assert not scan.ok, (name, guess)
            text = " ".join(" ".join(p.reasons) for p in scan.problems)
            assert "system" in text or name == "ep-native", (name, scan)
    benign = {"zip.pt": torch_zip({"w": torch.ones(3), "b": torch.zeros(2, dtype=torch.int64)}),
              "legacy.pt": legacy_save({"w": torch.ones(3), "p": torch.nn.Parameter(
                  torch.zeros(2))}),
              "tar.pt": legacy_tar(), "ep.pt2": exported_program()}
    for name, data in benign.items():
        (tmp_path / name).write_bytes(data)
        fmt = "exported-program" if name.endswith("pt2") else "state-dict"
        scan = scan_file(tmp_path / name, fmt)
        assert scan.ok and scan.pickles >= 1, (name, scan)
    # The benign legacy tar is real: torch reads it back.
    loaded = torch.load(tmp_path / "tar.pt", weights_only=False)
    assert loaded["w"].tolist() == [1.0, 2.0, 3.0]
    assert not marker.exists()


# -- installed from a registry: what `mlpm audit` and `mlpm.load` do ----------------------


def publish_file(registry_root: Path, folder: Path, name: str, fmt: str, data: bytes) -> None:
    folder.mkdir(parents=True)
    file = "model.pt2" if fmt == "exported-program" else "model.pt"
    (folder / file).write_bytes(data)
    (folder / "mlpm.toml").write_text(tomli_w.dumps({"package": {
        "name": name, "version": "1.0.0", "framework": "torch", "files": {fmt: file}}}))
    result = run_mlpm("publish", str(folder), "--registry", str(registry_root), cwd=folder)
    assert result.code == 0, (name, result.err)


@pytest.fixture
def installed(registry, project, tmp_path):
    """Every hostile case and four benign real files, published and installed."""
    torch = needs("torch")

    marker = tmp_path / "PWNED"
    files = hostile_files(tmp_path, marker)
    files |= {"good-zip": ("state-dict", torch_zip({"w": torch.ones(3)})),
              "good-legacy": ("state-dict", legacy_save({"w": torch.ones(3)})),
              "good-tar": ("state-dict", legacy_tar()),
              "good-ep": ("exported-program", exported_program())}
    for name, (fmt, data) in files.items():
        publish_file(registry.root, tmp_path / "src" / name, name, fmt, data)
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    result = run_mlpm("install", *files, cwd=project)
    assert result.code == 0, result.err
    return project, marker, files


HOSTILE = {  # package -> (finding kind, words the finding must hold)
    "raw-n0": ("unsafe-pickle", "imports os.system"),
    "raw-broken": ("unsafe-pickle", "imports os.system"),
    "zip-n0": ("unsafe-pickle", "data.pkl: imports os.system"),
    "legacy-plus-zip": ("unsafe-pickle", "imports posix.system"),
    "legacy-tar": ("unsafe-pickle", "pickle: imports posix.system"),
    "tar-fallback": ("unsafe-pickle", "imports os.system"),
    "ep-weight": ("unsafe-pickle", "data/weights/weight_0: imports posix.system"),
    "ep-inputs": ("unsafe-pickle", "data/sample_inputs/model.pt: imports os.system"),
    "ep-opaque": ("unsafe-pickle", "data/constants/opaque_obj_0: imports os.system"),
    "ep-sympy": ("unsafe-expression", "sympy.sympify, and it names '__import__'"),
    "ep-native": ("native-code", "data/aotinductor/model/model.so: an AOTInductor"),
}


def test_mlpm_audit_names_every_hostile_file_and_passes_the_benign_ones(installed):
    project, marker, files = installed
    result = run_mlpm("audit", "--json", cwd=project)
    assert result.code == 1, (result.out, result.err)
    report = json.loads(result.out)
    found = {}
    for finding in report["findings"]:
        found.setdefault(finding["package"].split("@")[0], []).append(finding)
    assert sorted(found) == sorted(HOSTILE), found
    for name, (kind, words) in HOSTILE.items():
        assert any(f["kind"] == kind and words in f["detail"] and f["artifact"]
                   for f in found[name]), (name, found[name])
    assert report["checked"]["packages"] == len(files) and report["unchecked"] == []
    text = run_mlpm("audit", cwd=project)
    assert text.code == 1 and "ep-sympy@1.0.0 model.pt2" in text.out
    assert f"{sum(len(v) for v in found.values())} findings" in text.out
    print(f"\nFIGURE audit-loaders: {len(files)} packages, {report['checked']['pickles']} "
          f"pickles scanned, findings for {len(found)}/{len(HOSTILE)} hostile, 0 benign")
    # allow-pickle covers pickles the user opted into, never native code or expressions.
    manifest = project / "mlpm.toml"
    manifest.write_text(f"allow-pickle = {json.dumps(sorted(HOSTILE))}\n" + manifest.read_text())
    opted = json.loads(run_mlpm("audit", "--json", cwd=project).out)
    still = sorted({f["package"].split("@")[0] for f in opted["findings"] if not f["allowed"]})
    assert still == ["ep-native", "ep-sympy"], still
    assert not marker.exists()


LOAD_ALL = """
import sys, mlpm
for name in sys.argv[1:]:
    try:
        mlpm.load(name)
        print(name, "LOADED")
    except Exception as exc:
        print(name, "REFUSED", type(exc).__name__, str(exc).replace(chr(10), " "))
"""


def test_loading_refuses_every_hostile_file_and_the_payload_never_runs(installed):
    project, marker, files = installed
    proc = subprocess.run([sys.executable, "-c", LOAD_ALL, *files], cwd=project, timeout=600,
                          capture_output=True, text=True, env={**os.environ, "MLPM_TRUST": "*"})
    verdicts = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in proc.stdout.splitlines()}
    assert not marker.exists(), "a payload ran during mlpm.load"
    for name in HOSTILE:
        assert verdicts[name].startswith("REFUSED"), (name, verdicts.get(name), proc.stderr)
    for name in ("raw-n0", "raw-broken", "zip-n0", "legacy-plus-zip"):  # weights-only
        assert "ModelLoadError" in verdicts[name] and "allow-pickle" in verdicts[name]
    assert "legacy tar format" in verdicts["legacy-tar"]
    assert "legacy tar format" in verdicts["tar-fallback"]
    for name in ("ep-inputs", "ep-opaque", "ep-sympy"):  # load_exported_program's pre-scan
        assert "UnsafeModel" in verdicts[name], verdicts[name]
    assert "__import__" in verdicts["ep-sympy"]
    assert "data/sample_inputs/model.pt" in verdicts["ep-inputs"]
    for name in ("good-zip", "good-legacy", "good-ep"):
        assert verdicts[name] == "LOADED", (name, verdicts[name])
    # The legacy tar format needs full unpickling even when benign: refused, clearly.
    assert verdicts["good-tar"].startswith("REFUSED ModelLoadError"), verdicts["good-tar"]
    print(f"\nFIGURE load-hostile: {sum(v.startswith('REFUSED') for v in verdicts.values())} "
          f"refused of {len(verdicts)}; marker created: {marker.exists()}")


def test_a_hostile_exported_program_is_refused_by_the_loader_itself(tmp_path):
    """The adapter refuses on its own, whatever gate runs before it, and names the member;
    a real exported program still loads and runs."""
    torch = needs("torch")

    from mlpm.errors import UnsafeModel
    from mlpm.frameworks.torch import load_exported_program

    marker = tmp_path / "PWNED"
    (tmp_path / "evil.pt2").write_bytes(pickled_weight(exported_program(), marker))
    with pytest.raises(UnsafeModel, match=r"weights/weight_0 holds a pickle that imports "
                                          r"posix\.system; ask its publisher to re-export"):
        load_exported_program(tmp_path / "evil.pt2")
    assert not marker.exists()
    (tmp_path / "good.pt2").write_bytes(exported_program())
    module = load_exported_program(tmp_path / "good.pt2")
    assert tuple(module(torch.zeros(2, 4)).shape) == (2, 3)


def test_ambiguous_zips_and_unreadable_pickles_are_findings_not_silence(tmp_path):
    """"Cannot tell" is a finding: a member twice, a zip that does not start at byte 0,
    a data.pkl that is not a pickle, a legacy tar whose records run off the end."""
    torch = needs("torch")

    clean = torch_zip({"w": torch.ones(2)})
    with zipfile.ZipFile(io.BytesIO(clean)) as archive:
        data_pkl = next(n for n in archive.namelist() if n.endswith("data.pkl"))
    twice = io.BytesIO(clean)
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(twice, "a") as z:
        z.writestr(data_pkl, pickle.dumps({"w": 1}))
    cases = {
        "twice": twice.getvalue(),
        "shifted": _ZIP_HEADER_ONLY + clean,
        "garbage-pkl": rewrite_zip(clean, {"/data.pkl": b"\xff\x00 not a pickle"}),
        "tar-cut": legacy_tar(claimed=1 << 40),
        "deep": nested_zips(clean, 6),
        # claims a 1 TiB string: the scan must not try to allocate it
        "claims-1tib": b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little"),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        scan = scan_file(tmp_path / name, "state-dict")
        assert [p.kind for p in scan.problems] and all(
            p.kind == "unscannable" for p in scan.problems), (name, scan)
    # A state dict that is not a pickle at all cannot be told safe either.
    (tmp_path / "noise").write_bytes(b"\xff\xfe not a pickle, not a zip, not a tar")
    assert not scan_file(tmp_path / "noise", "state-dict").ok
    assert scan_file(tmp_path / "noise", "onnx").ok


def nested_zips(inner: bytes, depth: int) -> bytes:
    """``inner`` as model.pt in a zip, in a zip, ... ``depth`` times (a zip can even hold
    itself: the scan must stop somewhere)."""
    for _ in range(depth):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("archive/model.pt", inner)
        inner = out.getvalue()
    return inner


# A zip local header (what torch checks) in front of a zip that starts later: zipfile reads
# the later one; torch's reader would not agree on where members are.
_ZIP_HEADER_ONLY = b"PK\x03\x04" + bytes(26)



def test_a_state_dict_torch_cannot_read_is_refused_in_one_sentence(tmp_path):
    from mlpm.errors import ModelLoadError
    from mlpm.frameworks.torch import load_state_dict
    from tests.models import make_torchscript

    make_torchscript(tmp_path / "script.pt", 1)
    with pytest.raises(ModelLoadError, match=r"^this file is not a state dict torch can load "
                                             r"\(Cannot use ``weights_only=True`` with "
                                             r"TorchScript.*republish it with torch\.save\.$"):
        load_state_dict(tmp_path / "script.pt")
    (tmp_path / "tar.pt").write_bytes(legacy_tar())
    with pytest.raises(ModelLoadError, match="legacy tar format"):
        load_state_dict(tmp_path / "tar.pt")
    assert load_state_dict(tmp_path / "tar.pt", allow_pickle=True)["w"].tolist() == [1, 2, 3]


def test_mutated_files_never_crash_or_stall_the_scan(tmp_path):
    """A thousand byte-level mutations of the files above: the scan answers every one
    (a finding or none), fast, and never raises."""
    import random
    import time

    rng = random.Random(12)
    seeds = [data for _, data in hostile_files(tmp_path, tmp_path / "M").values()]
    seeds += [legacy_tar(), exported_program()]
    path = tmp_path / "mutant"
    slowest = 0.0
    for _ in range(1000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            if not data:
                break
            at = rng.randrange(len(data))
            if rng.random() < 0.6:
                data[at] = rng.randrange(256)
            elif rng.random() < 0.5:
                del data[at:at + rng.randint(1, 64)]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 16))
        path.write_bytes(bytes(data))
        for fmt in (None, "state-dict", "exported-program"):
            start = time.perf_counter()
            scan_file(path, fmt)
            slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 2.0, slowest
    print(f"\nFIGURE audit-fuzz: 3000 scans of mutated files, slowest {slowest * 1000:.0f} ms")
