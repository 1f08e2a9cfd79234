"""Index files at scale: the freshness window (server max-age, MLPM_INDEX_TTL), parallel
prefetch of an HTTP registry's index files, and `mlpm registry serve`'s sockets
(TCP_NODELAY, a deep listen backlog). Requests are counted in the served registry's log;
nothing here passes or fails on a time measurement."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from mlpm.errors import PackageNotFound
from mlpm.registry import HttpRegistry, layout
from mlpm.registry.server import RegistryRequestHandler
from mlpm.store import Store
from tests.conftest import assert_clean_error, run_mlpm, serve_registry

N = 12


def add_packages(root, count: int = N, prefix: str = "pkg") -> list[str]:
    """``count`` small packages (a record without artifacts is enough to resolve)."""
    names = [f"{prefix}-{i:03d}" for i in range(count)]
    for name in names:
        path = layout.index_file(root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"name": name, "version": "1.0.0"}) + "\n")
    layout.names_file(root).write_text("\n".join(names) + "\n")
    return names


def open_run(served) -> HttpRegistry:
    """The registry as a new mlpm run sees it: nothing in memory, the cache on disk."""
    return HttpRegistry(served.url, Store(), offline=False)


def index_requests(served) -> list[tuple[str, str, dict]]:
    return [r for r in served.requests if r[1].startswith("/index/")]


def age_cache(served, seconds: float) -> int:
    """Move every cached index file's fetch time ``seconds`` into the past."""
    aged = 0
    for fresh in Store().index_cache(served.url).rglob("*.fresh"):
        fetched, rest = fresh.read_text().split(" ", 1)
        fresh.write_text(f"{float(fetched) - seconds:.3f} {rest}")
        aged += 1
    return aged


def test_the_default_revalidates_every_run(registry, monkeypatch):
    monkeypatch.delenv("MLPM_INDEX_TTL", raising=False)
    names = add_packages(registry.root, 3)
    for name in names:
        open_run(registry).records(name)
    registry.requests.clear()
    for name in names:
        assert open_run(registry).records(name)[0].version == "1.0.0"
    got = index_requests(registry)
    assert len(got) == 3 and all("If-None-Match" in h for _, _, h in got)


def test_ttl_skips_requests_inside_the_window_and_revalidates_after(registry, monkeypatch):
    monkeypatch.setenv("MLPM_INDEX_TTL", "300")
    names = add_packages(registry.root)
    first = open_run(registry)
    for name in names:
        first.records(name)
    assert len(index_requests(registry)) == N
    registry.requests.clear()

    second = open_run(registry)  # a new run inside the window: no request at all
    assert [second.records(n)[0].version for n in names] == ["1.0.0"] * N
    assert index_requests(registry) == []

    assert age_cache(registry, 301) == N  # the window has passed: one 304 each
    third = open_run(registry)
    for name in names:
        third.records(name)
    got = index_requests(registry)
    assert len(got) == N and all("If-None-Match" in h for _, _, h in got)

    registry.requests.clear()  # the 304 restarted the window
    fourth = open_run(registry)
    for name in names:
        fourth.records(name)
    assert index_requests(registry) == []


def test_a_publish_is_seen_once_the_window_passes(registry, monkeypatch):
    monkeypatch.setenv("MLPM_INDEX_TTL", "60")
    (name,) = add_packages(registry.root, 1)
    assert [r.version for r in open_run(registry).records(name)] == ["1.0.0"]
    with open(layout.index_file(registry.root, name), "a") as fh:
        fh.write(json.dumps({"name": name, "version": "1.1.0"}) + "\n")
    assert [r.version for r in open_run(registry).records(name)] == ["1.0.0"]  # cached
    age_cache(registry, 61)
    assert [r.version for r in open_run(registry).records(name)] == ["1.0.0", "1.1.0"]


def test_the_servers_max_age_wins_over_the_ttl(registry, monkeypatch):
    monkeypatch.setenv("MLPM_INDEX_TTL", "0")
    registry.server.index_max_age = 120
    names = add_packages(registry.root, 3)
    run = open_run(registry)
    for name in names:
        run.records(name)
    assert len(index_requests(registry)) == 3
    registry.requests.clear()
    for name in names:
        open_run(registry).records(name)
    assert index_requests(registry) == []
    age_cache(registry, 121)
    for name in names:
        open_run(registry).records(name)
    assert len(index_requests(registry)) == 3


