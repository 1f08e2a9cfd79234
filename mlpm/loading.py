"""``mlpm.load``: the locked version of a package, from the verified store, loaded.

No network at all when the artifacts are cached; a missing artifact is fetched (and
verified) from the registry recorded in mlpm.lock unless offline mode is on.

``runner_for`` is here too: ``mlpm serve`` runs what ``mlpm.load`` loads, so it sits
above mlpm/ops like the rest of this module (docs/architecture.md).
"""

from __future__ import annotations

from pathlib import Path

from mlpm.artifacts import (
    FOLDERS,
    choose_artifact,
    choose_format,
    ensure,
    is_snapshot,
    label,
    load_hub,
    locked_package,
    not_loadable,
    snapshot,
    unpack,
)
from mlpm.errors import FormatNotLoadable, NotInstalled, StaleLock, UsageError
from mlpm.project import LockedPackage, Project
from mlpm.store import file_status

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any

def path(name: str, format: str | None = None, *, project_dir: Path | None = None,
         context: str | None = None) -> Path:
    """The verified file (or unpacked folder) of ``name``'s locked version in the store.

    ``context`` picks the format as ``load`` does; ``context="js"`` gives the ONNX file
    a JavaScript application runs with onnxruntime-node / onnxruntime-web.

    >>> mlpm.path("digits", format="onnx")  # doctest: +SKIP
    PosixPath('/home/me/.cache/mlpm/blobs/sha256/3f/3f...')
    >>> mlpm.path("digits", context="js")  # doctest: +SKIP
    PosixPath('/home/me/.cache/mlpm/entries/converted/9a3f.../model.onnx')
    """
    _, pkg = locked_package(name, project_dir)
    if context is not None and format is None:
        from mlpm.ops.convert import wanted_format

        format = wanted_format(pkg, {"context": context})
    if is_snapshot(pkg) and (format is None or any(a.format == format
                                                   for a in pkg.artifacts)):
        return snapshot(pkg)  # a Hugging Face repository: its folder
    if format is not None and not any(a.format == format for a in pkg.artifacts):
        return _converted(pkg, format, None, False)
    artifact = choose_artifact(pkg, format)
    (file,) = ensure(pkg, [artifact])
    if artifact.format in FOLDERS:
        return unpack(artifact.sha256, FOLDERS[artifact.format])
    return file


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
    from mlpm.ops.convert import ensure_converted
    from mlpm.registry.records import FORMAT_FRAMEWORK
    from mlpm.session import Session

    if fmt not in FORMAT_FRAMEWORK and fmt not in ("tfjs", "js"):  # a typo, not a route
        raise UsageError(f"unknown format '{fmt}'; formats are "
                         f"{', '.join([*FORMAT_FRAMEWORK, 'tfjs', 'js'])}.")

    def pick(conv) -> Path:  # one file per signature: the asked one, else serving_default
        if len(conv.files) == 1:
            return conv.path
        return conv.file(signature or ("serving_default" if "serving_default" in
                                       conv.signature_files else None))

    session = Session.from_env()
    for rec in pkg.conversions:
        if rec.format == fmt and rec.signature in (signature, None) and \
                rec.key is not None:  # the key names a folder: checked to stay inside
            conv = _cached_conversion(session.store.converted_entry(rec.key))
            if conv is not None and (rec.signature == signature or len(conv.files) > 1):
                return pick(conv)
    return pick(ensure_converted(pkg, fmt, session, signature=signature, trust=trust))


