"""Discovering PyTorch Hub entrypoints by reading hubconf.py, checked against torch.hub.

Each folder under tests/hubconfs/ is a small repository written in the style of a public
one (pytorch/vision, facebookresearch/dinov2, ultralytics/yolov5, ...). The ground truth
is torch.hub's own answer: a copy of the folder, plus stub modules for what it imports from
outside the repository, is imported in a subprocess the way torch.hub.list does it, and
mlpm's names, parameter kinds, defaults and docstrings must agree with what Python sees.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlpm.errors import MlpmError
from mlpm.interface.hubconf import MAX_HOPS, RepoModules, discover
from tests.conftest import needs

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "hubconfs"
SAMPLES = sorted(p.name for p in SAMPLES_DIR.iterdir() if (p / "hubconf.py").is_file())

# What torch.hub would do: list() when it takes a local folder, else its own loader.
TRUTH_SCRIPT = r"""
import inspect, json, sys, types
import torch.hub

def signature(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [[p.name, p.kind.name.lower(),
             None if p.default is inspect.Parameter.empty else repr(p.default)]
            for p in sig.parameters.values()]

out = {}
for repo in sys.argv[1:]:
    modules, path = set(sys.modules), list(sys.path)
    try:
        if "source" in inspect.signature(torch.hub.list).parameters:
            names = torch.hub.list(repo, source="local", trust_repo=True)
        else:
            names = None
        with torch.hub._add_to_sys_path(repo):
            module = torch.hub._import_module("hubconf", repo + "/hubconf.py")
        listed = [f for f in dir(module)
                  if callable(getattr(module, f)) and not f.startswith("_")]
        entries = {}
        for name in names or listed:
            obj = getattr(module, name)
            doc = None
            if isinstance(obj, types.FunctionType) and obj.__doc__:
                doc = inspect.cleandoc(obj.__doc__)
            entries[name] = {"signature": signature(obj), "doc": doc}
        out[repo] = {"names": sorted(names or listed), "entries": entries}
    except BaseException as err:
        out[repo] = {"error": type(err).__name__ + ": " + str(err)}
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    sys.path[:] = path
print(json.dumps(out))
"""

# Small stand-ins for what the samples import from outside their repository.
STUBS = {
    "silero": {"omegaconf.py": "class OmegaConf:\n    pass\n"},
    "fairseq": {
        "hydra/__init__.py": "",
        "omegaconf.py": "class OmegaConf:\n    pass\n",
        "regex.py": "",
    },
    "deit": {
        "timm/__init__.py": "",
        "timm/models/__init__.py": "",
        "timm/models/layers.py": textwrap.dedent("""
            def trunc_normal_(tensor, mean=0.0, std=1.0):
                return tensor

            class DropPath:
                def __init__(self, drop_prob=None):
                    self.drop_prob = drop_prob
        """),
        "timm/models/registry.py": "def register_model(fn):\n    return fn\n",
        "timm/models/vision_transformer.py": textwrap.dedent("""
            class VisionTransformer:
                def __init__(self, **kwargs):
                    self.kwargs = kwargs

            def _cfg(url='', **kwargs):
                return {}
        """),
        "timm/models/efficientnet.py": textwrap.dedent("""
            __all__ = ['efficientnet_b0', 'tf_efficientnet_b7']

            def efficientnet_b0(pretrained=False, **kwargs):
                pass

            def tf_efficientnet_b7(pretrained=False, **kwargs):
                pass
        """),
    },
    "edge_cases": {
        "fvcore/__init__.py": "",
        "fvcore/common/__init__.py": "",
        "fvcore/common/registry.py": "class Registry:\n    def __init__(self, name):\n"
                                     "        self.name = name\n",
    },
}

# The exact set mlpm reports for each sample.
EXPECTED = {
    "vision": {"get_weight", "alexnet", "raft_small", "resnet18", "resnet50",
               "wide_resnet50_2", "deeplabv3_resnet50", "fcn_resnet50"},
    "dinov2": {"dinov2_vits14", "dinov2_vitb14", "dinov2_vitl14", "dinov2_vitg14",
               "dinov2_vits14_lc", "dinov2_vitb14_lc", "Attention", "dinov2_vits14_ld"},
    "yolov5": {"Path", "Model", "check_requirements", "set_logging", "custom", "yolov5s",
               "yolov5m", "yolov5s6"},
    "detr": {"Backbone", "Joiner", "DETR", "PostProcess", "PositionEmbeddingSine", "DETRsegm",
             "PostProcessPanoptic", "Transformer", "detr_resnet50", "detr_resnet101_dc5",
             "detr_resnet50_panoptic"},
    "nvidia": {"nvidia_ssd", "nvidia_ssd_processing_utils", "nvidia_resnet50",
               "nvidia_efficientnet_b0", "nvidia_convnets_processing_utils",
               "nvidia_tacotron2", "nvidia_waveglow"},
    "transformers": {"AutoConfig", "AutoModel", "AutoModelForCausalLM", "AutoTokenizer",
                     "add_start_docstrings", "config", "tokenizer", "model",
                     "modelForCausalLM"},
    "silero": {"silero_stt", "silero_tts", "silero_te"},
    "midas": {"DPTDepthModel", "MidasNet", "MidasNet_small", "DPT_BEiT_L_512", "DPT_Large",
              "MiDaS_small", "transforms"},
    "partials": {"partial", "ConvMixer", "convmixer_1536_20", "convmixer_768_32",
                 "convmixer_1024_20_ks9_p14", "convmixer_768_32_in21k", "convmixer_tiny",
                 "default", "ConvMixer_512"},
    "fairseq": {"bpe", "tokenizer"},
    "pytorchvideo": {"c2d_r50", "csn_r101", "slow_r50", "slowfast_r50", "x3d_m", "x3d_s"},
    "deit": {"deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224",
             "cait_XXS24_224", "cait_S24_224", "partial", "DropPath", "trunc_normal_",
             "Affine", "resmlp_models", "resmlp_12", "resmlp_24"},
    "edge_cases": {"Optional", "Registry", "fast_net", "gpu_net", "cpu_net", "net",
                   "fetch_weights", "Net", "NetSmall", "version", "net_v2", "made_net",
                   "resnet18", "resnet34", "literal_net", "updated_net"},
}
# Where torch.hub, by running the code, sees more than a static reading can know.
ONLY_TORCH_SEES = {
    "silero": {"read_audio"},  # torch.hub.list ignores __all__; mlpm lists only __all__
    "fairseq": {"roberta.base", "roberta.large", "transformer.wmt19.en-de"},  # globals()[...]
    "deit": {"efficientnet_b0", "tf_efficientnet_b7"},  # star import of an outside package
    "edge_cases": {"registry_net"},  # globals()[...] in a loop over a call's result
}


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:  # the comparisons with torch.hub skip (torch_hub_truth)
        return False
    return torch.cuda.is_available()


# Both branches of `if torch.cuda.is_available()` are listed; this machine runs one.
ONLY_MLPM_SEES = {"edge_cases": {"cpu_net" if _has_cuda() else "gpu_net"}}


@pytest.fixture(scope="session")
def torch_hub_truth(tmp_path_factory) -> dict[str, dict]:
    """Every sample (with its stubs) imported by torch.hub's loader in one subprocess."""
    needs("torch")
    root = tmp_path_factory.mktemp("truth")
    repos = {}
    for sample in SAMPLES:
        repo = root / sample
        shutil.copytree(SAMPLES_DIR / sample, repo)
        for relative, text in STUBS.get(sample, {}).items():
            (repo / relative).parent.mkdir(parents=True, exist_ok=True)
            (repo / relative).write_text(text)
        repos[str(repo)] = sample
    proc = subprocess.run([sys.executable, "-c", TRUTH_SCRIPT, *repos], capture_output=True,
                          text=True, timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    return {repos[repo]: result | {"repo": repo} for repo, result in answer.items()}


def by_name(info: dict) -> dict[str, dict]:
    return {e["name"]: e for e in info["entrypoints"]}


def params(entry: dict) -> list[tuple[str, str, str | None]]:
    return [(p["name"], p["kind"], p["default"]) for p in entry["parameters"]]


def same_default(mine: str | None, theirs: str | None) -> bool:
    if mine is None or theirs is None:
        return mine is theirs
    try:
        return ast.literal_eval(mine) == ast.literal_eval(theirs)
    except (ValueError, SyntaxError):
        return True  # an expression (Weights.LVD142M): its repr is not its source text


# ---------------------------------------------------------------- against torch.hub


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_names_and_signatures_agree_with_torch_hub(sample, torch_hub_truth):
    info = discover(SAMPLES_DIR / sample)
    names = {e["name"] for e in info["entrypoints"]}
    assert names == EXPECTED[sample]
    assert len(names) == len(info["entrypoints"]), "no name is listed twice"

    truth = torch_hub_truth[sample]
    assert "error" not in truth, truth
    theirs = set(truth["names"])
    assert theirs - names == ONLY_TORCH_SEES.get(sample, set())
    assert names - theirs == ONLY_MLPM_SEES.get(sample, set())

    for entry in info["entrypoints"]:
        seen = truth["entries"].get(entry["name"])
        if not entry["known"] or seen is None or seen["signature"] is None:
            continue
        signature = [(n, k) for n, k, _ in seen["signature"]]
        assert [(n, k) for n, k, _ in params(entry)] == signature, entry["name"]
        for mine, (_, _, default) in zip(entry["parameters"], seen["signature"], strict=True):
            assert same_default(mine["default"], default), (entry["name"], mine, default)
        if seen["doc"] is not None and "docstring" not in (entry["note"] or ""):
            assert entry["doc"] == seen["doc"], entry["name"]


def test_the_samples_cover_the_styles_of_public_hubconfs():
    assert len(EXPECTED) >= 10 and set(EXPECTED) | {"hostile"} == set(SAMPLES)


# ---------------------------------------------------------------- one story per style


def test_vision_reexports_are_followed_through_registering_decorators():
    info = discover(SAMPLES_DIR / "vision")
    resnet18 = by_name(info)["resnet18"]
    assert resnet18["source"] == "import" and resnet18["known"]
    # @register_model() and @handle_legacy_interface(...) keep the signature (functools.wraps)
    assert params(resnet18) == [("weights", "keyword_only", "None"),
                                ("progress", "keyword_only", "True"),
                                ("kwargs", "var_keyword", None)]
    assert resnet18["parameters"][0]["annotation"] == "Optional[ResNet18_Weights]"
    assert resnet18["doc"].startswith("ResNet-18 from `Deep Residual Learning")
    assert "defined in torchvision.models.resnet" in resnet18["note"]
    # a package's `from .fcn import *` without __all__, one more hop away
    assert "torchvision.models.segmentation.fcn" in by_name(info)["fcn_resnet50"]["note"]
    assert info["dependencies"] == ["torch"] and info["notes"] == []


def test_dinov2_keyword_only_annotated_parameters_and_private_helpers():
    info = discover(SAMPLES_DIR / "dinov2")
    vits14 = by_name(info)["dinov2_vits14"]
    assert vits14["parameters"][1] == {"name": "weights", "kind": "keyword_only",
                                       "default": "Weights.LVD142M",
                                       "annotation": "Union[Weights, str]"}
    assert vits14["doc"] == "DINOv2 ViT-S/14 model (optionally) pretrained on the LVD-142M dataset."
    attention = by_name(info)["Attention"]
    assert attention["note"].startswith("class") and params(attention)[:2] == [
        ("dim", "positional_or_keyword", None), ("num_heads", "positional_or_keyword", "8")]
    assert not {"torch", "nn", "_make_depth_head", "_DepthWrapper"} & set(by_name(info))


def test_yolov5_main_block_and_module_level_calls_are_not_entrypoints():
    info = discover(SAMPLES_DIR / "yolov5")
    found = by_name(info)
    assert not {"parse_opt", "opt", "model", "imgs", "results", "argparse", "np"} & set(found)
    assert params(found["custom"])[0] == ("path", "positional_or_keyword", "'path/to/model.pt'")
    assert found["yolov5s"]["doc"] is None  # a comment, not a docstring
    assert found["Model"]["known"] and found["Model"]["note"].startswith("class")
    # pathlib is not part of the repository: listed, as torch.hub.list does, but unknown
    assert not found["Path"]["known"] and "pathlib" in found["Path"]["note"]
    assert found["Path"]["parameters"] == []
    assert info["dependencies"] == ["torch", "yaml"]


def test_detr_classes_take_their_constructor_from_the_repository_or_say_why_not():
    found = by_name(discover(SAMPLES_DIR / "detr"))
    assert params(found["detr_resnet50"]) == [
        ("pretrained", "positional_or_keyword", "False"),
        ("num_classes", "positional_or_keyword", "91"),
        ("return_postprocessor", "positional_or_keyword", "False")]
    assert found["detr_resnet50"]["doc"].startswith("DETR R50 with 6 encoder and 6 decoder")
    assert params(found["DETRsegm"]) == [("detr", "positional_or_keyword", None),
                                         ("freeze_detr", "positional_or_keyword", "False")]
    post = found["PostProcess"]
    assert not post["known"] and "nn.Module" in post["note"] and post["parameters"] == []


def test_nvidia_namespace_packages_renames_and_factories():
    info = discover(SAMPLES_DIR / "nvidia")
    found = by_name(info)
    assert info["dependencies"] is None
    assert "text" not in found and "os" not in found  # modules are not callable
    assert found["nvidia_ssd"]["known"] and found["nvidia_ssd"]["doc"].startswith(
        "Constructs an SSD300 model.")
    made = found["nvidia_resnet50"]  # resnet50 = EntryPoint.create(...): a factory call
    assert not made["known"] and "EntryPoint.create" in made["note"]
    instance = found["nvidia_efficientnet_b0"]  # EntryPoint(...) whose class has __call__
    assert instance["known"] and "EntryPoint.__call__" in instance["note"]
    assert params(instance)[0] == ("pretrained", "positional_or_keyword", "True")


def test_transformers_src_on_sys_path_and_docstring_decorators():
    info = discover(SAMPLES_DIR / "transformers")
    found = by_name(info)
    config = found["config"]
    assert config["known"] and params(config) == [("args", "var_positional", None),
                                                  ("kwargs", "var_keyword", None)]
    assert "docstring is extended at run time by @add_start_docstrings" in config["note"]
    assert config["doc"].startswith("# Using torch.hub !")
    # followed into src/transformers, which hubconf.py appends to sys.path
    assert found["AutoConfig"]["known"] and found["AutoConfig"]["parameters"] == []
    assert "SRC_DIR" not in found and "dependencies" not in found
    assert "huggingface_hub" in info["dependencies"]


def test_silero_all_restricts_the_list_and_says_what_torch_hub_adds():
    info = discover(SAMPLES_DIR / "silero")
    assert [e["name"] for e in info["entrypoints"]] == ["silero_stt", "silero_tts", "silero_te"]
    assert any("__all__" in n and "read_audio" in n for n in info["notes"])
    assert params(by_name(info)["silero_stt"])[0] == ("language", "positional_or_keyword", "'en'")


def test_midas_docstrings_and_model_classes():
    found = by_name(discover(SAMPLES_DIR / "midas"))
    assert found["DPT_Large"]["doc"].splitlines()[1] == (
        "MiDaS DPT-Large model for monocular depth estimation")
    assert params(found["transforms"]) == []
    assert params(found["MidasNet"])[0] == ("path", "positional_or_keyword", "None")


def test_partials_drop_bound_parameters_as_inspect_does():
    found = by_name(discover(SAMPLES_DIR / "partials"))
    first = found["convmixer_1536_20"]
    assert first["source"] == "assign" and first["known"]
    assert [p["name"] for p in first["parameters"]] == [
        "kernel_size", "patch_size", "pretrained", "progress", "num_classes", "kwargs"]
    assert "functools.partial of _convmixer with 1536, 20 bound" in first["note"]
    assert first["doc"] == "Build a ConvMixer; with pretrained=True, load its ImageNet-1k weights."
    # a keyword binding turns that parameter and all after it keyword-only
    assert params(found["convmixer_768_32"])[:2] == [("kernel_size", "keyword_only", "7"),
                                                     ("patch_size", "keyword_only", "7")]
    in21k = found["convmixer_768_32_in21k"]
    assert ("num_classes", "keyword_only", "21841") in params(in21k)
    assert found["default"]["source"] == "alias"
    assert params(found["default"]) == params(first)
    assert params(found["convmixer_tiny"]) == [("pretrained", "positional_or_keyword", "False"),
                                               ("kwargs", "var_keyword", None)]
    assert params(found["ConvMixer_512"])[0] == ("depth", "positional_or_keyword", None)
    assert "_smoke_test" not in found and "functools" not in found


def test_fairseq_dynamic_registration_is_reported_not_guessed():
    info = discover(SAMPLES_DIR / "fairseq")
    assert set(by_name(info)) == {"bpe", "tokenizer"}
    assert any("globals()[model_name]" in n and "cannot be known statically" in n
               for n in info["notes"])
    assert info["dependencies"][:2] == ["dataclasses", "hydra"]


def test_pytorchvideo_chains_of_reexports_are_followed_a_few_hops():
    found = by_name(discover(SAMPLES_DIR / "pytorchvideo"))
    # hubconf -> models.hub -> models.hub.resnet -> models.hub.c2d
    assert "defined in pytorchvideo.models.hub.c2d" in found["c2d_r50"]["note"]
    assert found["x3d_s"]["doc"].startswith("X3D-S model architecture [1]")


def test_deit_star_imports_follow_all_and_report_what_cannot_be_known():
    info = discover(SAMPLES_DIR / "deit")
    found = by_name(info)
    assert "VisionTransformer" not in found  # models.py has __all__
    assert "Affine" in found and "torch" not in found  # resmlp_models.py has none
    tiny = found["deit_tiny_patch16_224"]  # @register_model comes from timm: unread
    assert not tiny["known"] and "@register_model" in tiny["note"]
    assert "(pretrained=False, **kwargs)" in tiny["note"]
    assert found["deit_base_patch16_224"]["known"]
    assert any("from timm.models.efficientnet import *" in n for n in info["notes"])


def test_edge_cases_conditions_rebinding_deletion_and_dynamic_names():
    info = discover(SAMPLES_DIR / "edge_cases")
    found = by_name(info)
    assert not {"old_net", "resnet101", "MODEL_DIR", "VERSION", "CONFIG", "REGISTRY",
                "resnet_depths", "main_only", "os", "sys", "_osp", "dependencies"} & set(found)
    assert "`if torch.cuda.is_available()`" in found["gpu_net"]["note"]
    assert "`except ImportError`" not in found["fast_net"]["note"]  # the try branch wins
    assert "a `try` block" in found["fast_net"]["note"]
    assert params(found["net"]) == [("pretrained", "positional_only", "True"),
                                    ("depth", "positional_or_keyword", "18"),
                                    ("blocks", "var_positional", None),
                                    ("width", "keyword_only", "64"),
                                    ("kwargs", "var_keyword", None)]
    assert "async def" in found["fetch_weights"]["note"]
    assert params(found["version"]) == [("full", "positional_or_keyword", "False")]
    assert params(found["NetSmall"]) == params(found["Net"])
    assert found["net_v2"]["source"] == "alias"
    assert not found["made_net"]["known"] and "_make_factory" in found["made_net"]["note"]
    assert params(found["resnet34"]) == [("pretrained", "positional_or_keyword", "False"),
                                         ("progress", "positional_or_keyword", "True")]
    assert found["literal_net"]["known"] and found["updated_net"]["known"]
    assert any("globals()[_name]" in n for n in info["notes"])
    assert any(n.startswith("REGISTRY") and "UPPER_CASE" in n for n in info["notes"])


def test_discovery_never_runs_hubconf_or_the_modules_it_reads(tmp_path, torch_hub_truth):
    repo = tmp_path / "hostile"
    shutil.copytree(SAMPLES_DIR / "hostile", repo)
    info = discover(repo)
    assert [e["name"] for e in info["entrypoints"]] == ["poisoned_model", "safe_model"]
    assert by_name(info)["poisoned_model"]["known"]
    assert any("always raises" in n and "SystemExit" in n for n in info["notes"])
    assert sorted(p.name for p in repo.iterdir()) == ["hubconf.py", "sentinel_side_effect.py"]
    assert "sentinel_side_effect" not in sys.modules
    # and the sample really is hostile: torch.hub's loader runs it, and it writes and exits
    ran = Path(torch_hub_truth["hostile"]["repo"])
    assert torch_hub_truth["hostile"]["error"].startswith("SystemExit")
    assert (ran / "PWNED").exists() and (ran / "SENTINEL_IMPORTED").exists()


# ---------------------------------------------------------------- sources and resolvers


def test_text_without_a_resolver_lists_imports_unresolved():
    info = discover("from models import vit_b, vit_l as vit_large\nimport torch\n")
    assert [(e["name"], e["known"]) for e in info["entrypoints"]] == [
        ("vit_b", False), ("vit_large", False)]
    assert "no module source was given" in info["entrypoints"][0]["note"]


def test_a_resolver_callable_follows_relative_imports_inside_packages():
    sources = {
        "models": "from .vit import vit_b\nfrom . import heads\n",
        "models.vit": "from ..common import _build\n\ndef vit_b(*, pretrained: bool = True):\n"
                      "    'ViT-B/16.'\n",
        "models.heads": "",
        "common": "def _build(): pass\n",
    }
    hubconf = "from .models import vit_b as vit_base\nfrom models import heads\n"
    info = discover(hubconf, resolve_module=sources.get)
    vit = by_name(info)["vit_base"]
    assert vit["known"] and vit["doc"] == "ViT-B/16." and "defined in models.vit" in vit["note"]
    assert "heads" not in by_name(info)  # a submodule, not a callable
    assert any("relative import" in n and "fails under torch.hub" in n for n in info["notes"])


def test_re_exports_are_followed_at_most_a_few_hops():
    chain = {f"m{i}": f"from m{i + 1} import model\n" for i in range(MAX_HOPS + 3)}
    chain[f"m{MAX_HOPS + 3}"] = "def model(x=1): pass\n"
    entry = discover("from m0 import model\n", resolve_module=chain.get)["entrypoints"][0]
    assert not entry["known"] and "gave up" in entry["note"]
    short = discover("from m6 import model\n", resolve_module=chain.get)["entrypoints"][0]
    assert short["known"] and params(short) == [("x", "positional_or_keyword", "1")]


def test_a_file_path_and_a_folder_give_the_same_answer():
    folder = discover(SAMPLES_DIR / "detr")
    assert discover(str(SAMPLES_DIR / "detr" / "hubconf.py")) == folder
    assert discover(str(SAMPLES_DIR / "detr")) == folder


def test_repo_modules_reads_files_and_namespace_packages(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("X = 1\n")
    (tmp_path / "pkg" / "mod.py").write_text("# -*- coding: latin-1 -*-\nY = '\xe9'\n",
                                             encoding="latin-1")
    modules = RepoModules(tmp_path)
    assert modules("pkg") == "X = 1\n" and modules.is_package("pkg")
    assert "Y = 'é'" in modules("pkg.mod") and not modules.is_package("pkg.mod")
    assert modules("pkg.sub") == "" and modules.is_package("pkg.sub")
    assert modules("pkg.missing") is None and modules("..etc") is None


# ---------------------------------------------------------------- errors and odd values


def test_a_syntax_error_names_the_line():
    with pytest.raises(ValueError, match=r"^hubconf.py cannot be parsed: line 3: ") as caught:
        discover("dependencies = ['torch']\n\ndef broken(:\n    pass\n")
    assert isinstance(caught.value, MlpmError)


def test_a_missing_path_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="hubconf.py does not exist"):
        discover(tmp_path)


def test_a_helper_module_that_does_not_parse_leaves_the_name_unknown():
    info = discover("from models import net\n", resolve_module={"models": "def net(:"}.get)
    entry = info["entrypoints"][0]
    assert not entry["known"] and "models cannot be parsed" in entry["note"]


def test_dependencies_that_are_not_a_literal_list_are_reported():
    info = discover("import os\ndependencies = ['torch'] + os.environ['EXTRA'].split()\n")
    assert info["dependencies"] is None
    assert any("not a literal list of strings" in n for n in info["notes"])
    grown = discover("dependencies = ['torch']\ndependencies.append('numpy')\n"
                     "dependencies += ['yaml']\n")
    assert grown["dependencies"] == ["torch", "numpy", "yaml"] and grown["notes"] == []


def test_a_dynamic_all_lists_every_public_callable_with_a_note():
    info = discover("import extra\n__all__ = ['a'] + extra.NAMES\ndef a(): pass\ndef b(): pass\n")
    assert [e["name"] for e in info["entrypoints"]] == ["a", "b"]
    assert any("__all__ is built at run time" in n for n in info["notes"])


def test_constants_modules_and_private_names_are_never_entrypoints():
    info = discover(textwrap.dedent("""
        from __future__ import annotations
        import pathlib
        import torch, torch.nn as nn
        from torch import nn as tnn
        URL = "https://example.com/w.pth"
        SIZES = [1, 2]
        table = {"a": 1}
        root = pathlib.Path(__file__).parent
        name = "resnet" + str(SIZES[0])
        models = __import__("importlib").import_module("models")
        def _private(): pass
        class _Hidden: pass
        def public(x): pass
    """))
    assert [e["name"] for e in info["entrypoints"]] == ["public"]


def test_setattr_on_this_module_is_read_but_flagged_as_failing_under_torch_hub():
    info = discover("import sys\ndef _f(a=1): pass\nsetattr(sys.modules[__name__], 'g', _f)\n")
    assert params(by_name(info)["g"]) == [("a", "positional_or_keyword", "1")]
    assert any("KeyError" in n for n in info["notes"])


def test_star_import_cycles_do_not_hang():
    sources = {"a": "from b import *\ndef fa(): pass\n", "b": "from a import *\ndef fb(): pass\n"}
    info = discover("from a import *\n", resolve_module=sources.get)
    assert {"fa", "fb"} <= set(by_name(info))
