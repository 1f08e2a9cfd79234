"""Resolving 200 dependencies from an HTTP registry 25 ms away: cold and warm.

A registry holds `app`, which depends on `leaf-000` ... `leaf-199` (one real ONNX model,
its record cloned under 200 names). `mlpm registry serve` serves it from a separate
process, behind a loopback TCP proxy (in this process, asyncio) that holds back every
response, and every new connection, by DELAY (25 ms): a registry one round trip away.

Each measurement is a new run as mlpm makes one: a fresh `HttpRegistry` over the same
cache folder, then `resolve(registry, {"app": "^1"})`, in this process.

  serial      the index files one at a time, as a resolver that never prefetches
  prefetch    as the resolver does once it calls `registry.prefetch(dependency names)`
              from `Provider.get_dependencies`; when mlpm/resolve.py does not call it yet,
              the benchmark calls it itself, the way the resolver will (after reading
              `app`, with app's dependencies), and says so

and each of them

  cold        nothing cached
  revalidate  everything cached, MLPM_INDEX_TTL=0 (the default): one 304 per index file
  fresh       everything cached inside the freshness window (MLPM_INDEX_TTL=300): no request

With --install, also whole `mlpm install app` runs (fresh processes, a new project
each time, the artifact downloaded once when cold), cold and fresh.

    .venv/bin/python benchmarks/index_latency.py [--deps 200] [--delay-ms 25] [--rounds 3]

Targets (prefetch): cold ≤ 1.5 s, fresh ≤ 0.2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from _harness import MLPM_SCRIPT, PYTHON, isolated_env, make_onnx, print_table, run

TARGETS = {"cold": 1.5, "fresh": 0.2}


class DelayProxy:
    """A TCP proxy on 127.0.0.1 that waits ``delay`` seconds before each new connection
    and before the first bytes of each response (bytes after new request bytes)."""

    def __init__(self, upstream: int, delay: float):
        self.upstream, self.delay = upstream, delay
        self.port = 0
        ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def start():
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=256)
            self.port = server.sockets[0].getsockname()[1]

        self.loop.run_until_complete(start())
        ready.set()
        self.loop.run_forever()

    async def _handle(self, client_r, client_w) -> None:
        await asyncio.sleep(self.delay)  # the TCP handshake's round trip
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            client_w.close()
            return
        for w in (client_w, server_w):
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = {"sent": 0, "answered": 0}

        async def upstream():
            while data := await client_r.read(65536):
                state["sent"] += 1
                server_w.write(data)
                await server_w.drain()
            server_w.close()

        async def downstream():
            while data := await server_r.read(65536):
                if state["answered"] < state["sent"]:
                    state["answered"] = state["sent"]
                    await asyncio.sleep(self.delay)
                client_w.write(data)
                await client_w.drain()
            client_w.close()

        await asyncio.gather(upstream(), downstream(), return_exceptions=True)


def build_registry(tmp: Path, deps: int, env: dict[str, str]) -> list[str]:
    """The registry folder: leaf-000 published from a real model, cloned into the other
    leaves; app depends on every leaf."""
    from mlpm.registry import layout

    root = tmp / "registry"
    model = make_onnx(tmp / "leaf.onnx", 1)
    run([MLPM_SCRIPT, "publish", str(model), "--registry", str(root), "--name", "leaf-000",
         "--version", "1.0.0"], cwd=tmp, env=env)
    record = json.loads(layout.index_file(root, "leaf-000").read_text().splitlines()[0])
    names = [f"leaf-{i:03d}" for i in range(deps)]
    for name in [*names, "app"]:
        record = {**record, "name": name}
        if name == "app":
            record["dependencies"] = {leaf: "^1.0.0" for leaf in names}
        path = layout.index_file(root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record) + "\n")
    layout.names_file(root).write_text("\n".join(["app", *names]) + "\n")
    return names


def resolver_prefetches() -> bool:
    import inspect

    import mlpm.resolve

    return "prefetch" in inspect.getsource(mlpm.resolve)


def one_run(url: str, prefetch: bool, by_resolver: bool) -> float:
    from mlpm.registry import HttpRegistry
    from mlpm.resolve import resolve
    from mlpm.store import Store

    start = time.perf_counter()
    registry = HttpRegistry(url, Store(), offline=False)
    if prefetch and not by_resolver:  # what Provider.get_dependencies will do
        registry.prefetch(registry.records("app")[-1].dependencies)
    elif not prefetch:
        registry.prefetch = lambda names: None  # type: ignore[method-assign]
    resolution = resolve(registry, {"app": "^1.0.0"})
    elapsed = time.perf_counter() - start
    assert len(resolution.records) > 1
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deps", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=25.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--install", action="store_true",
                        help="also time whole `mlpm install app` processes")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mlpm-bench-index-"))
    server = None
    try:
        env = isolated_env(tmp)
        build_registry(tmp, args.deps, env)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen([PYTHON, "-m", "mlpm", "registry", "serve",
                                   str(tmp / "registry"), "--port", str(port), "--quiet"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        proxy = DelayProxy(port, args.delay_ms / 1000)
        url = f"http://127.0.0.1:{proxy.port}/"
        by_resolver = resolver_prefetches()
        from mlpm.store import Store

        cache = Store().index_cache(url)
        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for mode in ("serial", "prefetch"):
                shutil.rmtree(cache, ignore_errors=True)
                for state, ttl in (("cold", "0"), ("revalidate", "0"), ("fresh", "300")):
                    os.environ["MLPM_INDEX_TTL"] = ttl
                    if state == "fresh":  # start the window now
                        os.environ["MLPM_INDEX_TTL"] = "0"
                        one_run(url, True, by_resolver)
                        os.environ["MLPM_INDEX_TTL"] = ttl
                    results.setdefault((mode, state), []).append(
                        one_run(url, mode == "prefetch", by_resolver))
        os.environ.pop("MLPM_INDEX_TTL", None)

        print(f"{args.deps} dependencies, {args.delay_ms:g} ms added to every response and "
              f"connection, median of {args.rounds} rounds, in-process resolve")
        print("prefetch called by: " + ("mlpm/resolve.py (Provider.get_dependencies)"
                                        if by_resolver else
                                        "this benchmark (mlpm/resolve.py does not call it "
                                        "yet)"))
        rows = []
        for (mode, state), values in results.items():
            med = statistics.median(values)
            target = TARGETS.get(state)
            rows.append([mode, state, f"{med:.3f}", f"{min(values):.3f}",
                         f"{target:g}" if target else "-",
                         f"{med / target:.2f}x" if target else "-"])
        print_table(["mode", "cache", "median s", "min s", "target s", "vs target"], rows)

        if args.install:
            install_runs(tmp, env, url, args.rounds)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def install_runs(tmp: Path, env: dict[str, str], url: str, rounds: int) -> None:
    rows = []
    for state, ttl in (("cold", "0"), ("fresh", "300")):
        values = []
        for i in range(rounds):
            if state == "cold":
                shutil.rmtree(tmp / "cache", ignore_errors=True)
            else:  # start the window
                warm = tmp / f"warm-{i}"
                warm.mkdir()
                run([MLPM_SCRIPT, "init", "--registry", url], cwd=warm, env=env)
                run([MLPM_SCRIPT, "install", "app"], cwd=warm, env=env)
            project = tmp / f"{state}-{i}"
            project.mkdir()
            run([MLPM_SCRIPT, "init", "--registry", url], cwd=project, env=env)
            start = time.perf_counter()
            run([MLPM_SCRIPT, "install", "app"], cwd=project,
                env={**env, "MLPM_INDEX_TTL": ttl})
            values.append(time.perf_counter() - start)
        med = statistics.median(values)
        rows.append([f"mlpm install app ({state})", f"{med:.3f}", f"{min(values):.3f}"])
    print()
    print_table(["whole command, fresh process", "median s", "min s"], rows)


if __name__ == "__main__":
    main()
