"""Network faults: a misbehaving registry on loopback (tests/faults.py).

Every fault kind is tried twice: passing (the first two requests fail, then the server
behaves) and permanent (every request fails). Passing faults are retried with a growing
backoff and the install completes; permanent ones end in one clear error within a
bounded time, exit 1, no traceback, no blob and no change to mlpm.toml / mlpm.lock.
Offline mode makes no connection at all, below HTTP (the trap server counts accepts).

The runs are in-process (``mlpm.cli.main``) so that fetch's backoff and read timeout can
be shortened: BACKOFF 0.1 s (doubling), read timeout 0.5 s. One run keeps the shipped
constants to measure the real bound.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mlpm.fetch
from mlpm.store import Store
from tests.conftest import publish, run_mlpm
from tests.faults import FaultServer, run_cli
from tests.models import make_onnx

BACKOFF = 0.1
READ_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def big_registry(tmp_path_factory):
    """A registry holding `big` 1.0.0, built once; each test serves its own copy."""
    from mlpm.registry import init_registry_dir

    tmp = tmp_path_factory.mktemp("big-registry")
    root = tmp / "registry"
    init_registry_dir(root)
    model = make_onnx(tmp / "big.onnx", 7, inputs=768, outputs=768)
    publish(root, model, "big", "1.0.0")
    return root, hashlib.sha256(model.read_bytes()).hexdigest(), model.stat().st_size


@pytest.fixture
def faulty(big_registry, tmp_path, monkeypatch):
    """`big` 1.0.0 (a 2.3 MiB ONNX model) in a registry served by a FaultServer, and a
    project whose manifest points at it; fetch's timing shortened for these tests.

    Over 1 MiB, fetch's buffer size, so that a cut body spans more than one buffer."""
    template, sha, size = big_registry
    root = tmp_path / "registry"
    shutil.copytree(template, root)
    app = tmp_path / "app"
    app.mkdir()
    monkeypatch.setattr(mlpm.fetch, "BACKOFF", BACKOFF)
    monkeypatch.setattr(mlpm.fetch, "TIMEOUT", (2.0, READ_TIMEOUT))
    with FaultServer(root) as server:
        assert run_cli(["init", "--registry", server.url], app).code == 0
        server.sha, server.size, server.app = sha, size, app
        yield server


def project_files(app: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in app.iterdir() if p.is_file()}


def gaps(requests) -> list[float]:
    return [b.at - a.at for a, b in zip(requests, requests[1:], strict=False)]


PASSING = {
    "HTTP 500": ("status", {"code": 500}),
    "HTTP 503": ("status", {"code": 503}),
    "HTTP 429": ("status", {"code": 429}),
    "connection reset": ("reset", {}),
    "stall": ("stall", {"seconds": 5}),
    "truncated body": ("truncate", {"keep": 0.6}),
    "Content-Length too long": ("content_length", {"delta": 100}),
    "Content-Length too short": ("content_length", {"delta": -100}),
}


@pytest.mark.parametrize("fault", list(PASSING))
def test_a_passing_fault_is_retried_with_backoff(faulty, fault):
    kind, params = PASSING[fault]
    faulty.add("/artifacts/", kind, times=2, **params)
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 0, result.err
    tries = faulty.requests("/artifacts/")
    waits = gaps(tries)
    if fault == "Content-Length too long":
        # The whole body came before the hang-up, so it was all kept: the retry asks for
        # the rest, learns there is none (416) and the digest check passes.
        assert [(r.fault, r.status) for r in tries] == [(kind, 200), (kind, 416)], tries
        assert tries[1].headers["Range"] == f"bytes={faulty.size}-"
        assert waits[0] >= BACKOFF * 0.9, waits
    else:
        assert [r.fault for r in tries] == [kind, kind, None], [r.fault for r in tries]
        # Backoff doubles: at least 0.1 s, then 0.2 s, on top of whatever the fault cost.
        assert waits[0] >= BACKOFF * 0.9 and waits[1] >= 2 * BACKOFF * 0.9, waits
    assert Store().has_blob(faulty.sha, faulty.size) and Store().verify() == []
    offsets = []
    if kind in ("truncate", "content_length"):  # resumed where the body stopped
        offsets = [int(r.headers["Range"][6:-1]) for r in tries[1:]]
        assert offsets[0] >= 1 << 20 and offsets == sorted(offsets), offsets
    print(f"\nFIGURE fault-passing {fault}: {len(tries)} requests, gaps "
          f"{[round(w, 2) for w in waits]} s, total {result.seconds:.2f} s, "
          f"resumed at {offsets}")


# A Content-Length that claims too much is not permanent: the whole body does arrive
# (see the passing case and the test below).
PERMANENT = dict({k: v for k, v in PASSING.items() if k != "Content-Length too long"},
                 **{"wrong content": ("wrong_content", {})})


def test_a_body_shorter_than_its_content_length_is_kept_and_verified(faulty):
    faulty.add("/artifacts/", "content_length", delta=100)  # every time
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 0, result.err
    tries = faulty.requests("/artifacts/")
    assert [r.status for r in tries] == [200, 416], tries
    assert Store().has_blob(faulty.sha, faulty.size) and Store().verify() == []


