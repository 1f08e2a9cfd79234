"""The sparse index at Hugging Face scale: install, info and outdated against a registry of
2,000,000 packages cost what they cost against one of 1,000 (issue "Registry at Hugging
Face scale").

`generate(root, n)` writes a registry of N packages in mlpm's exact on-disk format, not by
N publishes: `config.json`, one index file per package in its name-prefix folder
(`index/ab/cd/NAME`, 1-5 versions each, records cloned from a real published one),
`names`, and the search log with its `head.json` (what `mlpm registry reindex` writes).
The index files are written by worker processes in parallel. Then the workload is
published into it with real `mlpm publish` calls: `bench-lib-0` ... `bench-lib-9` (1.0.0
and 1.1.0, each its own small ONNX model) and `bench-app` (1.0.0 and 1.1.0) depending on
all of them. Registries are cached under `--cache` (default
/tmp/mlpm-registry-scale-cache) and reused by the next run; `--fresh` rebuilds them.

Each registry is served by `mlpm registry serve DIR` in its own process on 127.0.0.1.
Four commands run as fresh processes (the `mlpm` console script), alternating between
the two registries every round, `--rounds` rounds, medians:

  cold install   `mlpm install bench-app` in a new project, empty cache (11 index files
                 and 11 artifacts fetched)
  warm install   the same in a new project with the cache of an earlier install (the
                 index files revalidated, the artifacts already in the store)
  info           `mlpm info bench-app`
  outdated       `mlpm outdated` in a project locked at bench-app 1.0.0

Printed per command: wall milliseconds, and CPU milliseconds (the command's user + system
time plus the server's during it, which other work on the machine does not move).

    .venv/bin/python benchmarks/registry_scale.py [--sizes 1000,2000000] [--rounds 7]
        [--cache DIR] [--fresh] [--workers 2]

Generating 2,000,000 packages takes several minutes on 2 cores and ~9 GB of disk (2M
small files); later runs reuse it. Not a test: it prints a table and one last line
`RESULT registry_scale ratio=X.XX cpu=Y.YY` (the worst of the four: time at the largest
size / time at the smallest, in wall and in CPU time).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _harness import MLPM_SCRIPT, PYTHON, isolated_env, make_onnx, print_table, run

LIBS = 10
TARGET = 1.1
FORMAT_STAMP = "registry-scale-1"  # bump when what generate() writes changes
WORDS = ("vision text audio speech image object detection segmentation translation bert "
         "resnet vit llama mistral whisper clip diffusion embedding sentiment summarization "
         "question answering token classification depth estimation ocr retrieval rerank "
         "multilingual tiny small base large distilled quantized instruct chat code").split()
ARCHS = ["bert", "resnet", "vit", "llama", "mistral", "whisper", "clip", "t5", "gpt2", "roberta"]
TASKS = ["text-classification", "image-classification", "text-generation", "translation",
         "automatic-speech-recognition", "feature-extraction", "object-detection"]


def filler_names(n: int) -> list[str]:
    """``n`` distinct package names shaped like Hugging Face's ORG-MODEL ids: a few
    thousand organisations, so the name-prefix folders hold hundreds of files each."""
    rng = random.Random(n)
    letters = "abcdefghijklmnopqrstuvwxyz"
    orgs = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(4, 9)))
                   for _ in range(5000)})
    return [f"{rng.choice(orgs)}-{rng.choice(ARCHS)}-{rng.choice(WORDS)}-{i}"
            for i in range(n)]


def _versions(i: int) -> list[str]:
    return [f"1.{v}.0" for v in range(1 + i % 5)]  # 1-5 versions, 3 on average


def _write_chunk(job: tuple[str, str, list[tuple[int, str]]]) -> int:
    """Worker: the index files of some packages (one folder at a time, no fsync)."""
    from mlpm.registry.records import index_path

    root, template, items = job
    base = json.loads(template)
    index = Path(root) / "index"
    made: set[str] = set()
    for i, name in items:
        rel = index_path(name)
        folder = rel.rpartition("/")[0]
        if folder not in made:
            (index / folder).mkdir(parents=True, exist_ok=True)
            made.add(folder)
        lines = []
        for version in _versions(i):
            base["name"], base["version"] = name, version
            lines.append(json.dumps(base, separators=(",", ":")))
        with open(index / rel, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
    return len(items)


def generate(root: Path, n: int, work: Path, workers: int) -> None:
    """A registry of ``n`` filler packages plus the workload at ``root``."""
    from mlpm.ops.publish import publish
    from mlpm.registry import init_registry_dir, layout, search
    from mlpm.registry.records import index_path

    if root.exists():
        shutil.rmtree(root)
    init_registry_dir(root)
    filler_model = make_onnx(work / "filler.onnx", 1000)
    template_rec = publish(filler_model, str(root), name="filler-template", version="1.0.0")
    template_file = layout.index_file(root, "filler-template")
    template = json.loads(template_file.read_text().splitlines()[0])
    template_file.unlink()
    names = filler_names(n - 1 - LIBS)
    rng = random.Random(n)
    template.update({"description": "A model for benchmarks.", "task": TASKS[0]})
    items = list(enumerate(names))
    # Whole prefix folders per job, so two workers never make the same folder.
    by_folder: dict[str, list[tuple[int, str]]] = {}
    for i, name in items:
        by_folder.setdefault(index_path(name).rpartition("/")[0], []).append((i, name))
    jobs: list[tuple[str, str, list[tuple[int, str]]]] = []
    chunk: list[tuple[int, str]] = []
    for group in by_folder.values():
        chunk.extend(group)
        if len(chunk) >= 20_000:
            jobs.append((str(root), json.dumps(template), chunk))
            chunk = []
    if chunk:
        jobs.append((str(root), json.dumps(template), chunk))
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        written = sum(pool.imap_unordered(_write_chunk, jobs))
    assert written == len(names)
    print(f"  {written:,} index files in {time.perf_counter() - start:.0f} s", flush=True)

    # names and the search log, as `mlpm registry reindex` writes them
    ordered = sorted(items, key=lambda pair: pair[1])
    log = "log-benchmark"
    shutil.rmtree(root / layout.SEARCH_DIR, ignore_errors=True)  # the template's publish
    (root / layout.SEARCH_DIR / log).mkdir(parents=True)
    per = search.SEGMENT_LINES
    seg = 0
    for seg, begin in enumerate(range(0, max(len(ordered), 1), per)):
        with open(root / layout.segment_rel(log, seg), "w", encoding="utf-8") as out:
            for i, name in ordered[begin:begin + per]:
                out.write(search._line({
                    **template, "name": name, "version": _versions(i)[-1],
                    "family": name.split("-")[1], "task": rng.choice(TASKS),
                    "algorithm": template_rec.algorithm, "keywords": []}))
    lines = len(ordered) - seg * per
    layout.names_file(root).write_text("".join(name + "\n" for _, name in ordered))
    (root / layout.SEARCH_HEAD_REL).write_text(json.dumps({
        "mlpm-search": search.FORMAT, "log": log, "segment": seg, "lines": lines,
        "segment-lines": per}))

    # the workload, by real publishes (names and the search log kept current by publish)
    for k in range(LIBS):
        for v, seed in (("1.0.0", k), ("1.1.0", 100 + k)):
            publish(make_onnx(work / f"lib-{k}-{v}.onnx", seed), str(root),
                    name=f"bench-lib-{k}", version=v)
    for v, seed in (("1.0.0", 500), ("1.1.0", 501)):
        publish(make_onnx(work / f"app-{v}.onnx", seed), str(root), name="bench-app",
                version=v, depends=[f"bench-lib-{k}@^1.0.0" for k in range(LIBS)])


def registry_for(cache: Path, n: int, work: Path, workers: int, fresh: bool) -> Path:
    root = cache / f"reg-{n}"
    stamp = cache / f"reg-{n}.done"
    if not fresh and stamp.is_file() and stamp.read_text() == FORMAT_STAMP:
        print(f"N={n:,}: reusing {root}", flush=True)
        return root
    stamp.unlink(missing_ok=True)
    print(f"N={n:,}: generating {root}", flush=True)
    start = time.perf_counter()
    generate(root, n, work, workers)
    stamp.write_text(FORMAT_STAMP)
    print(f"N={n:,}: generated in {time.perf_counter() - start:.0f} s", flush=True)
    return root


def serve(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([PYTHON, "-m", "mlpm", "registry", "serve", str(root), "--port",
                             str(port), "--quiet"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}/"


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(argv: list[str], cwd: Path, env: dict[str, str], server: int
          ) -> tuple[float, float]:
    """Wall seconds of one command, and the CPU seconds it and the server spent on it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    served = server_cpu(server)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}"
                         f"{proc.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu + server_cpu(server) - served


