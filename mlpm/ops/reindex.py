"""registry reindex: rebuild a registry folder's derived files (``names``, the search log)
from its ``index/``, under the publish lock (mlpm/registry/search.py writes them)."""

from __future__ import annotations

from pathlib import Path


def reindex(directory: Path) -> dict:
    """Rebuild ``names`` and ``search/`` of the registry folder ``directory``; returns
    ``{"packages": N, "segments": K, "skipped": [...]}`` (skipped: unreadable index files)."""
    from filelock import FileLock

    from mlpm.errors import RegistryError
    from mlpm.registry import layout, search, upstreams

    root = Path(directory).expanduser().resolve()
    if not layout.config_file(root).is_file():
        raise RegistryError(f"{root} is not an mlpm registry (no config.json); pass the folder "
                            "that holds config.json and index/.")
    with FileLock(str(layout.publish_lock_file(root))):
        upstreams.reindex(root)
        return search.reindex(root)
