"""``mlpm.load``: the locked version of a package, from the verified store, loaded.

No network at all when the artifacts are cached; a missing artifact is fetched (and
verified) from the registry recorded in mlpm.lock unless offline mode is on.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlpm.errors import MlpmError, NotInstalled, RemovedWhileLoading, StaleLock, UsageError
from mlpm.lockcheck import read_lock
from mlpm.project import Lock, LockedPackage, Project
from mlpm.store import file_status

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any

# Which format "native" means for each framework, best first (DESIGN.md section 7, Python).
NATIVE = {
    "torch": ("torch-hub", "torchscript", "exported-program", "state-dict", "onnx"),
    "onnx": ("onnx",),
    "tensorflow": ("savedmodel", "onnx"),
}


# Parsed project + lock per starting folder, reused while neither file changes on disk:
# an application calling mlpm.load in a loop should not re-parse mlpm.lock every time.
_READ: dict[str, tuple] = {}


def _project_and_lock(project_dir: Path | None) -> tuple[Project, Lock | None]:
    start = str(project_dir) if project_dir is not None else os.getcwd()
    hit = _READ.get(start)
    if hit is not None:
        project, lock, manifest_key, lock_key = hit
        if (file_status(project.manifest_path) == manifest_key
                and file_status(project.lock_path) == lock_key):
            return project, lock
    project = Project.find(project_dir)
    manifest_key, lock_key = file_status(project.manifest_path), file_status(project.lock_path)
    lock = read_lock(project.lock_path)
    _READ[start] = (project, lock, manifest_key, lock_key)
    return project, lock


def locked_package(name: str, project_dir: Path | None = None) -> tuple[Project, LockedPackage]:
    project, lock = _project_and_lock(project_dir)
    if lock is None:
        raise StaleLock(f"{project.root} has no mlpm.lock yet; run `mlpm install` there first.")
    pkg = lock.packages.get(name)
    if pkg is None:
        raise NotInstalled(f"{name} is not installed in the project at {project.root}; run "
                           f"`mlpm install {name}` there first.")
    return project, pkg


def choose_format(pkg: LockedPackage, fmt: str | None) -> str:
    formats = list(dict.fromkeys(a.format for a in pkg.artifacts))
    if fmt is None:
        preferred = [f for f in NATIVE.get(pkg.framework, ()) if f in formats]
        fmt = preferred[0] if preferred else (formats[0] if formats else None)
    if fmt not in formats:
        raise UsageError(f"{pkg.name}@{pkg.version} has no {fmt} format; it has "
                         f"{', '.join(formats) or 'no artifacts'}. Pass one of those as format=.")
    return fmt


def choose_artifact(pkg: LockedPackage, fmt: str | None):
    """The artifact of that format (for a multi-file format, its code or model part)."""
    fmt = choose_format(pkg, fmt)
    parts = [a for a in pkg.artifacts if a.format == fmt]
    return next((a for a in parts if a.role in ("code", "model")), parts[0])


def _ensure(pkg: LockedPackage, artifacts: list) -> list[Path]:
    """The verified store files of ``artifacts`` (fetched if missing)."""
    from mlpm.ops import Session, fetch_locked

    session = Session.from_env()
    missing = [a for a in artifacts if not session.store.has_blob(a.sha256, a.size)]
    if missing:
        single = LockedPackage(pkg.name, pkg.version, pkg.registry, pkg.framework, missing)
        try:
            fetch_locked(session, [single])
        except FileNotFoundError as exc:  # fetched, then deleted by a concurrent remove
            if isinstance(exc, MlpmError) or all(
                    session.store.blob_path(a.sha256).exists() for a in missing if a.sha256):
                raise
            raise RemovedWhileLoading(
                f"{_label(pkg)} was removed from the cache while loading (`mlpm remove` or "
                "`mlpm cache prune` in another process); run `mlpm install` and retry."
            ) from None
    return [session.store.blob_path(a.sha256) for a in artifacts]


def path(name: str, format: str | None = None, *, project_dir: Path | None = None) -> Path:
    """The verified file (or unpacked folder) of ``name``'s locked version in the store.

    >>> mlpm.path("digits", format="onnx")  # doctest: +SKIP
    PosixPath('/home/me/.cache/mlpm/blobs/sha256/3f/3f...')
    """
    _, pkg = locked_package(name, project_dir)
    if format is not None and not any(a.format == format for a in pkg.artifacts):
        return _converted(pkg, format, None, False)
    artifact = choose_artifact(pkg, format)
    (file,) = _ensure(pkg, [artifact])
    if artifact.format in _FOLDERS:
        return _unpack(artifact.sha256, _FOLDERS[artifact.format])
    return file


_FOLDERS = {"savedmodel": "saved_model.pb", "torch-hub": "hubconf.py"}


def _unpack(sha256: str, marker: str) -> Path:
    from mlpm.store import Store

    return Store().unpacked(sha256, marker)


def _label(pkg: LockedPackage) -> str:
    return f"{pkg.name}@{pkg.version}"


def _load_hub(pkg: LockedPackage, entrypoint: str | None, trust: bool,
              kwargs: dict[str, Any]) -> Any:
    from mlpm.frameworks.torch_hub import load_entrypoint
    from mlpm.store import Store
    from mlpm.trust import ensure_trusted, source_of

    source = source_of(pkg.upstream, pkg.artifacts, pkg.registry, pkg.name)
    ensure_trusted(source, _label(pkg), trust_now=trust)
    hub_artifacts = [a for a in pkg.artifacts if a.format == "torch-hub"]
    code = [a for a in hub_artifacts if a.role == "code"]
    if not code:
        raise UsageError(f"{_label(pkg)} has no hub code archive; it cannot be loaded as a "
                         "PyTorch Hub package.")
    files = _ensure(pkg, hub_artifacts)
    weights: dict[str, Path] = {}
    for art, file in zip(hub_artifacts, files, strict=True):
        if art.role == "weights":
            for key in (art.upstream, art.url, art.path):
                if key:
                    weights[key] = file
    repo = _unpack(code[0].sha256, "hubconf.py")
    entrypoint = (entrypoint or pkg.interface.get("default-entrypoint")
                  or pkg.upstream.get("entrypoint"))
    if not entrypoint:
        raise UsageError(f"{_label(pkg)} names no default entrypoint; pass entrypoint=... "
                         "(see mlpm.entrypoints).")
    call = dict(pkg.upstream.get("kwargs", {})) if entrypoint == pkg.upstream.get(
        "entrypoint") else {}
    call.update(kwargs)
    return load_entrypoint(repo, entrypoint, weights, Store().hub_home(), _label(pkg), call)


_CONVERSIONS: dict[Path, tuple] = {}


def _cached_conversion(entry: Path):
    """Conversion.read(verify=False), reused while the entry's record is unchanged."""
    from mlpm.convert import Conversion

    key = file_status(entry / "conversion.json")
    hit = _CONVERSIONS.get(entry)
    if hit is not None and hit[1] == key and key is not None:
        conv = hit[0]
        if all(file_status(entry / f) is not None for f in conv.files):
            return conv
    conv = Conversion.read(entry, verify=False)
    if conv is not None:
        _CONVERSIONS[entry] = (conv, key)
    return conv


