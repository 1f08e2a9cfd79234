"""Reliability: concurrent runs, crashes at any point, integrity, disk full / read-only.

Network faults are in tests/e2e/test_rel_network.py, hostile packages and names in
tests/e2e/test_rel_hostile.py, generated hostile input in tests/unit/test_fuzz.py, hostile archives
in tests/unit/test_archive.py. The figures these tests measure are written down in
docs/reliability.md. Every random choice is seeded.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest

from mlpm.project import Lock, Project
from mlpm.store import Store
from tests.conftest import MLPM, needs, publish, run_mlpm
from tests.faults import FaultServer, Zygote, run_cli
from tests.models import make_onnx

# -- helpers ------------------------------------------------------------------------------------


def state(app: Path) -> tuple[bytes, bytes | None]:
    lock = app / "mlpm.lock"
    return (app / "mlpm.toml").read_bytes(), lock.read_bytes() if lock.exists() else None


def set_state(app: Path, files: tuple[bytes, bytes | None]) -> None:
    (app / "mlpm.toml").write_bytes(files[0])
    lock = app / "mlpm.lock"
    if files[1] is None:
        lock.unlink(missing_ok=True)
    else:
        lock.write_bytes(files[1])


def differ(got: tuple, want: tuple) -> str:
    import difflib

    return "".join(
        "".join(difflib.unified_diff((a or b"").decode().splitlines(True),
                                     (b or b"").decode().splitlines(True), name, "expected"))
        for name, a, b in zip(("mlpm.toml", "mlpm.lock"), got, want, strict=True))


def consistent(app: Path) -> bool:
    """mlpm.lock was made from this very manifest (its manifest-hash matches)."""
    lock = Lock.read(app / "mlpm.lock")
    return lock is not None and lock.manifest_hash == Project.find(app).manifest_hash()


def popen(args: list[str], cwd: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([*MLPM, *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            **kwargs)


def clean_failure(code: int, err: str) -> bool:
    return code == 1 and err.startswith("error: ") and "Traceback" not in err \
        and "unexpectedly" not in err


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Small real ONNX models: seeds 1-8 (~250 B), and 'wide' ones of ~600 KiB."""
    folder = tmp_path_factory.mktemp("rel-models")
    files = {seed: make_onnx(folder / f"m{seed}.onnx", seed) for seed in range(1, 9)}
    for seed in range(11, 17):
        files[seed] = make_onnx(folder / f"w{seed}.onnx", seed, inputs=384, outputs=384)
    return files


# -- 1. concurrency --------------------------------------------------------------------------------

# p1 -> p0, p3 -> p2, p5 -> p0 and p2, p4 alone: overlapping dependency sets.
GRAPH = {"p0": [], "p2": [], "p4": [], "p1": ["p0@^1"], "p3": ["p2@^1"],
         "p5": ["p0@^1", "p2@^1"]}


@pytest.fixture
def wide_registry(tmp_path, models):
    """Six packages of ~600 KiB served by a FaultServer throttled to 8 MiB/s per
    connection, so eight processes' downloads really overlap."""
    from mlpm.registry import init_registry_dir

    root = tmp_path / "registry"
    init_registry_dir(root)
    for i, (name, deps) in enumerate(GRAPH.items()):
        publish(root, models[11 + i], name, "1.0.0", *deps)
    with FaultServer(root, rate=8 << 20) as server:
        yield server


