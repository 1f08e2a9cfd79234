"""The registry's search index (search/head.json and its log, docs/reference/registry-index.md
"Search index"): publish and yank keep it, `mlpm registry reindex` rebuilds it, `mlpm search`
and did-you-mean answer from a local copy of it without reading any package's index file."""

from __future__ import annotations

import json
import shutil

from tests.conftest import publish, run_mlpm


def _log(root):
    head = json.loads((root / "search" / "head.json").read_text())
    lines = []
    for seg in range(head["segment"] + 1):
        text = (root / "search" / head["log"] / f"{seg:06d}.jsonl").read_text()
        lines += text.splitlines()[:head["lines"] if seg == head["segment"] else None]
    return head, [json.loads(line) for line in lines]


def _latest(lines):
    out = {}
    for line in lines:
        out[line["name"]] = line
    return dict(sorted(out.items()))


def _search(where, *args, cwd):
    result = run_mlpm("search", *args, "--registry", where, "--json", cwd=cwd)
    assert result.code == 0, result.err
    return [(h["name"], h["version"]) for h in result.json["packages"]]


def test_publish_appends_to_the_log_and_names(registry, model_files):
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    publish(registry.root, model_files[2], "alpha", "1.0.0")
    publish(registry.root, model_files[3], "tiny", "2.0.0")
    head, lines = _log(registry.root)
    assert [(x["name"], x["version"]) for x in lines] == [
        ("tiny", "1.0.0"), ("alpha", "1.0.0"), ("tiny", "2.0.0")]
    assert head["lines"] == 3 and head["segment"] == 0
    assert (registry.root / "names").read_text() == "tiny\nalpha\n"  # appended, not rewritten
    result = run_mlpm("yank", "tiny@2.0.0", "--registry", str(registry.root),
                      cwd=registry.root.parent)
    assert result.code == 0, result.err
    _, lines = _log(registry.root)
    assert (lines[-1]["name"], lines[-1]["version"]) == ("tiny", "1.0.0")


def test_search_reads_no_index_file_and_syncs_only_what_is_new(registry, project, model_files):
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    publish(registry.root, model_files[2], "tinier", "1.0.0")
    assert _search(registry.url, "tin", cwd=project) == [("tinier", "1.0.0"), ("tiny", "1.0.0")]
    assert registry.paths("/index/") == [] and registry.paths("/names") == []
    head, _ = _log(registry.root)
    first = registry.paths(f"/search/{head['log']}/")
    assert first == [f"/search/{head['log']}/000000.jsonl"]

    # several segments: the full ones are fetched once, later syncs read only the new one
    (registry.root / "search" / "head.json").write_text(
        json.dumps({**head, "segment-lines": 2}))
    publish(registry.root, model_files[3], "other", "1.0.0")  # opens segment 1
    publish(registry.root, model_files[4], "tiny", "1.1.0")
    del registry.requests[:]
    assert _search(registry.url, "tin", cwd=project) == [("tinier", "1.0.0"), ("tiny", "1.1.0")]
    assert sorted(registry.paths("/search/log")) == [f"/search/{head['log']}/000000.jsonl",
                                                     f"/search/{head['log']}/000001.jsonl"]
    publish(registry.root, model_files[5], "third", "1.0.0")  # opens segment 2
    del registry.requests[:]
    assert _search(registry.url, "", "--framework", "onnx", cwd=project) == [
        ("other", "1.0.0"), ("third", "1.0.0"), ("tinier", "1.0.0"), ("tiny", "1.1.0")]
    assert sorted(registry.paths("/search/log")) == [f"/search/{head['log']}/000001.jsonl",
                                                     f"/search/{head['log']}/000002.jsonl"]
    assert registry.paths("/index/") == []
    assert _search(registry.url, "zzz", cwd=project) == []
    # the folder itself answers the same
    assert _search(str(registry.root), "tin", cwd=project) == [("tinier", "1.0.0"),
                                                               ("tiny", "1.1.0")]


def test_reindex_rebuilds_an_equal_index_and_clients_start_over(registry, project,
                                                                model_files):
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    publish(registry.root, model_files[2], "alpha", "1.0.0")
    publish(registry.root, model_files[3], "tiny", "1.1.0")
    before = _latest(_log(registry.root)[1])
    assert _search(registry.url, "", cwd=project) == [("alpha", "1.0.0"), ("tiny", "1.1.0")]
    old_head = json.loads((registry.root / "search" / "head.json").read_text())

    result = run_mlpm("registry", "reindex", str(registry.root), cwd=project)
    assert result.code == 0, result.err
    assert "reindexed 2 packages" in result.out
    head, lines = _log(registry.root)
    assert head["log"] != old_head["log"] and not (registry.root / "search" /
                                                   old_head["log"]).exists()
    assert lines == list(before.values())  # one line a package, compacted, equal
    assert (registry.root / "names").read_text() == "alpha\ntiny\n"
    # a registry of an older mlpm (no search/): reindex adds it
    shutil.rmtree(registry.root / "search")
    assert run_mlpm("registry", "reindex", str(registry.root), cwd=project).code == 0
    assert _latest(_log(registry.root)[1]) == before
    assert _search(registry.url, "", cwd=project) == [("alpha", "1.0.0"), ("tiny", "1.1.0")]
    bad = run_mlpm("registry", "reindex", str(project), cwd=project)
    assert bad.code != 0 and "not an mlpm registry" in bad.err


def test_a_registry_without_a_search_index_still_searches(registry, project, model_files):
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    publish(registry.root, model_files[2], "alpha", "1.0.0")
    shutil.rmtree(registry.root / "search")
    assert _search(registry.url, "", cwd=project) == [("tiny", "1.0.0"), ("alpha", "1.0.0")]
    assert registry.paths("/index/")  # the old way: each package's index file
    # and the next publish builds the index of the whole registry
    publish(registry.root, model_files[3], "beta", "1.0.0")
    assert list(_latest(_log(registry.root)[1])) == ["alpha", "beta", "tiny"]
    assert (registry.root / "names").read_text() == "alpha\nbeta\ntiny\n"


def test_did_you_mean_comes_from_the_index(registry, project, model_files):
    for name in ("resnet50", "digits", "mobilenet"):
        publish(registry.root, model_files[1], name, "1.0.0")
    for where in (registry.url, str(registry.root)):
        for typo, hint in (("resnt50", "did you mean resnet50?"), ("dgts", "did you mean "
                                                                   "digits?")):
            result = run_mlpm("info", typo, "--registry", where, cwd=project)
            assert result.code != 0 and hint in result.err, result.err
    assert registry.paths("/names") == []
    result = run_mlpm("info", "qqqqqqq", "--registry", registry.url, cwd=project)
    assert "check the spelling" in result.err


def test_the_bundled_registry_has_a_current_search_index():
    from mlpm.registry import bundled_path, search
    from mlpm.registry.records import parse_index_file

    root = bundled_path()
    _, lines = _log(root)
    expected = {}
    for path in sorted((root / "index").rglob("*")):
        if path.is_file():
            expected[path.name] = search.entry(parse_index_file(path.name, path.read_text()))
    assert _latest(lines) == dict(sorted(expected.items())), \
        "run `mlpm registry reindex registry-index`"
