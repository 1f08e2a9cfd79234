"""`mlpm adopt`'s reverse lookup (upstream -> package) against an HTTP registry of N packages.

A registry of N torch-hub packages (records written directly in the format, each naming
its upstream `acme/repo-K` entrypoint `net`, its upstreams index built by
`mlpm.registry.upstreams.reindex`) is served on loopback by `mlpm registry serve`'s server.
Ten call sites `torch.hub.load("acme/repo-K", "net")` are mapped, cold (empty cache):

  mlpm    the mapper: upstreams/head.json, one shard per call site, then the index file
          of each package the shard names (mlpm/adopt/mapping.py)
  peer    what a registry without the reverse index needs: the `names` file, then every
          package's index file (fetched 8 at a time, as the resolver prefetches), each
          record's upstream compared with the call sites

    .venv/bin/python benchmarks/adopt_lookup.py [--packages 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from _harness import isolated_env  # noqa: I001  (benchmarks/ is on sys.path when run)

SITES = 10


def build(root: Path, packages: int) -> None:
    from mlpm.registry import init_registry_dir, layout, upstreams

    init_registry_dir(root)
    names = []
    for k in range(packages):
        name = f"model-{k:06d}"
        names.append(name)
        record = {"name": name, "version": "1.0.0", "framework": "torch", "artifacts": [
            {"format": "torch-hub", "path": f"w-{k}.pth", "url": f"https://example.org/w-{k}.pth",
             "role": "weights", "sha256-prefix": f"{k:08x}"}],
            "dependencies": {}, "yanked": False, "kind": "torch-hub",
            "upstream": {"type": "torch-hub", "repo": f"acme/repo-{k}", "entrypoint": "net"}}
        path = layout.index_file(root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, separators=(",", ":")) + "\n")
    layout.names_file(root).write_text("".join(n + "\n" for n in names))
    upstreams.reindex(root)


def sites(packages: int) -> list:
    from mlpm.adopt.sites import CallSite

    step = max(1, packages // SITES)
    return [CallSite(file=Path("app.py"), line=i + 1, col=0, end_line=i + 1, end_col=1,
                     kind="torch.hub.load", call="", args={
                         "repo_or_dir": f"acme/repo-{i * step}", "model": "net", "kwargs": {}})
            for i in range(SITES)]


def run_mlpm(url: str, cache: Path) -> tuple[float, int]:
    from mlpm.adopt.mapping import map_sites
    from mlpm.adopt.sites import EXACT
    from mlpm.registry import open_registry
    from mlpm.store import Store

    shutil.rmtree(cache, ignore_errors=True)
    start = time.perf_counter()
    found = map_sites(SITE_LIST, open_registry(url, Store(cache)))
    elapsed = time.perf_counter() - start
    assert all(m.how == EXACT for m in found), found
    return elapsed, len(found)


def run_peer(url: str, cache: Path) -> tuple[float, int]:
    from mlpm.registry import open_registry
    from mlpm.store import Store

    shutil.rmtree(cache, ignore_errors=True)
    start = time.perf_counter()
    registry = open_registry(url, Store(cache))
    wanted = {(s.args["repo_or_dir"], s.args["model"]) for s in SITE_LIST}
    names = registry.names()
    registry.prefetch(names)
    hits = 0
    for name in names:
        for record in registry.records(name):
            up = record.upstream or {}
            hits += (up.get("repo"), up.get("entrypoint")) in wanted
    elapsed = time.perf_counter() - start
    assert hits == SITES, hits
    return elapsed, hits


SITE_LIST: list = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlpm-bench-adopt-"))
    try:
        isolated_env(tmp)
        from mlpm.registry.server import RegistryServer

        root = tmp / "registry"
        t = time.perf_counter()
        build(root, opts.packages)
        print(f"built a registry of {opts.packages} packages in {time.perf_counter() - t:.1f} s")
        SITE_LIST.extend(sites(opts.packages))
        server = RegistryServer(root, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        mlpm_times, peer_times = [], []
        for _ in range(opts.rounds):
            mlpm_times.append(run_mlpm(server.url, tmp / "cache-mlpm")[0])
            peer_times.append(run_peer(server.url, tmp / "cache-peer")[0])
        server.shutdown()
        server.server_close()
        mine, peer = statistics.median(mlpm_times), statistics.median(peer_times)
        print(f"{'':28}{'median':>10}")
        print(f"{'mlpm (upstreams index)':28}{mine * 1000:>8.1f}ms")
        print(f"{'peer (every index file)':28}{peer * 1000:>8.1f}ms")
        print(f"RESULT adopt_lookup ratio={mine / peer:.4f} (target <= 0.05; "
              f"{opts.packages} packages, {SITES} call sites, cold)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
