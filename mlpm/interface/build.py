"""The interface record of a package version, computed at publish time.

What can be read from the files is read (ONNX graph inputs/outputs, SavedModel
signatures, exported-program inputs/outputs, TorchScript forward() parameters, TFLite
signature defs, hubconf.py entrypoints); what cannot (TorchScript shapes, remote artifacts) comes
from the publisher's ``[package.interface]``. The record also gets a weights digest and a
code digest (the computation: ONNX graph, TorchScript code, exported-program graph, hub
Python code) so that the registry can tell new weights or new code (MINOR) from a
repackaging (PATCH), and the same two digests per format, so that a release that only
adds formats is told from one with new weights. A package with several formats keeps
each format's own signatures (``formats``): an ONNX export names and orders its tensors
its own way.
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


class Description:
    """What publish learns from a package's files: the interface record, the weights and
    code digests of the whole package, and of each format (``format-digests``).

    ``weights_over`` / ``code_over`` give the digest of some formats only, computed as
    the package digest is: a release that only adds formats compares equal with the
    previous one's digest over the formats they share.
    """

    def __init__(self, interface: Interface, weights: list[tuple[str, str, bool]],
                 code: list[tuple[str, str | None]]):
        self.interface = interface
        self._weights = weights  # (format, digest or remote id, remote)
        self._code = code  # (format, "kind|digest" or None when it cannot be known)

    def __iter__(self):
        """``interface, weights, code = describe(...)``."""
        return iter((self.interface, self.weights, self.code))

    @property
    def weights(self) -> str | None:
        """The weights digest of the whole package (None: it has no weights)."""
        return _weights_digest(self._weights)

    @property
    def code(self) -> str | None:
        """The code digest of the whole package (None: unknown or no code)."""
        return _code_digest(self._code)

    def weights_over(self, formats: list[str]) -> str | None:
        return _weights_digest([p for p in self._weights if p[0] in formats])

    def code_over(self, formats: list[str]) -> str | None:
        return _code_digest([p for p in self._code if p[0] in formats])

    def digests(self, formats: list[str]) -> dict[str, dict[str, str]]:
        """``format-digests``: per format, its weights and code digests where known."""
        table = {}
        for fmt in formats:
            own = {"weights": self.weights_over([fmt]), "code": self.code_over([fmt])}
            table[fmt] = {k: v for k, v in own.items() if v is not None}
        return table


def _weights_digest(parts: list[tuple[str, str, bool]]) -> str | None:
    if not parts:
        return None
    if any(remote and len(d) != 64 for _, d, remote in parts):
        # only prefixes/URLs are public: still tells different weights apart
        ids = sorted(f"{f}|{d}" for f, d, remote in parts if remote)
        return "unverified:" + hashlib.sha256("\n".join(ids).encode()).hexdigest()
    combined = hashlib.sha256("\n".join(sorted({d for _, d, _ in parts})).encode())
    return "sha256:" + combined.hexdigest()


def _code_digest(parts: list[tuple[str, str | None]]) -> str | None:
    if any(d is None for _, d in parts):
        return None  # a part's code cannot be known
    entries = sorted(d for _, d in parts if d is not None)
    if not entries:
        return None
    return "sha256:" + hashlib.sha256("\n".join(entries).encode()).hexdigest()


def describe(kind: str, files: list[tuple[str, str | None, Path | None, str]],
             declared: dict | None) -> Description:
    """The interface record and digests of a package about to be published.

    ``files`` lists (format, role, local path or None for a remote artifact, sha256 or
    prefix) for every artifact. A digest is None when it cannot be known: the weights of
    a remote artifact whose full sha256 is not published, the code of a remote artifact
    or of a SavedModel (its graph carries names that change with every export). Each
    format's signatures are read from its own file; when the package has several formats
    the record keeps them all in ``formats``.
    """
    from mlpm.files import remove_tree

    scratch: list[Path] = []
    try:
        return _describe(files, declared, scratch)
    finally:
        for tmp in scratch:
            remove_tree(tmp)


def _read_signatures(fmt: str, path: Path, declared: bool) -> tuple[list[dict] | None, bool]:
    """(signatures read from the file or None, whether they lack shapes)."""
    from mlpm.errors import InvalidModelFile

    if fmt == "onnx":
        from mlpm.interface import onnx

        return onnx.read_interface(path)["signatures"], False
    if fmt == "savedmodel":
        from mlpm.interface import savedmodel

        return savedmodel.read_signatures(path), False
    try:  # best effort: the framework's own loader is the judge of these files
        if fmt == "exported-program":
            from mlpm.interface import exported

            return exported.read_signatures(path), False
        if fmt == "torchscript" and not declared:  # declared signatures (with shapes) win
            from mlpm.interface import torchscript

            return torchscript.read_signatures(path), True
        if fmt == "tflite" and path.is_file():
            from mlpm.interface import tflite

            return tflite.read_signatures(path), False
    except InvalidModelFile:
        pass
    return None, False


# Which format's signatures become the package's ``signatures`` when several are read:
# a SavedModel's, then the first file's that has shapes.
def _primary(own: dict[str, tuple[list[dict], bool]]) -> list[dict] | None:
    if "savedmodel" in own:
        return own["savedmodel"][0]
    for sigs, shapeless in own.values():
        if not shapeless:
            return sigs
    return next(iter(own.values()))[0] if own else None


def _describe(files, declared, scratch) -> Description:
    iface = _declared(declared)
    declared_signatures = iface.get("signatures")
    weights: list[tuple[str, str, bool]] = []
    code: list[tuple[str, str | None]] = []
    own: dict[str, tuple[list[dict], bool]] = {}  # format -> (its signatures, shapeless)
    discovered: list[str] = []
    for fmt, role, path, digest in files:
        if path is None:
            if role in (None, "weights", "model"):
                weights.append((fmt, digest, True))
            if role in (None, "code", "model"):
                code.append((fmt, None))
            continue
        if fmt == "savedmodel":
            path = _as_folder(path, "saved_model.pb", scratch)
        if fmt not in own and fmt != "torch-hub":
            sigs, shapeless = _read_signatures(fmt, path, bool(iface.get("signatures")))
            if sigs is not None:
                own[fmt] = (sigs, shapeless)
                if "signatures" not in discovered:
                    discovered.append("signatures")
        if fmt == "onnx":
            from mlpm.interface import onnx

            weights.append((fmt, onnx.weights_digest(path), False))
            code.append((fmt, f"onnx|{onnx.graph_digest(path)}"))
        elif fmt == "savedmodel":
            from mlpm.interface import savedmodel

            weights.append((fmt, savedmodel.weights_digest(path), False))
            code.append((fmt, None))
        elif fmt == "torch-hub" and role == "code":
            from mlpm.interface import hubconf

            folder = _as_folder(path, "hubconf.py", scratch)
            code.append((fmt, f"hub|{_python_code_digest(folder)}"))
            found = hubconf.discover(folder)
            iface["entrypoints"] = found["entrypoints"]
            iface["hub-dependencies"] = found.get("dependencies")
            if found.get("notes"):
                iface["notes"] = found["notes"]
            discovered.append("entrypoints")
        elif fmt in ("torchscript", "exported-program"):
            weights.append((fmt, _zip_tensors_digest(path), False))
            code.append((fmt, f"{fmt}|{_zip_code_digest(path, fmt)}"))
        elif path.is_file():  # hub weights, state dicts, tflite: the bytes are the weights
            from mlpm.store import file_sha256

            weights.append((fmt, "sha256:" + file_sha256(path), False))
    primary = _primary(own)
    if primary is not None:
        iface["signatures"] = primary
    formats = list(dict.fromkeys(f for f, _, _, _ in files))
    if len(formats) > 1 and own:
        # each format as its own file says; the package's `signatures` stay its primary's
        iface["formats"] = {f: {"signatures": own[f][0]} for f in formats if f in own}
        if declared_signatures and "torchscript" in formats and "torchscript" not in own:
            # TorchScript records no shapes: the declared signatures are its own
            iface["formats"]["torchscript"] = {"signatures": declared_signatures}
    if discovered:
        iface["discovered"] = discovered
    return Description(Interface.from_json(iface), weights, code)
