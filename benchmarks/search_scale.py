"""Search, did-you-mean and publish against a registry of N packages (issue "Registry at
Hugging Face scale").

`generate(root, n)` writes a registry of N packages directly in the format (one record an
index file sharing one artifact, `names`, and the search log, as `mlpm registry reindex`
would write it), not by N publishes. `mlpm registry serve` (in this process, a thread)
serves it; each measurement is in this process, with a fresh registry object:

  search cold   `search` over HTTP with an empty cache: head.json + every segment, the
                local database built
  search warm   the same again: head.json revalidated (304), the database queried
                (a common word: about a third of the packages match; and one exact name)
  did-you-mean  `Registry._not_found(typo)` of a folder registry, database synced
  publish       `mlpm publish` of a new package into the folder (median of 3)
  old search    (only when N <= --old-max) today's fallback: `names` then every index
                file over HTTP, with search/ hidden

    .venv/bin/python benchmarks/search_scale.py [--sizes 1000,200000] [--old-max 1000]
        [--log-only 2000000]   (no index files from that size on: 2M small files are ~8 GB)
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
    log = "log-benchmark"
    (root / "search" / log).mkdir(parents=True)
    seg, lines, out = 0, 0, None
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
        if out is None or lines == search.SEGMENT_LINES:
            if out is not None:
                out.close()
                seg, lines = seg + 1, 0
            out = open(root / layout.segment_rel(log, seg), "w")  # noqa: SIM115
        out.write(search._line({**rec, "algorithm": None, "keywords": []}))
        lines += 1
    if out is not None:
        out.close()
    layout.names_file(root).write_text("".join(x + "\n" for x in names))
    (root / layout.SEARCH_HEAD_REL).write_text(json.dumps({
        "mlpm-search": 1, "log": log, "segment": seg, "lines": lines,
        "segment-lines": search.SEGMENT_LINES}))
    return names


def timed(fn, *args, **kw):
    start = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - start, out


def measure(n: int, work: Path, model: Path, old_max: int,
            log_only: bool) -> dict[str, float]:
    from mlpm.ops.publish import publish
    from mlpm.registry import open_registry
    from mlpm.registry import search as search_index
    from mlpm.registry.server import RegistryServer
    from mlpm.store import Store

    root = work / f"reg-{n}"
    gen, names = timed(generate, root, n, model, log_only)
    print(f"N={n}: generated in {gen:.1f} s", flush=True)
    server = RegistryServer(root, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = server.url
    cache = work / f"cache-{n}"
    os.environ["MLPM_CACHE_DIR"] = str(cache)
    word = "whisper"
    out: dict[str, float] = {}
    try:
        reg = open_registry(url, Store(cache))
        out["search cold"], hits = timed(search_index.search, reg, word)
        reg = open_registry(url, Store(cache))
        out["search warm"], again = timed(search_index.search, reg, word)
        assert hits == again and hits, len(hits or [])
        out["hits"] = len(hits)
        rare = names[len(names) // 3]
        reg = open_registry(url, Store(cache))
        out["search warm (1 hit)"], few = timed(search_index.search, reg, rare)
        assert [h["name"] for h in few or []] == [rare], few
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
            t, _ = timed(publish, file, str(root), name=f"zz-new-package-{i}", version="1.0.0")
            runs.append(t)
        out["publish"] = statistics.median(runs)
        if n <= old_max and not log_only:
            from mlpm.ops import Session
            from mlpm.ops.query import search as old_search

            shutil.move(root / "search", work / "hidden-search")
            os.environ["MLPM_CACHE_DIR"] = str(work / f"cache-old-{n}")
            out["old search cold"], old = timed(old_search, word, session=Session(
                registry=url), project=None)
            assert {h["name"] for h in old} == {h["name"] for h in hits}, (len(old), len(hits))
            shutil.move(work / "hidden-search", root / "search")
    finally:
        server.shutdown()
        server.server_close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,200000")
    parser.add_argument("--old-max", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the generated registries")
    parser.add_argument("--log-only", default=0, type=int, metavar="N",
                        help="from this size on, write no index files (names and log only)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlpm-search-scale-"))
    isolated_env(work)
    os.environ["MLPM_NO_PROGRESS"] = "1"
    model = make_onnx(work / "model.onnx", 1)
    results = {}
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            results[n] = measure(n, work, model, args.old_max,
                                 bool(args.log_only) and n >= args.log_only)
            print(f"N={n}: " + ", ".join(
                f"{k} {v * 1000:.1f} ms" if k not in ("hits", "suggested") else f"{k} {v:g}"
                for k, v in results[n].items()), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sizes = sorted(results)
    if len(sizes) >= 2:
        small, big = sizes[0], sizes[-1]
        print(f"\nratios N={big} / N={small} ({big // small}x the packages):")
        for key in ("search cold", "search warm", "search warm (1 hit)", "did-you-mean",
                    "publish"):
            print(f"  {key:13} {results[big][key] / results[small][key]:8.2f}x")
    for n in sizes:
        if "old search cold" in results[n]:
            print(f"N={n}: old search cold / new search cold = "
                  f"{results[n]['old search cold'] / results[n]['search cold']:.1f}x, "
                  f"/ new search warm = "
                  f"{results[n]['old search cold'] / results[n]['search warm']:.1f}x")


if __name__ == "__main__":
    main()