def test_eight_processes_share_one_store_and_fetch_each_blob_once(wide_registry, tmp_path):
    rng = random.Random(1)
    sets = [sorted(rng.sample(sorted(GRAPH), rng.randint(2, 4))) for _ in range(8)]
    apps = []
    for i in range(8):
        app = tmp_path / f"app{i}"
        app.mkdir()
        assert run_cli(["init", "--registry", wide_registry.url], app).code == 0
        apps.append(app)
    wide_registry.clear()
    t0 = time.monotonic()
    procs = [popen(["install", *names], app) for names, app in zip(sets, apps, strict=True)]
    results = [p.communicate(timeout=120) for p in procs]
    seconds = time.monotonic() - t0
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    gets = Counter(r.path for r in wide_registry.requests("/artifacts/") if r.method == "GET")
    wanted = {n for names in sets for name in names for n in [name, *[
        d.split("@")[0] for d in GRAPH[name]]]}
    assert len(gets) == len(wanted) and set(gets.values()) == {1}, gets
    store = Store()
    assert store.verify() == [] and len(store.blobs()) == len(wanted)
    assert not list((store.root / "partial").glob("*.part"))
    for names, app in zip(sets, apps, strict=True):
        lock = Lock.read(app / "mlpm.lock")
        assert set(Project.find(app).dependencies) == set(names) and consistent(app)
        assert set(lock.packages) == {n for name in names for n in [name, *[
            d.split("@")[0] for d in GRAPH[name]]]}
    print(f"\nFIGURE concurrency-store: 8 processes, {sum(len(s) for s in sets)} installs, "
          f"{len(wanted)} blobs, {sum(gets.values())} artifact GETs, {seconds:.1f}s")


# Both failed before mlpm/project.py Project.locked() (an flock on the project folder, held
# by install / upgrade / remove from reading the manifest to writing both files): runs lost
# each other's packages while exiting 0, and a lock could be left from another manifest.


def test_eight_processes_installing_into_one_project_lose_nothing(wide_registry, tmp_path):
    names = ["p0", "p1", "p2", "p3", "p4", "p5", "p1", "p4"]
    exits = Counter()
    for round_ in range(3):
        app = tmp_path / f"shared{round_}"
        app.mkdir()
        assert run_cli(["init", "--registry", wide_registry.url], app).code == 0
        procs = [popen(["install", name], app) for name in names]
        results = [(p.returncode, err) for p in procs for _, err in [p.communicate(timeout=120)]]
        for code, err in results:
            assert code == 0 or clean_failure(code, err), err
            exits[code] += 1
        manifest = tomllib.loads((app / "mlpm.toml").read_text())
        tomllib.loads((app / "mlpm.lock").read_text())
        assert consistent(app), "mlpm.lock was made from another manifest"
        succeeded = {n for n, (code, _) in zip(names, results, strict=True) if code == 0}
        assert succeeded <= set(manifest["dependencies"]), \
            f"{sorted(succeeded - set(manifest['dependencies']))} reported success but are gone"
        assert set(Lock.read(app / "mlpm.lock").packages) >= succeeded
    assert Store().verify() == []
    print(f"\nFIGURE concurrency-project: 3 rounds x 8 processes on one project, exit codes "
          f"{dict(exits)}, no package lost, lock always from the final manifest")


@pytest.fixture
def two_by_two(registry, project, models):
    """a and b at 1.0.0 installed; 2.0.0 of both published (upgrade --latest moves both
    the manifest and the lock)."""
    for name, seeds in (("a", (1, 2)), ("b", (3, 4))):
        publish(registry.root, models[seeds[0]], name, "1.0.0")
        publish(registry.root, models[seeds[1]], name, "2.0.0")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "a@1.0.0", "b@1.0.0", cwd=project).code == 0
    return project


def test_two_upgrades_racing_on_one_project_never_mix(two_by_two):
    app = two_by_two
    start = state(app)
    outcomes = Counter()
    for _ in range(6):
        set_state(app, start)
        procs = {name: popen(["upgrade", name, "--latest"], app) for name in ("a", "b")}
        codes = {name: (p.returncode, err) for name, p in procs.items()
                 for _, err in [p.communicate(timeout=120)]}
        for code, err in codes.values():
            assert code == 0 or clean_failure(code, err), err
        assert consistent(app), "a mixed lock: mlpm.lock does not match mlpm.toml"
        lock = Lock.read(app / "mlpm.lock")
        manifest = Project.find(app).dependencies
        for name, (code, _) in codes.items():
            if code == 0:  # it said it upgraded: it must have, or waited and built on the other
                assert lock.packages[name].version == "2.0.0" and manifest[name] == "^2.0.0", \
                    (name, manifest, {n: p.version for n, p in lock.packages.items()})
        outcomes[tuple(sorted(c for c, _ in codes.values()))] += 1
    print(f"\nFIGURE upgrade-race: 6 rounds, exit codes per round {dict(outcomes)}")


