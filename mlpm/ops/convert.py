"""convert: a locked package in the format its usage context needs.

A format the registry publishes is used as it is; otherwise the package is converted
locally (mlpm.convert: cached store entry, parity-checked) and the conversion is
recorded in mlpm.lock, so the next load is instant and an upgrade knows to redo it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from mlpm.errors import UsageError
from mlpm.ops import Session
from mlpm.project import Lock, LockedConversion, LockedPackage, Project

TYPE_CHECKING = False  # the names are for annotations only
if TYPE_CHECKING:
    from mlpm.convert.samples import Samples

# `mlpm install NAME --context C --sample FILE.npz`: package name -> the user's samples file
_USER_SAMPLES: ContextVar[dict[str, Path] | None] = ContextVar("mlpm_user_samples",
                                                               default=None)


@contextmanager
def user_samples(names: list[str], sample_file: Path | None) -> Iterator[None]:
    """Within the block, conversions of the packages ``names`` run on ``sample_file``."""
    token = _USER_SAMPLES.set({n: Path(sample_file) for n in names} if sample_file else {})
    try:
        yield
    finally:
        _USER_SAMPLES.reset(token)

# Which published format a conversion prefers to start from, best first.
_SOURCES = ("torch-hub", "exported-program", "torchscript", "savedmodel", "onnx")


def wanted_format(pkg: LockedPackage, options: dict[str, str]) -> str | None:
    """The format a dependency's manifest options ask for (format=, or context=)."""
    if options.get("format"):
        return options["format"]
    if options.get("context"):
        from mlpm.convert import CONTEXTS, formats_for_context

        if options["context"] not in CONTEXTS:
            raise UsageError(f"unknown context '{options['context']}'; contexts are "
                             f"{', '.join(CONTEXTS)}.")
        available = _formats(pkg)
        kind = next((f for f in _SOURCES if f in available), available[0])
        choices = formats_for_context(options["context"], available, kind)
        if not choices:
            from mlpm.convert import ConversionError

            raise ConversionError(f"{pkg.name}@{pkg.version} cannot serve the "
                                  f"{options['context']} context: it has "
                                  f"{', '.join(available)} and none converts to "
                                  f"{', '.join(CONTEXTS[options['context']])}.")
        return choices[0]
    return None


def source_for(pkg: LockedPackage, target: str, session: Session, *, trust: bool = False,
               entrypoint: str | None = None, kwargs: dict | None = None,
               project: Project | None = None):
    """The mlpm.convert Source to make ``target`` from, out of the package's artifacts.

    A code-bearing source (TorchScript, exported program, SavedModel) is checked first:
    trusted source and a clean static scan (mlpm.codescan); hub code is checked when its
    entrypoint is about to run."""
    from mlpm.artifacts import ensure, label, load_hub, unpack
    from mlpm.convert import ROUTES, ConversionError, Source
    from mlpm.convert.routes import SOURCE_KIND

    available = _formats(pkg)
    candidates = [f for f in _SOURCES if f in available
                  and target in ROUTES.get(SOURCE_KIND[f], ())]
    if target == "js" and "onnx" in candidates:
        candidates = ["onnx"]  # the publisher's own ONNX: JavaScript runs that, once checked
    if not candidates:
        from mlpm.convert import check_route

        if target == "tfjs":
            check_route("savedmodel", target, label(pkg))  # says what the converter lacks
        routes = "; ".join(
            f"{fmt} -> {', '.join(ROUTES.get(SOURCE_KIND.get(fmt, ''), ())) or 'nothing'}"
            for fmt in available)
        raise ConversionError(f"{label(pkg)} cannot be converted to {target}: it publishes "
                              f"{', '.join(available)}, and the routes from those are "
                              f"{routes}; use one of those formats, or ask the publisher "
                              f"for a {target} artifact.")
    fmt = candidates[0]
    from mlpm.registry.records import Interface

    iface = Interface.from_json(pkg.interface)
    signatures = iface.signatures
    if fmt == "torch-hub":
        parts = [a for a in pkg.artifacts if a.format == "torch-hub"]
        ensure(pkg, parts)
        entry = entrypoint or iface.default_entrypoint or pkg.upstream.get("entrypoint")
        ident = json.dumps({"artifacts": sorted(a.sha256 for a in parts), "entrypoint": entry,
                            "kwargs": kwargs or {}}, sort_keys=True)
        digest = "sha256:" + hashlib.sha256(ident.encode()).hexdigest()
        sigs = [s for s in signatures or [] if s.get("name") in ("forward", "main")] or signatures
        return Source("torch", digest, label=label(pkg), signatures=sigs,
                      load_module=lambda: load_hub(pkg, entry, trust, dict(kwargs or {})))
    artifact = next(a for a in pkg.artifacts if a.format == fmt)
    (file,) = ensure(pkg, [artifact])
    path = unpack(artifact.sha256, "saved_model.pb") if fmt == "savedmodel" else file
    from mlpm.codescan import check

    check(pkg, fmt, path, trust=trust, project=project)
    return Source(SOURCE_KIND[fmt], "sha256:" + artifact.sha256, path=path,
                  signatures=signatures if fmt != "savedmodel" else None, label=label(pkg))


