"""``convert``: a model in another format, as a cached, parity-checked store entry.

A conversion is a function of (source digest, target format, signature, converter
versions, options), hashed into a key. Its entry, ``entries/converted/<key>/`` in the
store, holds the converted file(s) and ``conversion.json`` (digest, converter versions,
parity numbers). It is built in a unique temp folder beside it and renamed into place
under a per-key file lock: concurrent processes convert once, and a reader sees a whole
entry or none. A conversion whose outputs differ from the original's by more than the
tolerance is refused and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from mlpm.convert.errors import ConversionError
from mlpm.convert.routes import (
    ROUTES,
    check_route,
    converter_versions,
    default_tolerance,
    missing_packages,
    runtime_versions,
)
from mlpm.files import remove_tree
from mlpm.store import Store, file_sha256, write_atomic

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from collections.abc import Callable

    from mlpm.convert.samples import Samples

ENTRY_VERSION = 1  # bump when the entry layout changes: old entries are then not reused
META = "conversion.json"


class Source:
    """What to convert.

    ``kind`` is ``torch`` (``load_module()`` returns an nn.Module in eval mode, e.g. from a
    hub entrypoint), ``torchscript`` or ``exported-program`` (``path`` to the file),
    ``savedmodel`` (``path`` to the folder) or ``onnx`` (``path``). ``digest`` identifies
    the source exactly (e.g. sha256 over its artifacts, entrypoint and keyword arguments):
    equal digests must mean the same model. ``signatures`` are the interface's signatures
    (``{"name", "inputs": [{"name", "dtype", "shape"}], "outputs": [...]}``), where input
    shapes come from; a SavedModel's are read from its folder when not given.

    >>> Source("torch", "sha256:ab12...", load_module=lambda: resnet50().eval(),
    ...        label="resnet50@1.2.0")  # doctest: +SKIP
    """

    __slots__ = ("kind", "digest", "path", "load_module", "signatures", "label")

    def __init__(self, kind: str, digest: str, *, path: Path | None = None,
                 load_module: Callable | None = None, signatures: list[dict] | None = None,
                 label: str = ""):
        if kind not in ROUTES:
            raise ConversionError(f"mlpm cannot convert a '{kind}' model; the sources it knows "
                                  f"are {', '.join(ROUTES)}.")
        if not digest:
            raise ConversionError("a conversion source needs a digest that identifies it "
                                  "exactly; pass the sha256 of its artifacts.")
        if kind == "torch" and load_module is None:
            raise ConversionError("a torch source needs load_module=, a function returning "
                                  "the nn.Module to convert.")
        if kind != "torch" and path is None:
            raise ConversionError(f"a {kind} source needs path= (its file or folder).")
        self.kind, self.digest, self.load_module = kind, digest, load_module
        self.path = Path(path) if path is not None else None
        self.signatures = signatures
        self.label = label or (f"the {kind} model at {self.path}" if self.path
                               else f"the {kind} model")

    def __repr__(self) -> str:
        return f"Source({self.kind!r}, {self.digest!r}, label={self.label!r})"


class Conversion:
    """A converted model in the store: where it is, what made it, how close it computes.

    ``path`` is the converted file, or the entry folder when a SavedModel became one file
    per signature (``file(signature)`` gives each); ``digest`` is the sha256 of the file
    (of the files, by name, when several); ``parity`` has ``max_abs``, ``max_rel``,
    ``tolerance``, ``samples``, ``inputs``, ``sample_inputs`` (what the values were:
    ``publisher-samples``, ``user:sha256:HEX``, ``publisher-values`` or ``random``) and
    ``sample_text`` (the same for people), and ``per_signature`` for several.
    """

    __slots__ = ("format", "path", "digest", "converter", "parity", "reused", "key",
                 "signature", "files", "signature_files", "sizes", "source", "options",
                 "created", "seconds", "entry")

    def __init__(self, entry: Path, meta: dict, reused: bool):
        self.entry = entry
        self.format: str = meta["format"]
        self.files: list[str] = list(meta["files"])
        self.signature_files: dict[str, str] = dict(meta.get("signature_files") or {})
        self.path: Path = entry / self.files[0] if len(self.files) == 1 else entry
        self.digest: str = meta["digest"]
        self.sizes: dict[str, int] = dict(meta["sizes"])
        self.converter: dict[str, str] = dict(meta["converter"])
        self.parity: dict = meta["parity"]
        self.key: str = meta["key"]
        self.signature: str | None = meta.get("signature")
        self.source: dict = meta["source"]
        self.options: dict = meta["options"]
        self.created: str = meta.get("created", "")
        self.seconds: float = meta.get("seconds", 0.0)
        self.reused = reused

    def file(self, signature: str | None = None) -> Path:
        """The converted file of ``signature`` (the only file when None)."""
        if signature is None:
            if len(self.files) != 1:
                raise ConversionError(f"this {self.format} conversion has one file per "
                                      f"signature ({', '.join(self.signature_files)}); "
                                      "name the signature.")
            return self.path
        if signature not in self.signature_files:
            raise ConversionError(f"this {self.format} conversion has no signature "
                                  f"'{signature}'; it has "
                                  f"{', '.join(self.signature_files) or 'none'}.")
        return self.entry / self.signature_files[signature]

    def to_json(self) -> dict:
        return {"format": self.format, "path": str(self.path), "digest": self.digest,
                "files": self.files, "signature_files": self.signature_files,
                "sizes": self.sizes, "converter": self.converter, "parity": self.parity,
                "reused": self.reused, "key": self.key, "signature": self.signature,
                "source": self.source, "options": self.options, "created": self.created,
                "seconds": self.seconds}

    def __repr__(self) -> str:
        return (f"Conversion({self.format!r}, {str(self.path)!r}, max_abs="
                f"{self.parity.get('max_abs')}, reused={self.reused})")

    @classmethod
    def read(cls, entry: Path, verify: bool = True) -> Conversion | None:
        """The complete, intact conversion in ``entry``, or None (absent or damaged).

        ``verify`` re-hashes the files against the recorded digest; without it only
        their sizes are compared (for hot paths that trust the store).
        """
        try:
            meta = json.loads((entry / META).read_text())
            if meta.get("mlpm-conversion") != ENTRY_VERSION:
                return None
            files, sizes = meta["files"], meta["sizes"]
            if any((entry / f).stat().st_size != sizes[f] for f in files):
                return None
            if verify and files_digest(entry, files) != meta["digest"]:
                return None
            return cls(entry, meta, reused=True)
        except (OSError, ValueError, KeyError, TypeError):
            return None


def files_digest(folder: Path, files: list[str]) -> str:
    """sha256 of the one file, or over (name, size, content) of several, by name."""
    if len(files) == 1:
        return file_sha256(folder / files[0])
    digest = hashlib.sha256()
    for name in sorted(files):
        path = folder / name
        digest.update(b"%d:%s%d:" % (len(name.encode()), name.encode(), path.stat().st_size))
        digest.update(bytes.fromhex(file_sha256(path)))
    return digest.hexdigest()


def conversion_key(source: Source, target: str, signature: str | None,
                   converter: dict[str, str], options: dict) -> str:
    # the declared signatures decide the shapes (so the graph) the conversion gets
    payload = {"mlpm-conversion": ENTRY_VERSION, "kind": source.kind, "source": source.digest,
               "target": target, "signature": signature, "signatures": source.signatures,
               "converter": converter, "options": options}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def convert(source: Source, target: str, *, store: Store, tolerance: float | None = None,
            input_shapes: dict[str, list[int]] | None = None, signature: str | None = None,
            progress: Callable[[str], None] | None = None, verify: bool = True,
            samples: Samples | None = None) -> Conversion:
    """``source`` converted to ``target``, parity-checked, from the store if done before.

    ``tolerance`` bounds the max absolute error between the original's and the
    converted model's outputs on deterministic samples (default 1e-4; 1e-3 for TFLite).
    ``input_shapes`` gives dims the signature leaves open (``-1`` first: a variable
    batch). ``signature`` picks one; for a SavedModel, None converts every signature
    (one file each for TFLite and ONNX). ``progress`` receives one-line stage messages.
    ``verify`` re-hashes a cached result before reusing it (a damaged one is rebuilt).
    ``samples`` (mlpm.convert.samples.Samples) gives inputs real values, for the export
    and the parity check: a model that rejects noise converts, and parity is measured on
    data like the data it will see.

    >>> conv = convert(Source("savedmodel", digest, path=folder, label="mobilenet@2.0.0"),
    ...                "tflite", store=Store())  # doctest: +SKIP
    >>> conv.path, conv.parity["max_abs"], conv.reused  # doctest: +SKIP
    (PosixPath('.../entries/converted/5d1c.../model.tflite'), 2.9e-08, False)
    """
    from mlpm.convert.samples import parse_input_shapes

    label = source.label
    check_route(source.kind, target, label)
    missing = missing_packages(source.kind, target)
    if missing:
        raise ConversionError(
            f"converting {label} to {target} needs the Python package"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}, not installed here; run "
            f"`pip install {' '.join(missing)}` (or `pip install 'mlpm[all]'`).")
    if target == "js":
        from mlpm.convert.js import runtime

        runtime()  # node and onnxruntime-node, checked before a long conversion
    shapes = parse_input_shapes(input_shapes)
    tol = default_tolerance(target) if tolerance is None else float(tolerance)
    if not tol >= 0:
        raise ConversionError(f"the tolerance must be a number >= 0, not {tolerance!r}; "
                              "pass e.g. --tolerance 1e-4.")
    converter = converter_versions(source.kind, target)
    options = {"tolerance": tol, "input_shapes": {k: shapes[k] for k in sorted(shapes)}}
    if samples:  # other values can give another graph (a Python number is fixed in it)
        options["samples"] = samples.key()
    key = conversion_key(source, target, signature, converter, options)
    root = store._dir("entries", "converted")
    entry = root / key
    found = Conversion.read(entry, verify)
    if found is not None:
        return found
    with store.blob_lock("convert-" + key):
        found = Conversion.read(entry, verify)  # another process may have just built it
        if found is not None:
            return found
        _discard(root, key)
        tmp = root / f".{key}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        tmp.mkdir()
        try:
            meta = _build(source, target, tmp, signature, shapes, tol,
                          progress or (lambda message: None), samples)
            meta.update({"mlpm-conversion": ENTRY_VERSION, "key": key, "format": target,
                         "signature": signature, "converter": converter, "options": options,
                         "source": {"kind": source.kind, "digest": source.digest,
                                    "label": label}})
            for name in meta["files"]:
                os.chmod(tmp / name, 0o444)  # like blobs: the digest must stay true
            write_atomic(tmp / META, json.dumps(meta, indent=1, sort_keys=True))
            os.rename(tmp, entry)
        except BaseException:
            remove_tree(tmp)
            raise
    return Conversion(entry, meta, reused=False)


def _discard(root: Path, key: str) -> None:
    """Remove a damaged entry and temp folders of crashed builds (the caller holds the
    key's lock, so no build of this key is running)."""
    entry = root / key
    if entry.exists():
        trash = root / f".{key}.{os.urandom(4).hex()}.trash"
        os.rename(entry, trash)  # readers see no entry rather than half of one
        remove_tree(trash)
    for stale in root.glob(f".{key}.*"):
        remove_tree(stale)


def _build(source: Source, target: str, folder: Path, signature: str | None,
           shapes: dict[str, list[int]], tolerance: float, progress,
           samples: Samples | None = None) -> dict:
    """Convert into ``folder`` and check parity; returns the entry's metadata."""
    from mlpm.convert import parity
    from mlpm.convert.samples import input_specs

    started = time.monotonic()
    label = source.label
    if source.kind == "savedmodel":
        from mlpm.convert import tensorflow as tf_adapter

        plans = _savedmodel_plans(source, signature, shapes, samples)
        result = tf_adapter.build(source, target, folder, plans, progress)
        per = {}
        for sig, run in result["per_signature"].items():
            where = f"{label} (signature '{sig}')" if len(plans) > 1 else label
            pairs = [parity.align(e, a, where, target)
                     for e, a in zip(run["expected"], run["actual"], strict=True)]
            numbers = parity.measure([p[1] for p in pairs], [p[2] for p in pairs],
                                     pairs[0][0], where, target)
            parity.check(numbers, tolerance, where, target,
                         _sources(plans[sig], samples)["sample_text"])
            per[sig] = {**numbers, "samples": len(pairs), "inputs": _inputs(run["inputs"]),
                        "sample_shapes": run["sample_shapes"]}
        report = _overall(per, tolerance)
        report.update(_sources([s for specs in plans.values() for s in specs], samples))
        signature_files = result["signature_files"]
    else:
        from mlpm.convert import torch as torch_adapter

        chosen = _torch_signature(source, signature)
        specs = input_specs(chosen, shapes, label, samples)
        outputs = [o["name"] for o in (chosen or {}).get("outputs") or []]
        build = torch_adapter.build
        if source.kind == "onnx":  # a published ONNX file: copied, checked where JS runs it
            from mlpm.convert.js import build_from_onnx as build
        result = build(source, target, folder, specs, outputs, progress)
        numbers = parity.measure(result["expected"], result["actual"], result["names"], label,
                                 target)
        used = _sources(specs, samples)
        parity.check(numbers, tolerance, label, target, used["sample_text"])
        report = {**numbers, "tolerance": tolerance, "samples": len(result["expected"]),
                  "inputs": _inputs(result["inputs"]), "sample_shapes": result["sample_shapes"],
                  **used}
        if result.get("fixed"):
            report["fixed"] = result["fixed"]
        signature_files = {chosen["name"]: result["files"][0]} if chosen else {}
    report["runtime"] = runtime_versions(target)
    files = result["files"]
    return {"files": files, "signature_files": signature_files,
            "sizes": {f: (folder / f).stat().st_size for f in files},
            "digest": files_digest(folder, files), "parity": report,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.monotonic() - started, 3)}


