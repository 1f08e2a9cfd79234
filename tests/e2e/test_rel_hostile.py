"""Hostile packages and hostile input: pickles that run code, names that try path tricks.

- A torch file whose pickle has a malicious ``__reduce__`` never runs: loads are
  ``weights_only=True``, and ``mlpm.audit`` flags the import. Hostile archives are refused
  by tests/unit/test_archive.py (``..``, absolute paths, escaping symlinks and hardlinks,
  devices, bombs) and hub code never runs untrusted (tests/e2e/test_hub_packages.py
  ``test_untrusted_hub_code_is_refused_when_not_interactive``); not repeated here.
- Names that try path tricks are refused at every entry point, writing nothing.
- Impossible artifact sizes in an index record or a lock are a ValueError. Generated
  hostile input (versions, ranges, names, manifests, locks, records) is in
  tests/unit/test_fuzz.py.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from mlpm.audit import AuditReport, is_safe_global, scan_file
from mlpm.cli import main
from mlpm.errors import ManifestError
from mlpm.ops.audit import audit, pickle_allowed
from mlpm.project import Project
from mlpm.store import Store
from tests.conftest import needs, publish, run_mlpm
from tests.models import make_torchscript


class Evil:
    """Unpickling this runs ``os.system``: it writes the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def evil_state_dict(path: Path, marker: Path, **save) -> Path:
    torch = needs("torch")

    torch.save({"weight": torch.zeros(2, 2), "payload": Evil(marker)}, path, **save)
    return path


def publish_dir(registry_root: Path, folder: Path, name: str, version: str, fmt: str,
                file: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlpm.toml").write_text(tomli_w.dumps({"package": {
        "name": name, "version": version, "framework": "torch", "files": {fmt: file.name}}}))
    if file.parent != folder:
        (folder / file.name).write_bytes(file.read_bytes())
    result = run_mlpm("publish", str(folder), "--registry", str(registry_root), cwd=folder)
    assert result.code == 0, result.err


@pytest.fixture
def hostile_app(registry, project, tmp_path):
    """A project with a benign state dict, TorchScript, and three malicious torch files."""
    torch = needs("torch")

    marker = tmp_path / "PWNED"
    files = tmp_path / "files"
    files.mkdir()
    torch.save({"weight": torch.ones(2, 2)}, files / "good.pt")
    make_torchscript(files / "script.pt", 1)
    evil_state_dict(files / "evil.pt", marker)
    evil_state_dict(files / "legacy.pt", marker, _use_new_zipfile_serialization=False)
    (files / "raw.pkl").write_bytes(pickle.dumps({"w": [1.0], "x": Evil(marker)}, protocol=4))
    publish_dir(registry.root, tmp_path / "p-good", "good", "1.0.0", "state-dict",
                files / "good.pt")
    publish(registry.root, files / "script.pt", "script", "1.0.0")
    publish_dir(registry.root, tmp_path / "p-evil", "evil", "1.0.0", "state-dict",
                files / "evil.pt")
    publish_dir(registry.root, tmp_path / "p-legacy", "legacy", "1.0.0", "state-dict",
                files / "legacy.pt")
    publish_dir(registry.root, tmp_path / "p-raw", "raw", "1.0.0", "state-dict",
                files / "raw.pkl")
    # A torch.save file published as TorchScript (it is a zip, so publish takes it).
    publish(registry.root, files / "evil.pt", "disguised", "1.0.0")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    result = run_mlpm("install", "good", "script", "evil", "legacy", "raw", "disguised",
                      cwd=project)
    assert result.code == 0, result.err
    return project, marker


