"""The interface record of a package version, computed at publish time.

What can be read from the files is read (ONNX graph inputs/outputs, SavedModel
signatures, exported-program inputs/outputs, TorchScript forward() parameters, TFLite
signature defs, hubconf.py entrypoints); what cannot (TorchScript shapes, remote artifacts) comes
from the publisher's ``[package.interface]``. The record also gets a weights digest and a
code digest (the computation: ONNX graph, TorchScript code, exported-program graph, hub
Python code) so that the registry can tell new weights or new code (MINOR) from a
repackaging (PATCH).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlpm.registry.records import Interface


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


def _zip_code_digest(path: Path, fmt: str) -> str:
    """sha256 over the computation in a TorchScript / exported-program zip archive.

    TorchScript: the generated code (``code/**.py``) and ``constants.pkl``, with the
    ``___torch_mangle_N`` suffixes a second trace in one process adds taken out; an
    exported program: its serialized graph (``models/``). Tensor storages, debug info and
    the per-save ``serialization_id`` do not count.
    """
    import re
    import zipfile

    # linear/___torch_mangle_6.py -> linear.py, linear.___torch_mangle_6.Linear -> linear.Linear
    mangle = re.compile(rb"[./]___torch_mangle_\d+")
    parts = []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            inner = name.split("/", 1)[-1]
            if fmt == "torchscript":
                wanted = (inner.startswith("code/") and inner.endswith(".py")) or \
                    inner == "constants.pkl"
            else:
                wanted = inner.startswith("models/")
            if wanted:
                key = mangle.sub(b"", inner.encode())
                parts.append((key, mangle.sub(b"", archive.read(name))))
    digest = hashlib.sha256()
    for key, data in sorted(parts):
        digest.update(key + b"\0" + str(len(data)).encode() + b"\0" + data)
    return "sha256:" + digest.hexdigest()


def _python_code_digest(folder: Path) -> str:
    """sha256 over the Python of a hub code folder, as syntax trees without docstrings.

    Comments, formatting and docstrings do not count; any change to what runs does.
    """
    import ast

    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*.py")):
        if not file.is_file():
            continue
        source = file.read_bytes()
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            text = source
        else:
            for node in ast.walk(tree):
                body = getattr(node, "body", None)
                if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                        isinstance(body[0].value, ast.Constant) and \
                        isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
            text = ast.dump(tree, include_attributes=False).encode()
        rel = file.relative_to(folder).as_posix().encode()
        digest.update(rel + b"\0" + str(len(text)).encode() + b"\0" + text)
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
             declared: dict | None) -> tuple[Interface, str | None, str | None]:
    """(interface record, weights digest, code digest) for a package about to be published.

    ``files`` lists (format, role, local path or None for a remote artifact, sha256 or
    prefix) for every artifact. A digest is None when it cannot be known: the weights of
    a remote artifact whose full sha256 is not published, the code of a remote artifact
    or of a SavedModel (its graph carries names that change with every export).
    """
    from mlpm.files import remove_tree

    scratch: list[Path] = []
    try:
        iface, weights, code = _describe(files, declared, scratch)
        return Interface.from_json(iface), weights, code
    finally:
        for tmp in scratch:
            remove_tree(tmp)


def _describe(files, declared, scratch) -> tuple[dict, str | None, str | None]:
    iface = _declared(declared)
    weights: list[str] = []
    code: list[str] | None = []  # None once a part's code cannot be known
    known = True
    discovered: list[str] = []
    shapeless = False  # the signatures read so far are TorchScript's, without shapes
    for fmt, role, path, digest in files:
        if path is None:
            if role in (None, "weights", "model"):
                known = known and len(digest) == 64
                weights.append(digest)
            if role in (None, "code", "model"):
                code = None
            continue
        if fmt == "onnx":
            from mlpm.interface import onnx

            if "signatures" not in discovered or shapeless:
                iface["signatures"] = onnx.read_interface(path)["signatures"]
                shapeless = False
                if "signatures" not in discovered:
                    discovered.append("signatures")
            weights.append(onnx.weights_digest(path))
            if code is not None:
                code.append(f"onnx|{onnx.graph_digest(path)}")
        elif fmt == "savedmodel":
            from mlpm.interface import savedmodel

            folder = _as_folder(path, "saved_model.pb", scratch)
            iface["signatures"] = savedmodel.read_signatures(folder)
            shapeless = False
            if "signatures" not in discovered:
                discovered.append("signatures")
            weights.append(savedmodel.weights_digest(folder))
            code = None
        elif fmt == "torch-hub" and role == "code":
            from mlpm.interface import hubconf

            folder = _as_folder(path, "hubconf.py", scratch)
            if code is not None:
                code.append(f"hub|{_python_code_digest(folder)}")
            found = hubconf.discover(folder)
            iface["entrypoints"] = found["entrypoints"]
            iface["hub-dependencies"] = found.get("dependencies")
            if found.get("notes"):
                iface["notes"] = found["notes"]
            discovered.append("entrypoints")
        elif fmt in ("torchscript", "exported-program"):
            if fmt == "exported-program" and ("signatures" not in discovered or shapeless):
                from mlpm.errors import InvalidModelFile
                from mlpm.interface import exported

                try:  # best effort: torch.export.load (after mlpm's scan) judges the file
                    iface["signatures"] = exported.read_signatures(path)
                except InvalidModelFile:
                    pass
                else:
                    shapeless = False
                    if "signatures" not in discovered:
                        discovered.append("signatures")
            elif fmt == "torchscript" and "signatures" not in discovered and \
                    not iface.get("signatures"):  # declared signatures (with shapes) win
                from mlpm.errors import InvalidModelFile
                from mlpm.interface import torchscript

                try:  # best effort: torch.jit.load is the judge of a TorchScript file
                    iface["signatures"] = torchscript.read_signatures(path)
                except InvalidModelFile:
                    pass
                else:
                    shapeless = True  # another format's signatures, with shapes, replace these
                    discovered.append("signatures")
            weights.append(_zip_tensors_digest(path))
            if code is not None:
                code.append(f"{fmt}|{_zip_code_digest(path, fmt)}")
        elif path.is_file():  # hub weights, state dicts, tflite: the bytes are the weights
            if fmt == "tflite" and ("signatures" not in discovered or shapeless):
                from mlpm.errors import InvalidModelFile
                from mlpm.interface import tflite

                try:  # best effort: the TFLite interpreter is the judge of the file
                    iface["signatures"] = tflite.read_signatures(path)
                except InvalidModelFile:
                    pass
                else:
                    shapeless = False
                    if "signatures" not in discovered:
                        discovered.append("signatures")
            from mlpm.store import file_sha256

            weights.append("sha256:" + file_sha256(path))
    if discovered:
        iface["discovered"] = discovered
    code_digest = None
    if code:
        code_digest = "sha256:" + hashlib.sha256("\n".join(sorted(code)).encode()).hexdigest()
    if not weights:
        return iface, None, code_digest
    if not known:  # only prefixes/URLs are public: still tells different weights apart
        ids = sorted(f"{f}|{d}" for f, role, p, d in files if p is None
                     and role in (None, "weights", "model"))
        urls = hashlib.sha256("\n".join(ids).encode()).hexdigest()
        return iface, "unverified:" + urls, code_digest
    combined = hashlib.sha256("\n".join(sorted(set(weights))).encode()).hexdigest()
    return iface, "sha256:" + combined, code_digest
