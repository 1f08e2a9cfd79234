"""`mlpm search` pages from the local search database (mlpm/registry/search.py): the walk
of names in order that serves a common text gives the same page, count and order as the
trigram index that serves a rare one, and a page is the start of the whole list."""

from __future__ import annotations

import random

import pytest

WORDS = ["vision", "text", "audio", "bert", "resnet", "vit", "whisper", "clip", "tiny", "base"]


@pytest.fixture
def folder(tmp_path):
    from mlpm.registry import init_registry_dir, open_registry, search

    root = tmp_path / "registry"
    init_registry_dir(root)
    (root / "search").mkdir()
    rng = random.Random(7)
    names = sorted({f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i}" for i in range(600)}
                   | {"vit", "bert", "vit-base"})
    entries = [{"name": n, "version": "1.0.0", "framework": rng.choice(["onnx", "torch"]),
                "task": rng.choice(["text-generation", "image-classification"]),
                "family": n.split("-")[0], "description": " ".join(rng.sample(WORDS, 4)),
                "keywords": [], "yanked": False} for n in names]
    search.commit_log(root, search.write_log(root, entries))
    return open_registry(str(root))


@pytest.mark.parametrize("text", ["vit", "bert", "whisper-clip", "", "ba", "tiny-vit-3",
                                  "zzz", "ion t"])
@pytest.mark.parametrize("limit", [1, 20, None])
def test_a_common_text_walks_names_to_the_same_page(folder, monkeypatch, text, limit):
    from mlpm.registry import search

    indexed = search.search(folder, text, limit=limit)
    monkeypatch.setattr(search, "FTS_CAP", 0)  # every text counts as common
    walked = search.search(folder, text, limit=limit)
    assert walked.hits == indexed.hits
    assert (walked.more, walked.exact) == (indexed.more, indexed.exact)
    whole = search.search(folder, text).hits
    assert indexed.hits == whole[:limit] and indexed.more == len(whole) - len(indexed.hits)
    names = [h["name"] for h in whole]
    assert names == sorted(names, key=lambda n: (n != text, not n.startswith(text), n))
    assert all(text in " ".join((h["name"], h["description"], h["task"])).lower() or
               text in h["name"].split("-")[0] for h in whole)


def test_more_is_counted_up_to_a_cap(folder, monkeypatch):
    from mlpm.registry import search

    monkeypatch.setattr(search, "MORE_CAP", 5)
    monkeypatch.setattr(search, "FTS_CAP", 0)
    page = search.search(folder, "", limit=3)
    assert len(page.hits) == 3 and (page.more, page.exact) == (5, False)
    filtered = search.search(folder, "vit", task="text-generation", framework="onnx")
    assert filtered.hits and all(h["task"] == "text-generation" and h["framework"] == "onnx"
                                 for h in filtered.hits)
