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
    first = registry.paths(f"/search/{head['log']}/")  # the snapshot, then the log after it
    assert first == [f"/search/{head['log']}/snapshot-v2.tsv.gzip",
                     f"/search/{head['log']}/000000.jsonl"]

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


def _copies(root, source, names):
    """Packages ``names`` as publish appends them (names, log line, index file), each a
    copy of the published package ``source`` under a new name."""
    from mlpm.ops.publish import _append_record
    from mlpm.registry.records import Record, parse_index_file

    rec = parse_index_file(source, (root / "index" / source[:2] / source[2:4] / source)
                           .read_text())[-1]
    for name in names:
        _append_record(root, Record(name, rec.version, rec.framework, rec.artifacts,
                                    extra=rec.extra), new_name=True)


def test_search_lists_the_best_matches_first_and_says_how_many_more(registry, project,
                                                                   model_files):
    publish(registry.root, model_files[1], "vitamin", "1.0.0")
    rest = [f"deit-vit-{i:02d}" for i in range(22)]
    _copies(registry.root, "vitamin", ["zz-unrelated", *rest, "vit-large", "vit"])
    result = run_mlpm("search", "vit", "--registry", registry.url, cwd=project)
    assert result.code == 0, result.err
    rows = [line.split()[0] for line in result.out.splitlines()[1:]]
    # the name itself, names starting with the text, then the rest; 20 by default
    assert rows[:20] == ["vit", "vit-large", "vitamin", *rest[:17]]
    assert rows[20:] == ["..."] and result.out.rstrip().endswith(
        "... and 5 more; list them with --limit N or --all.")
    one = run_mlpm("search", "vit", "--limit", "2", "--registry", registry.url, "--json",
                   cwd=project)
    assert [h["name"] for h in one.json["packages"]] == ["vit", "vit-large"]
    assert (one.json["more"], one.json["more_exact"]) == (23, True)
    every = run_mlpm("search", "vit", "--all", "--registry", registry.url, "--json",
                     cwd=project)
    assert [h["name"] for h in every.json["packages"]] == ["vit", "vit-large", "vitamin",
                                                           *rest]
    assert every.json["more"] == 0
    bad = run_mlpm("search", "vit", "--limit", "0", "--registry", registry.url, cwd=project)
    assert bad.code == 2 and "--limit" in bad.err


def test_a_first_sync_loads_the_snapshot_then_reads_only_the_log_after_it(registry, project,
                                                                          model_files):
    for seed, name in ((1, "tiny"), (2, "alpha"), (3, "beta")):
        publish(registry.root, model_files[seed], name, "1.0.0")
    assert run_mlpm("registry", "reindex", str(registry.root), cwd=project).code == 0
    head = json.loads((registry.root / "search" / "head.json").read_text())
    assert head["snapshot-v2"]["segment"] == 0 and head["snapshot-v2"]["lines"] == 3
    publish(registry.root, model_files[4], "tiny", "1.1.0")  # after the snapshot
    publish(registry.root, model_files[5], "gamma", "1.0.0")
    del registry.requests[:]
    first = _search(registry.url, "", "--all", cwd=project)
    assert first == [("alpha", "1.0.0"), ("beta", "1.0.0"), ("gamma", "1.0.0"),
                     ("tiny", "1.1.0")]
    log = f"/search/{head['log']}/"
    assert registry.paths(log) == [f"{log}snapshot-v2.tsv.gzip", f"{log}000000.jsonl"]
    assert registry.paths("/index/") == []

    # the same answer as a first sync that reads the whole log (no snapshot in head.json)
    plain = {k: v for k, v in json.loads((registry.root / "search" / "head.json")
                                         .read_text()).items() if k != "snapshot-v2"}
    (registry.root / "search" / "head.json").write_text(json.dumps(plain))
    other = run_mlpm("search", "", "--all", "--registry", registry.url, "--json", cwd=project,
                     env={"MLPM_CACHE_DIR": str(project / "other-cache")})
    assert [(h["name"], h["version"]) for h in other.json["packages"]] == first
    (registry.root / "search" / "head.json").write_text(json.dumps(
        {**plain, "snapshot-v2": head["snapshot-v2"]}))

    # an incremental sync reads head.json and the current segment's new lines only (a
    # Range request from the end of what it has), never the snapshot again
    segment = registry.root / "search" / head["log"] / "000000.jsonl"
    known = segment.stat().st_size
    publish(registry.root, model_files[6], "delta", "1.0.0")
    del registry.requests[:]
    assert _search(registry.url, "delta", cwd=project) == [("delta", "1.0.0")]
    assert registry.paths(log) == [f"{log}000000.jsonl"]
    sent = [h for _, p, h in registry.requests if p == f"{log}000000.jsonl"][0]
    assert sent.get("Range") == f"bytes={known}-"
    assert _search(registry.url, "", "--all", cwd=project) == [
        ("alpha", "1.0.0"), ("beta", "1.0.0"), ("delta", "1.0.0"), ("gamma", "1.0.0"),
        ("tiny", "1.1.0")]

    # a damaged snapshot is a clear error naming the fix
    snap = registry.root / "search" / head["log"] / "snapshot-v2.tsv.gzip"
    snap.write_bytes(b"not gzip")
    (registry.root / "search" / "head.json").write_text(json.dumps(
        {**plain, "snapshot-v2": {**head["snapshot-v2"], "size": 8, "sha256": __import__(
            "hashlib").sha256(b"not gzip").hexdigest()}}))
    broken = run_mlpm("search", "delta", "--registry", registry.url, cwd=project,
                      env={"MLPM_CACHE_DIR": str(project / "third-cache")})
    assert broken.code == 1 and "mlpm registry reindex" in broken.err
    assert "Traceback" not in broken.err


