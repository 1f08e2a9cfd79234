"""Hugging Face repositories as packages: mlpm against huggingface_hub, same run, same server.

A real Hugging Face-compatible server (olah, offline, serving git repositories built here;
tests/hf_hub.py) holds a repository with a SIZE MiB safetensors file (stored with Git
LFS, so the Hub publishes its sha256) and a config. Then, alternating, each a fresh
process with a fresh cache:

  (a) huggingface_hub.snapshot_download(repo, revision="v1.0.0", allow_patterns=[the same
      files]): what an application calls today
  (b) `mlpm install hf:ORG/REPO@1.0.0` in a new project: resolves, streams and verifies
      the sha256, locks

And a no-op `mlpm install` of a project with 10 Hub packages locked and cached, against
`python -c pass` (the ratio the registry packages' benchmark reports), counting the
requests the server sees meanwhile (there must be none).

    .venv/bin/python benchmarks/hf_source.py [--size-mib 200] [--rounds 3]

Targets: (b)/(a) ≤ 1.1; the no-op ratio the same as for registry packages
(benchmarks/noop_install.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

from _harness import (
    MLPM_SCRIPT,
    PYTHON,
    isolated_env,
    machine,
    run,
    time_interleaved,
    timing_table,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hf_hub import HubServer, Lfs  # noqa: E402

MIB = 1 << 20


def big_safetensors(size: int) -> bytes:
    """A valid safetensors file: one F32 tensor of ``size`` random bytes."""
    import json

    n = size // 4
    header = json.dumps({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, n * 4]}})
    header += " " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header.encode() + os.urandom(n * 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--noop-rounds", type=int, default=20)
    args = parser.parse_args()
    machine()
    tmp = Path(tempfile.mkdtemp(prefix="mlpm-bench-hf-"))
    env = isolated_env(tmp)
    with HubServer(tmp / "hub") as hub:
        env["HF_ENDPOINT"] = hub.endpoint
        env["HF_HUB_DISABLE_TELEMETRY"] = "1"
        repo = hub.repo("big")
        repo.commit({"model.safetensors": Lfs(big_safetensors(args.size_mib * MIB)),
                     "config.json": b'{"model_type": "bench"}'}, tag="v1.0.0")
        print(f"\nrepository {repo.repo_id}: {args.size_mib} MiB safetensors + config, "
              f"served by olah on 127.0.0.1")
        hf_code = ("import sys; from huggingface_hub import snapshot_download; "
                   f"snapshot_download({repo.repo_id!r}, revision='v1.0.0', "
                   "allow_patterns=['model.safetensors', 'config.json'], cache_dir=sys.argv[1])")
        times: dict[str, list[float]] = {"huggingface_hub snapshot_download": [],
                                         "mlpm install hf:": []}
        for i in range(args.rounds):
            for label in (list(times) if i % 2 == 0 else list(reversed(times))):
                work = tmp / f"round-{i}-{label.split()[0]}"
                work.mkdir()
                round_env = {**env, "MLPM_CACHE_DIR": str(work / "cache")}
                if label.startswith("mlpm"):
                    run([PYTHON, MLPM_SCRIPT, "init"], cwd=work, env=round_env)
                    argv = [PYTHON, MLPM_SCRIPT, "install", f"hf:{repo.repo_id}@1.0.0"]
                else:
                    argv = [PYTHON, "-c", hf_code, str(work / "hf-cache")]
                start = time.perf_counter()
                run(argv, cwd=work, env=round_env, timeout=900)
                times[label].append(time.perf_counter() - start)
        print(f"\n{args.size_mib} MiB, {args.rounds} rounds, fresh process and cache each")
        for label, values in times.items():
            print(f"  {label:<38} median {statistics.median(values):6.2f} s  "
                  f"{args.size_mib / statistics.median(values):6.1f} MiB/s")
        ratio = statistics.median(times["mlpm install hf:"]) / statistics.median(
            times["huggingface_hub snapshot_download"])
        print(f"  ratio mlpm / huggingface_hub: {ratio:.2f}x (target <= 1.1)")

        # -- no-op install with 10 Hub packages locked and cached --------------------------
        project = tmp / "noop"
        project.mkdir()
        noop_env = {**env, "MLPM_CACHE_DIR": str(tmp / "noop-cache")}
        run([PYTHON, MLPM_SCRIPT, "init"], cwd=project, env=noop_env)
        specs = []
        for i in range(10):
            small = hub.repo(f"small-{i}")
            small.commit({"model.safetensors": Lfs(big_safetensors(4096 + i * 8)),
                          "config.json": b"{}"}, tag="v1.0.0")
            specs.append(f"hf:{small.repo_id}")
        run([PYTHON, MLPM_SCRIPT, "install", *specs], cwd=project, env=noop_env)
        mark = hub.mark()
        noop = time_interleaved({"python -c pass": [PYTHON, "-c", "pass"],
                                 "mlpm install (10 Hub packages)": [PYTHON, MLPM_SCRIPT,
                                                                    "install"]},
                                rounds=args.noop_rounds, cwd=project, env=noop_env)
        print("\nno-op install, 10 Hub packages locked and cached")
        timing_table(noop, "python -c pass")
        connections, requests = hub.since(mark)
        print(f"  requests to the Hub during the no-op runs: {len(requests)} "
              f"({connections} connections)")


if __name__ == "__main__":
    main()
