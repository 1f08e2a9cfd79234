"""Downloading one big artifact: mlpm's verified fetch against torch.hub, same run.

A SIZE MiB artifact of random bytes (the weights of a one-node ONNX model, so that
`mlpm publish` accepts it) is published into a registry that `mlpm registry serve`
serves on 127.0.0.1 from a separate process. Then, alternating, with a fresh
destination each time:

  (a) torch.hub.download_url_to_file(url, dst, hash_prefix=None, progress=False)
  (a') the same with hash_prefix=<full sha256> (torch.hub verifying, as mlpm always does)
  (b) mlpm.fetch.fetch_blob(Store(tmp), url, sha256, size, label=...): streams, hashes,
      verifies and renames into the content-addressed store
  (c) a whole `mlpm install big` in a new project, as a fresh process (--install-rounds)
  (c') what a user runs for (a), a fresh process too, alternating with (c):
      `python -c "import torch.hub; torch.hub.download_url_to_file(...)"`

    .venv/bin/python benchmarks/download.py [--size-mib 512] [--rounds 3]

Target: mlpm at least as fast as torch.hub (a): ratio of medians b/a ≤ 1.0.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from _harness import MLPM_SCRIPT, PYTHON, isolated_env, machine, print_table, run

TARGET = 1.0
MIB = 1 << 20


def make_big_onnx(path: Path, size: int) -> None:
    """A valid ONNX model (y = x + W) whose float32 initializer W is ``size`` random bytes."""
    from onnx import TensorProto, helper

    n = size // 4
    weights = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[n])
    weights.raw_data = os.urandom(n * 4)
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "W"], ["y"])], "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])],
        initializer=[weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    data = model.SerializeToString()
    del model, graph, weights
    path.write_bytes(data)


def start_server(registry: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`mlpm registry serve DIR --port 0 --quiet` in its own process; returns (proc, url)."""
    proc = subprocess.Popen([MLPM_SCRIPT, "registry", "serve", str(registry), "--port", "0",
                             "--quiet"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if not match:
        proc.kill()
        raise SystemExit(f"mlpm registry serve did not start: {line}{proc.stderr.read()}")
    url = match.group(0)
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "config.json", timeout=5).read()
            break
        except OSError:
            time.sleep(0.05)
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--install-rounds", type=int, default=1,
                        help="full `mlpm install` runs (0 to skip)")
    parser.add_argument("--no-hash-peer", action="store_true",
                        help="skip torch.hub with hash_prefix")
    parser.add_argument("--no-profile", action="store_true",
                        help="skip the cProfile of one mlpm fetch")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mlpm-bench-download-"))
    server = None
    try:
        env = isolated_env(tmp)
        t0 = time.perf_counter()
        source = tmp / "big.onnx"
        make_big_onnx(source, args.size_mib * MIB)
        registry = tmp / "registry"
        run([PYTHON, "-m", "mlpm", "publish", str(source), "--registry", str(registry),
             "--name", "big", "--version", "1.0.0"], cwd=tmp, env=env)
        source.unlink()  # the registry holds its own copy

        from mlpm.fetch import fetch_blob
        from mlpm.registry import open_registry
        from mlpm.store import Store, file_sha256

        artifact = open_registry(str(registry)).records("big")[-1].artifacts[0]
        server, base = start_server(registry, env)
        url = base + artifact.url
        sha, size = artifact.sha256, artifact.size
        import torch.hub

        print(f"download: {size / MIB:.1f} MiB artifact served by `mlpm registry serve` (own "
              f"process) on loopback; setup {time.perf_counter() - t0:.1f} s; {machine()}\n")

        # Warm-up, untimed: first requests, lazy imports (requests), the server's page cache.
        small = registry / "config.json"
        warm = tmp / "warm"
        fetch_blob(Store(warm), base + "config.json", file_sha256(small), small.stat().st_size,
                   label="warm-up")
        torch.hub.download_url_to_file(base + "config.json", str(warm / "c.json"),
                                       progress=False)
        with urllib.request.urlopen(url) as resp:  # the whole file once: in the page cache
            while resp.read(8 * MIB):
                pass

        def torch_plain(dest: Path) -> Path:
            out = dest / "big.onnx"
            torch.hub.download_url_to_file(url, str(out), hash_prefix=None, progress=False)
            return out

        def torch_hashed(dest: Path) -> Path:
            out = dest / "big.onnx"
            torch.hub.download_url_to_file(url, str(out), hash_prefix=sha, progress=False)
            return out

        def mlpm_fetch(dest: Path) -> Path:
            return fetch_blob(Store(dest), url, sha, size, label="big@1.0.0 big.onnx")

        contenders = {"torch.hub download_url_to_file (hash_prefix=None)": torch_plain}
        if not args.no_hash_peer:
            contenders["torch.hub download_url_to_file (hash_prefix=sha256)"] = torch_hashed
        contenders["mlpm.fetch.fetch_blob (sha256 verified)"] = mlpm_fetch
        labels = list(contenders)
        wall: dict[str, list[float]] = {k: [] for k in labels}
        cpu: dict[str, list[float]] = {k: [] for k in labels}
        for r in range(args.rounds):
            order = labels if r % 2 == 0 else labels[::-1]
            for label in order:
                dest = tmp / f"dest-{r}-{labels.index(label)}"
                dest.mkdir()
                os.sync()  # no earlier round's dirty pages are written back on our clock
                c0, w0 = time.process_time(), time.perf_counter()
                out = contenders[label](dest)
                w1, c1 = time.perf_counter(), time.process_time()
                if out.stat().st_size != size:
                    raise SystemExit(f"{label} wrote {out.stat().st_size} bytes, not {size}")
                wall[label].append(w1 - w0)
                cpu[label].append(c1 - c0)
                shutil.rmtree(dest)

        install_times, script_times = [], []
        script = ("import sys, torch.hub; "
                  "torch.hub.download_url_to_file(sys.argv[1], sys.argv[2], progress=False)")
        for r in range(args.install_rounds):
            app = tmp / f"app-{r}"
            app.mkdir()
            cache_env = dict(env, MLPM_CACHE_DIR=str(tmp / f"install-cache-{r}"))
            run([MLPM_SCRIPT, "init", "--registry", base], cwd=app, env=cache_env)
            os.sync()
            w0 = time.perf_counter()
            run([MLPM_SCRIPT, "install", "big"], cwd=app, env=cache_env)
            install_times.append(time.perf_counter() - w0)
            shutil.rmtree(tmp / f"install-cache-{r}")
            os.sync()
            w0 = time.perf_counter()
            run([PYTHON, "-c", script, url, str(app / "big.onnx")], cwd=app, env=env)
            script_times.append(time.perf_counter() - w0)

        peer = labels[0]
        peer_med = statistics.median(wall[peer])
        rows = []
        for label in labels:
            med, best = statistics.median(wall[label]), min(wall[label])
            rows.append([label, f"{best:.2f}", f"{med:.2f}", f"{size / MIB / med:.0f}",
                         f"{statistics.median(cpu[label]):.2f}", f"{med / peer_med:.2f}x"])
        if install_times:
            med = statistics.median(install_times)
            rows.append(["`mlpm install big` (fresh process, resolve + fetch)",
                         f"{min(install_times):.2f}", f"{med:.2f}", f"{size / MIB / med:.0f}",
                         "-", f"{med / peer_med:.2f}x"])
            med = statistics.median(script_times)
            rows.append(["`python -c 'import torch.hub; download_url_to_file(…)'` (fresh)",
                         f"{min(script_times):.2f}", f"{med:.2f}", f"{size / MIB / med:.0f}",
                         "-", f"{med / peer_med:.2f}x"])
        print_table(["client", "best s", "median s", "MiB/s", "cpu s", "vs torch.hub"], rows)

        hasher_t = hash_throughput()
        t_write, t_fsync = disk_cost(tmp, size)
        print(f"\nfor scale, on this machine: hashlib.sha256 alone {hasher_t:.0f} MiB/s "
              f"({size / MIB / hasher_t:.2f} s for this artifact, on the thread that also "
              f"reads and writes); writing {size / MIB:.0f} MiB to a file {t_write:.2f} s, then "
              f"os.fsync {t_fsync:.2f} s (torch.hub does not fsync)")

        mine = labels[-1]
        ratio = statistics.median(wall[mine]) / peer_med
        best_ratio = min(wall[mine]) / min(wall[peer])
        if not args.no_profile:
            profile_fetch(mlpm_fetch, tmp)
        print(f"\nratios (mlpm / torch.hub hash_prefix=None): median {ratio:.2f}, "
              f"best {best_ratio:.2f}" + "".join(
                  f"; mlpm / {label.split('(')[1].rstrip(')')} torch.hub "
                  f"{statistics.median(wall[mine]) / statistics.median(wall[label]):.2f}"
                  for label in labels[1:-1]))
        if install_times:
            fresh = statistics.median(install_times) / statistics.median(script_times)
            print(f"fresh processes, as a user runs them: `mlpm install big` / `python -c "
                  f"'import torch.hub; …'` {fresh:.2f} (the latter pays for importing torch)")
        print(f"RESULT download ratio={ratio:.2f} (target ≤ {TARGET})")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def hash_throughput() -> float:
    import hashlib

    block = os.urandom(64 * MIB)
    hasher = hashlib.sha256()
    t0 = time.perf_counter()
    for _ in range(4):
        hasher.update(block)
    return 256 / (time.perf_counter() - t0)