def _formats(pkg: LockedPackage) -> list[str]:
    """The model formats the package publishes (its samples file is none)."""
    from mlpm.convert.samples import SAMPLES_ROLE

    return list(dict.fromkeys(a.format for a in pkg.artifacts if a.role != SAMPLES_ROLE))


def package_samples(pkg: LockedPackage, sample_file: Path | None = None) -> Samples:
    """The real inputs a conversion of ``pkg`` runs on: the user's ``--sample`` file, else
    the package's published ``samples.npz``; plus the values its interface declares."""
    from mlpm.convert.samples import SAMPLES_ROLE, Samples, declared_values

    if sample_file is not None:
        samples = Samples.from_file(Path(sample_file))
    else:
        art = next((a for a in pkg.artifacts if a.role == SAMPLES_ROLE), None)
        samples = Samples()
        if art is not None:
            from mlpm.artifacts import ensure

            (file,) = ensure(pkg, [art])
            samples = Samples.from_file(file, publisher=True, name=art.path)
    try:
        values = declared_values(pkg.interface)
    except ValueError:
        values = {}  # publish checks them; a hand-made record's bad ones are left out
    return samples.with_values(values)


def ensure_converted(pkg: LockedPackage, target: str, session: Session, *,
                     tolerance: float | None = None, input_shapes: dict | None = None,
                     signature: str | None = None, trust: bool = False, progress=None,
                     project: Project | None = None, sample_file: Path | None = None):
    """Convert ``pkg`` to ``target`` (or reuse the cached conversion) and record it on
    ``pkg.conversions``; returns the mlpm.convert Conversion. ``sample_file`` is the
    user's ``--sample`` .npz (else the package's own samples are used, if it has any)."""
    from mlpm.convert import convert

    samples = package_samples(pkg, sample_file)
    source = source_for(pkg, target, session, trust=trust, project=project)
    conv = convert(source, target, store=session.store, tolerance=tolerance,
                   input_shapes=input_shapes, signature=signature, progress=progress,
                   samples=samples or None)
    numbers = {k: conv.parity.get(k) for k in ("max_abs", "max_rel", "tolerance", "samples",
                                               "runtime")}  # runtime: where it was checked
    # which inputs parity ran on; an entry made before mlpm recorded it ran on random ones
    record = LockedConversion(
        format=conv.format, key=conv.key, digest=conv.digest, signature=conv.signature,
        converter=dict(sorted(conv.converter.items())), tolerance_asked=tolerance,
        input_shapes=input_shapes,
        parity={"inputs": conv.parity.get("sample_inputs") or "random", **numbers})
    pkg.conversions = [c for c in pkg.conversions
                       if (c.format, c.signature) != (conv.format, conv.signature)]
    pkg.conversions.append(record)
    return conv


def convert_locked(project: Project, name: str, target: str, *, session: Session,
                   tolerance: float | None = None, input_shapes: dict | None = None,
                   signature: str | None = None, trust: bool = False, progress=None,
                   sample_file: Path | None = None) -> dict:
    """``mlpm convert NAME --to FORMAT``: published as is, or converted and recorded.
    ``sample_file`` (``--sample FILE.npz``) gives the inputs real values."""
    from mlpm.artifacts import locked_package

    with project.locked():
        _, pkg = locked_package(name, project.root)
        if any(a.format == target for a in pkg.artifacts):
            return {"name": name, "version": pkg.version, "format": target, "published": True}
        conv = ensure_converted(pkg, target, session, tolerance=tolerance,
                                input_shapes=input_shapes, signature=signature, trust=trust,
                                progress=progress, project=project, sample_file=sample_file)
        lock = Lock.read(project.lock_path)
        assert lock is not None  # locked_package above found the package in it
        lock.packages[name].conversions = pkg.conversions
        lock.write(project.lock_path)
        session.store.set_refs(project.root, project.lock_path, lock.references())
    return {"name": name, "version": pkg.version, "published": False, **conv.to_json()}


def convert_for_manifest(project: Project, lock: Lock, session: Session,
                         sample_file: Path | None = None) -> None:
    """Before a lock is written: every dependency whose manifest asks for a format the
    registry does not publish gets it converted (an error here keeps the old lock).
    ``sample_file`` (``mlpm install NAME --context ... --sample FILE.npz``) gives the
    inputs of the packages converted now real values."""
    for name, options in project.options.items():
        pkg = lock.packages.get(name)
        if pkg is None:
            continue
        target = wanted_format(pkg, options)
        done = any(c.format == target for c in pkg.conversions)
        if target and not done and not any(a.format == target for a in pkg.artifacts):
            ensure_converted(pkg, target, session, project=project,
                             sample_file=sample_file or (_USER_SAMPLES.get() or {}).get(name))
