"""The Hugging Face test server itself (tests/hf_hub.py): olah serving git repos built here,
read by the real huggingface_hub client in a fresh process with HF_ENDPOINT set, as mlpm's own
subprocesses will be. These pin down what a user of the Hub API sees from it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from tests.hf_hub import HubServer, Lfs, hf_hub_fixture, hf_hub_server_fixture  # noqa: F401

pytest.importorskip("huggingface_hub", reason="needs huggingface_hub: pip install 'mlpm[hf]'")

PRELUDE = """
import json, os, sys
import huggingface_hub as h
from huggingface_hub import HfApi, hf_hub_download
api = HfApi()
def error(call):
    try:
        call()
    except Exception as e:
        resp = getattr(e, "response", None)
        return [type(e).__name__, getattr(resp, "status_code", None)]
    return None
"""


def run_hub(hf_hub, tmp_path, code: str, **env: str):
    """Run ``code`` (which sets ``out``) with huggingface_hub in a fresh process pointed at the
    test server; returns ``out`` decoded from JSON."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    full_env.update({"HF_ENDPOINT": hf_hub.endpoint, "HF_HOME": str(tmp_path / "hf"),
                     "HF_HUB_DISABLE_PROGRESS_BARS": "1", **env})
    script = PRELUDE + textwrap.dedent(code) + "\nprint(json.dumps(out))\n"
    proc = subprocess.run([sys.executable, "-c", script], env=full_env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_refs_list_the_tags_and_branches_made_with_git(hf_hub, tmp_path):
    repo = hf_hub.repo("bert")
    first = repo.commit({"config.json": b'{"v": 1}'}, tag="v1.0.0")
    second = repo.commit({"config.json": b'{"v": 2}'})
    repo.tag("v1.1.0", annotated=True)  # an annotated tag lists its commit, not the tag object
    repo.branch("dev", "v1.0.0")

    out = run_hub(hf_hub, tmp_path, f"""
        refs = api.list_repo_refs("{repo.repo_id}")
        out = {{"tags": {{r.name: r.target_commit for r in refs.tags}},
               "branches": {{r.name: r.target_commit for r in refs.branches}}}}
    """)
    assert out == {"tags": {"v1.0.0": first, "v1.1.0": second},
                   "branches": {"main": second, "dev": first}}


def test_model_info_at_a_tag_gives_its_commit_and_files(hf_hub, tmp_path):
    repo = hf_hub.repo("gpt")
    tagged = repo.commit({"config.json": b"{}", "weights/model.bin": b"0123456789"},
                         tag="v1.0.0")
    repo.commit({"extra.txt": b"later"})

    out = run_hub(hf_hub, tmp_path, f"""
        info = api.model_info("{repo.repo_id}", revision="v1.0.0", files_metadata=True)
        tree = api.list_repo_tree("{repo.repo_id}", revision="v1.0.0", recursive=True)
        out = {{"sha": info.sha, "files": sorted(s.rfilename for s in info.siblings),
               "sizes": {{f.path: f.size for f in tree if isinstance(f, h.hf_api.RepoFile)}}}}
    """)
    assert out["sha"] == tagged
    assert out["files"] == ["config.json", "weights/model.bin"]
    # olah leaves model_info's sibling sizes empty (huggingface.co fills them): sizes come from
    # the tree (or paths-info) API.
    assert out["sizes"] == {"config.json": 2, "weights/model.bin": 10}


def test_download_at_a_tag_returns_the_bytes_committed_there(hf_hub, tmp_path):
    repo = hf_hub.repo("vit")
    weights = Lfs(b"\x00\x01" * 600)  # stored as git-LFS: served as the object, not the pointer
    v1 = repo.commit({"model.bin": b"version one", "big.bin": weights}, tag="v1.0.0")
    repo.commit({"model.bin": b"version two"}, tag="v2.0.0")
    mark = hf_hub.mark()

    out = run_hub(hf_hub, tmp_path, f"""
        def get(name, rev):
            return open(hf_hub_download("{repo.repo_id}", name, revision=rev), "rb").read().hex()
        meta = h.get_hf_file_metadata(h.hf_hub_url("{repo.repo_id}", "big.bin", revision="v1.0.0"))
        out = {{"v1": get("model.bin", "v1.0.0"), "v2": get("model.bin", "v2.0.0"),
               "main": get("model.bin", "main"), "sha": get("model.bin", "{v1}"),
               "lfs": get("big.bin", "v1.0.0"), "etag": meta.etag, "size": meta.size,
               "commit": meta.commit_hash}}
    """)
    assert bytes.fromhex(out["v1"]) == b"version one"
    assert bytes.fromhex(out["v2"]) == bytes.fromhex(out["main"]) == b"version two"
    assert bytes.fromhex(out["sha"]) == b"version one"
    assert bytes.fromhex(out["lfs"]) == weights.data
    assert (out["etag"], out["size"], out["commit"]) == (weights.sha256, 1200, v1)
    connections, requests = hf_hub.since(mark)
    assert connections >= 1
    assert ("GET", f"/{repo.repo_id}/resolve/v1.0.0/model.bin") in requests


def test_a_new_commit_on_a_branch_is_visible(hf_hub, tmp_path):
    repo = hf_hub.repo("t5")
    repo.commit({"config.json": b'{"v": 1}'})
    repo.branch("dev")
    code = f"""
        path = hf_hub_download("{repo.repo_id}", "config.json", revision="dev")
        info = api.model_info("{repo.repo_id}", revision="dev")
        out = [open(path, "rb").read().decode(), info.sha]
    """
    before = run_hub(hf_hub, tmp_path, code)
    newer = repo.commit({"config.json": b'{"v": 2}', "new.txt": b"n"}, branch="dev")
    after = run_hub(hf_hub, tmp_path, code)
    assert before[0] == '{"v": 1}' and before[1] == repo.head("main")
    assert after == ['{"v": 2}', newer]


def test_what_the_client_raises_for_missing_things(hf_hub, tmp_path):
    repo = hf_hub.repo("gone")
    repo.commit({"a.txt": b"a", "b.txt": b"b"}, tag="v1")
    repo.commit({"b.txt": None}, tag="v2")  # b.txt deleted in v2
    out = run_hub(hf_hub, tmp_path, f"""
        r = "{repo.repo_id}"
        out = {{
            "repo": error(lambda: hf_hub_download(r.split("/")[0] + "/nope", "a.txt")),
            "revision": error(lambda: hf_hub_download(r, "a.txt", revision="v9")),
            "file": error(lambda: hf_hub_download(r, "absent.txt", revision="v1")),
            "deleted": error(lambda: hf_hub_download(r, "b.txt", revision="v2")),
            "info revision": error(lambda: api.model_info(r, revision="v9")),
            "still there at v1": error(lambda: hf_hub_download(r, "b.txt", revision="v1")),
        }}
    """)
    # olah answers every miss with 401 X-Error-Code: RepoNotFound (huggingface.co answers
    # 404 RevisionNotFound / EntryNotFound for a missing revision / file).
    missing = ["RepositoryNotFoundError", 401]
    assert out == {"repo": missing, "revision": missing, "file": missing, "deleted": missing,
                   "info revision": missing, "still there at v1": None}


def test_offline_reads_the_cache_and_makes_no_connection(hf_hub, tmp_path):
    repo = hf_hub.repo("cached")
    repo.commit({"model.bin": b"weights"}, tag="v1.0.0")
    code = f"""
        path = hf_hub_download("{repo.repo_id}", "model.bin", revision="v1.0.0")
        out = open(path, "rb").read().decode()
    """
    assert run_hub(hf_hub, tmp_path, code) == "weights"
    mark = hf_hub.mark()
    assert run_hub(hf_hub, tmp_path, code, HF_HUB_OFFLINE="1") == "weights"
    assert hf_hub.since(mark) == (0, [])


def test_the_server_stops_without_leftovers(tmp_path):
    with HubServer(tmp_path / "olah") as server:
        pid = server._proc.pid
        port = int(server.olah_endpoint.rsplit(":", 1)[1])
        assert server.startup_seconds < 15
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