def test_a_malicious_reduce_never_runs_on_load(hostile_app, registry):
    project, marker = hostile_app
    code = ("import sys, mlpm\n"
            "for name in sys.argv[1:]:\n"
            "    try:\n"
            "        mlpm.load(name)\n"
            "        print(name, 'LOADED')\n"
            "    except Exception as exc:\n"
            "        print(name, 'REFUSED', type(exc).__name__)\n")
    names = ["evil", "legacy", "raw", "disguised", "good", "script"]
    # TorchScript runs its publisher's code: the user trusts both "TorchScript" sources, so
    # what refuses the disguised pickle is mlpm's loader, not the trust question
    trust = f"{registry.url}#script,{registry.url}#disguised"
    out = subprocess.run([sys.executable, "-c", code, *names], cwd=project,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "MLPM_TRUST": trust})
    verdicts = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert not marker.exists(), "a pickle's __reduce__ ran during mlpm.load"
    for name in ("evil", "legacy", "raw", "disguised"):
        assert verdicts[name].startswith("REFUSED"), (name, out.stdout, out.stderr)
    assert verdicts["good"] == "LOADED" and verdicts["script"] == "LOADED", out.stdout
    print(f"\nFIGURE pickle-load: {verdicts}; marker file created: {marker.exists()}")


def test_audit_flags_every_malicious_pickle_and_nothing_else(hostile_app):
    project, marker = hostile_app
    report = audit(Project.find(project), Store())
    assert not marker.exists()
    unsafe = {f.package: f for f in report.findings if f.kind == "unsafe-pickle"}
    assert sorted(unsafe) == ["disguised@1.0.0", "evil@1.0.0", "legacy@1.0.0", "raw@1.0.0"]
    assert all("system" in f.detail for f in unsafe.values()), unsafe
    assert unsafe["evil@1.0.0"].artifact == "evil.pt" and "data.pkl" in unsafe["evil@1.0.0"].detail
    assert report.packages == 6 and report.artifacts == 6 and report.exit_code == 1
    print(f"\nFIGURE audit: {report.packages} packages, {report.artifacts} artifacts, "
          f"{report.pickles} pickles scanned, {len(report.findings)} findings: "
          f"{sorted(unsafe)}")
    data = json.loads(json.dumps(report.to_json()))
    assert data["version"] == 1 and data["ok"] is False
    assert {f["kind"] for f in data["findings"]} == {"unsafe-pickle"}
    # The per-package opt-in: listed, no longer failing.
    manifest = project / "mlpm.toml"
    manifest.write_text(manifest.read_text().replace(
        "[dependencies]", 'allow-pickle = ["evil", "legacy", "raw", "disguised"]\n\n'
        "[dependencies]"))
    assert pickle_allowed(Project.find(project), "evil")
    assert not pickle_allowed(Project.find(project), "good")
    allowed = audit(Project.find(project), Store())
    assert len(allowed.findings) == 4 and all(f.allowed for f in allowed.findings)
    assert allowed.exit_code == 0


def test_the_scanner_knows_real_torch_files_and_protocol_0(tmp_path):
    torch = needs("torch")

    marker = tmp_path / "m"
    torch.save({"a": torch.zeros(3, dtype=torch.bfloat16), "p": torch.nn.Parameter(
        torch.ones(2)), "size": torch.Size([1, 2]), "dev": torch.device("cpu")},
        tmp_path / "misc.pt")
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)).eval()
    torch.export.save(torch.export.export(module, (torch.zeros(2, 4),)), tmp_path / "ep.pt2")
    for clean in ("misc.pt", "ep.pt2"):
        scanned, bad = scan_file(tmp_path / clean)
        assert scanned >= 1 and bad == [], (clean, bad)
    (tmp_path / "p0.pkl").write_bytes(pickle.dumps(Evil(marker), protocol=0))
    (tmp_path / "p2.pkl").write_bytes(pickle.dumps([Evil(marker)], protocol=2))
    for evil in ("p0.pkl", "p2.pkl"):
        scanned, bad = scan_file(tmp_path / evil)
        assert scanned == 1 and "system" in bad[0][1][0], (evil, bad)
    # Nothing that can run code passes the allowlist, whatever the spelling.
    for name in ("builtins.eval", "builtins.getattr", "__builtin__.exec", "os.system",
                 "posix.system", "subprocess.Popen", "torch.load", "torch._utils.x",
                 "torch.storage._load_from_bytes", "numpy.load", "runpy._run_code"):
        assert not is_safe_global(name), name
    assert not marker.exists()