def _converted(pkg: LockedPackage, fmt: str, signature: str | None, trust: bool) -> Path:
    """The file of ``pkg`` converted to ``fmt``: the cached conversion mlpm.lock records
    (checked by size, not re-hashed: this is the hot path), else converted now."""
    from mlpm.ops import Session
    from mlpm.ops.convert import ensure_converted
    from mlpm.registry.records import FORMAT_FRAMEWORK

    if fmt not in FORMAT_FRAMEWORK and fmt != "tfjs":  # a typo, not a missing route
        raise UsageError(f"unknown format '{fmt}'; formats are "
                         f"{', '.join([*FORMAT_FRAMEWORK, 'tfjs'])}.")

    def pick(conv) -> Path:  # one file per signature: the asked one, else serving_default
        if len(conv.files) == 1:
            return conv.path
        return conv.file(signature or ("serving_default" if "serving_default" in
                                       conv.signature_files else None))

    session = Session.from_env()
    for rec in pkg.conversions:
        if rec.get("format") == fmt and rec.get("signature") in (signature, None) and \
                rec.get("key") is not None:  # the key names a folder: checked to stay inside
            conv = _cached_conversion(session.store.converted_entry(rec["key"]))
            if conv is not None and (rec.get("signature") == signature or len(conv.files) > 1):
                return pick(conv)
    return pick(ensure_converted(pkg, fmt, session, signature=signature, trust=trust))