# -- 2. crashes ----------------------------------------------------------------------------------

TRIALS = 50  # per command


@pytest.fixture
def crash_lab(registry, project, models):
    """a 1.0.0 / 2.0.0, b 1.0.0 -> c ^1, c 1.0.0; a zygote to fork mlpm runs from."""
    publish(registry.root, models[1], "a", "1.0.0")
    publish(registry.root, models[2], "a", "2.0.0")
    publish(registry.root, models[3], "c", "1.0.0")
    publish(registry.root, models[4], "b", "1.0.0", "c@^1")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    zygote = Zygote(dict(os.environ))
    yield project, zygote
    zygote.close()


def blobs_of(app: Path, names: list[str]) -> dict[str, Path]:
    lock = Lock.read(app / "mlpm.lock")
    return {a.sha256: Store().blob_path(a.sha256) for n in names if n in lock.packages
            for a in lock.packages[n].artifacts}


def crash_trials(app: Path, zygote: Zygote, tmp: Path, command: list[str],
                 old: tuple, new: tuple, prepare, next_run, seed: int,
                 check=lambda tally: None) -> Counter:
    """SIGKILL ``command`` ``TRIALS`` times at seeded random delays in [0, typical]."""
    log = tmp / "run.log"
    typical = []
    for _ in range(3):
        set_state(app, old)
        prepare()
        code, seconds = zygote.run(command, app, log)
        assert code == 0, log.read_text()
        assert state(app) == new
        typical.append(seconds)
    median = statistics.median(typical)
    rng = random.Random(seed)
    tally: Counter = Counter()
    for _ in range(TRIALS):
        set_state(app, old)
        prepare()
        delay = rng.uniform(0, median)
        code = zygote.kill_after(command, app, log, delay)
        tally["killed" if code == -9 else "finished"] += 1
        # The store: nothing corrupt, whatever the kill interrupted.
        verify = run_cli(["cache", "verify"], app)
        assert verify.code == 0 and "0 corrupt" in verify.out, verify.out
        # The project: each file parses and is byte for byte the old or the new state.
        manifest, lock = state(app)
        tomllib.loads(manifest.decode())
        if lock is not None:
            tomllib.loads(lock.decode())
        assert manifest in (old[0], new[0]), manifest.decode()
        assert lock in (old[1], new[1]), lock
        if manifest == old[0] and lock == old[1]:
            tally["old state"] += 1
        elif manifest == new[0] and lock == new[1]:
            tally["new state"] += 1
        else:  # the lock is written first, then the manifest: killed in between
            tally["torn (lock new, manifest old)"] += 1
            assert lock == new[1] and manifest == old[0]
        debris = [p.name for p in app.iterdir() if p.name.endswith(".tmp")]
        tally["temp file left in project"] += bool(debris)
        check(tally)
        # The next run completes, lands exactly on the new state and sweeps the debris.
        code, _ = zygote.run(next_run(), app, log)
        assert code == 0, log.read_text()
        assert state(app) == new, differ(state(app), new)
        assert [p.name for p in app.iterdir() if p.name.endswith(".tmp")] == []
        assert Store().verify() == []
    tally["typical ms"] = round(median * 1000)
    return tally


def test_install_killed_at_random_points(crash_lab, tmp_path):
    app, zygote = crash_lab
    assert run_mlpm("install", "a@1.0.0", cwd=app).code == 0
    old = state(app)
    assert run_mlpm("install", "b", cwd=app).code == 0
    new = state(app)
    fetched = blobs_of(app, ["b", "c"])

    def prepare():  # b and c must be downloaded every time
        for sha in fetched:
            Store().delete_blob(sha)

    tally = crash_trials(app, zygote, tmp_path, ["install", "b"], old, new, prepare,
                         lambda: ["install", "b"], seed=2)
    print(f"\nFIGURE crash-install: {dict(tally)}")
    assert tally["killed"] >= TRIALS // 2


