"""`pip install .` (not editable) gives a working mlpm: the bundled registry ships inside
the wheel, and the sdist holds everything the wheel is built from.

How this proves "the wheel works on its own", offline:

- the sdist is built from a copy of the source tree with setuptools' PEP 517 hook (what
  `python -m build --sdist --no-isolation` calls), and the wheel is built by pip from
  that sdist alone, as `python -m build` and `pip install <sdist>` do: a file the sdist
  forgets is missing from the wheel;
- the wheel is installed (`--no-deps --no-index`) into a fresh virtualenv. Its
  third-party dependencies (click, requests, onnxruntime...) cannot be downloaded here,
  so one `.pth` line appends the development venv's site-packages to the fresh venv's
  `sys.path`. A folder added by a `.pth` line is not a site folder, so the `.pth` files
  inside it, among them the editable install's `__editable__` finder, never run: the
  only `mlpm` the fresh venv can import is the wheel's. The test asserts that, and runs
  everything from a folder outside the repository, with no PYTHONPATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build",
                                     "dist", "node_modules", ".pytest_cache", ".ruff_cache",
                                     ".mypy_cache", ".hypothesis", ".notes")


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    full.update(env or {})
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(sdist, wheel), built as a user's `python -m build` would, without the network."""
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE, symlinks=True)
    dist = work / "dist"
    dist.mkdir()
    hook = ("import sys, setuptools.build_meta as backend; "
            "print(backend.build_sdist(sys.argv[1]))")
    name = _run(sys.executable, "-c", hook, dist, cwd=source).stdout.strip().splitlines()[-1]
    sdist = dist / name
    unpacked = work / "unpacked"
    with tarfile.open(sdist) as tar:
        tar.extractall(unpacked, filter="data")
    (tree,) = unpacked.iterdir()
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", dist, tree, cwd=work)
    (wheel,) = dist.glob("mlpm-*.whl")
    return sdist, wheel


def test_the_sdist_holds_the_package_and_the_whole_bundled_registry(built):
    sdist, _ = built
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    expected = {str(p.relative_to(ROOT)) for p in (ROOT / "registry-index").rglob("*")
                if p.is_file()}
    assert expected <= names, sorted(expected - names)[:5]
    assert {"pyproject.toml", "README.md", "mlpm/cli/help.txt", "mlpm/__init__.py"} <= names


def test_the_wheel_holds_every_module_and_the_registry_index_and_artifacts(built):
    _, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "mlpm").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert modules <= names, f"add the package of {sorted(modules - names)} to pyproject.toml"
    registry = ROOT / "registry-index"
    shipped = {f"mlpm/_bundled_registry/{p.relative_to(registry)}"
               for sub in ("index", "artifacts") for p in (registry / sub).rglob("*")
               if p.is_file()}
    shipped |= {"mlpm/_bundled_registry/config.json", "mlpm/_bundled_registry/names"}
    assert shipped <= names, sorted(shipped - names)[:5]
    assert "mlpm/cli/help.txt" in names
    assert "mlpm/convert/js_run.js" in names  # the js context's parity check runs it in node
    assert not any(n.startswith(("registry-index/", "mlpm/_bundled_registry/sources/"))
                   for n in names)


def test_a_wheel_installed_in_a_fresh_venv_installs_and_loads_from_the_bundled_registry(
        built, tmp_path):
    _, wheel = built
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "--disable-pip-version-check", wheel, cwd=tmp_path)
    fresh_site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])", cwd=tmp_path).stdout.strip())
    (fresh_site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    app = tmp_path / "app"
    app.mkdir()
    where = _run(python, "-c", "import mlpm, mlpm.registry as r; print(mlpm.__file__); "
                 "print(r.bundled_path())", cwd=app).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where
    assert where[1].endswith("mlpm/_bundled_registry")

    mlpm = venv / "bin" / "mlpm"
    assert "Usage: mlpm" in _run(mlpm, "--help", cwd=app).stdout
    _run(mlpm, "init", cwd=app)
    out = _run(mlpm, "install", "digits@1.2", cwd=app).stdout
    assert "+ digits 1.2.1" in out, out
    assert 'registry = "bundled"' in (app / "mlpm.lock").read_text()
    loaded = _run(python, "-c", "import mlpm; s = mlpm.load('digits', format='onnx'); "
                  "print(type(s).__name__, s.get_inputs()[0].name)", cwd=app).stdout
    assert loaded.split() == ["InferenceSession", "pixels"], loaded
