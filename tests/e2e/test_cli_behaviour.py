"""How the `mlpm` command behaves as a command: Ctrl-C, progress, exit codes, --dry-run,
-q / -v, the `rm` / `uninstall` aliases, and one JSON schema for every --json output."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import signal
import socket
import struct
import subprocess
import termios
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import MLPM, assert_clean_error, publish, run_mlpm

BIG = 8 << 20  # bytes of each slow artifact
PIECE = 64 << 10


class SlowServer(ThreadingHTTPServer):
    """Serves ``files`` (name -> bytes) PIECE bytes at a time, ``delay`` seconds apart,
    honouring ``Range: bytes=N-``; ``length=False`` sends no Content-Length (the body ends
    when the connection closes). Every request's path and Range header are logged."""

    daemon_threads = True

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.delay = 0.05
        self.length = True
        self.log: list[tuple[str, str | None]] = []
        super().__init__(("127.0.0.1", 0), _SlowHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"


class _SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        server: SlowServer = self.server
        name = self.path.lstrip("/")
        server.log.append((name, self.headers.get("Range")))
        body = server.files.get(name)
        if body is None:
            self.send_error(404)
            return
        start = 0
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[6:-1])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        if server.length:
            self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        try:
            for at in range(start, len(body), PIECE):
                self.wfile.write(body[at:at + PIECE])
                self.wfile.flush()
                time.sleep(server.delay)
        except OSError:
            pass  # the client went away (Ctrl-C)


@pytest.fixture
def slow():
    server = SlowServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def add_upstream_package(registry, slow: SlowServer, name: str, seed: int,
                         known_size: bool = True) -> bytes:
    """A package whose one artifact lives on the slow server (as an upstream URL); with
    ``known_size`` False the record has neither its size nor its sha256."""
    body = hashlib.sha256(str(seed).encode()).digest() * (BIG // 32)
    slow.files[f"{name}.bin"] = body
    artifact = {"format": "onnx", "path": "model.onnx", "url": f"{slow.url}{name}.bin"}
    if known_size:
        artifact |= {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    record = {"name": name, "version": "1.0.0", "framework": "onnx", "kind": "onnx",
              "artifacts": [artifact], "dependencies": {}, "yanked": False}
    index = registry.root / "index" / name[:2] / name[2:4] / name
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps(record) + "\n")
    return body


def partials(isolated: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in (isolated / "cache").rglob("*.part")}


def start_install(project: Path, *names: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([*MLPM, "install", *names], cwd=project, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, **popen)


def wait_for_bytes(isolated: Path, proc: subprocess.Popen, at_least: int) -> None:
    deadline = time.monotonic() + 90
    while sum(partials(isolated).values()) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.05)


@pytest.fixture
def app(project, registry):
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    return project


# -- Ctrl-C ----------------------------------------------------------------------------


def test_ctrl_c_stops_parallel_downloads_at_once_keeps_partials_and_a_rerun_resumes(
        app, registry, slow, isolated):
    one = add_upstream_package(registry, slow, "bigone", 1)
    add_upstream_package(registry, slow, "bigtwo", 2)
    slow.delay = 0.1  # 640 KiB/s each: what is left takes over 10 s
    proc = start_install(app, "bigone", "bigtwo")  # two downloads: the parallel path
    wait_for_bytes(isolated, proc, 2 << 20)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5, "Ctrl-C must not wait for the downloads to finish"
    assert proc.returncode == 130, (out, err)
    assert err.strip() == "interrupted" and "Traceback" not in err
    kept = partials(isolated)
    assert kept and max(kept.values()) > 0, "the partial files stay for a resume"
    assert not (app / "mlpm.lock").exists()

    slow.delay = 0
    slow.log.clear()
    result = run_mlpm("install", "bigone", "bigtwo", cwd=app)
    assert result.code == 0, result.err
    resumed = [rng for _, rng in slow.log if rng]
    assert resumed and all(int(r[6:-1]) > 0 for r in resumed), slow.log
    lock = (app / "mlpm.lock").read_text()
    assert hashlib.sha256(one).hexdigest() in lock
    assert partials(isolated) == {}


def test_three_quick_ctrl_c_exit_130_without_a_traceback(app, registry, slow, isolated):
    add_upstream_package(registry, slow, "bigone", 1)
    proc = start_install(app, "bigone")  # one download: in the main thread
    wait_for_bytes(isolated, proc, 1)
    for _ in range(3):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.count("interrupted") == 1, err


# -- progress --------------------------------------------------------------------------


def run_on_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run mlpm with stderr on a pseudo-terminal; returns (exit code, what the terminal showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    proc = subprocess.Popen([*MLPM, *args], cwd=cwd, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    shown = bytearray()
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not data:
            break
        shown += data
    os.close(master)
    return proc.wait(timeout=60), shown.decode(errors="replace")


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "no-length"])
def test_a_download_of_unknown_size_shows_progress_on_a_terminal(app, registry, slow, length):
    add_upstream_package(registry, slow, "bigone", 1, known_size=False)
    slow.delay, slow.length = 0.02, length
    code, shown = run_on_terminal(["install", "bigone"], app, {"MLPM_NO_PROGRESS": ""})
    assert code == 0, shown
    assert "bigone@1.0.0" in shown and "B/s" in shown, shown  # a bytes and speed counter
    # With a Content-Length the bar knows the total (8 MiB) and shows a percentage.
    assert ("8.00M" in shown and "%" in shown) == length, shown


def test_no_progress_and_quiet_keep_the_terminal_silent(app, registry, slow):
    add_upstream_package(registry, slow, "bigone", 1, known_size=False)
    slow.delay = 0.01
    code, shown = run_on_terminal(["--no-progress", "install", "bigone"], app,
                                  {"MLPM_NO_PROGRESS": ""})
    assert code == 0 and "B/s" not in shown, shown
    assert run_mlpm("remove", "bigone", cwd=app).code == 0
    code, shown = run_on_terminal(["-q", "install", "bigone"], app, {"MLPM_NO_PROGRESS": ""})
    assert code == 0 and shown.strip() == "", shown


# -- exit codes ------------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [
    (["install", "Bad_Name"], ["not a valid package name"]),
    (["install", "tiny@>=x.y"], ["not a valid version range"]),
    (["why", "NO"], ["not a valid package name"]),
    (["remove", "a@@b"], ["not a valid package name"]),
    (["serve", "tiny", "--port", "99999"], ["'99999' is not a port", "65535"]),
    (["registry", "serve", ".", "--port", "-1"], ["is not a port"]),
    (["registry", "serve", ".", "--host", "no-such-host.invalid"],
     ["does not resolve", "127.0.0.1"]),
    (["uninstal", "tiny"], ["No such command"]),
    (["-q", "-v", "list"], ["-q and -v"]),
])
def test_bad_usage_exits_2_with_advice(app, args, words):
    before = {p.name: p.read_bytes() for p in app.iterdir()}
    result = run_mlpm(*args, cwd=app)
    assert_clean_error(result, 2, *words)
    assert "unexpectedly" not in result.err
    assert {p.name: p.read_bytes() for p in app.iterdir()} == before