def test_the_registry_server_sends_cache_control(registry):
    import requests

    (name,) = add_packages(registry.root, 1)
    artifact = registry.root / layout.artifact_rel("ab" * 32)
    artifact.parent.mkdir(parents=True)
    artifact.write_bytes(b"weights")
    index_url = registry.url + layout.index_rel(name)
    assert "Cache-Control" not in requests.get(index_url).headers  # the client decides
    assert "immutable" in requests.get(registry.url + layout.artifact_rel("ab" * 32)
                                       ).headers["Cache-Control"]
    registry.server.index_max_age = 30
    resp = requests.get(index_url)
    assert resp.headers["Cache-Control"] == "max-age=30"
    again = requests.get(index_url, headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Cache-Control"] == "max-age=30"


def test_no_cache_always_revalidates(tmp_path, monkeypatch):
    class NoCache(RegistryRequestHandler):
        def end_headers(self):
            self.send_header("Cache-Control", "no-cache")
            super().end_headers()

    monkeypatch.setenv("MLPM_INDEX_TTL", "300")
    served = serve_registry(tmp_path / "reg", NoCache)
    try:
        from mlpm.registry import init_registry_dir

        init_registry_dir(served.root)
        (name,) = add_packages(served.root, 1)
        for _ in range(3):
            open_run(served).records(name)
        assert len(index_requests(served)) == 3
    finally:
        served.server.shutdown()
        served.server.server_close()


@pytest.mark.parametrize("value", ["soon", "-5", "nan", "inf"])
def test_an_invalid_ttl_is_one_sentence(registry, project, value):
    (name,) = add_packages(registry.root, 1)
    result = run_mlpm("info", name, "--registry", registry.url, cwd=project,
                      env={"MLPM_INDEX_TTL": value})
    assert_clean_error(result, 1, "MLPM_INDEX_TTL", "is not a number of seconds")


def test_offline_ignores_the_ttl(registry, monkeypatch):
    (name,) = add_packages(registry.root, 1)
    open_run(registry).records(name)
    monkeypatch.setenv("MLPM_INDEX_TTL", "soon")  # never read offline
    registry.requests.clear()
    offline = HttpRegistry(registry.url, Store(), offline=True)
    offline.prefetch([name])
    assert offline.records(name)[0].version == "1.0.0"
    assert registry.requests == []


# -- prefetch --------------------------------------------------------------------------


class InFlight:
    """Counts the index requests a server is answering at once, each held ``delay`` s."""

    def __init__(self, delay: float):
        self.delay, self.now, self.most = delay, 0, 0
        self.lock = threading.Lock()

    def handler(self):
        counter = self

        class Slow(RegistryRequestHandler):
            def do_GET(self):  # noqa: N802
                if not self.path.startswith("/index/"):
                    return super().do_GET()
                with counter.lock:
                    counter.now += 1
                    counter.most = max(counter.most, counter.now)
                try:
                    time.sleep(counter.delay)
                    super().do_GET()
                finally:
                    with counter.lock:
                        counter.now -= 1

        return Slow


@pytest.fixture
def slow_registry(tmp_path):
    from mlpm.registry import init_registry_dir

    counter = InFlight(0.2)
    served = serve_registry(tmp_path / "slow", counter.handler())
    init_registry_dir(served.root)
    served.counter = counter
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_prefetch_fetches_in_parallel_and_only_once(slow_registry):
    names = add_packages(slow_registry.root, 10)
    run = open_run(slow_registry)
    run.prefetch(names)
    run.prefetch(names)  # asked again while in flight: nothing more
    for name in names:
        assert run.records(name)[0].name == name
    assert slow_registry.counter.most >= 2
    assert sorted(p for _, p, _ in index_requests(slow_registry)) == \
        sorted("/" + layout.index_rel(n) for n in names)
    run.prefetch(names)  # read already: nothing
    for name in names:
        run.records(name)
    assert len(index_requests(slow_registry)) == 10


def test_prefetch_swallows_errors_and_records_reports_them(registry):
    names = add_packages(registry.root, 2)
    run = open_run(registry)
    run.prefetch([*names, "no-such-package", "Not_A_Name"])  # never raises
    assert run.records(names[0])[0].version == "1.0.0"
    with pytest.raises(PackageNotFound, match="no such package 'no-such-package'"):
        run.records("no-such-package")
    assert "/" + layout.index_rel("no-such-package") in registry.paths("/index/")


def test_prefetch_is_a_no_op_for_a_folder_registry(registry):
    from mlpm.registry import open_registry

    names = add_packages(registry.root, 2)
    folder = open_registry(str(registry.root))
    folder.prefetch(names)
    assert folder.records(names[1])[0].name == names[1]


# -- the server's sockets --------------------------------------------------------------


def test_registry_serve_sets_tcp_nodelay_and_a_deep_backlog(tmp_path):
    seen: list[int] = []

    class Probe(RegistryRequestHandler):
        def handle(self):
            seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            super().handle()

    served = serve_registry(tmp_path / "reg", Probe)
    try:
        import requests

        from mlpm.registry import init_registry_dir

        init_registry_dir(served.root)
        with requests.Session() as session:  # keep-alive: one connection, two responses
            for _ in range(2):
                assert session.get(served.url + "config.json").status_code == 200
        assert seen and all(seen)
        assert served.server.request_queue_size >= 128
    finally:
        served.server.shutdown()
        served.server.server_close()


def test_prefetch_with_an_invalid_ttl_leaves_the_sentence_to_records(registry, monkeypatch):
    from mlpm.errors import RegistryError

    names = add_packages(registry.root, 2)
    open_run(registry).records(names[0])  # one cached copy, one not
    monkeypatch.setenv("MLPM_INDEX_TTL", "soon")
    run = open_run(registry)
    run.prefetch(names)  # never raises
    for name in names:
        with pytest.raises(RegistryError, match="MLPM_INDEX_TTL='soon' is not a number"):
            run.records(name)
