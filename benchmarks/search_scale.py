"""Search, did-you-mean and publish against a registry of N packages (issue "Registry at
Hugging Face scale").

`generate(root, n)` writes a registry of N packages directly in the format (one record an
index file sharing one artifact, `names`, and the search log with its snapshot, written by
the functions `mlpm registry reindex` uses), not by N publishes. `mlpm registry serve` (in
this process, a thread) serves it:

  cold, log     a first sync and search (a page of 20) in a fresh process, with the
                snapshot left out of head.json: every log segment (the peer)
  (--repeat R runs both R times, alternating, and reports the median; every run listed)
  search cold   the same with the snapshot: one GET of it, then the log after it; wall
                and CPU seconds and peak memory (VmHWM) of that process
  search warm   in this process, a fresh registry object: head.json revalidated (304),
                the database queried; a common word (about a third of the packages
                match): a page of 20 (median of 3) and `--all`; one exact name
  sync after 1,000   1,000 new packages appended as publish appends them (names, log
                line, index file), then the search that syncs them (a Range GET of the
                current segment)
  did-you-mean  `Registry._not_found(typo)` of a folder registry, database synced
  publish       `mlpm publish` of a new package into the folder (median of 3)
  old search    (only when N <= --old-max) the fallback for a registry without a search
                index: `names` then every index file over HTTP, with search/ hidden

    .venv/bin/python benchmarks/search_scale.py [--sizes 1000,200000] [--old-max 1000]
        [--log-only 2000000]   (no index files from that size on: 2M small files are ~8 GB)
        [--work DIR]           (keep the registries in DIR; a later run reuses them)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from _harness import isolated_env, make_onnx

from mlpm.registry import layout

WORDS = ("vision text audio speech image object detection segmentation translation bert "
         "resnet vit llama mistral whisper clip diffusion embedding sentiment summarization "
         "question answering token classification depth estimation ocr retrieval rerank "
         "multilingual tiny small base large distilled quantized instruct chat code").split()
ORGS = [f"org{i:04d}" for i in range(2000)]
ARCHS = ["bert", "resnet", "vit", "llama", "mistral", "whisper", "clip", "t5", "gpt2", "roberta"]
TASKS = ["text-classification", "image-classification", "text-generation", "translation",
         "automatic-speech-recognition", "feature-extraction", "object-detection"]


def generate(root: Path, n: int, artifact: Path, log_only: bool = False) -> list[str]:
    """Write a registry of ``n`` packages at ``root``; returns the names. ``log_only``
    writes names and the search log but no index files (for search and did-you-mean at
    sizes where n small files do not fit)."""
    from mlpm.registry import init_registry_dir, layout, search
    from mlpm.store import file_sha256

    init_registry_dir(root)
    sha = file_sha256(artifact)
    rel = layout.artifact_rel(sha)
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(artifact, root / rel)
    rng = random.Random(n)
    names = sorted({f"{rng.choice(ORGS)}-{rng.choice(ARCHS)}-{rng.choice(WORDS)}-{i}"
                    for i in range(n)})

    def entries():
        for name in names:
            desc = " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "."
            rec = {"name": name, "version": "1.0.0", "framework": "onnx",
                   "artifacts": [{"format": "onnx", "path": "model.onnx", "sha256": sha,
                                  "size": artifact.stat().st_size, "url": rel}],
                   "dependencies": {}, "yanked": False, "kind": "onnx", "description": desc,
                   "task": rng.choice(TASKS), "family": name.split("-")[1]}
            if not log_only:
                path = layout.index_file(root, name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(rec, separators=(",", ":")) + "\n")
            yield {**rec, "algorithm": None, "keywords": []}

    (root / "search").mkdir(exist_ok=True)
    head = search.write_log(root, entries())  # as `mlpm registry reindex` writes it
    layout.names_file(root).write_text("".join(x + "\n" for x in names))
    search.commit_log(root, head)
    return names


def timed(fn, *args, **kw):
    start = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - start, out


COLD = """
import json, sys, time
from mlpm.registry import open_registry, search
from mlpm.store import Store
start = time.perf_counter()
found = search.search(open_registry(sys.argv[1], Store(sys.argv[2])), sys.argv[3], limit=20)
seconds = time.perf_counter() - start
with open("/proc/self/status") as fh:  # the peak of this process alone (ru_maxrss of a
    peak = next(int(x.split()[1]) for x in fh if x.startswith("VmHWM"))  # child: the parent's)