def test_a_publish_that_dies_before_its_index_file_leaves_the_name_listed(registry, project,
                                                                          model_files):
    from mlpm.registry import search
    from mlpm.registry.records import Record, parse_index_file

    publish(registry.root, model_files[1], "resnet50", "1.0.0")
    rec = parse_index_file("resnet50", (registry.root / "index/re/sn/resnet50").read_text())[0]
    # what publish of resnet101 does before it writes the index file, then nothing (killed)
    search.add_name(registry.root, "resnet101")
    search.record_changed(registry.root, [Record("resnet101", "1.0.0", rec.framework,
                                                 rec.artifacts, extra=rec.extra)])
    assert not (registry.root / "index/re/sn/resnet101").exists()
    assert _search(registry.url, "resnet", cwd=project) == [("resnet101", "1.0.0"),
                                                            ("resnet50", "1.0.0")]
    hint = run_mlpm("info", "resnet10", "--registry", str(registry.root), cwd=project)
    assert "did you mean resnet101" in hint.err, hint.err
    missing = run_mlpm("info", "resnet101", "--registry", registry.url, cwd=project)
    assert missing.code == 1 and "Traceback" not in missing.err
    # a registry searched the old way skips the listed name, and says so
    shutil.move(registry.root / "search", project / "search")
    old = run_mlpm("search", "resnet", "--registry", registry.url, "--json", cwd=project,
                   env={"MLPM_CACHE_DIR": str(project / "other-cache")})
    assert [h["name"] for h in old.json["packages"]] == ["resnet50"]
    assert "lists 'resnet101' but has no index file for it; search skipped it" in old.err
    shutil.move(project / "search", registry.root / "search")
    # the publish, run again, completes it: listed once, installable
    publish(registry.root, model_files[2], "resnet101", "1.0.0")
    assert (registry.root / "names").read_text().split() == ["resnet50", "resnet101"]
    info = run_mlpm("info", "resnet101", "--registry", registry.url, cwd=project)
    assert info.code == 0, info.err