def test_upgrade_killed_at_random_points(crash_lab, tmp_path):
    app, zygote = crash_lab
    assert run_mlpm("install", "a@1.0.0", cwd=app).code == 0
    old = state(app)
    assert run_mlpm("upgrade", "a", "--latest", cwd=app).code == 0
    new = state(app)
    fetched = blobs_of(app, ["a"])

    def prepare():
        for sha in fetched:
            Store().delete_blob(sha)

    tally = crash_trials(app, zygote, tmp_path, ["upgrade", "a", "--latest"], old, new,
                         prepare, lambda: ["upgrade", "a", "--latest"], seed=3)
    print(f"\nFIGURE crash-upgrade: {dict(tally)}")
    assert tally["killed"] >= TRIALS // 2


def test_remove_killed_at_random_points(crash_lab, tmp_path):
    app, zygote = crash_lab
    assert run_mlpm("install", "a@1.0.0", "b", cwd=app).code == 0
    old = state(app)
    copies = {}
    for sha, path in blobs_of(app, ["b", "c"]).items():
        copies[sha] = tmp_path / sha
        shutil.copyfile(path, copies[sha])
    assert run_mlpm("remove", "b", cwd=app).code == 0
    new = state(app)
    store = Store()

    def prepare():  # b and c cached again, as before the removal
        for sha, copy in copies.items():
            if not store.has_blob(sha):
                store.add_file(copy, sha)
        store.set_refs(app, app / "mlpm.lock", Lock.read(app / "mlpm.lock").blobs())

    def next_run():  # `remove b` again while the manifest still has b, else a plain sync
        return ["remove", "b"] if b"b = " in (app / "mlpm.toml").read_bytes() else ["install"]

    tally = crash_trials(app, zygote, tmp_path, ["remove", "b"], old, new, prepare, next_run,
                         seed=4)
    # Blobs a killed removal did not get to free are unreferenced: prune collects them.
    run_cli(["cache", "prune"], app)
    assert not any(store.has_blob(sha) for sha in copies)
    print(f"\nFIGURE crash-remove: {dict(tally)}")
    assert tally["killed"] >= TRIALS // 2


def test_convert_killed_at_random_points(registry, project, tmp_path):
    """An exported program converted to TorchScript (torch.jit + a parity check, torch
    only). The zygote converts once before forking (torch warmed up, one thread), so a
    trial's run takes ~0.1 s instead of ~3 s in a fresh process."""
    torch = needs("torch")

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).eval()
    torch.export.save(torch.export.export(net, (torch.zeros(1, 4),)), tmp_path / "net.pt2")
    publish(registry.root, tmp_path / "net.pt2", "net", "1.0.0")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "net", cwd=project).code == 0
    # an exported program runs its publisher's code when converted: trust its source
    assert run_mlpm("trust", f"{registry.url}#net", cwd=project).code == 0
    old = state(project)
    command = ["convert", "net", "--to", "torchscript", "--input-shape", "input=1,4"]
    converted = Store().root / "entries" / "converted"

    def prepare():  # no finished conversion: every run converts
        for entry in converted.iterdir() if converted.is_dir() else []:
            if not entry.name.startswith("."):
                shutil.rmtree(entry)

    def check(tally):  # an entry is whole (re-hashed) or absent; temp folders are not used
        from mlpm.convert.conversion import Conversion

        for entry in converted.iterdir():
            if entry.name.startswith("."):
                tally["conversion temp folder left"] += 1
            else:
                assert Conversion.read(entry, verify=True) is not None, entry
                tally["whole conversion entry"] += 1

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    zygote = Zygote(env, preload=("torch", "numpy", "mlpm.ops.convert",
                                  "mlpm.convert.conversion", "mlpm.convert.torch"))
    try:
        log = tmp_path / "warm.log"
        assert zygote.inline(command, project, log) == 0, log.read_text()
        set_state(project, old)
        prepare()
        assert zygote.run(command, project, log)[0] == 0, log.read_text()
        new = state(project)
        assert new[1] != old[1] and b"[[package.conversions]]" in new[1]
        tally = crash_trials(project, zygote, tmp_path, command, old, new, prepare,
                             lambda: command, seed=5, check=check)
    finally:
        zygote.close()
    tally["temp folders left at the end"] = sum(e.name.startswith(".")
                                                for e in converted.iterdir())
    print(f"\nFIGURE crash-convert: {dict(tally)}")
    assert tally["killed"] >= TRIALS // 2