print(json.dumps({"seconds": seconds, "hits": len(found.hits), "peak": peak}))
"""


def cold_search(url: str, cache: Path, word: str) -> tuple[float, float, float]:
    """A first sync and search in a new process: (seconds, peak memory in MB, CPU seconds
    of the process: less sensitive than the wall clock to other work on the machine)."""
    import subprocess
    import sys

    shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "MLPM_CACHE_DIR": str(cache)}
    proc = subprocess.Popen([sys.executable, "-c", COLD, url, str(cache), word], env=env,
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"the cold search failed ({proc.returncode})")
    got = json.loads(out)
    return got["seconds"], got["peak"] / 1024, usage.ru_utime + usage.ru_stime  # KiB


def measure(n: int, work: Path, model: Path, old_max: int, log_only: bool,
            repeat: int = 1, cold_only: bool = False) -> dict[str, float]:
    from mlpm.ops.publish import _append_record, publish
    from mlpm.registry import open_registry
    from mlpm.registry import search as search_index
    from mlpm.registry.records import Record
    from mlpm.registry.server import RegistryServer
    from mlpm.store import Store

    root = work / f"reg-{n}"
    if (root / "search" / "head.json").is_file():  # --work DIR: generated by an earlier run
        names = layout_names(root)
    else:
        gen, names = timed(generate, root, n, model, log_only)
        print(f"N={n}: generated in {gen:.1f} s", flush=True)
    server = RegistryServer(root, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = server.url
    cache = work / f"cache-{n}"
    os.environ["MLPM_CACHE_DIR"] = str(cache)
    word = "whisper"
    out: dict[str, float] = {}
    head_file = root / "search" / "head.json"
    head = json.loads(head_file.read_text())
    try:
        peer, mine = [], []
        for _ in range(repeat):  # alternating, so that both see the same load
            # the first sync without the snapshot: every log segment (its peer)
            head_file.write_text(json.dumps({k: v for k, v in head.items()
                                             if k not in search_index.SNAPSHOT_KEYS}))
            peer.append(cold_search(url, work / "cache-log", word))
            head_file.write_text(json.dumps(head))
            shutil.rmtree(work / "cache-log", ignore_errors=True)
            mine.append(cold_search(url, cache, word))
            print(f"N={n}: cold from the log {peer[-1][0]:.1f} s ({peer[-1][2]:.1f} s CPU, "
                  f"{peer[-1][1]:.0f} MB), from the snapshot {mine[-1][0]:.1f} s "
                  f"({mine[-1][2]:.1f} s CPU, {mine[-1][1]:.0f} MB); load "
                  f"{os.getloadavg()[0]:.2f}", flush=True)
        for keys, runs in ((("cold, log", "cold, log MB", "cold, log CPU"), peer),
                           (("search cold", "cold MB", "cold CPU"), mine)):
            for i, key in enumerate(keys):
                out[key] = statistics.median(run[i] for run in runs)
        if cold_only:
            return out
        runs = []
        for _ in range(3):  # the first also imports sqlite3: the median of three
            reg = open_registry(url, Store(cache))
            t, found = timed(search_index.search, reg, word, limit=20)
            runs.append(t)
        out["search warm"] = statistics.median(runs)
        out["hits"] = len(found.hits) + found.more
        reg = open_registry(url, Store(cache))
        out["search warm --all"], every = timed(search_index.search, reg, word)
        out["hits --all"] = len(every.hits)
        assert every.hits[:20] == found.hits, "a page is the start of --all"
        rare = names[len(names) // 3]
        reg = open_registry(url, Store(cache))
        out["search warm (1 hit)"], few = timed(search_index.search, reg, rare, limit=20)
        assert [h["name"] for h in few.hits] == [rare], few
        # 1,000 new packages as publish appends them (names, log line, index file), then
        # the sync that picks them up
        from mlpm.registry.records import Artifact

        sha = model_sha(root)
        tag = f"{time.time_ns() % 10**8}"  # new names on every run over a kept --work
        artifact = Artifact(format="onnx", path="model.onnx", sha256=sha,
                            size=(root / layout.artifact_rel(sha)).stat().st_size,
                            url=layout.artifact_rel(sha))
        start = time.perf_counter()
        for i in range(1000):
            _append_record(root, Record(f"new-whisper-{tag}-{i}", "1.0.0", "onnx", [artifact],
                                        extra={"description": "A new whisper model.",
                                               "task": "automatic-speech-recognition"}),
                           new_name=True)
        out["1,000 appends"] = time.perf_counter() - start
        reg = open_registry(url, Store(cache))
        out["sync after 1,000"], found = timed(search_index.search, reg,
                                               f"new-whisper-{tag}-99", limit=20)
        assert [h["name"] for h in found.hits][:2] == [f"new-whisper-{tag}-99",
                                                       f"new-whisper-{tag}-990"], found
        local = open_registry(str(root))
        search_index.sync(local)[0].close()  # type: ignore[index]
        typo = names[len(names) // 2].replace("-", "", 1)
        runs = []
        for _ in range(5):
            local = open_registry(str(root))
            t, exc = timed(local._not_found, typo)
            runs.append(t)
        out["did-you-mean"] = statistics.median(runs)
        out["suggested"] = float(names[len(names) // 2] in str(exc))
        runs = []
        for i in range(3):
            file = make_onnx(work / f"new-{n}-{i}.onnx", i + 1)
            t, _ = timed(publish, file, str(root), name=f"zz-new-package-{tag}-{i}",
                         version="1.0.0")
            runs.append(t)
        out["publish"] = statistics.median(runs)
        if n <= old_max and not log_only:
            from mlpm.ops import Session
            from mlpm.ops.query import search as old_search

            now = search_index.search(open_registry(url, Store(cache)), word)
            shutil.move(root / "search", work / "hidden-search")
            os.environ["MLPM_CACHE_DIR"] = str(work / f"cache-old-{n}")
            try:
                out["old search cold"], old = timed(old_search, word, session=Session(
                    registry=url), project=None)
            finally:
                shutil.move(work / "hidden-search", root / "search")
            assert {h["name"] for h in old.hits} == {h["name"] for h in now.hits}, \
                (len(old.hits), len(now.hits))
    finally:
        head_file.write_text(json.dumps({**json.loads(head_file.read_text()), **{
            k: head[k] for k in search_index.SNAPSHOT_KEYS if k in head}}))
        server.shutdown()
        server.server_close()
    return out


def layout_names(root: Path) -> list[str]:
    return sorted(set((root / "names").read_text().split()))


def model_sha(root: Path) -> str:
    return next((root / "artifacts").glob("*/*")).name


def _shown(key: str, value: float) -> str:
    if key.endswith("MB"):
        return f"{key} {value:.0f}"
    if key.endswith("CPU"):
        return f"{key} {value:.1f} s"
    if key.startswith(("hits", "suggested")):
        return f"{key} {value:g}"
    return f"{key} {value * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,200000")
    parser.add_argument("--old-max", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the generated registries")
    parser.add_argument("--work", type=Path, default=None, metavar="DIR",
                        help="generate into DIR and keep it; a later run reuses its registries")
    parser.add_argument("--log-only", default=0, type=int, metavar="N",
                        help="from this size on, write no index files (names and log only)")
    parser.add_argument("--repeat", type=int, default=1, metavar="R",
                        help="run each first sync R times (alternating) and report medians")
    parser.add_argument("--cold-only", action="store_true",
                        help="measure the first syncs only")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mlpm-search-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    work = work.resolve()
    isolated_env(work)
    os.environ["MLPM_NO_PROGRESS"] = "1"
    model = make_onnx(work / "model.onnx", 1)
    results = {}
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            results[n] = measure(n, work, model, args.old_max,
                                 bool(args.log_only) and n >= args.log_only, args.repeat,
                                 args.cold_only)
            print(f"N={n}: " + ", ".join(_shown(k, v) for k, v in results[n].items()),
                  flush=True)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    sizes = sorted(results)
    if len(sizes) >= 2 and not args.cold_only:
        small, big = sizes[0], sizes[-1]
        print(f"\nratios N={big} / N={small} ({big // small}x the packages):")
        for key in ("search cold", "search warm", "search warm (1 hit)", "sync after 1,000",
                    "did-you-mean", "publish"):
            print(f"  {key:19} {results[big][key] / results[small][key]:8.2f}x")
    for n in sizes:
        r = results[n]
        print(f"N={n}: first sync from the snapshot / from the log = "
              f"{r['search cold'] / r['cold, log']:.2f}x wall, "
              f"{r['cold CPU'] / r['cold, log CPU']:.2f}x CPU ({r['cold CPU']:.1f} s / "
              f"{r['cold, log CPU']:.1f} s), {r['cold MB']:.0f} MB / "
              f"{r['cold, log MB']:.0f} MB peak")
        if "old search cold" in r and "search warm" in r:
            print(f"N={n}: old search cold / new search cold = "
                  f"{r['old search cold'] / r['search cold']:.1f}x, "
                  f"/ new search warm = {r['old search cold'] / r['search warm']:.1f}x")


if __name__ == "__main__":
    main()