@pytest.mark.parametrize("fault", list(PERMANENT))
def test_a_permanent_fault_ends_in_one_clear_error_and_nothing_half_written(faulty, fault):
    kind, params = PERMANENT[fault]
    before = project_files(faulty.app)
    faulty.add("/artifacts/", kind, **params)
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 1 and len(result.lines) == 1, result.err
    assert result.lines[0].startswith("error: ") and "Traceback" not in result.err
    assert "unexpectedly" not in result.err
    tries = faulty.requests("/artifacts/")
    if kind == "wrong_content":  # a digest mismatch is never retried: it is not transient
        assert len(tries) == 1 and "does not match its recorded sha256" in result.err
    else:
        assert len(tries) == mlpm.fetch.ATTEMPTS and "after 4 attempts" in result.err
        # Bounded: the backoff (0.1+0.2+0.4 s) plus four read timeouts at most.
        assert result.seconds < 7 * BACKOFF + mlpm.fetch.ATTEMPTS * READ_TIMEOUT + 3, \
            result.seconds
    assert project_files(faulty.app) == before, "mlpm.toml or mlpm.lock changed"
    store = Store()
    assert not store.has_blob(faulty.sha) and store.verify() == []
    part = store.root / "partial" / f"{faulty.sha}.part"
    if kind not in ("truncate", "content_length", "stall"):
        assert not part.exists()
    # Whatever a resumable fault left behind is only a prefix kept for the next run.
    data = (faulty.root / "artifacts" / faulty.sha[:2] / faulty.sha).read_bytes()
    if part.exists():
        assert data.startswith(part.read_bytes())
    print(f"\nFIGURE fault-permanent {fault}: {len(tries)} requests, {result.seconds:.2f} s, "
          f"partial kept: {part.stat().st_size if part.exists() else 0} B, "
          f"message: {result.lines[0][:90]}")
    faulty.clear()
    assert run_cli(["install", "big"], faulty.app).code == 0
    assert store.has_blob(faulty.sha, faulty.size) and store.verify() == []


def test_a_trickling_body_counts_as_stalled_and_resumes_where_it_stopped(faulty, monkeypatch):
    # 100 bytes/s never trips the 0.5 s read timeout; the low-speed rule must catch it.
    monkeypatch.setenv("MLPM_LOW_SPEED_LIMIT", "1000")
    monkeypatch.setenv("MLPM_LOW_SPEED_TIME", "0.6")
    faulty.add("/artifacts/", "trickle", times=2, every=0.1, step=10)
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 0, result.err
    tries = faulty.requests("/artifacts/")
    assert [r.fault for r in tries] == ["trickle", "trickle", None]
    assert Store().has_blob(faulty.sha, faulty.size) and Store().verify() == []
    # What trickled in was kept: each retry asks only for the rest.
    offsets = [int(r.headers["Range"][6:-1]) for r in tries[1:]]
    assert 0 < offsets[0] < offsets[1], offsets
    print(f"\nFIGURE trickle: {len(tries)} requests, gaps {[round(w, 2) for w in gaps(tries)]}"
          f" s, resumed at {offsets}")


def test_a_permanently_trickling_body_ends_in_one_sentence(faulty, monkeypatch):
    monkeypatch.setenv("MLPM_LOW_SPEED_LIMIT", "1000")
    monkeypatch.setenv("MLPM_LOW_SPEED_TIME", "0.6")
    before = project_files(faulty.app)
    faulty.add("/artifacts/", "trickle", every=0.1, step=10)
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 1 and len(result.lines) == 1, result.err
    assert "stalled below 1000 bytes/s for 0.6 s" in result.err, result.err
    assert "after 4 attempts" in result.err
    assert len(faulty.requests("/artifacts/")) == mlpm.fetch.ATTEMPTS
    assert project_files(faulty.app) == before
    assert not Store().has_blob(faulty.sha) and Store().verify() == []


def test_a_bad_low_speed_setting_is_one_sentence(faulty, monkeypatch):
    monkeypatch.setenv("MLPM_LOW_SPEED_TIME", "soon")
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 1 and len(result.lines) == 1, result.err
    assert "MLPM_LOW_SPEED_TIME='soon' is not a number" in result.err


def test_the_shipped_backoff_bounds_a_dead_registry_at_a_few_seconds(faulty, monkeypatch):
    monkeypatch.setattr(mlpm.fetch, "BACKOFF", 0.5)  # the shipped constants
    faulty.add("/artifacts/", "status", code=500)
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 1 and "HTTP 500" in result.err and "after 4 attempts" in result.err
    waits = gaps(faulty.requests("/artifacts/"))
    assert [round(w, 1) for w in waits] == [0.5, 1.0, 2.0], waits
    assert 3.5 <= result.seconds < 5.0, result.seconds
    print(f"\nFIGURE shipped-backoff: gaps {[round(w, 2) for w in waits]} s, "
          f"error after {result.seconds:.2f} s")