def _sources(specs: list, samples: Samples | None) -> dict:
    """The parity report's account of its inputs: ``sample_inputs`` (what mlpm.lock
    records: ``user:sha256:HEX``, ``publisher-samples``, ``publisher-values`` or ``random``),
    ``sample_text`` for people, and ``input_sources`` (input -> file, values or random)."""
    from mlpm.convert.samples import sources

    found = sources(specs, samples)
    return {"sample_inputs": found["inputs"], "sample_text": found["text"],
            "input_sources": found["per_input"]}


def _inputs(specs: list[dict]) -> dict:
    return {s["name"]: s["shape"] for s in specs}


def _overall(per: dict, tolerance: float) -> dict:
    worst = max(per, key=lambda s: per[s]["max_abs"])
    inputs: dict = {}
    for run in per.values():
        inputs.update(run["inputs"])
    return {"max_abs": per[worst]["max_abs"], "max_rel": max(p["max_rel"] for p in per.values()),
            "worst": f"signature '{worst}', {per[worst]['worst']}", "tolerance": tolerance,
            "samples": min(p["samples"] for p in per.values()), "inputs": inputs,
            "per_signature": per}


def _torch_signature(source: Source, signature: str | None) -> dict | None:
    sigs = source.signatures or []
    if signature is None:
        return sigs[0] if sigs else None
    for sig in sigs:
        if sig.get("name") == signature:
            return sig
    raise ConversionError(f"{source.label} has no signature '{signature}'; it has "
                          f"{', '.join(s.get('name', '?') for s in sigs) or 'none'}.")