def test_the_bundled_packages_audit_clean(project):
    """No false positives on real packages: the bundled registry's digits family (ONNX,
    TorchScript, hub code with .pth weights, a SavedModel), installed from its folder."""
    assert run_mlpm("init", cwd=project).code == 0
    names = ["digits", "digits-hub", "digits-tf", "digits-calibrator", "digits-head",
             "digits-small", "digits-large"]
    assert run_mlpm("install", *names, cwd=project).code == 0
    report = audit(Project.find(project), Store())
    assert report.findings == [] and report.unchecked == [] and report.exit_code == 0
    assert report.packages == len(names) and report.pickles > 0
    print(f"\nFIGURE audit-bundled: {report.packages} packages, {report.artifacts} artifacts, "
          f"{report.pickles} pickles scanned, {len(report.findings)} findings")


def test_advisories_and_security_yanks_in_the_index_are_reported(registry, project,
                                                                model_files):
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    publish(registry.root, model_files[2], "tiny", "1.1.0")
    publish(registry.root, model_files[3], "other", "1.0.0")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "tiny@1.0", "other", cwd=project).code == 0
    clean = audit(Project.find(project), Store())
    assert clean.findings == [] and clean.exit_code == 0 and clean.packages == 2
    index = registry.root / "index" / "ti" / "ny" / "tiny"
    records = [json.loads(line) for line in index.read_text().splitlines()]
    records[0]["advisories"] = [{"id": "MLPM-2025-0001", "severity": "high",
                                 "summary": "the weights leak training data",
                                 "fixed-in": "1.1.0"}]
    records[0]["yanked"] = True
    records[0]["yanked-reason"] = "security: see MLPM-2025-0001"
    index.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = audit(Project.find(project), Store())
    kinds = sorted((f.kind, f.package) for f in report.findings)
    assert kinds == [("advisory", "tiny@1.0.0"), ("yanked", "tiny@1.0.0")]
    advisory = next(f for f in report.findings if f.kind == "advisory")
    assert advisory.severity == "high" and "MLPM-2025-0001" in advisory.detail
    assert "mlpm install tiny@^1.1.0" in advisory.detail
    yanked = next(f for f in report.findings if f.kind == "yanked")
    assert "security: see MLPM-2025-0001" in yanked.detail
    assert report.exit_code == 1 and "advisory [high]: tiny@1.0.0" in str(report)


def test_allow_pickle_must_be_a_list_of_valid_names(project):
    (project / "mlpm.toml").write_text('allow-pickle = "everything"\n[dependencies]\n')
    with pytest.raises(ManifestError, match="list of package names"):
        pickle_allowed(Project.find(project), "x")
    (project / "mlpm.toml").write_text('allow-pickle = ["../x"]\n[dependencies]\n')
    with pytest.raises(ManifestError, match="not a valid package name"):
        pickle_allowed(Project.find(project), "x")
    (project / "mlpm.toml").unlink()
    (project / "pyproject.toml").write_text('[tool.mlpm]\nallow-pickle = ["legacy"]\n')
    assert pickle_allowed(Project.find(project), "legacy")


def test_an_empty_report_reads_well():
    report = AuditReport()
    assert report.exit_code == 0 and str(report).endswith("0 findings")


# -- names that try path tricks, at every entry point ---------------------------------------

EVIL_NAMES = ["../x", "/etc/passwd", "a/../../b", "x\x00y", "\uff52esnet", "r\u0435snet",
              "..", "C:\\evil", "resnet\u200b", "~/x", "Resnet"]


