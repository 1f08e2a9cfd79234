"""`mlpm adopt --rewrite`: the mlpm call each kind of hub call becomes, and the calls that
stay as written (tests/e2e/test_adopt_rewrite.py runs rewritten applications)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mlpm.adopt.rewrite import plan_rewrite
from mlpm.adopt.sites import EXACT, CallSite, Mapping
from mlpm.project import Lock, LockedPackage
from mlpm.registry.records import Artifact

pytest.importorskip("libcst", reason="needs libcst: pip install 'mlpm[adopt]'")

KINDS = {  # the callee as written -> the kind the scanner reports
    "hf_hub_download": "hf_hub_download", "snapshot_download": "snapshot_download",
    "AutoModel.from_pretrained": "from_pretrained", "pipeline": "pipeline",
    "hub.KerasLayer": "tensorflow_hub.KerasLayer", "hub.load": "tensorflow_hub.load",
    "hub.resolve": "tensorflow_hub.resolve", "resnet50": "torchvision.models",
    "timm.create_model": "timm.create_model", "torch.hub.load": "torch.hub.load",
}


def artifact(fmt: str, path: str, role: str | None = None) -> Artifact:
    data = {"format": fmt, "path": path, "sha256": "a" * 64, "size": 1, "url": f"x/{path}"}
    return Artifact.from_json({**data, **({"role": role} if role else {})})


LOCK = Lock("sha256:x", {
    "encoder": LockedPackage("encoder", "1.0.0", "hf:acme/encoder", "", [
        artifact("safetensors", "model.safetensors"), artifact("safetensors", "config.json"),
        artifact("safetensors", "onnx/model.onnx")]),
    "feature-vector": LockedPackage("feature-vector", "1.0.0", "bundled", "tensorflow",
                                    [artifact("savedmodel", "m.tar.gz", "model")]),
    "resnet50": LockedPackage("resnet50", "1.1.0", "bundled", "torch",
                              [artifact("torch-hub", "vision.zip", "code")],
                              interface={"default-entrypoint": "resnet50"},
                              upstream={"type": "torch-hub", "repo": "pytorch/vision",
                                        "ref": "v0.20.1", "entrypoint": "resnet50",
                                        "kwargs": {"weights": "ResNet50_Weights.IMAGENET1K_V2"}}),
})


def rewrite(tmp_path: Path, source: str, package: str) -> tuple[str, list[str]]:
    """The file after rewriting its one call to ``package``, and the reasons for calls kept."""
    (tmp_path / "app.py").write_text(source)
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
             and ast.unparse(n.func) in KINDS]
    maps = [Mapping(CallSite(Path("app.py"), n.lineno, n.col_offset, n.end_lineno,
                             n.end_col_offset, KINDS[ast.unparse(n.func)],
                             ast.get_source_segment(source, n) or ""), EXACT, package, "1.0.0")
            for n in calls]
    plan = plan_rewrite(tmp_path, maps, LOCK)
    plan.write()
    return (tmp_path / "app.py").read_text(), [s.reason for s in plan.skipped]


@pytest.mark.parametrize(("line", "package", "expected"), [
    ('p = hf_hub_download("acme/encoder", "config.json", revision="main")', "encoder",
     'p = str(mlpm.path("encoder") / "config.json")'),
    ('p = hf_hub_download(repo_id="acme/encoder", filename="model.onnx", subfolder="onnx")',
     "encoder", 'p = str(mlpm.path("encoder") / "onnx" / "model.onnx")'),
    ("d = snapshot_download('acme/encoder', revision='v1')", "encoder",
     'd = str(mlpm.path("encoder"))'),
    ('m = AutoModel.from_pretrained("acme/encoder", revision="main", torch_dtype="auto")',
     "encoder", 'm = AutoModel.from_pretrained(str(mlpm.path("encoder")), torch_dtype="auto")'),
    ('f = pipeline("feature-extraction", model="acme/encoder")', "encoder",
     'f = pipeline("feature-extraction", model=str(mlpm.path("encoder")))'),
    ('layer = hub.KerasLayer("https://tfhub.dev/x/1", trainable=False)  # frozen',
     "feature-vector", 'layer = mlpm.keras_layer("feature-vector", trainable=False)  # frozen'),
    ("obj = hub.load('https://tfhub.dev/x/1')", "feature-vector",
     "obj = mlpm.load('feature-vector')"),
    ('folder = hub.resolve("https://tfhub.dev/x/1")', "feature-vector",
     'folder = str(mlpm.path("feature-vector"))'),
    ("net = resnet50(weights=ResNet50_Weights.IMAGENET1K_V2, progress=False)", "resnet50",
     'net = mlpm.load("resnet50", progress=False)'),
    # the weights the package's upstream passes are not repeated, however they are written
    ('net = torch.hub.load("pytorch/vision:v0.20.1", "resnet50", '
     'weights=models.ResNet50_Weights.IMAGENET1K_V2, progress=False, force_reload=True)',
     "resnet50", 'net = mlpm.load("resnet50", progress=False)'),
    ("net = torch.hub.load('pytorch/vision', 'resnet50', weights='IMAGENET1K_V2')",
     "resnet50", "net = mlpm.load('resnet50')"),
    # other weights, or another entrypoint, pass through as written
    ('net = torch.hub.load("pytorch/vision", "resnet50", weights="DEFAULT")', "resnet50",
     'net = mlpm.load("resnet50", weights="DEFAULT")'),
    ('net = torch.hub.load("pytorch/vision", "resnet18", weights="IMAGENET1K_V2")',
     "resnet50", 'net = mlpm.load("resnet50", entrypoint="resnet18", weights="IMAGENET1K_V2")'),
])
def test_each_kind_becomes_the_mlpm_call_that_gives_the_same_thing(tmp_path, line, package,
                                                                  expected):
    text, kept = rewrite(tmp_path, f'"""Doc."""\nfrom x import y\n\n{line}\n', package)
    assert kept == []
    assert text == f'"""Doc."""\nfrom x import y\nimport mlpm\n\n{expected}\n'


@pytest.mark.parametrize(("line", "package", "why"), [
    ('p = hf_hub_download("acme/encoder", "pytorch_model.bin")', "encoder",
     "not among the files mlpm.lock pins"),
    ('p = hf_hub_download("acme/encoder", "config.json", local_dir="models")', "encoder",
     "local_dir="),
    ('m = timm.create_model("resnet50", pretrained=True)', "resnet50", "timm"),
    ("m = hub.load(HANDLE, **options)", "feature-vector", "**kwargs"),
    ('m = AutoModel.from_pretrained("acme/encoder")', "resnet50", "not a Hugging Face"),
    ('m = hub.KerasLayer("https://tfhub.dev/x/1")', "unknown", "not in mlpm.lock"),
])
def test_a_call_that_would_change_meaning_stays_as_written(tmp_path, line, package, why):
    source = f"import x\n{line}\n"
    text, kept = rewrite(tmp_path, source, package)
    assert text == source
    assert len(kept) == 1 and why in kept[0], kept


def test_import_mlpm_is_added_once_and_never_twice(tmp_path):
    source = ('#!/usr/bin/env python\n# a script\nimport mlpm\n'
              'a = hub.load("h")\nb = hub.load("h")\n')
    text, kept = rewrite(tmp_path, source, "feature-vector")
    assert kept == []
    assert text == ('#!/usr/bin/env python\n# a script\nimport mlpm\n'
                    'a = mlpm.load("feature-vector")\nb = mlpm.load("feature-vector")\n')


def test_comments_inside_a_multi_line_call_survive(tmp_path):
    source = ('import torch\n'
              'net = torch.hub.load(\n'
              '    "pytorch/vision",  # torchvision\'s hubconf\n'
              '    "resnet50",\n'
              '    progress=False,  # quiet in CI\n'
              ')\n')
    text, kept = rewrite(tmp_path, source, "resnet50")
    assert kept == []
    assert text == ('import torch\nimport mlpm\n'
                    'net = mlpm.load(\n'
                    '    "resnet50",  # torchvision\'s hubconf\n'
                    '    progress=False,  # quiet in CI\n'
                    ')\n')
