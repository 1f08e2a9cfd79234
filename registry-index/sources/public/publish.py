"""Publish the public-model packages (metadata + upstream URLs) into registry-index/.

Run from the repository root:  .venv/bin/python registry-index/sources/public/publish.py [DIR]
(DIR defaults to registry-index/).
Packages are published dependencies first and each package's versions in order, so
mlpm's semver checks compare every release with the one before it. Versions already
in the registry are skipped (records are immutable).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from mlpm import semver
from mlpm.errors import MlpmError
from mlpm.ops.publish import publish
from mlpm.registry import open_registry

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = Path(__file__).resolve().parent / "packages"
REGISTRY = ROOT / "registry-index"


def main(registry_dir: Path = REGISTRY) -> int:
    found = []
    for folder in sorted(PACKAGES.iterdir()):
        data = tomllib.loads((folder / "mlpm.toml").read_text())
        found.append((data["package"]["name"], data["package"]["version"],
                      set(data.get("dependencies", {})), folder))
    registry = open_registry(str(registry_dir))
    done: set[str] = set()
    order = []
    while len(order) < len(found):  # dependencies first
        ready = [f for f in found if f not in order and f[2] <= done | {f[0]}]
        if not ready:
            raise SystemExit("publish.py: a dependency cycle or a missing dependency")
        ready.sort(key=lambda f: (f[0], semver.parse_version(f[1])))
        order.extend(ready)
        done |= {f[0] for f in ready}
    for name, version, _, folder in order:
        if registry.exists(name) and any(r.version == version for r in registry.records(name)):
            continue
        try:
            record = publish(folder, str(registry_dir))
        except MlpmError as exc:
            print(f"error: {name}@{version}: {exc}", file=sys.stderr)
            return 1
        registry = open_registry(str(registry_dir))
        print(f"published {record.name}@{record.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REGISTRY))