def test_a_server_that_ignores_range_restarts_the_download_cleanly(faulty):
    faulty.add("/artifacts/", "truncate", times=1, keep=0.5)
    faulty.add("/artifacts/", "ignore_range", times=1)
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 0, result.err
    first, second = faulty.requests("/artifacts/")
    assert "Range" in second.headers and second.status == 200
    assert Store().verify() == [] and Store().has_blob(faulty.sha, faulty.size)


@pytest.mark.parametrize("when", ["seconds", "http-date"])
def test_retry_after_is_honoured(faulty, when):
    # An HTTP-date (RFC 9110 allows both forms) was ignored before fetch.py parsed it.
    value = "2" if when == "seconds" else email.utils.formatdate(time.time() + 3, usegmt=True)
    faulty.add("/index/", "status", times=1, code=429, retry_after=value)
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 0, result.err
    first, second = faulty.requests("/index/")[:2]
    assert first.status == 429
    # Not the 0.1 s backoff: what the server asked for (an HTTP date has 1 s resolution).
    assert second.at - first.at >= 1.9, second.at - first.at
    print(f"\nFIGURE retry-after {when}: waited {second.at - first.at:.2f} s")


def test_a_huge_retry_after_is_capped(faulty, monkeypatch):
    monkeypatch.setattr(mlpm.fetch, "MAX_RETRY_AFTER", 1.0)
    faulty.add("/index/", "status", times=1, code=503, retry_after="3600")
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 0 and result.seconds < 5, (result.err, result.seconds)


@pytest.mark.parametrize("value", ["-5", "nan", "soon", "Thu, 01 Jan 1970 00:00:00 GMT"])
def test_a_nonsense_retry_after_is_not_a_crash(faulty, value):
    # A negative, NaN, wordy or past Retry-After is read as "retry soon": it never reaches
    # time.sleep(), and the install completes instead of ending in "failed unexpectedly".
    faulty.add("/index/", "status", times=1, code=429, retry_after=value)
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 0, result.err


@pytest.mark.parametrize("kind, params", [("reset", {}), ("truncate", {"keep": 0.5}),
                                          ("status", {"code": 502})])
def test_index_files_survive_faults_too(faulty, kind, params):
    faulty.add("/index/", kind, times=1, **params)
    result = run_cli(["install", "big"], faulty.app)
    assert result.code == 0, result.err
    # The cached index is whole: a later offline resolve reads it.
    assert run_cli(["info", "big", "--offline"], faulty.app).code == 0


def test_offline_makes_no_connection_at_all(registry, project, model_files, isolated):
    """Install online once; then every offline command runs with the registry replaced by
    a trap that fails the test on any connection, and every proxy pointed at it too."""
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    publish(registry.root, model_files[2], "tiny", "1.1.0")
    publish(registry.root, model_files[3], "other", "1.0.0")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "tiny@1.0", cwd=project).code == 0
    # search reads the package list, which install never needs: fetch it once online
    # (offline, an uncached list is an error, not "no packages found")
    assert run_mlpm("search", "tiny", cwd=project).code == 0
    registry.requests.clear()
    with FaultServer(registry.root) as trap:
        trap.forbid = True
        proxy = {k: trap.url for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
                                       "https_proxy", "all_proxy")}
        proxy["NO_PROXY"] = proxy["no_proxy"] = ""
        env = {"MLPM_OFFLINE": "1", **proxy}
        load = [sys.executable, "-c", "import mlpm; print(mlpm.load('tiny').get_inputs()[0].name)"]
        outcomes = {}
        for args, extra in [(["install"], env), (["install", "--offline"], proxy),
                            (["install", "--frozen"], env), (["list"], env),
                            (["outdated"], env), (["info", "tiny"], env),
                            (["search", "tiny"], env), (["upgrade"], env),
                            (["install", "other"], env), (["install", "tiny@2"], env),
                            (["cache", "verify"], env)]:
            result = run_mlpm(*args, cwd=project, env=extra)
            assert "Traceback" not in result.err, (args, result.err)
            outcomes[" ".join(args)] = result.code
        out = subprocess.run(load, cwd=project, env={**os.environ, **env}, capture_output=True,
                             text=True, timeout=120)
        outcomes["mlpm.load"] = out.returncode
        assert out.stdout.strip() == "x", out.stderr
        # A blob that is not cached: refused, offline, without a connection.
        from mlpm.project import Lock

        tiny = Lock.read(project / "mlpm.lock").packages["tiny"].artifacts[0]
        assert Store().delete_blob(tiny.sha256) > 0
        out = subprocess.run(load, cwd=project, env={**os.environ, **env}, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 1 and "offline" in out.stderr, out.stderr
        assert trap.connections == 0 and trap.log == [], trap.log
    assert registry.requests == []
    print(f"\nFIGURE offline: {len(outcomes) + 1} runs, {trap.connections} connections, "
          f"exit codes {outcomes}")
    assert outcomes == {"install": 0, "install --offline": 0, "install --frozen": 0, "list": 0,
                        "outdated": 0, "info tiny": 0, "search tiny": 0, "upgrade": 0,
                        "install other": 1, "install tiny@2": 1, "cache verify": 0,
                        "mlpm.load": 0}, outcomes