def test_a_killed_download_resumes_with_a_range_request(tmp_path, models):
    """The server is throttled (2 MiB/s), so the kill lands mid-body; fetch writes whole
    1 MiB chunks, so the partial file holds at least one and the next run asks for the rest."""
    from mlpm.registry import init_registry_dir

    root = tmp_path / "registry"
    init_registry_dir(root)
    model = make_onnx(tmp_path / "huge.onnx", 9, inputs=1024, outputs=1024)  # 4 MiB
    size = model.stat().st_size
    publish(root, model, "huge", "1.0.0")
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    app = tmp_path / "app"
    app.mkdir()
    with FaultServer(root, rate=2 << 20) as server:
        assert run_cli(["init", "--registry", server.url], app).code == 0
        before = state(app)
        part = Store().root / "partial" / f"{sha}.part"
        offsets = []
        for need in (1 << 20, 2 << 20):  # kill once past 1 MiB, then once past 2 MiB
            proc = popen(["install", "huge"], app)
            deadline = time.monotonic() + 30
            while (not part.exists() or part.stat().st_size < need) and \
                    time.monotonic() < deadline:
                time.sleep(0.02)
            proc.kill()
            proc.wait()
            offsets.append(part.stat().st_size)
            assert state(app) == before and not Store().has_blob(sha)
        result = run_mlpm("install", "huge", cwd=app)
        assert result.code == 0, result.err
        gets = server.requests("/artifacts/")
        ranges = [r.headers.get("Range") for r in gets]
        assert ranges == [None, f"bytes={offsets[0]}-", f"bytes={offsets[1]}-"], ranges
        assert [r.status for r in gets] == [200, 206, 206]
        sent = sum(r.sent for r in gets)
    assert Store().has_blob(sha, size) and Store().verify() == []
    assert sent < 1.6 * size, (sent, size)
    print(f"\nFIGURE resume: {size} B artifact, killed at {offsets}, "
          f"{sent} B sent in all ({sent / size:.2f}x)")


# -- 4. integrity --------------------------------------------------------------------------------


@pytest.fixture
def installed(registry, project, models):
    publish(registry.root, models[5], "tiny", "1.0.0")
    publish(registry.root, models[6], "other", "1.0.0")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "tiny", cwd=project).code == 0
    lock = Lock.read(project / "mlpm.lock")
    art = lock.packages["tiny"].artifacts[0]
    return project, registry, art