def _savedmodel_plans(source: Source, signature: str | None,
                      shapes: dict[str, list[int]], samples: Samples | None = None) -> dict:
    """Signature name -> its input specs, for the requested signature(s)."""
    from mlpm.convert.samples import input_specs

    sigs = source.signatures
    if sigs is None:
        from mlpm.interface.savedmodel import read_signatures

        assert source.path is not None  # Source refuses a savedmodel without a path
        sigs = read_signatures(source.path)
    by_name = {s["name"]: s for s in sigs}
    if not by_name:
        raise ConversionError(f"{source.label} has no signatures to convert; re-export it with "
                              "tf.saved_model.save(..., signatures=...).")
    if signature is not None and signature not in by_name:
        raise ConversionError(f"{source.label} has no signature '{signature}'; it has "
                              f"{', '.join(sorted(by_name))}.")
    chosen = [signature] if signature is not None else sorted(by_name)
    names = {t["name"] for s in chosen for t in by_name[s].get("inputs") or []}
    extra = sorted(set(shapes) - names)
    if extra:
        raise ConversionError(f"{source.label} has no input '{extra[0]}'; its inputs are "
                              f"{', '.join(sorted(names))}: name one of those in --input-shape.")
    extra = sorted(set(samples.arrays) - names) if samples else []
    if extra and samples is not None:
        raise ConversionError(f"the samples file {samples.label} has an array '{extra[0]}', "
                              f"but {source.label} has no such input; its inputs are "
                              f"{', '.join(sorted(names))}: name the arrays after them.")
    plans = {}
    for sig in chosen:
        own = {t["name"] for t in by_name[sig].get("inputs") or []}
        where = f"{source.label} (signature '{sig}')" if len(chosen) > 1 else source.label
        plans[sig] = input_specs(by_name[sig], {k: v for k, v in shapes.items() if k in own},
                                 where, _only(samples, own))
    return plans


def _only(samples: Samples | None, names: set[str]) -> Samples | None:
    """The samples of one signature's inputs (a SavedModel's signatures take different ones)."""
    if samples is None:
        return None
    from mlpm.convert.samples import Samples

    return Samples({k: v for k, v in samples.arrays.items() if k in names},
                   {k: v for k, v in samples.values.items() if k in names},
                   samples.origin, samples.label, samples.digest)
