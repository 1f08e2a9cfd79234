"""`mlpm adopt`'s scanner and mapper on a corpus of call sites written the way real projects
write them: aliases, keyword and positional forms, constants from another module of the
project, f-strings, notebooks, and arguments that cannot be read (listed with file:line,
never guessed). Mapping runs against the bundled registry and its upstreams index."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mlpm.adopt.mapping import map_sites
from mlpm.adopt.scan import notebook_cells, scan
from mlpm.adopt.sites import EXACT, NAME, UNMAPPED, UNRESOLVED
from mlpm.registry import BUNDLED, bundled_path, open_registry


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return folder


def found(folder: Path) -> list[tuple[str, str, dict, tuple]]:
    return [(s.where, s.kind, s.args, s.unresolved) for s in scan(folder).sites]


@pytest.fixture
def bundled():
    return open_registry(BUNDLED)


def mapped(folder: Path, registry) -> dict[str, tuple]:
    sites = scan(folder).sites
    return {m.site.where: (m.how, m.package, m.version, m.source, m.revision)
            for m in map_sites(sites, registry, folder)}


# -- torch.hub and torchvision ---------------------------------------------------------------


def test_torch_hub_calls_under_every_import_spelling(tmp_path):
    write(tmp_path, {"app.py": """
        import torch
        import torch.hub as th
        from torch import hub
        from torch.hub import load as hub_load, load_state_dict_from_url

        a = torch.hub.load("pytorch/vision", "resnet50", weights="IMAGENET1K_V2")
        b = th.load("pytorch/vision:v0.20.1", model="resnet18", pretrained=True,
                    trust_repo=True)
        c = hub.load(repo_or_dir="NVIDIA/DeepLearningExamples:torchhub",
                     model="nvidia_ssd")
        d = hub_load("pytorch/vision", "resnet50", "extra-positional")
        e = load_state_dict_from_url("https://download.pytorch.org/models/resnet50-0676ba61.pth",
                                     model_dir=CACHE, progress=False)
        f = torch.hub.download_url_to_file("https://example.org/w.pth", os.path.join(d, "w"))
    """})
    assert found(tmp_path) == [
        ("app.py:6", "torch.hub.load", {"repo_or_dir": "pytorch/vision", "model": "resnet50",
                                         "kwargs": {"weights": "IMAGENET1K_V2"}}, ()),
        ("app.py:7", "torch.hub.load", {"repo_or_dir": "pytorch/vision:v0.20.1",
                                         "model": "resnet18",
                                         "kwargs": {"pretrained": True}}, ()),
        ("app.py:9", "torch.hub.load", {"repo_or_dir": "NVIDIA/DeepLearningExamples:torchhub",
                                         "model": "nvidia_ssd", "kwargs": {}}, ()),
        ("app.py:11", "torch.hub.load", {"repo_or_dir": "pytorch/vision", "model": "resnet50",
                                          "kwargs": {}, "args": ["extra-positional"]}, ()),
        ("app.py:12", "torch.hub.load_state_dict_from_url",
         {"url": "https://download.pytorch.org/models/resnet50-0676ba61.pth"}, ()),
        ("app.py:14", "torch.hub.download_url_to_file",
         {"url": "https://example.org/w.pth"}, ()),  # where it is saved does not matter
    ]


def test_torchvision_builders_with_weights_enums_and_strings(tmp_path):
    write(tmp_path, {"vision.py": """
        import torchvision
        import torchvision.models as models
        from torchvision.models import resnet50, ResNet50_Weights, get_model
        from torchvision.models.detection import fasterrcnn_resnet50_fpn

        W = ResNet50_Weights
        a = resnet50(weights=ResNet50_Weights.IMAGENET1K_V2)
        b = models.mobilenet_v3_large(weights=models.MobileNet_V3_Large_Weights.IMAGENET1K_V1)
        c = torchvision.models.vgg16(weights="IMAGENET1K_V1")
        d = get_model("resnet152", weights="ResNet152_Weights.IMAGENET1K_V2")
        e = resnet50()                      # an architecture: nothing downloaded, not listed
        f = resnet50(weights=None)          # the same
        g = fasterrcnn_resnet50_fpn(weights="DEFAULT")
        h = resnet50(weights=W.IMAGENET1K_V1)
    """})
    sites = found(tmp_path)
    assert [(w, k, a["model"], a["kwargs"]) for w, k, a, _ in sites] == [
        ("vision.py:7", "torchvision.models", "resnet50",
         {"weights": "ResNet50_Weights.IMAGENET1K_V2"}),
        ("vision.py:8", "torchvision.models", "mobilenet_v3_large",
         {"weights": "MobileNet_V3_Large_Weights.IMAGENET1K_V1"}),
        ("vision.py:9", "torchvision.models", "vgg16", {"weights": "IMAGENET1K_V1"}),
        ("vision.py:10", "torchvision.models.get_model", "resnet152",
         {"weights": "ResNet152_Weights.IMAGENET1K_V2"}),
        ("vision.py:13", "torchvision.models", "fasterrcnn_resnet50_fpn", {"weights": "DEFAULT"}),
        ("vision.py:14", "torchvision.models", "resnet50",
         {"weights": "ResNet50_Weights.IMAGENET1K_V1"}),
    ]


def test_weights_pick_the_version_whose_upstream_matches(tmp_path, bundled):
    """resnet50's IMAGENET1K_V2 weights are resnet50 1.1.0 in the bundled registry, V1 (also
    torchvision's legacy pretrained=True) is 1.0.0; a ref the registry does not package, other
    weights, or DEFAULT are only a name match."""
    write(tmp_path, {"app.py": """
        import torch
        from torchvision.models import resnet50, ResNet50_Weights, mobilenet_v2

        v2 = resnet50(weights=ResNet50_Weights.IMAGENET1K_V2)
        v1 = torch.hub.load("pytorch/vision", "resnet50", weights="ResNet50_Weights.IMAGENET1K_V1")
        legacy = mobilenet_v2(pretrained=True)
        pinned = torch.hub.load("pytorch/vision:v0.20.1", "resnet50", weights="IMAGENET1K_V2")
        old_ref = torch.hub.load("pytorch/vision:v0.10.0", "resnet50", pretrained=True)
        default = resnet50(weights="DEFAULT")
        head = torch.hub.load("pytorch/vision", "resnet50", weights="IMAGENET1K_V2",
                              num_classes=10)
        other = torch.hub.load("facebookresearch/dino:main", "dino_vits16")
        url = torch.hub.load_state_dict_from_url(
            "https://download.pytorch.org/models/resnet50-11ad3fa6.pth")
    """})
    result = mapped(tmp_path, bundled)
    assert result["app.py:4"] == (EXACT, "resnet50", "1.1.0", None, None)
    assert result["app.py:5"] == (EXACT, "resnet50", "1.0.0", None, None)
    assert result["app.py:6"] == (EXACT, "mobilenet-v2", "1.0.0", None, None)
    assert result["app.py:7"] == (EXACT, "resnet50", "1.1.0", None, None)
    assert result["app.py:8"][:2] == (NAME, "resnet50")
    assert result["app.py:9"][:2] == (NAME, "resnet50")
    assert result["app.py:10"][:2] == (NAME, "resnet50")
    assert result["app.py:12"][0] == UNMAPPED
    assert result["app.py:13"] == (EXACT, "resnet50", "1.1.0", None, None)


def test_arguments_equal_to_the_entrypoints_defaults_ask_for_the_same_model(tmp_path, bundled):
    """digits-hub's digits_mlp(pretrained=True, hidden=64): 1.x packages it with no arguments,
    2.0.0 (where hidden has no default) with hidden=64, so a call without hidden is 1.1.0
    and one with hidden=64 is 2.0.0. Positional arguments are named by the entrypoint's
    parameters; a local hub folder is not a registry package."""
    write(tmp_path, {"hub.py": """
        import torch

        REPO = "mlpm-starters/digits-hub"

        class Settings:
            ENTRY = "digits_mlp"

        plain = torch.hub.load(REPO, Settings.ENTRY)
        same = torch.hub.load(REPO, "digits_mlp", pretrained=True)
        positional = torch.hub.load(REPO, "digits_mlp", True, 64)
        wider = torch.hub.load(REPO, "digits_mlp", hidden=128)
        local = torch.hub.load("./hub", "digits_mlp", source="local")
        keyword = torch.hub.load(REPO, "digits_mlp", hidden=64)
    """})
    result = mapped(tmp_path, bundled)
    assert result["hub.py:8"] == (EXACT, "digits-hub", "1.1.0", None, None)
    assert result["hub.py:9"] == (EXACT, "digits-hub", "1.1.0", None, None)
    # 2.0.0 takes hidden by keyword only: two positional arguments are 1.x's signature
    assert result["hub.py:10"] == (EXACT, "digits-hub", "1.1.0", None, None)
    assert result["hub.py:11"][:2] == (NAME, "digits-hub")
    assert result["hub.py:12"][0] == UNMAPPED
    assert result["hub.py:13"] == (EXACT, "digits-hub", "2.0.0", None, None)


# -- TF Hub ----------------------------------------------------------------------------------


def test_tfhub_handles_through_aliases_and_constants(tmp_path, bundled):
    write(tmp_path, {
        "settings.py": """
            TFHUB = "https://tfhub.dev"
            PUBLISHER = "google"
            FEATURES = f"{TFHUB}/{PUBLISHER}/imagenet/mobilenet_v2_100_224/feature_vector/5"
        """,
        "model.py": """
            import tensorflow as tf
            import tensorflow_hub as hub
            from tensorflow_hub import KerasLayer
            from settings import FEATURES, TFHUB

            NNLM = TFHUB + "/google/nnlm-en-dim50/" + str(2)
            embed = hub.load("https://tfhub.dev/google/nnlm-en-dim50/2")
            layer = KerasLayer(FEATURES, trainable=False, input_shape=(224, 224, 3))
            path = hub.resolve(handle="https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/classification/4?tf-hub-format=compressed")
            other = hub.KerasLayer("https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/3")
            local = hub.load("./exported/savedmodel")
            nnlm = hub.load(NNLM)
            tf1 = hub.Module(spec="https://tfhub.dev/google/nnlm-en-dim50/2", trainable=True)
        """})
    sites = {s.where: s for s in scan(tmp_path).sites}
    assert sites["model.py:8"].args == {
        "handle": "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"}
    assert sites["model.py:8"].kind == "tensorflow_hub.KerasLayer"
    assert sites["model.py:9"].kind == "tensorflow_hub.resolve"
    assert sites["model.py:12"].unresolved == ("handle",)  # str(2) is a call
    assert "call" in sites["model.py:12"].reasons["handle"]
    result = mapped(tmp_path, bundled)
    assert result["model.py:7"] == (EXACT, "nnlm-en-dim50", "1.0.0", None, None)
    assert result["model.py:8"] == (EXACT, "mobilenet-v2-100-224-feature-vector", "1.1.0",
                                    None, None)
    assert result["model.py:9"] == (EXACT, "mobilenet-v2-100-224-classification", "1.0.0",
                                    None, None)
    assert result["model.py:10"][:2] == (NAME, "mobilenet-v2-100-224-feature-vector")
    assert result["model.py:11"][0] == UNMAPPED
    assert result["model.py:12"][0] == UNRESOLVED
    assert result["model.py:13"] == (EXACT, "nnlm-en-dim50", "1.0.0", None, None)


# -- Hugging Face ----------------------------------------------------------------------------


def test_hugging_face_calls_become_hf_dependencies_at_the_revision_asked(tmp_path, bundled):
    write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/config.py": """
            MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
            REVISION = "v1.0"
            ORG = "acme"
        """,
        "pkg/app.py": """
            from huggingface_hub import hf_hub_download, snapshot_download
            import huggingface_hub
            from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
            import transformers
            from sentence_transformers import SentenceTransformer
            import timm
            from .config import MODEL_ID, REVISION, ORG

            p = hf_hub_download(repo_id=f"{ORG}/weights", filename="model.safetensors",
                                revision=REVISION)
            q = huggingface_hub.hf_hub_download("acme/weights", "config.json")
            r = snapshot_download("acme/corpus", repo_type="dataset")
            m = AutoModelForSequenceClassification.from_pretrained(MODEL_ID, revision="main")
            t = transformers.AutoTokenizer.from_pretrained("bert-base-uncased")
            clf = pipeline("text-classification", model="acme/sst2", revision="abc1234")
            bare = pipeline("sentiment-analysis")
            st = SentenceTransformer("all-MiniLM-L6-v2")
            tm = timm.create_model("hf-hub:timm/vit_base_patch16_224.augreg_in21k", pretrained=True)
            tn = timm.create_model("resnet50.a1_in1k", pretrained=True)
            arch = timm.create_model("resnet50")  # no weights: not listed
            local = AutoTokenizer.from_pretrained("./checkpoints/best")
        """})
    result = mapped(tmp_path, bundled)
    assert result == {
        "pkg/app.py:9": (EXACT, "weights", None, "hf:acme/weights", "v1.0"),
        "pkg/app.py:11": (EXACT, "weights", None, "hf:acme/weights", None),
        "pkg/app.py:12": (UNMAPPED, None, None, None, None),
        "pkg/app.py:13": (EXACT, "all-minilm-l6-v2", None,
                          "hf:sentence-transformers/all-MiniLM-L6-v2", "main"),
        "pkg/app.py:14": (EXACT, "bert-base-uncased", None, "hf:bert-base-uncased", None),
        "pkg/app.py:15": (EXACT, "sst2", None, "hf:acme/sst2", "abc1234"),
        "pkg/app.py:16": (UNMAPPED, None, None, None, None),
        "pkg/app.py:17": (EXACT, "all-minilm-l6-v2", None,
                          "hf:sentence-transformers/all-MiniLM-L6-v2", None),
        "pkg/app.py:18": (EXACT, "vit_base_patch16_224.augreg_in21k", None,
                          "hf:timm/vit_base_patch16_224.augreg_in21k", None),
        "pkg/app.py:19": (NAME, "resnet50", None, None, None),
        "pkg/app.py:21": (UNMAPPED, None, None, None, None),
    }


# -- what cannot be read ---------------------------------------------------------------------


def test_arguments_that_are_not_constants_are_listed_with_file_and_line(tmp_path, bundled):
    write(tmp_path, {"train.py": """
        import os
        import sys
        import torch
        from transformers import AutoModel

        MODEL = "pytorch/vision"
        MODEL = "pytorch/vision:v0.20.1"   # assigned twice: which one runs depends on the flow


        def build(name, weights=None):
            return torch.hub.load(MODEL, name, weights=weights)


        def from_env():
            return AutoModel.from_pretrained(os.environ["MODEL_ID"])


        def from_args():
            mid = sys.argv[1]
            return AutoModel.from_pretrained(mid)


        def local_constant():
            mid = "acme/" + "encoder"
            return AutoModel.from_pretrained(mid)


        def splat(**kw):
            return torch.hub.load("pytorch/vision", "resnet50", **kw)


        MODEL_CLASSES = {"bert": AutoModel}
        args = parse_args()
        model_class = MODEL_CLASSES[args.model_type]
        model = model_class.from_pretrained(args.model_name_or_path, revision="main")
    """})
    sites = {s.where: s for s in scan(tmp_path).sites}
    assert sites["train.py:11"].unresolved == ("repo_or_dir", "model", "weights")
    assert "more than once" in sites["train.py:11"].reasons["repo_or_dir"]
    assert "parameter" in sites["train.py:11"].reasons["model"]
    assert sites["train.py:15"].unresolved == ("repo_id",)
    assert sites["train.py:20"].unresolved == ("repo_id",)
    assert sites["train.py:15"].reasons["repo_id"] == "read from the environment variable MODEL_ID"
    assert sites["train.py:20"].reasons["repo_id"] == "'sys.argv' comes from outside the project"
    assert sites["train.py:25"].args["repo_id"] == "acme/encoder"
    assert sites["train.py:29"].unresolved == ("**kwargs",)
    # a class chosen at run time: still a Hugging Face load, its repository not read
    assert sites["train.py:35"].kind == "from_pretrained"
    assert sites["train.py:35"].args == {"revision": "main", "class": None}
    assert sites["train.py:35"].reasons == \
        {"repo_id": "'args.model_name_or_path' is known only when the code runs"}
    result = mapped(tmp_path, bundled)
    assert [w for w, m in result.items() if m[0] == UNRESOLVED] == \
        ["train.py:11", "train.py:15", "train.py:20", "train.py:29", "train.py:35"]
    assert result["train.py:25"][:4] == (EXACT, "encoder", None, "hf:acme/encoder")


def test_a_call_of_a_local_function_with_a_hub_name_is_not_a_hub_call(tmp_path):
    write(tmp_path, {"app.py": """
        def load(repo, model):
            return (repo, model)

        def hf_hub_download(repo_id, filename):
            return repo_id

        class hub:
            @staticmethod
            def load(handle):
                return handle

        load("pytorch/vision", "resnet50")
        hf_hub_download("acme/x", "y")
        hub.load("https://tfhub.dev/google/nnlm-en-dim50/2")
    """})
    assert found(tmp_path) == []


# -- notebooks, skipped folders, bounds ------------------------------------------------------


def notebook(cells: list[tuple[str, str]]) -> str:
    return json.dumps({"cells": [{"cell_type": kind, "metadata": {}, "source": src.splitlines(True)}
                                 for kind, src in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_notebook_code_cells_with_magics_share_one_namespace(tmp_path, bundled):
    (tmp_path / "explore.ipynb").write_text(notebook([
        ("markdown", "# Exploring\ntorch.hub.load('not/code', 'x')"),
        ("code", "%pip install timm\n!nvidia-smi\nimport torch\nREPO = 'pytorch/vision'"),
        ("code", "%%bash\necho not python"),
        ("code", "model = torch.hub.load(REPO, 'resnet50',\n    weights='IMAGENET1K_V2')\nmodel?"),
        ("code", "def broken(:\n    pass"),
    ]))
    scanned = scan(tmp_path)
    assert [(s.where, s.args["repo_or_dir"], s.cell, s.line) for s in scanned.sites] == \
        [("explore.ipynb[cell 3]:1", "pytorch/vision", 3, 1)]
    assert scanned.skipped == [("explore.ipynb[cell 4]", "not Python 3 syntax")]
    assert mapped(tmp_path, bundled)["explore.ipynb[cell 3]:1"] == \
        (EXACT, "resnet50", "1.1.0", None, None)
    assert notebook_cells(notebook([("code", "%time x = 1\ny = 2")])) == [(0, "\ny = 2")]


def test_virtualenvs_git_and_site_packages_are_not_read(tmp_path):
    call = 'import torch\ntorch.hub.load("pytorch/vision", "resnet50", pretrained=True)\n'
    for folder in (".venv/lib", "env/lib/python3.11/site-packages/pkg", ".git/x",
                   "node_modules/y", "myenv/lib"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "mod.py").write_text(call)
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(call)
    (tmp_path / "big.py").write_text("x = 1\n" * (1 << 20))  # 6 MiB: generated, not code
    (tmp_path / "py2.py").write_text('import torch.hub\nprint "hello"\n')
    (tmp_path / "plain.py").write_text('print "no model is loaded here"\n')  # not even parsed
    scanned = scan(tmp_path)
    assert [s.where for s in scanned.sites] == ["src/app.py:2"]
    assert dict(scanned.skipped) == {"big.py": "larger than 4 MiB", "py2.py": "not Python 3 syntax"}


def test_constants_defined_through_many_modules_and_cycles(tmp_path):
    write(tmp_path, {
        "app/__init__.py": "",
        "app/a.py": "from .b import NAME\nfrom . import b\nFULL = 'acme/' + NAME\n",
        "app/b.py": "from .c import BASE as NAME\nLOOP = LOOP2\nLOOP2 = LOOP\n",
        "app/c.py": "BASE = 'encoder'\n",
        "app/main.py": """
            from transformers import AutoModel
            from app.a import FULL
            from app import b

            x = AutoModel.from_pretrained(FULL)
            y = AutoModel.from_pretrained(b.LOOP)
            z = AutoModel.from_pretrained(b.NAME + "-large")
        """})
    sites = {s.where: s for s in scan(tmp_path).sites}
    assert sites["app/main.py:5"].args["repo_id"] == "acme/encoder"
    assert sites["app/main.py:6"].unresolved == ("repo_id",)
    assert sites["app/main.py:7"].args["repo_id"] == "encoder-large"


def test_the_bundled_registry_carries_its_upstreams_index():
    """Publish keeps it and `mlpm registry reindex` rebuilds it; the bundled copy must be in
    step with its index files (regenerate with `mlpm registry reindex registry-index`)."""
    from mlpm.registry import upstreams

    root = bundled_path()
    shipped = {p.relative_to(root).as_posix(): p.read_text()
               for p in (root / "upstreams").rglob("*") if p.is_file()}
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "reg"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns("artifacts", "upstreams"))
        upstreams.reindex(copy)
        rebuilt = {p.relative_to(copy).as_posix(): p.read_text()
                   for p in (copy / "upstreams").rglob("*") if p.is_file()}
    assert shipped == rebuilt
    assert upstreams.Upstreams(open_registry(BUNDLED)).lookup(
        upstreams.torch_hub_key("PyTorch/Vision", "resnet50")) == \
        [("resnet50", "1.0.0"), ("resnet50", "1.1.0")]