def disk_cost(tmp: Path, size: int) -> tuple[float, float]:
    """Seconds to write ``size`` bytes in 1 MiB chunks, and then to fsync them."""
    block = os.urandom(MIB)
    path = tmp / "disk-cost"
    os.sync()
    with open(path, "wb") as fh:
        t0 = time.perf_counter()
        for _ in range(size // MIB):
            fh.write(block)
        fh.flush()
        t1 = time.perf_counter()
        os.fsync(fh.fileno())
        t2 = time.perf_counter()
    path.unlink()
    return t1 - t0, t2 - t1


def profile_fetch(mlpm_fetch, tmp: Path, top: int = 12) -> None:
    """cProfile of one more mlpm fetch: where the download loop spends its time."""
    import cProfile
    import pstats

    dest = tmp / "profiled"
    dest.mkdir()
    os.sync()
    prof = cProfile.Profile()
    prof.enable()
    mlpm_fetch(dest)
    prof.disable()
    shutil.rmtree(dest)
    stats = pstats.Stats(prof).stats
    total = sum(tt for (_, _, tt, _, _) in stats.values())
    rows = sorted(((f"{os.path.basename(f)}:{ln}({fn})" if ln else fn, nc, tt, ct)
                   for (f, ln, fn), (_, nc, tt, ct, _) in stats.items()), key=lambda r: -r[2])
    print(f"\ncProfile of one more mlpm fetch_blob ({total:.2f} s profiled): top {top} by "
          "own time (tottime)")
    print_table(["function", "calls", "tottime s", "cumtime s", "share"],
                [[r[0], r[1], f"{r[2]:.3f}", f"{r[3]:.3f}", f"{100 * r[2] / total:.0f}%"]
                 for r in rows[:top]])


if __name__ == "__main__":
    main()
