"""PyTorch Hub packages: run a trusted hubconf.py entrypoint with weights from mlpm's store.

torch.hub would download the repo and every weight file into its own cache behind the
user's back. Here the repo is an extracted, verified store entry, and while the
entrypoint runs, ``torch.hub.load_state_dict_from_url`` / ``download_url_to_file``
(and ``torch.utils.model_zoo.load_url``) answer only with files pinned in mlpm.lock:
no network, nothing written outside the store, and weights loaded ``weights_only``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlpm.errors import FrameworkMissing, RegistryError

_lock = threading.Lock()  # patching torch.hub is process-wide: one hub load at a time


def _match(url: str, weights: dict[str, Path]) -> Path:
    if url in weights:
        return weights[url]
    name = os.path.basename(urlparse(url).path)
    if name in weights:
        return weights[name]
    raise RegistryError(
        f"the hub code asked for {url}, which this package's lock does not pin; mlpm never "
        "downloads behind your back: ask the publisher to add it as a weights artifact."
    )


@contextmanager
def _served_from_store(weights: dict[str, Path], hub_dir: Path):
    import torch
    import torch.hub
    import torch.utils.model_zoo

    def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True,
                                 check_hash=False, file_name=None, weights_only=True):
        return torch.load(_match(url, weights), map_location=map_location, weights_only=True)

    def download_url_to_file(url, dst, hash_prefix=None, progress=True):
        shutil.copyfile(_match(url, weights), dst)

    saved = (torch.hub.load_state_dict_from_url, torch.hub.download_url_to_file,
             torch.utils.model_zoo.load_url, torch.hub._hub_dir)
    torch.hub.load_state_dict_from_url = load_state_dict_from_url
    torch.utils.model_zoo.load_url = load_state_dict_from_url
    torch.hub.download_url_to_file = download_url_to_file
    torch.hub.set_dir(str(hub_dir))  # anything else the code caches stays in the store
    try:
        yield
    finally:
        (torch.hub.load_state_dict_from_url, torch.hub.download_url_to_file,
         torch.utils.model_zoo.load_url, torch.hub._hub_dir) = saved


def _check_dependencies(module, label: str) -> None:
    missing = [d for d in getattr(module, "dependencies", []) or []
               if importlib.util.find_spec(d) is None]
    if missing:
        raise FrameworkMissing(f"{label}'s hub code needs the Python packages "
                               f"{', '.join(missing)}; install them with pip.")


def load_entrypoint(repo: Path, entrypoint: str, weights: dict[str, Path], hub_dir: Path,
                    label: str, kwargs: dict[str, Any]) -> Any:
    """Import hubconf.py from ``repo`` and call ``entrypoint(**kwargs)``."""
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError:
        raise FrameworkMissing(f"{label} is a PyTorch Hub package; install torch with "
                               "`pip install 'mlpm[torch]'`.") from None
    with _lock:
        sys.path.insert(0, str(repo))
        try:
            spec = importlib.util.spec_from_file_location(
                f"mlpm_hubconf_{abs(hash(str(repo)))}", repo / "hubconf.py")
            # a .py path always gets a spec with a source loader
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            with _served_from_store(weights, hub_dir):
                spec.loader.exec_module(module)
                _check_dependencies(module, label)
                func = getattr(module, entrypoint, None)
                if not callable(func) or entrypoint.startswith("_"):
                    raise RegistryError(f"{label} has no entrypoint '{entrypoint}'; see "
                                        f"`mlpm info {label.split('@')[0]}` for its entrypoints.")
                return func(**kwargs)
        finally:
            if str(repo) in sys.path:
                sys.path.remove(str(repo))
            _forget_modules_from(repo)


def _forget_modules_from(repo: Path) -> None:
    """Drop the repo's own modules (e.g. its `models`) from sys.modules, so the next hub
    package that has a module of the same name imports its own, not this one."""
    root = str(repo.resolve())
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if file and os.path.realpath(file).startswith(root + os.sep):
            del sys.modules[name]
