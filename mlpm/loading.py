"""``mlpm.load``: the locked version of a package, from the verified store, loaded.

No network at all when the artifact is cached; a missing artifact is fetched (and
verified) from the registry recorded in mlpm.lock unless offline mode is on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlpm.errors import NotInstalled, StaleLock, UsageError
from mlpm.project import Lock, LockedPackage, Project

# Which format "native" means for each framework, best first (DESIGN.md section 7, Python).
NATIVE = {
    "torch": ("torchscript", "exported-program", "state-dict", "onnx"),
    "onnx": ("onnx",),
    "tensorflow": ("savedmodel", "onnx"),
}


def locked_package(name: str, project_dir: Path | None = None) -> tuple[Project, LockedPackage]:
    project = Project.find(project_dir)
    lock = Lock.read(project.lock_path)
    if lock is None:
        raise StaleLock(f"{project.root} has no mlpm.lock yet; run `mlpm install` there first.")
    pkg = lock.packages.get(name)
    if pkg is None:
        raise NotInstalled(f"{name} is not installed in the project at {project.root}; run "
                           f"`mlpm install {name}` there first.")
    return project, pkg


def choose_artifact(pkg: LockedPackage, fmt: str | None):
    formats = [a.format for a in pkg.artifacts]
    if fmt is None:
        preferred = [f for f in NATIVE.get(pkg.framework, ()) if f in formats]
        fmt = preferred[0] if preferred else (formats[0] if formats else None)
    for art in pkg.artifacts:
        if art.format == fmt:
            return art
    raise UsageError(f"{pkg.name}@{pkg.version} has no {fmt} format; it has "
                     f"{', '.join(formats) or 'no artifacts'}. Pass one of those as format=.")


def path(name: str, format: str | None = None, *, project_dir: Path | None = None) -> Path:
    """The verified file of ``name``'s locked version in the store (fetched if missing).

    >>> mlpm.path("digits", format="onnx")  # doctest: +SKIP
    PosixPath('/home/me/.cache/mlpm/blobs/sha256/3f/3f...')
    """
    _, pkg = locked_package(name, project_dir)
    return _ensure(pkg, choose_artifact(pkg, format))


def _ensure(pkg: LockedPackage, artifact) -> Path:
    from mlpm.ops import Session, fetch_locked

    session = Session.from_env()
    if not session.store.has_blob(artifact.sha256, artifact.size):
        single = LockedPackage(pkg.name, pkg.version, pkg.registry, pkg.framework, [artifact])
        fetch_locked(session, [single])
    return session.store.blob_path(artifact.sha256)


def load(name: str, format: str | None = None, *, project_dir: Path | None = None,
         **options: Any) -> Any:
    """Load the version of ``name`` that the nearest project's mlpm.lock pins.

    ONNX gives an ``onnxruntime.InferenceSession``; TorchScript a ``torch.jit`` module;
    an exported program its runnable module; a state dict the tensors (weights only).

    >>> session = mlpm.load("digits", format="onnx")  # doctest: +SKIP
    >>> session.run(None, {"pixels": images})[0].argmax(1)  # doctest: +SKIP
    """
    from mlpm.frameworks import load_file

    _, pkg = locked_package(name, project_dir)
    artifact = choose_artifact(pkg, format)
    file = _ensure(pkg, artifact)
    return load_file(artifact.format, file, f"{pkg.name}@{pkg.version}", **options)
