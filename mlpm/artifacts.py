"""A locked package's verified files: which format and artifact to use, the store files
(fetched and verified if missing), unpacked folders, and a hub package's module.

Below mlpm/ops and mlpm/loading (docs/architecture.md): install, convert and serve get a
package's files here, and ``mlpm.load`` (mlpm/loading.py) turns them into a loaded model.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlpm.errors import (
    FormatNotLoadable,
    MlpmError,
    NotInstalled,
    RemovedWhileLoading,
    StaleLock,
    UsageError,
)
from mlpm.lockcheck import read_lock
from mlpm.project import Lock, LockedPackage, Project
from mlpm.store import file_status

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any

# Which format "native" means for each framework, best first (docs/reference/conversion.md).
NATIVE = {
    "torch": ("torch-hub", "torchscript", "exported-program", "state-dict", "onnx"),
    "onnx": ("onnx",),
    "tensorflow": ("savedmodel", "onnx"),
}


# Parsed project + lock per starting folder, reused while neither file changes on disk:
# an application calling mlpm.load in a loop should not re-parse mlpm.lock every time.
_READ: dict[str, tuple] = {}


def project_and_lock(project_dir: Path | None) -> tuple[Project, Lock | None]:
    start = str(project_dir) if project_dir is not None else os.getcwd()
    hit = _READ.get(start)
    if hit is not None:
        project, lock, manifest_key, lock_key = hit
        if (file_status(project.manifest_path) == manifest_key
                and file_status(project.lock_path) == lock_key):
            return project, lock
    project = Project.find(project_dir)
    manifest_key, lock_key = file_status(project.manifest_path), file_status(project.lock_path)
    lock = read_lock(project)
    _READ[start] = (project, lock, manifest_key, lock_key)
    return project, lock


def locked_package(name: str, project_dir: Path | None = None) -> tuple[Project, LockedPackage]:
    project, lock = project_and_lock(project_dir)
    if lock is None:
        raise StaleLock(f"{project.root} has no mlpm.lock yet; run `mlpm install` there first.")
    pkg = lock.packages.get(name)
    if pkg is None:
        raise NotInstalled(f"{name} is not installed in the project at {project.root}; run "
                           f"`mlpm install {name}` there first.")
    return project, pkg


def choose_format(pkg: LockedPackage, fmt: str | None) -> str:
    formats = pkg.formats
    if fmt is None:
        preferred = [f for f in NATIVE.get(pkg.framework, ()) if f in formats]
        fmt = preferred[0] if preferred else (formats[0] if formats else None)
    if fmt not in formats:
        raise UsageError(f"{pkg.name}@{pkg.version} has no {fmt} format; it has "
                         f"{', '.join(formats) or 'no artifacts'}. Pass one of those as format=.")
    return fmt


def loadable_formats(pkg: LockedPackage, *, besides: str | None = None) -> list[str]:
    """The formats ``pkg`` publishes that ``mlpm.load`` can load (``besides``: but that one).

    >>> loadable_formats(pkg)  # doctest: +SKIP
    ['savedmodel', 'tflite']
    """
    from mlpm.frameworks import LOADABLE

    return [f for f in pkg.formats if f in LOADABLE and f != besides]


def not_loadable(pkg: LockedPackage, fmt: str, reason: str, use: str = "",
                 outcome: str | None = None) -> FormatNotLoadable:
    """The error for a format of ``pkg`` that mlpm cannot load: the reason, then the formats
    the package has and which of them load. ``use``: how the project uses it ("in the edge
    context"), which is why this format was chosen; ``outcome``: what happened instead of
    the default advice (load another format)."""
    formats = pkg.formats
    others = loadable_formats(pkg, besides=fmt)
    if outcome is None:
        outcome = (f"load it with format='{others[0]}'" if others else
                   "ask its publisher for a format mlpm loads")
    return FormatNotLoadable(
        f"{label(pkg)} cannot be loaded as {fmt}{' ' + use if use else ''}: {reason}; it has "
        f"{', '.join(formats) or 'no artifacts'}, of which mlpm can load "
        f"{', '.join(others) or 'none'}; {outcome}.")


def choose_artifact(pkg: LockedPackage, fmt: str | None):
    """The artifact of that format (for a multi-file format, its code or model part)."""
    fmt = choose_format(pkg, fmt)
    parts = [a for a in pkg.artifacts if a.format == fmt]
    return next((a for a in parts if a.role in ("code", "model")), parts[0])


def ensure(pkg: LockedPackage, artifacts: list) -> list[Path]:
    """The verified store files of ``artifacts`` (fetched if missing)."""
    from mlpm.session import Session, fetch_locked

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
                f"{label(pkg)} was removed from the cache while loading (`mlpm remove` or "
                "`mlpm cache prune` in another process); run `mlpm install` and retry."
            ) from None
    return [session.store.blob_path(a.sha256) for a in artifacts]


FOLDERS = {"savedmodel": "saved_model.pb", "torch-hub": "hubconf.py"}


def is_snapshot(pkg: LockedPackage) -> bool:
    """Whether the package is a Hugging Face repository's files (used as a folder)."""
    return pkg.registry.startswith("hf:")


def snapshot(pkg: LockedPackage) -> Path:
    """The package's files laid out as in its repository (``from_pretrained`` reads this
    folder), fetched and verified first; hard links to the store's blobs."""
    from mlpm.store import Store

    ensure(pkg, pkg.artifacts)
    return Store().snapshot([(a.path, a.sha256) for a in pkg.artifacts])


def unpack(sha256: str, marker: str) -> Path:
    from mlpm.store import Store

    return Store().unpacked(sha256, marker)


def label(pkg: LockedPackage) -> str:
    return f"{pkg.name}@{pkg.version}"


def load_hub(pkg: LockedPackage, entrypoint: str | None, trust: bool,
              kwargs: dict[str, Any]) -> Any:
    from mlpm.frameworks.torch_hub import load_entrypoint
    from mlpm.store import Store
    from mlpm.trust import ensure_trusted, source_of

    source = source_of(pkg.upstream, pkg.artifacts, pkg.registry, pkg.name)
    ensure_trusted(source, label(pkg), trust_now=trust)
    hub_artifacts = [a for a in pkg.artifacts if a.format == "torch-hub"]
    code = [a for a in hub_artifacts if a.role == "code"]
    if not code:
        raise UsageError(f"{label(pkg)} has no hub code archive; it cannot be loaded as a "
                         "PyTorch Hub package.")
    files = ensure(pkg, hub_artifacts)
    weights: dict[str, Path] = {}
    for art, file in zip(hub_artifacts, files, strict=True):
        if art.role == "weights":
            for key in (art.upstream, art.url, art.path):
                if key:
                    weights[key] = file
    repo = unpack(code[0].sha256, "hubconf.py")
    from mlpm.registry.records import Interface

    entrypoint = (entrypoint or Interface.from_json(pkg.interface).default_entrypoint
                  or pkg.upstream.get("entrypoint"))
    if not entrypoint:
        raise UsageError(f"{label(pkg)} names no default entrypoint; pass entrypoint=... "
                         "(see mlpm.entrypoints).")
    call = dict(pkg.upstream.get("kwargs", {})) if entrypoint == pkg.upstream.get(
        "entrypoint") else {}
    call.update(kwargs)
    return load_entrypoint(repo, entrypoint, weights, Store().hub_home(), label(pkg), call)