class Size:
    """One registry being measured: its server, a warm cache and the two fixed projects."""

    def __init__(self, n: int, url: str, server: int, tmp: Path, env: dict[str, str]):
        self.n, self.url, self.server, self.tmp = n, url, server, tmp / f"n{n}"
        self.tmp.mkdir()
        self.env = env
        self.count = 0
        self.warm_env = {**env, "MLPM_CACHE_DIR": str(self.tmp / "warm-cache")}
        seed = self.project("seed")
        run([MLPM_SCRIPT, "install", "bench-app"], cwd=seed, env=self.warm_env)
        self.info_dir = seed
        self.outdated_dir = self.project("outdated")
        run([MLPM_SCRIPT, "install", "bench-app@1.0.0"], cwd=self.outdated_dir,
            env=self.warm_env)

    def project(self, label: str) -> Path:
        self.count += 1
        path = self.tmp / f"{label}-{self.count}"
        path.mkdir()
        run([MLPM_SCRIPT, "init", "--registry", self.url], cwd=path, env=self.env)
        return path

    def measure(self, what: str) -> tuple[float, float]:
        if what == "cold install":
            cache = self.tmp / f"cold-cache-{self.count}"
            return timed([MLPM_SCRIPT, "install", "bench-app"], self.project("cold"),
                         {**self.env, "MLPM_CACHE_DIR": str(cache)}, self.server)
        if what == "warm install":
            return timed([MLPM_SCRIPT, "install", "bench-app"], self.project("warm"),
                         self.warm_env, self.server)
        if what == "info":
            return timed([MLPM_SCRIPT, "info", "bench-app"], self.info_dir, self.warm_env,
                         self.server)
        return timed([MLPM_SCRIPT, "outdated"], self.outdated_dir, self.warm_env,
                     self.server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,2000000")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/mlpm-registry-scale-cache"))
    parser.add_argument("--fresh", action="store_true", help="regenerate the registries")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--generate-only", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="mlpm-bench-registry-scale-"))
    servers: list[subprocess.Popen] = []
    try:
        env = isolated_env(tmp)
        args.cache.mkdir(parents=True, exist_ok=True)
        roots = {n: registry_for(args.cache, n, tmp, args.workers, args.fresh) for n in sizes}
        if args.generate_only:
            return
        measured: dict[int, Size] = {}
        for n, root in roots.items():
            proc, url = serve(root, env)
            servers.append(proc)
            measured[n] = Size(n, url, proc.pid, tmp, env)
        commands = ("cold install", "warm install", "info", "outdated")
        times: dict[tuple[str, int], list[float]] = {}
        cpus: dict[tuple[str, int], list[float]] = {}
        for what in commands:  # one unrecorded round each (bytecode, page cache)
            for n in sizes:
                measured[n].measure(what)
        for r in range(args.rounds):
            order = sizes if r % 2 == 0 else sizes[::-1]
            for what in commands:
                for n in order:
                    wall, cpu = measured[n].measure(what)
                    times.setdefault((what, n), []).append(wall)
                    cpus.setdefault((what, n), []).append(cpu)
        small, big = min(sizes), max(sizes)
        print(f"\nfresh processes, medians of {args.rounds} rounds, the sizes alternating")
        rows, worst, worst_cpu = [], 0.0, 0.0
        for what in commands:
            row: list[object] = [what]
            for n in sizes:
                row.append(f"{statistics.median(times[(what, n)]) * 1000:.0f}")
            ratio = statistics.median(times[(what, big)]) / statistics.median(times[(what, small)])
            worst = max(worst, ratio)
            for n in sizes:
                row.append(f"{statistics.median(cpus[(what, n)]) * 1000:.0f}")
            cpu_ratio = (statistics.median(cpus[(what, big)])
                         / statistics.median(cpus[(what, small)]))
            worst_cpu = max(worst_cpu, cpu_ratio)
            rows.append([*row, f"{ratio:.2f}", f"{cpu_ratio:.2f}", f"≤ {TARGET}"])
        print_table(["command", *[f"N={n:,} ms" for n in sizes],
                     *[f"N={n:,} cpu ms" for n in sizes], "wall ratio", "cpu ratio",
                     "target"], rows)
        print("(cpu: the command's user + system time plus the server's during it; it does "
              "not move with the load of other work on the machine)")
        print(f"RESULT registry_scale ratio={worst:.2f} cpu={worst_cpu:.2f} (target ≤ {TARGET}; "
              "the worst of the four, wall and CPU)")
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