def load(name: str, format: str | None = None, *, entrypoint: str | None = None,
         signature: str | None = None, trust: bool = False, project_dir: Path | None = None,
         context: str | None = None, **options: Any) -> Any:
    """Load the version of ``name`` that the nearest project's mlpm.lock pins.

    A format the package does not publish (``format="onnx"``, or the best format for a
    ``context=`` such as "edge") is converted once, parity-checked and cached.

    ONNX gives an ``onnxruntime.InferenceSession``; TorchScript a ``torch.jit`` module;
    an exported program its runnable module; a state dict the tensors (weights only);
    a PyTorch Hub package what its entrypoint returns (``entrypoint=``, keyword
    arguments passed on; hub code runs only for a trusted source); a SavedModel the
    object ``tensorflow_hub.load`` returns, or one signature's function (``signature=``).
    Formats that run code (hub code, TorchScript, exported programs, SavedModels) load
    only from a trusted source (``trust=True`` trusts it) and after a static scan.

    >>> session = mlpm.load("digits", format="onnx")  # doctest: +SKIP
    >>> session.run(None, {"pixels": images})[0].argmax(1)  # doctest: +SKIP
    """
    project, pkg = locked_package(name, project_dir)
    if context is not None and format is None:
        from mlpm.ops.convert import wanted_format

        format = wanted_format(pkg, {"context": context})
    if format is not None and not any(a.format == format for a in pkg.artifacts):
        file = _converted(pkg, format, signature, trust)
        if format == "tflite":
            from mlpm.frameworks.tensorflow import load_tflite

            return load_tflite(file, _label(pkg))
        from mlpm.frameworks import load_file

        return load_file(format, file, _label(pkg), **options)
    fmt = choose_format(pkg, format)
    if fmt == "torch-hub":
        return _load_hub(pkg, entrypoint, trust, options)
    artifact = next(a for a in pkg.artifacts if a.format == fmt)
    (file,) = _ensure(pkg, [artifact])
    from mlpm.codescan import check  # code-bearing formats: trusted source, clean scan

    if fmt == "savedmodel":
        from mlpm.frameworks.tensorflow import load_savedmodel

        folder = _unpack(artifact.sha256, "saved_model.pb")
        check(pkg, fmt, folder, trust=trust, project=project)
        return load_savedmodel(folder, _label(pkg), signature, **options)
    check(pkg, fmt, file, trust=trust, project=project)
    from mlpm.frameworks import load_file

    if fmt == "state-dict":
        from mlpm.audit import pickle_allowed

        options["allow_pickle"] = pickle_allowed(project, name)
    return load_file(fmt, file, _label(pkg), **options)


def keras_layer(name: str, *, project_dir: Path | None = None, trust: bool = False,
                **options: Any):
    """A ``tensorflow_hub.KerasLayer`` over the locked SavedModel of ``name`` (tf-keras).

    A SavedModel runs its publisher's code: its source must be trusted (``trust=True``
    trusts it and remembers that), and its graphs pass mlpm's static scan first.
    """
    from mlpm.codescan import check
    from mlpm.frameworks.tensorflow import keras_layer as make

    project, pkg = locked_package(name, project_dir)
    artifact = choose_artifact(pkg, "savedmodel")
    _ensure(pkg, [artifact])
    folder = _unpack(artifact.sha256, "saved_model.pb")
    check(pkg, "savedmodel", folder, trust=trust, project=project)
    return make(folder, _label(pkg), **options)


def interface(name: str, *, project_dir: Path | None = None,
              registry: str | None = None) -> dict:
    """The interface record of ``name``: from mlpm.lock when installed, else the registry."""
    from mlpm.errors import ProjectNotFound

    locked = None
    try:
        _, pkg = locked_package(name, project_dir)
        if pkg.interface:
            return pkg.interface
        locked = pkg.version
    except (ProjectNotFound, NotInstalled, StaleLock):
        pass
    from mlpm.ops import Session
    from mlpm.ops.install import latest_version

    session = Session.from_env(registry)
    try:
        project = Project.find(project_dir)
    except ProjectNotFound:
        project = None
    records = session.open(session.registry_location(project)).records(name)
    wanted = locked or latest_version(records)
    record = next(r for r in records if r.version == wanted)
    return record.get("interface") or {}
