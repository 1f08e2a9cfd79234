"""What every operation needs (the store, offline mode, the registry to use) and the one
function that makes a locked package's artifacts present and verified in the store.

Below mlpm/artifacts.py, mlpm/ops and mlpm/loading, which all fetch through it; above
mlpm/registry, mlpm/fetch and mlpm/store. ``mlpm.ops`` re-exports both names.
"""

from __future__ import annotations

import os

from mlpm.project import LockedPackage, Project
from mlpm.registry import BUNDLED, Registry, canonical
from mlpm.store import Store, is_offline


class Session:
    """What every operation needs: the store, offline mode, and a registry override."""

    def __init__(self, store: Store | None = None, offline: bool = False,
                 registry: str | None = None):
        self.store = store if store is not None else Store()
        self.offline = offline
        self.registry = registry  # --registry or MLPM_REGISTRY, as typed
        self._open: dict[str, Registry] = {}

    @classmethod
    def from_env(cls, registry: str | None = None, offline: bool = False) -> Session:
        return cls(Store(), offline or is_offline(),
                   registry or os.environ.get("MLPM_REGISTRY") or None)

    def registry_location(self, project: Project | None) -> str:
        """--registry / MLPM_REGISTRY, else the manifest's, else the bundled registry."""
        if self.registry:
            return canonical(self.registry)
        if project is not None and project.registry:
            return canonical(project.registry, base=project.root)
        return BUNDLED

    def open(self, location: str) -> Registry:
        if location not in self._open:
            from mlpm.sources import open_source

            self._open[location] = open_source(location, self.store, self.offline)
        return self._open[location]



def fetch_locked(session: Session, packages: list[LockedPackage]) -> tuple[int, int]:
    """Make every artifact of ``packages`` present and verified in the store.

    Artifacts whose full sha256 the registry does not know are pinned here: the
    package's artifact list is updated with the digest and size measured on download.
    Returns (files fetched, bytes fetched); nothing is fetched that is already there.
    """
    from mlpm.fetch import fetch_many

    jobs, owners = [], []
    for pkg in packages:
        registry = session.open(pkg.registry)
        for i, art in enumerate(pkg.artifacts):
            if not session.store.has_blob(art.sha256, art.size):
                jobs.append((registry.artifact_url(art, pkg.name), art.sha256, art.size,
                             f"{pkg.name}@{pkg.version} {art.path}", art.sha256_prefix))
                owners.append((pkg, i))
    if not jobs:
        return 0, 0
    paths = fetch_many(session.store, jobs, offline=session.offline)
    fetched = 0
    for (pkg, i), path in zip(owners, paths, strict=True):
        size = path.stat().st_size
        fetched += size
        if not pkg.artifacts[i].pinned:
            pkg.artifacts[i] = pkg.artifacts[i].pin(path.name, size)
    return len(jobs), fetched
