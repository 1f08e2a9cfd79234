"""The direction of imports is the one docs/architecture.md draws, and the code cites only
documents that are in the repository.

The contracts are `[tool.importlinter]` in pyproject.toml; `lint-imports` checks them with
grimp, which also sees the imports inside functions (most of mlpm's, for start-up time).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """`lint-imports` on cwd/pyproject.toml, for the mlpm package found first from cwd."""
    code = "import sys; from importlinter.cli import lint_imports_command; " \
           "sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--no-cache", "--no-logo",
                           str(cwd / "pyproject.toml")],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_every_import_follows_the_layers():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_backwards_import_inside_a_function_breaks_the_contract(tmp_path):
    # A copy of the package, one lazy import added that runs up the layers: the store
    # reaching for an operation, the way a quick fix would.
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(ROOT / "mlpm", tmp_path / "mlpm",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "mlpm" / "store.py", "a", encoding="utf-8") as fh:
        fh.write("\n\ndef _backwards():\n    from mlpm.ops import Session\n\n    return Session\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert "mlpm.store is not allowed to import mlpm.ops" in result.stdout, result.stdout


def test_nothing_inside_mlpm_imports_the_public_facade():
    import grimp

    graph = grimp.build_graph("mlpm", cache_dir=None)
    assert graph.find_modules_that_directly_import("mlpm") == set()


def test_every_top_level_module_has_its_place_in_the_architecture_doc():
    doc = DOC.read_text(encoding="utf-8")
    modules = sorted(p.stem if p.is_file() else p.name for p in (ROOT / "mlpm").iterdir()
                     if (p.suffix == ".py" and p.stem != "__init__")
                     or (p / "__init__.py").exists())
    missing = [m for m in modules if not re.search(rf"mlpm/{m}(\.py|/)", doc)]
    assert not missing, f"docs/architecture.md does not say where these belong: {missing}"


def test_the_code_cites_only_documents_in_the_repository():
    cited = {}
    for path in sorted((ROOT / "mlpm").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "DESIGN.md" not in text, f"{path.relative_to(ROOT)} cites DESIGN.md, which " \
            "is not in the repository; cite the docs/ page that says it"
        for doc in re.findall(r"docs/[\w/.-]+?\.md", text):
            cited.setdefault(doc, path.relative_to(ROOT))
    missing = {doc: str(where) for doc, where in cited.items() if not (ROOT / doc).exists()}
    assert not missing, f"cited but not in the repository: {missing}"