def load(name: str, format: str | None = None, *, entrypoint: str | None = None,
         signature: str | None = None, trust: bool = False, project_dir: Path | None = None,
         context: str | None = None, **options: Any) -> Any:
    """Load the version of ``name`` that the nearest project's mlpm.lock pins.

    A format the package does not publish (``format="onnx"``, or the best format for a
    ``context=`` such as "edge") is converted once, parity-checked and cached.

    ONNX gives an ``onnxruntime.InferenceSession``; TFLite (published or converted) an
    allocated interpreter, the one TFLite conversions are checked with; TorchScript a
    ``torch.jit`` module;
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
        from mlpm.frameworks import load_file

        # a js conversion is an ONNX file: in Python, ONNX Runtime runs it
        return load_file("onnx" if format == "js" else format, file, label(pkg), **options)
    fmt = choose_format(pkg, format)
    use = f"in the {context} context" if context is not None else ""
    from mlpm.frameworks import LOADABLE

    if fmt not in LOADABLE:
        raise not_loadable(pkg, fmt, "mlpm.load has no loader for this format", use)
    if fmt == "torch-hub":
        return load_hub(pkg, entrypoint, trust, options)
    if is_snapshot(pkg):
        return _load_snapshot(project, pkg, fmt, options)
    artifact = next(a for a in pkg.artifacts if a.format == fmt)
    (file,) = ensure(pkg, [artifact])
    from mlpm.codescan import check  # code-bearing formats: trusted source, clean scan

    if fmt == "savedmodel":
        from mlpm.frameworks.tensorflow import load_savedmodel

        folder = unpack(artifact.sha256, "saved_model.pb")
        check(pkg, fmt, folder, trust=trust, project=project)
        return load_savedmodel(folder, label(pkg), signature, **options)
    check(pkg, fmt, file, trust=trust, project=project)
    from mlpm.frameworks import load_file

    if fmt == "state-dict":
        from mlpm.ops.audit import pickle_allowed

        options["allow_pickle"] = pickle_allowed(project, name)
    try:
        loaded = load_file(fmt, file, label(pkg), **options)
    except FormatNotLoadable as exc:  # the runtime refused this file: say what else loads
        raise not_loadable(pkg, fmt, str(exc).rstrip("."), use) from None
    if fmt == "tflite" and signature is not None and \
            signature not in loaded.get_signature_list():
        raise UsageError(f"{label(pkg)}'s tflite file has no signature '{signature}'; it has "
                         f"{', '.join(sorted(loaded.get_signature_list())) or 'none'}.")
    return loaded


def _load_snapshot(project, pkg, fmt: str, options: dict[str, Any]) -> Any:
    """A Hugging Face package: safetensors weights as one dict of tensors (every shard;
    numpy, or torch with ``framework="torch"``), ONNX as a session over the snapshot
    folder (its external data beside it), pickled weights as a state dict."""
    folder = snapshot(pkg)
    weights = [a.path for a in pkg.artifacts if a.role in ("weights", "weights-index")]
    if fmt == "safetensors":
        from mlpm.frameworks.safetensors import load_files

        index = [p for p in weights if p.endswith(".safetensors.index.json")]
        files = index or [p for p in weights if p.endswith(".safetensors")]
        tensors = load_files([folder / p for p in files], **options)
        base = _adapter_base(project, pkg)
        if base is None:
            return tensors
        # a PEFT adapter: its own tensors, and its base's, which it is applied to
        return {"base": _load_snapshot(project, base, choose_format(base, None), options),
                "adapter": tensors}
    from mlpm.frameworks import load_file

    main = [p for p in weights if p.endswith((".onnx", ".bin", ".pt", ".pth", ".ckpt"))]
    if not main:
        raise UsageError(f"{label(pkg)} has no {fmt} weights to load; its files are in "
                         f"mlpm.path({pkg.name!r}).")
    if fmt == "state-dict":
        from mlpm.ops.audit import pickle_allowed

        options["allow_pickle"] = pickle_allowed(project, pkg.name)
    return load_file(fmt, folder / main[0], label(pkg), **options)


def _adapter_base(project, pkg: LockedPackage) -> LockedPackage | None:
    """The locked base model of a Hugging Face adapter (it has adapter_config.json and
    depends on a Hugging Face package), else None."""
    if not any(a.path == "adapter_config.json" for a in pkg.artifacts):
        return None
    from mlpm.lockcheck import read_lock

    lock = read_lock(project)
    for dep in pkg.dependencies:
        base = lock.packages.get(dep) if lock is not None else None
        if base is not None and is_snapshot(base):
            return base
    return None


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
    ensure(pkg, [artifact])
    folder = unpack(artifact.sha256, "saved_model.pb")
    check(pkg, "savedmodel", folder, trust=trust, project=project)
    return make(folder, label(pkg), **options)


def interface(name: str, *, project_dir: Path | None = None,
              registry: str | None = None) -> dict:
    """The interface record of ``name``: from mlpm.lock when installed, else the registry."""
    return _interface_and_formats(name, project_dir=project_dir, registry=registry)[0]


def signatures(name: str, format: str | None = None, *,  # noqa: A002
               project_dir: Path | None = None, registry: str | None = None) -> list[dict]:
    """The signatures of ``name`` (installed version, else the registry's latest): those of
    one published ``format`` when given, as read from that format's own file at publish."""
    from mlpm.registry.records import Interface

    data, formats = _interface_and_formats(name, project_dir=project_dir, registry=registry)
    if format is not None and formats and format not in formats:
        raise UsageError(f"{name} publishes no {format} form (it has {', '.join(formats)}); "
                         f"ask for one of those, or make one: mlpm convert {name} --to {format}.")
    return list(Interface.from_json(data).signatures_for(format))


def _interface_and_formats(name: str, *, project_dir: Path | None,
                           registry: str | None) -> tuple[dict, list[str]]:
    """(interface record, published formats) of the locked version, else the latest."""
    from mlpm.errors import ProjectNotFound

    locked = None
    try:
        _, pkg = locked_package(name, project_dir)
        formats = pkg.formats
        if pkg.interface:
            return pkg.interface, formats
        locked = pkg.version
    except (ProjectNotFound, NotInstalled, StaleLock):
        pass
    from mlpm.registry.versions import latest_version
    from mlpm.session import Session

    session = Session.from_env(registry)
    try:
        project = Project.find(project_dir)
    except ProjectNotFound:
        project = None
    records = session.open(session.registry_location(project)).records(name)
    wanted = locked or latest_version(records)
    record = next(r for r in records if r.version == wanted)
    iface = record.interface
    return (iface.to_json() if iface is not None else {}), record.formats


def runner_for(project: Project, name: str, *, trust: bool = False):
    """The runner ``mlpm serve`` puts behind HTTP for the locked ``name`` (mlpm/serve).

    ONNX Runtime when an ONNX form exists (published, or converted and recorded in
    mlpm.lock): it starts fast and needs no framework. Otherwise the package's own
    framework: a torch module with its declared signature, or a SavedModel signature,
    loaded by ``load`` above, so its source is trusted and its code scanned first.
    """
    from mlpm import serve

    _, pkg = locked_package(name, project.root)
    onnx = next((a for a in pkg.artifacts if a.format == "onnx"), None)
    if onnx is not None:
        (file,) = ensure(pkg, [onnx])
        return serve.OnnxRunner(name, pkg.version, file)
    if any(c.format == "onnx" and not c.signature for c in pkg.conversions):
        return serve.OnnxRunner(name, pkg.version, _converted(pkg, "onnx", None, trust))
    formats = {a.format for a in pkg.artifacts}
    from mlpm.registry.records import Interface

    iface = Interface.from_json(pkg.interface)
    # each format is served with its own signatures (a package's formats may differ)
    signatures = iface.signatures_for(choose_format(pkg, None))
    if formats & {"torch-hub", "torchscript", "exported-program"}:
        if not signatures:
            raise UsageError(f"{name}@{pkg.version} declares no signature to serve; convert "
                             f"it first: `mlpm convert {name} --to onnx`.")
        module = load(name, project_dir=project.root, trust=trust)
        return serve.TorchRunner(name, pkg.version, module, signatures[0])
    if "savedmodel" in formats:
        signatures = iface.signatures_for("savedmodel")
        sig = iface.signature("serving_default", "savedmodel") or \
            (signatures[0] if signatures else None)
        fn = load(name, project_dir=project.root, signature=sig["name"] if sig else None,
                  trust=trust)
        return serve.SavedModelRunner(name, pkg.version, fn, sig)
    raise UsageError(f"{name}@{pkg.version} has no format mlpm can serve "
                     f"({', '.join(sorted(formats))}).")