def test_a_port_in_use_is_a_failure_that_names_another_port(registry, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_mlpm("registry", "serve", str(registry.root), "--port", port, cwd=tmp_path)
    assert_clean_error(result, 1, f"port {port}", "already in use", "--port 0")


# -- --dry-run -------------------------------------------------------------------------


def snapshot(project: Path, isolated: Path) -> tuple[dict[str, str], list[str]]:
    """sha256 of every project file, and every file in the cache's blobs and partial/."""
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in project.iterdir() if p.is_file()}
    cache = isolated / "cache"
    stored = sorted(str(p.relative_to(cache)) for p in cache.rglob("*")
                    if p.is_file() and ("blobs" in p.parts or "partial" in p.parts
                                        or "entries" in p.parts or "refs" in p.parts))
    return files, stored


def test_dry_run_shows_what_install_upgrade_and_remove_would_do_and_writes_nothing(
        app, registry, model_files, isolated):
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    size = model_files[1].stat().st_size
    before = snapshot(app, isolated)
    result = run_mlpm("install", "tiny@^1", "--dry-run", cwd=app)
    assert result.code == 0, result.err
    assert "+ tiny 1.0.0" in result.out and 'would save tiny = "^1"' not in result.out
    assert "dry run: would lock 1 package, fetch 1 file" in result.out
    assert "nothing was written" in result.out
    data = run_mlpm("install", "tiny@^1", "--dry-run", "--json", cwd=app).json
    assert data["dry_run"] is True and data["fetched_files"] == 1
    assert data["fetched_bytes"] == size
    assert data["changes"] == [{"name": "tiny", "old": None, "new": "1.0.0"}]
    assert snapshot(app, isolated) == before

    assert run_mlpm("install", "tiny@^1", cwd=app).code == 0
    publish(registry.root, model_files[2], "tiny", "1.1.0")
    before = snapshot(app, isolated)
    result = run_mlpm("upgrade", "--dry-run", cwd=app)
    assert result.code == 0, result.err
    assert "~ tiny 1.0.0 -> 1.1.0" in result.out and "fetch 1 file" in result.out
    assert snapshot(app, isolated) == before

    for command in ("remove", "rm", "uninstall"):
        result = run_mlpm(command, "tiny", "--dry-run", cwd=app)
        assert result.code == 0, result.err
        assert "- tiny 1.0.0" in result.out and "would free" in result.out, result.out
        assert snapshot(app, isolated) == before
    data = run_mlpm("remove", "tiny", "--dry-run", "--json", cwd=app).json
    assert (data["dry_run"], data["freed_files"], data["freed_bytes"]) == (True, 1, size)
    assert snapshot(app, isolated) == before

    result = run_mlpm("remove", "tiny", "--json", cwd=app)  # the real one frees what it said
    assert (result.json["dry_run"], result.json["freed_bytes"]) == (False, size)