def flip(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def load_output(app: Path) -> subprocess.CompletedProcess:
    code = ("import numpy as np, mlpm\n"
            "try:\n"
            "    s = mlpm.load('tiny')\n"
            "    print('LOADED', s.run(None, {'x': np.ones((1, 4), np.float32)})[0].tolist())\n"
            "except mlpm.MlpmError as e:\n"
            "    print('REFUSED', type(e).__name__, e)\n")
    return subprocess.run([sys.executable, "-c", code], cwd=app, capture_output=True,
                          text=True, timeout=120)


def test_a_flipped_byte_in_a_cached_blob_is_found_by_cache_verify(installed):
    app, _, art = installed
    blob = Store().blob_path(art.sha256)
    flip(blob)
    result = run_mlpm("cache", "verify", cwd=app)
    assert result.code == 1 and f"corrupt: {blob}" in result.out and "1 corrupt" in result.out


# Before mlpm/store.py has_blob() kept a status stamp and re-hashed on any change, a
# same-size corruption was trusted on its size: loaded with wrong weights, "up to date".


def test_a_flipped_byte_in_a_cached_blob_is_never_loaded(installed):
    app, registry, art = installed
    good = load_output(app).stdout
    blob = Store().blob_path(art.sha256)
    flip(blob, offset=-8)  # inside the last weight (the bias): still loads, wrongly
    registry.requests.clear()
    out = load_output(app)
    # Either refused, or (what mlpm does) the damaged blob is dropped and fetched again.
    assert out.stdout.startswith("REFUSED IntegrityError") or out.stdout == good, \
        (good, out.stdout, out.stderr)
    assert Store().verify() == []
    if out.stdout == good:
        assert [p for _, p, _ in registry.requests] == ["/" + art.url]


def test_install_repairs_a_corrupt_cached_blob(installed):
    app, _, art = installed
    flip(Store().blob_path(art.sha256), offset=-8)
    result = run_mlpm("install", cwd=app)
    assert result.code == 0 and "fetched 1 file" in result.out, result.out + result.err
    assert Store().verify() == [] and Store().has_blob(art.sha256, art.size)


def test_a_flipped_lock_digest_is_caught_and_named(installed):
    app, _, art = installed
    lock_file = app / "mlpm.lock"
    bad = art.sha256[:-1] + ("0" if art.sha256[-1] != "0" else "1")
    lock_file.write_text(lock_file.read_text().replace(f'sha256 = "{art.sha256}"',
                                                       f'sha256 = "{bad}"'))
    before = state(app)
    # The lock contradicts itself (its url names the published digest): caught before any
    # download, named, refused by --frozen and load, and repaired by a plain install.
    result = run_mlpm("install", "--frozen", cwd=app)
    assert clean_failure(result.code, result.err), result.err
    assert "tiny 1.0.0" in result.err and f"{bad[:12]}…, but its url names" in result.err
    assert state(app) == before and not Store().has_blob(bad)
    out = load_output(app)
    assert out.stdout.startswith("REFUSED InconsistentLock"), out.stdout + out.stderr
    result = run_mlpm("install", cwd=app)
    assert result.code == 0 and "mlpm.lock repaired: rewrote the entry for tiny 1.0.0" \
        in result.out, result.out + result.err
    assert f'sha256 = "{art.sha256}"' in lock_file.read_text() and not Store().has_blob(bad)
    assert not list((Store().root / "partial").glob("*.part"))


def test_a_flipped_registry_byte_is_caught_when_load_fetches(installed):
    app, registry, art = installed
    Store().delete_blob(art.sha256)
    flip(registry.root / art.url)
    out = load_output(app)
    assert out.stdout.startswith("REFUSED IntegrityError") and "tiny@1.0.0" in out.stdout
    assert not Store().has_blob(art.sha256)


def tamper_index(registry, name: str, version: str, new_bytes: bytes) -> str:
    """Replace an artifact's bytes in the registry and make its index record agree: what
    a compromised registry (or mirror) would serve."""
    import json

    index = registry.root / "index" / name[:2] / name[2:4] / name
    lines = []
    for line in index.read_text().splitlines():
        record = json.loads(line)
        if record["version"] == version:
            art = record["artifacts"][0]
            (registry.root / art["url"]).chmod(0o644)
            (registry.root / art["url"]).write_bytes(new_bytes)
            art["sha256"] = hashlib.sha256(new_bytes).hexdigest()
            art["size"] = len(new_bytes)
        lines.append(json.dumps(record))
    index.write_text("\n".join(lines) + "\n")
    return hashlib.sha256(new_bytes).hexdigest()


def test_a_tampered_index_record_cannot_replace_a_locked_artifact_on_a_fresh_machine(
        installed, models, tmp_path):
    app, registry, art = installed
    tamper_index(registry, "tiny", "1.0.0", models[7].read_bytes())
    fresh = {"MLPM_CACHE_DIR": str(tmp_path / "fresh-cache")}
    before = state(app)
    result = run_mlpm("install", "--frozen", cwd=app, env=fresh)
    assert clean_failure(result.code, result.err) and "tiny@1.0.0" in result.err, result.err
    assert state(app) == before


# Before mlpm/ops/install.py _same_bytes_as_locked(), a re-resolve rebuilt locked packages
# from their (tampered) records and silently rewrote the lock's digest.


@pytest.mark.parametrize("command", [["install", "other"], ["upgrade"], ["upgrade", "tiny"]])
def test_a_tampered_index_record_is_caught_against_the_lock(installed, models, command):
    app, registry, art = installed
    bad = tamper_index(registry, "tiny", "1.0.0", models[7].read_bytes())
    before = state(app)
    result = run_mlpm(*command, cwd=app)
    assert clean_failure(result.code, result.err) and "tiny@1.0.0" in result.err, \
        (result.code, result.out, result.err)
    assert "mlpm.lock pins" in result.err
    assert state(app) == before and not Store().has_blob(bad)


# -- 7. disk full / read-only ---------------------------------------------------------------


def _mount(*args: str) -> bool:
    """Run mount(8); MLPM_TEST_NO_MOUNT=1 exercises the stand-ins used where it fails."""
    if os.environ.get("MLPM_TEST_NO_MOUNT") == "1" or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextmanager
def read_only(folder: Path):
    """``folder`` read-only for real: a read-only bind mount (root ignores mode bits), or
    chmod when not root. Yields how."""
    if os.geteuid() == 0:
        if _mount("--bind", str(folder), str(folder)):
            if _mount("-o", "remount,bind,ro", str(folder)):
                try:
                    yield "read-only bind mount"
                finally:
                    subprocess.run(["umount", str(folder)], check=True)
                return
            subprocess.run(["umount", str(folder)], check=True)
        yield None  # root without mount rights: nothing can make it read-only
        return
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
    for p in modes:
        p.chmod(0o555)
    try:
        yield "chmod 555"
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


@contextmanager
def tiny_disk(folder: Path, size: str):
    """A tmpfs of ``size`` at ``folder``; None when mounting is not possible here."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)):
        try:
            yield "tmpfs"
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=True)
    else:
        yield None


def limited(max_bytes: int):
    """preexec_fn: a file-size limit, the stand-in for a full disk where tmpfs cannot be
    mounted (writes past it fail with EFBIG, 'File too large')."""
    import resource

    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def test_a_cache_path_that_cannot_exist_is_a_clear_error(installed, tmp_path):
    app, _, _ = installed
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    before = state(app)
    result = run_mlpm("install", "other", cwd=app,
                      env={"MLPM_CACHE_DIR": str(blocker / "cache")})
    assert clean_failure(result.code, result.err), result.err
    assert str(blocker / "cache") in result.err and "MLPM_CACHE_DIR" in result.err
    assert state(app) == before and not (blocker / "cache").exists()


@pytest.mark.parametrize("populated", [False, True])
def test_a_read_only_cache_is_a_clear_error_with_no_partial_state(installed, tmp_path,
                                                                 populated):
    app, _, _ = installed
    cache = tmp_path / "ro-cache"
    cache.mkdir()
    if populated:  # the layout exists: the failure comes later, at the lock or the part file
        shutil.copytree(Store().root, cache, dirs_exist_ok=True)
    env = {"MLPM_CACHE_DIR": str(cache)}
    before = state(app)
    snapshot = sorted(str(p) for p in cache.rglob("*"))
    with read_only(cache) as how:
        if how is None:  # root without mount rights: a file in the way is the stand-in
            shutil.rmtree(cache)
            cache.write_text("")
            env = {"MLPM_CACHE_DIR": str(cache / "sub")}
        result = run_mlpm("install", "other", cwd=app, env=env)
    assert clean_failure(result.code, result.err), result.err
    assert str(cache) in result.err, result.err
    print(f"\nFIGURE read-only cache (populated={populated}, {how}): {result.err.strip()}")
    assert state(app) == before
    if how is not None:
        assert sorted(str(p) for p in cache.rglob("*")) == snapshot


def test_a_read_only_cache_that_holds_everything_still_serves(installed, tmp_path):
    """A cache shared read-only (a container image, a CI mount): installing from the lock
    and loading need no write."""
    app, _, _ = installed
    cache = tmp_path / "shared-cache"
    shutil.copytree(Store().root, cache)
    env = {"MLPM_CACHE_DIR": str(cache)}
    assert run_mlpm("install", cwd=app, env=env).code == 0  # refs recorded while writable
    with read_only(cache) as how:
        assert how is not None, ("this test needs a read-only bind mount (root with mount "
                                 "rights, as on mlpm's CI machines)")
        result = run_mlpm("install", "--frozen", cwd=app, env=env)
        out = subprocess.run([sys.executable, "-c", "import mlpm; print(mlpm.load('tiny'))"],
                             cwd=app, env={**os.environ, **env}, capture_output=True,
                             text=True, timeout=120)
    assert result.code == 0, result.err
    assert out.returncode == 0 and "InferenceSession" in out.stdout, out.stderr


def test_a_full_cache_disk_names_the_path_and_the_space_needed(registry, project, models,
                                                               tmp_path):
    big = make_onnx(tmp_path / "big.onnx", 3, inputs=768, outputs=768)  # 2.3 MiB
    publish(registry.root, big, "big", "1.0.0")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    cache = tmp_path / "small-disk"
    before = state(project)
    with tiny_disk(cache, "1m") as how:
        env = {"MLPM_CACHE_DIR": str(cache / "mlpm")}
        if how is None:
            proc = subprocess.run([*MLPM, "install", "big"], cwd=project, capture_output=True,
                                  text=True, env={**os.environ, **env},
                                  preexec_fn=limited(1 << 20))
            code, err = proc.returncode, proc.stderr
        else:
            result = run_mlpm("install", "big", cwd=project, env=env)
            code, err = result.code, result.err
        leftovers = sorted(p.name for p in (cache / "mlpm").rglob("*") if p.is_file())
    assert clean_failure(code, err), err
    assert str(cache / "mlpm") in err and "2.3 MiB needed" in err, err
    assert "No space left on device" in err or "File too large" in err, err
    print(f"\nFIGURE full-cache-disk ({how or 'RLIMIT_FSIZE'}): {err.strip()}")
    assert state(project) == before
    assert not [n for n in leftovers if n.endswith(".part")] and not any(
        len(n) == 64 for n in leftovers), leftovers


def test_a_full_project_disk_leaves_the_old_files_and_says_why(registry, models, tmp_path):
    publish(registry.root, models[8], "tiny", "1.0.0")
    disk = tmp_path / "project-disk"
    with tiny_disk(disk, "256k") as how:
        app = disk / "app"
        app.mkdir()
        assert run_mlpm("init", "--registry", registry.url, cwd=app).code == 0
        before = state(app)
        if how is None:  # the blob cached beforehand, so that only mlpm.lock hits the limit
            other = tmp_path / "other"
            other.mkdir()
            assert run_mlpm("init", "--registry", registry.url, cwd=other).code == 0
            assert run_mlpm("install", "tiny", cwd=other).code == 0
            proc = subprocess.run([*MLPM, "install", "tiny"], cwd=app, capture_output=True,
                                  text=True, preexec_fn=limited(64))
            code, err = proc.returncode, proc.stderr
        else:
            try:  # fill the disk to the last block
                with open(disk / "filler", "wb") as fh:
                    while True:
                        fh.write(b"\0" * 4096)
                        fh.flush()
            except OSError:
                pass
            result = run_mlpm("install", "tiny", cwd=app)
            code, err = result.code, result.err
        after = state(app)
        debris = [p.name for p in app.iterdir() if p.name.endswith(".tmp")]
    # Before store.py's write_atomic said so, this was "mlpm failed unexpectedly (OSError:
    # [Errno 28] No space left on device)", naming no file.
    assert after == before and debris == [], (debris, err)
    assert clean_failure(code, err) and str(app / "mlpm.lock") in err, err
    print(f"\nFIGURE full-project-disk ({how or 'RLIMIT_FSIZE'}): {err.strip()}")
    assert "No space left on device" in err or "File too large" in err, err