def test_a_plain_static_server_serves_the_snapshot_and_the_log(registry, project, model_files):
    """Python's http.server: no ETag, no Range (it sends whole files)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    for seed, name in ((1, "tiny"), (2, "alpha")):
        publish(registry.root, model_files[seed], name, "1.0.0")
    assert run_mlpm("registry", "reindex", str(registry.root), cwd=project).code == 0
    publish(registry.root, model_files[3], "tinier", "1.0.0")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(registry.root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        assert _search(url, "tin", cwd=project) == [("tinier", "1.0.0"), ("tiny", "1.0.0")]
        publish(registry.root, model_files[4], "tiny", "1.1.0")
        publish(registry.root, model_files[5], "tiniest", "1.0.0")
        assert _search(url, "tin", cwd=project) == [
            ("tinier", "1.0.0"), ("tiniest", "1.0.0"), ("tiny", "1.1.0")]
    finally:
        server.shutdown()
        server.server_close()


def test_a_snapshot_of_either_format_gives_the_answer_of_the_whole_log(registry, project,
                                                                      model_files):
    """The tab-separated snapshot (head.json "snapshot-v2"), the JSON-lines one of older
    registries ("snapshot") and the log alone build the same database, escapes and nulls
    included."""
    import gzip
    import hashlib

    from mlpm.registry import search

    publish(registry.root, model_files[1], "tiny", "1.0.0")  # then a log of its own
    odd = {"name": "odd\\name", "version": "2.0.0", "framework": "onnx", "task": None,
           "family": "Tab\tFamily", "algorithm": None, "yanked": True,
           "description": "Line one\nline two\r with a back\\slash and \u00c9T\u00c9",
           "keywords": ["a,b", "c\td"]}
    entries = [{"name": "alpha", "version": "1.0.0", "framework": "torch",
                "task": "text-generation", "family": "gpt", "algorithm": "Transformer",
                "description": "Gpt-like ALPHA", "keywords": [], "yanked": False}, odd]
    assert search._table_rows([search._snapshot_line(odd).rstrip("\n")], 1) == [
        (1, *search._rows([search._line(odd)])["odd\\name"])]
    search.commit_log(registry.root, search.write_log(registry.root, entries))
    publish(registry.root, model_files[2], "alphabet", "1.0.0")  # after the snapshot
    root = registry.root / "search"
    head = json.loads((root / "head.json").read_text())
    v2 = head.pop("snapshot-v2")

    def answer(cache, text):
        got = run_mlpm("search", text, "--all", "--registry", registry.url, "--json",
                       cwd=project, env={"MLPM_CACHE_DIR": str(project / cache)})
        assert got.code == 0, got.err
        return got.json["packages"]

    (root / "head.json").write_text(json.dumps(head))
    expected = {t: answer("log-cache", t) for t in ("", "alpha", "transformer", "\u00e9t\u00e9",
                                                     "tab\tfamily", "back\\slash")}
    assert [h["name"] for h in expected[""]] == ["alpha", "alphabet", "odd\\name"]
    assert [h["name"] for h in expected["\u00e9t\u00e9"]] == ["odd\\name"]
    assert expected["alpha"][0]["task"] == "text-generation"

    (root / "head.json").write_text(json.dumps({**head, "snapshot-v2": v2}))
    assert {t: answer("v2-cache", t) for t in expected} == expected
    del registry.requests[:]

    old = gzip.compress("".join(search._line(e) for e in entries).encode())
    (root / head["log"] / "snapshot.jsonl.gzip").write_bytes(old)
    (root / "head.json").write_text(json.dumps({**head, "snapshot": {
        **v2, "sha256": hashlib.sha256(old).hexdigest(), "size": len(old)}}))
    assert {t: answer("v1-cache", t) for t in expected} == expected
    assert f"/search/{head['log']}/snapshot.jsonl.gzip" in registry.paths("/search/")


def test_a_range_read_returns_the_new_bytes_or_the_whole_file(registry, model_files):
    """fetch.read_from, which an incremental sync reads the current segment with."""
    from mlpm.fetch import read_from

    publish(registry.root, model_files[1], "tiny", "1.0.0")
    head = json.loads((registry.root / "search" / "head.json").read_text())
    rel = f"search/{head['log']}/000000.jsonl"
    body = (registry.root / rel).read_bytes()
    url = registry.url + rel
    assert read_from(url, 5, what="a search segment") == (body[5:], True)
    assert read_from(url, len(body), what="a search segment") == (b"", True)  # 416
    assert read_from(registry.url + "search/nothing.jsonl", 0, what="a search segment") is None
    sent = [h for _, p, h in registry.requests if p == "/" + rel][0]
    assert sent.get("Range") == "bytes=5-" and sent.get("Accept-Encoding") == "identity"