# -- aliases, -q, -v -------------------------------------------------------------------


def test_rm_and_uninstall_are_remove(app, registry, model_files):
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    publish(registry.root, model_files[2], "other", "1.0.0")
    assert run_mlpm("install", "tiny", "other", cwd=app).code == 0
    result = run_mlpm("uninstall", "tiny", cwd=app)
    assert result.code == 0 and "- tiny 1.0.0" in result.out, result.err
    result = run_mlpm("rm", "other", "--json", cwd=app)
    assert result.code == 0 and result.json["command"] == "remove", result.err
    assert "tiny" not in (app / "mlpm.toml").read_text()
    help_text = run_mlpm("--help", cwd=app).out
    assert "rm " in help_text and "uninstall" in help_text and "Same as `mlpm remove`" in help_text
    assert "Usage: mlpm uninstall" in run_mlpm("uninstall", "--help", cwd=app).out


def test_quiet_prints_only_errors_and_verbose_names_every_url(app, registry, model_files):
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    result = run_mlpm("install", "tiny", "-q", cwd=app)  # after the command, as pip takes it
    assert result.code == 0 and result.out == "" and result.err == "", result
    for args in (["-q", "install"], ["install", "--quiet"]):  # the no-op fast path too
        assert run_mlpm(*args, cwd=app).out == ""
    assert run_mlpm("-q", "list", cwd=app).out.startswith("package")  # data still shows
    failed = run_mlpm("-q", "install", "nosuch", cwd=app)
    assert_clean_error(failed, 1, "nosuch")
    assert run_mlpm("remove", "tiny", cwd=app).code == 0
    result = run_mlpm("-v", "install", "tiny", cwd=app)
    assert result.code == 0, result.err
    assert f"GET {registry.url}index/" in result.err
    assert f"GET {registry.url}artifacts/" in result.err  # the model file itself


# -- JSON ------------------------------------------------------------------------------

NAMED = {"dependencies", "metrics", "saved", "input_shapes", "converter", "sizes"}


def keys_are_snake_case(value, where: str = "") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            assert "-" not in key and key == key.lower(), f"{where}.{key}"
            if key not in NAMED:
                keys_are_snake_case(item, f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            keys_are_snake_case(item, where)


def test_every_json_output_has_one_schema_and_snake_case_keys(app, registry, model_files):
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    publish(registry.root, model_files[2], "head", "1.0.0", "tiny@^1")
    publish(registry.root, model_files[3], "tiny", "1.1.0")
    outputs = {}
    for args in (["install", "head", "tiny@1.0"], ["list"], ["tree"], ["why", "tiny"],
                 ["outdated"], ["info", "tiny"], ["diff", "tiny@1.0.0", "tiny@1.1.0"],
                 ["search", "tiny"], ["upgrade", "--dry-run"], ["cache", "list"],
                 ["remove", "head", "--dry-run"]):
        result = run_mlpm(*args, "--json", cwd=app)
        assert result.code == 0, (args, result.err)
        data = result.json
        assert isinstance(data, dict) and data["schema"] == 1, (args, data)
        assert data["command"] == ("cache list" if args[0] == "cache" else args[0])
        keys_are_snake_case(data, args[0])
        outputs[args[0]] = data
    assert outputs["cache"]["command"] == "cache list"
    assert [p["name"] for p in outputs["list"]["packages"]] == ["head", "tiny"]
    assert outputs["outdated"]["packages"][0]["name"] == "tiny"
    assert outputs["tree"]["dependencies"][0]["name"] == "head"
    assert outputs["search"]["packages"][0]["name"] == "tiny"
    assert outputs["why"] == {
        "schema": 1, "command": "why", "name": "tiny", "version": "1.0.0", "total": 2,
        "chains": [{"range": "1.0", "path": [{"name": "tiny", "version": "1.0.0"}]},
                   {"range": "^1.0.0", "path": [{"name": "head", "version": "1.0.0"},
                                                {"name": "tiny", "version": "1.0.0"}]}]}


def test_errors_under_json_are_a_json_object_on_stderr(app):
    result = run_mlpm("install", "Bad_Name", "--json", cwd=app)
    assert result.code == 2 and result.out == ""
    error = json.loads(result.err)
    assert error["schema"] == 1
    assert error["error"]["type"] == "InvalidName" and error["error"]["exit_code"] == 2
    assert "not a valid package name" in error["error"]["message"]
    result = run_mlpm("info", "nosuch", "--json", cwd=app)
    assert result.code == 1 and json.loads(result.err)["error"]["exit_code"] == 1
    result = run_mlpm("list", "--jsno", "--json", cwd=app)
    assert result.code == 2 and result.out == ""
    assert json.loads(result.err)["error"] == {
        "type": "UsageError", "exit_code": 2,
        "message": "No such option '--jsno'. Did you mean '--json'?"}