def tree(root: Path, skip: Path) -> dict[str, bytes | None]:
    """Every path below ``root`` (but ``skip``) with its content: what a write would change."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in root.rglob("*") if skip not in p.parents and p != skip}


def cli(args: list[str], cwd: Path, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.err


@pytest.fixture
def named_app(registry, project, model_files):
    publish(registry.root, model_files[1], "good", "1.0.0")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "good", cwd=project).code == 0
    return project


ENTRY_POINTS = ["install", "install-range", "info", "remove", "why", "publish --name",
                "manifest key", "lock name", "index record"]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_path_trick_names_are_refused_at_every_entry_point(entry, named_app, registry,
                                                          isolated, monkeypatch, capsys,
                                                          model_files):
    project = named_app
    manifest, lock = project / "mlpm.toml", project / "mlpm.lock"
    good_manifest, good_lock = manifest.read_bytes(), lock.read_bytes()
    index = registry.root / "index" / "go" / "od" / "good"
    good_index = index.read_bytes()
    cache = isolated / "cache"
    for name in EVIL_NAMES:
        before = tree(isolated, cache)
        word = "not a valid package name"
        if entry == "manifest key":  # a dependency key in mlpm.toml
            manifest.write_text(tomli_w.dumps({"registry": registry.url,
                                               "dependencies": {name: "^1"}}))
            runs = [["install"], ["list"]]
        elif entry == "lock name":  # a package name in mlpm.lock
            lock.write_text(good_lock.decode().replace('name = "good"',
                                                       f"name = {json.dumps(name)}"))
            runs = [["install"], ["list"], ["install", "--frozen"]]
        elif entry == "index record":  # the name inside a registry record
            record = json.loads(good_index.decode().splitlines()[0])
            record["name"] = name
            index.write_text(json.dumps(record) + "\n")
            runs = [["info", "good", "--registry", str(registry.root)]]
            word = "corrupt at line 1"
        else:
            runs = [{"install": ["install", name], "install-range": ["install", f"{name}@^1"],
                     "info": ["info", name], "remove": ["remove", name], "why": ["why", name],
                     "publish --name": ["publish", str(model_files[2]), "--registry",
                                        str(registry.root), "--name", name, "--version",
                                        "9.0.0"]}[entry]]
        for args in runs:
            code, err = cli(args, project, monkeypatch, capsys)
            assert code in (1, 2) and "Traceback" not in err and "unexpectedly" not in err, \
                (args, err)
            assert word in err, (name, args, err)
        manifest.write_bytes(good_manifest)
        lock.write_bytes(good_lock)
        index.write_bytes(good_index)
        assert tree(isolated, cache) == before, f"{name!r}: files changed outside the cache"


def test_a_hostile_names_file_breaks_neither_search_nor_suggestions(named_app, registry,
                                                                   monkeypatch, capsys):
    names = registry.root / "names"
    names.write_text("good\n../x\n/etc/passwd\nr\u0435snet\n")
    code, err = cli(["install", "goood"], named_app, monkeypatch, capsys)
    assert code == 1 and "did you mean good" in err, err
    code, err = cli(["search", "", "--registry", str(registry.root)], named_app, monkeypatch,
                    capsys)
    assert "Traceback" not in err and "unexpectedly" not in err, err


@pytest.mark.parametrize("size", [float("nan"), float("inf"), -5, 1.5, True])
def test_an_impossible_artifact_size_is_a_value_error(size, tmp_path):
    from mlpm.project import Lock
    from mlpm.registry.records import parse_index_file

    artifact = {"format": "onnx", "path": "m.onnx", "sha256": "a" * 64, "size": size,
                "url": "artifacts/aa/x"}
    record = {"name": "pkg", "version": "1.0.0", "artifacts": [artifact]}
    with pytest.raises(ValueError):
        parse_index_file("pkg", json.dumps(record))
    lock = tmp_path / "mlpm.lock"
    lock.write_text(tomli_w.dumps({"version": 1, "manifest-hash": "", "package": [
        {"name": "pkg", "version": "1.0.0", "registry": "bundled", "artifacts": [artifact]}]}))
    with pytest.raises(ValueError):
        Lock.read(lock)
