"""The interface record of a package version, computed at publish time.

What can be read from the files is read (ONNX graph inputs/outputs, SavedModel
signatures, hubconf.py entrypoints); what cannot (TorchScript, remote artifacts) comes
from the publisher's ``[package.interface]``. The record also gets a weights digest so
that the registry can tell new weights (MINOR) from a repackaging (PATCH).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# Declared interface keys that describe the contract (the rest is kept as information).
CONTRACT_KEYS = ("entrypoints", "default-entrypoint", "signatures", "preprocessing", "labels")


def _declared(declared: dict | None) -> dict:
    """The publisher's [package.interface], with digits-style inputs/outputs as one signature."""
    iface = dict(declared or {})
    if "inputs" in iface or "outputs" in iface:
        sig = {"name": "main", "inputs": iface.pop("inputs", []),
               "outputs": iface.pop("outputs", [])}
        iface.setdefault("signatures", []).append(sig)
    for sig in iface.get("signatures", []):
        for io in ("inputs", "outputs"):
            for tensor in sig.get(io, []):
                tensor["shape"] = _shape(tensor.get("shape"))
    return iface


def _shape(shape):
    if shape is None:
        return None
    return [d if isinstance(d, (int, str)) else None for d in shape]


def _zip_tensors_digest(path: Path) -> str:
    """sha256 over the tensor storages of a TorchScript / exported-program zip archive."""
    import zipfile

    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if "/data/" in n and not n.endswith("/"))
        for name in names:
            digest.update(name.split("/", 1)[-1].encode() + b"\0")
            digest.update(archive.read(name))
    return "sha256:" + digest.hexdigest()


def _as_folder(path: Path, marker: str, scratch: list[Path]) -> Path:
    """A folder to read: ``path`` itself, or an archive extracted into a scratch dir."""
    if path.is_dir():
        return path
    import tempfile

    from mlpm.archive import extract, find_root

    tmp = Path(tempfile.mkdtemp(prefix="mlpm-publish-"))
    scratch.append(tmp)
    return find_root(extract(path, tmp / "entry"), marker)


def describe(kind: str, files: list[tuple[str, str | None, Path | None, str]],
             declared: dict | None) -> tuple[dict, str | None]:
    """(interface record, weights digest) for a package about to be published.

    ``files`` lists (format, role, local path or None for a remote artifact, sha256 or
    prefix) for every artifact. Returns the weights digest None when it cannot be known
    (a remote artifact whose full digest is not published).
    """
    import shutil

    scratch: list[Path] = []
    try:
        return _describe(files, declared, scratch)
    finally:
        for tmp in scratch:
            shutil.rmtree(tmp, ignore_errors=True)


def _describe(files, declared, scratch) -> tuple[dict, str | None]:
    iface = _declared(declared)
    weights: list[str] = []
    known = True
    discovered: list[str] = []
    for fmt, role, path, digest in files:
        if path is None:
            if role in (None, "weights", "model"):
                known = known and len(digest) == 64
                weights.append(digest)
            continue
        if fmt == "onnx":
            from mlpm.interface import onnx

            if "signatures" not in discovered:
                iface["signatures"] = onnx.read_interface(path)["signatures"]
                discovered.append("signatures")
            weights.append(onnx.weights_digest(path))
        elif fmt == "savedmodel":
            from mlpm.interface import savedmodel

            folder = _as_folder(path, "saved_model.pb", scratch)
            iface["signatures"] = savedmodel.read_signatures(folder)
            discovered.append("signatures")
            weights.append(savedmodel.weights_digest(folder))
        elif fmt == "torch-hub" and role == "code":
            from mlpm.interface import hubconf

            found = hubconf.discover(_as_folder(path, "hubconf.py", scratch))
            iface["entrypoints"] = found["entrypoints"]
            iface["hub-dependencies"] = found.get("dependencies")
            if found.get("notes"):
                iface["notes"] = found["notes"]
            discovered.append("entrypoints")
        elif fmt in ("torchscript", "exported-program"):
            weights.append(_zip_tensors_digest(path))
        elif path.is_file():  # hub weights, state dicts, tflite: the bytes are the weights
            from mlpm.store import file_sha256

            weights.append("sha256:" + file_sha256(path))
    if discovered:
        iface["discovered"] = discovered
    if not weights:
        return iface, None
    if not known:  # only prefixes/URLs are public: still tells different weights apart
        ids = sorted(f"{f}|{d}" for f, role, p, d in files if p is None
                     and role in (None, "weights", "model"))
        urls = hashlib.sha256("\n".join(ids).encode()).hexdigest()
        return iface, "unverified:" + urls
    combined = hashlib.sha256("\n".join(sorted(set(weights))).encode()).hexdigest()
    return iface, "sha256:" + combined
