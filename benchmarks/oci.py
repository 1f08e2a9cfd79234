"""An mlpm registry on an OCI registry (Docker Distribution on 127.0.0.1): download speed
against curl, and what resolution costs against a folder registry, same run.

  (a) `curl -o FILE URL` of one SIZE MiB blob straight from the registry
  (b) `mlpm install big` of that blob as a package's artifact, in a new project and cache
      (resolves through the package's index tag, streams, verifies the sha256, locks)

  (c) a namespace of PACKAGES packages (written with mlpm's own OCI publisher): install 20
      of them in a new project, counting the requests the registry receives, against the
      same install from a folder registry holding the same records.

    .venv/bin/python benchmarks/oci.py [--size-mib 512] [--rounds 3] [--packages 1000]

Targets: (b) at least 0.8x of curl's speed; (c) a bounded number of requests per package.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _harness import MLPM_SCRIPT, PYTHON, isolated_env, machine, run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from download import make_big_onnx  # noqa: E402

from tests.oci_registry import OciServer  # noqa: E402

MIB = 1 << 20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--packages", type=int, default=1000)
    args = parser.parse_args()
    print(machine())
    tmp = Path(tempfile.mkdtemp(prefix="mlpm-bench-oci-"))
    env = isolated_env(tmp)
    with OciServer(tmp / "oci") as oci:
        direct = oci.direct_url.split("//", 1)[1]
        ref = f"oci://{direct}/bench"
        big = tmp / "big.onnx"
        make_big_onnx(big, args.size_mib * MIB)
        run([PYTHON, MLPM_SCRIPT, "publish", str(big), "--registry", ref, "--name", "big",
             "--version", "1.0.0"], cwd=tmp, env=env, timeout=1800)
        import hashlib

        digest = hashlib.sha256(big.read_bytes()).hexdigest()
        url = f"{oci.direct_url}/v2/bench/big/blobs/sha256:{digest}"
        # the physical limit of a verified download here: curl writing the file while
        # another process hashes the same bytes (sha256 is CPU-bound; on 2 cores it
        # competes with the registry and the writer)
        hasher = ("import sys, hashlib; h = hashlib.sha256(); out = open(sys.argv[1], 'wb')\n"
                  "for c in iter(lambda: sys.stdin.buffer.read(1 << 20), b''):\n"
                  "    h.update(c); out.write(c)\n"
                  f"assert h.hexdigest() == {digest!r}")
        times: dict[str, list[float]] = {"curl -o": [], "curl | sha256": [],
                                         "mlpm install": []}
        for i in range(args.rounds):
            for label in (list(times) if i % 2 == 0 else list(reversed(times))):
                work = tmp / f"round-{i}-{label.split()[0]}"
                work.mkdir()
                round_env = {**env, "MLPM_CACHE_DIR": str(work / "cache")}
                if label == "curl -o":
                    argv = ["curl", "-sSf", "-o", str(work / "blob"), url]
                elif label == "curl | sha256":
                    import shlex

                    argv = ["sh", "-c", f"curl -sSf {shlex.quote(url)} | {shlex.quote(PYTHON)} "
                            f"-c {shlex.quote(hasher)} {shlex.quote(str(work / 'blob'))}"]
                else:
                    run([PYTHON, MLPM_SCRIPT, "init", "--registry", ref], cwd=work,
                        env=round_env)
                    argv = [PYTHON, MLPM_SCRIPT, "install", "big"]
                start = time.perf_counter()
                run(argv, cwd=work, env=round_env, timeout=1800)
                times[label].append(time.perf_counter() - start)
                shutil.rmtree(work)
        print(f"\n{args.size_mib} MiB blob, {args.rounds} rounds, a fresh process each")
        for label, values in times.items():
            med = statistics.median(values)
            print(f"  {label:<14} median {med:6.2f} s  {args.size_mib / med:7.1f} MiB/s")
        speed = statistics.median(times["curl -o"]) / statistics.median(times["mlpm install"])
        print(f"  mlpm's speed / curl's: {speed:.2f}x (target >= 0.8)")
        limit = statistics.median(times["curl | sha256"]) / statistics.median(
            times["mlpm install"])
        print(f"  mlpm's speed / curl piped into sha256 (the verified-download limit here): "
              f"{limit:.2f}x")

        if args.packages >= 400:  # the 20 packages installed are every 20th of them
            resolve_cost(oci, tmp, env, args.packages)


def resolve_cost(oci: OciServer, tmp: Path, env: dict[str, str], packages: int) -> None:
    """(c): write PACKAGES packages into a namespace and into a folder, then install 20."""
    import os

    os.environ.update(env)
    from mlpm.registry import init_registry_dir
    from mlpm.registry import oci as oci_registry
    from mlpm.registry.records import Artifact, Record
    from mlpm.store import Store

    oci_registry.SETTLE = 0.0  # one writer here: no race to wait out
    ref = oci.ref("wide")
    registry = oci_registry.OciRegistry(ref, Store(tmp / "writer-cache"), offline=False)
    folder = tmp / "folder-registry"
    init_registry_dir(folder)
    from mlpm.ops.publish import add_to_folder

    blob = tmp / "tiny.bin"
    blob.write_bytes(b"weights")
    import hashlib

    sha = hashlib.sha256(blob.read_bytes()).hexdigest()
    start = time.perf_counter()
    for i in range(packages):
        art = Artifact("onnx", "model.onnx", sha, blob.stat().st_size,
                       f"artifacts/{sha[:2]}/{sha}")
        record = Record(f"pkg{i:04d}", "1.0.0", "onnx", [art],
                        {f"pkg{i - 1:04d}": "^1.0.0"} if i % 20 else {})
        registry.publish_version(record, [(art, blob)], [])
        add_to_folder(folder, record, [(art, blob)])
    print(f"\nwrote {packages} packages to {ref} and to a folder in "
          f"{time.perf_counter() - start:.0f} s")
    names = [f"pkg{i:04d}" for i in range(0, 20 * 20, 20)][:20]
    for label, location in (("OCI registry", ref), ("folder registry", str(folder))):
        project = tmp / f"project-{label.split()[0]}"
        project.mkdir()
        run_env = {**env, "MLPM_CACHE_DIR": str(project / "cache")}
        run([PYTHON, MLPM_SCRIPT, "init", "--registry", location], cwd=project, env=run_env)
        mark = oci.mark()
        start = time.perf_counter()
        run([PYTHON, MLPM_SCRIPT, "install", *names], cwd=project, env=run_env, timeout=600)
        took = time.perf_counter() - start
        _, requests = oci.since(mark)
        print(f"  install of 20 packages from the {label:<16} {took:5.2f} s, "
              f"{len(requests)} requests to the OCI registry")


if __name__ == "__main__":
    main()
