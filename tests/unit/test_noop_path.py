"""A no-op `mlpm install` decides from what is on disk and imports little: no json (but
--frozen, which reads index files), hashlib, signal, threading, TOML parser, click or
downloader (benchmarks/noop_install.py has the
times). The manifest hash it compares with the lock is the same one json would give."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
import time

from mlpm.project import Project, _canonical_json
from tests.conftest import run_mlpm

NOT_ON_A_NOOP = ("json", "hashlib", "signal", "threading", "tomllib", "tomlkit", "click",
                 "mlpm.fetch", "requests", "filelock")


def test_a_noop_install_imports_none_of_the_heavy_modules(project):
    assert run_mlpm("init", cwd=project).code == 0
    installed = run_mlpm("install", "digits", cwd=project)  # from the bundled registry
    assert installed.code == 0, installed.err
    time.sleep(2.1)  # parsed copies are kept only of files that have settled
    assert run_mlpm("install", cwd=project).code == 0
    probe = ("import sys\nfrom mlpm.cli import main\ncode = main(['install'])\n"
             f"print(code, [m for m in {NOT_ON_A_NOOP!r} if m in sys.modules])")
    for extra in ([], ["--frozen"]):
        proc = subprocess.run([sys.executable, "-c", probe.replace("'install'", ", ".join(
            repr(a) for a in ["install", *extra]))], cwd=project, capture_output=True,
            text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        # --frozen also reads the registry's index files on this machine: json is its due
        allowed = ["json"] if extra else []
        assert proc.stdout.splitlines()[-1] == f"0 {allowed}", (extra, proc.stdout)
        assert "installed: 1 package up to date" in proc.stdout


def test_the_manifest_hash_is_sha256_of_json_sorted_keys(project):
    (project / "mlpm.toml").write_text(
        '[dependencies]\ndigits = "^2.0.0"\nresnet = ">=1.0.0 <2"\n'
        '[registries]\nteam = "https://models.example.com/reg/"\n')
    import hashlib

    proj = Project.find(project)
    data = {"dependencies": dict(sorted(proj.dependencies.items())),
            "registry": proj.registry, "registries": dict(sorted(proj.registries.items()))}
    want = "sha256:" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    assert proj.manifest_hash() == want


def test_the_short_canonical_form_is_json_or_nothing():
    rnd = random.Random(5)
    chars = string.printable + "\u00e9\u2028\x7f\"\\"

    def value(depth=0):
        roll = rnd.random()
        if depth > 3 or roll < 0.4:
            return None if rnd.random() < 0.1 else \
                "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 8)))
        if roll < 0.6:
            return [value(depth + 1) for _ in range(rnd.randint(0, 3))]
        if roll < 0.65:
            return rnd.choice([True, 1, 1.5, ("a",)])
        return {"".join(rnd.choice(chars) for _ in range(rnd.randint(0, 5))): value(depth + 1)
                for _ in range(rnd.randint(0, 4))}

    short = 0
    for _ in range(5000):
        item = value()
        text = _canonical_json(item)
        if text is not None:
            short += 1
            assert text == json.dumps(item, sort_keys=True), item
    assert short > 1000  # the short form covers the common case
