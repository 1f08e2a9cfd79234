"""`mlpm adopt`'s scanner on call sites in the shapes public projects write them: hub
wrappers, argparse and dataclass arguments, dict configs, class attributes, loops over model
names, `os.path.join`, legacy torchvision and huggingface_hub spellings, TF1 modules and
notebooks. Each snippet is a small project written to a temporary folder; the expected row is
what the report shows: the kind, the arguments read, and each argument not read with why
(never a guess). Snippets are short paraphrases of the call shapes found in the repositories
named in their comments."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mlpm.adopt.scan import scan

# (where, kind, arguments read (a subset of CallSite.args), {argument not read: part of why})
Row = tuple[str, str, dict, dict]

CASES: dict[str, tuple[dict[str, str], list[Row]]] = {
    # -- torch.hub -----------------------------------------------------------------------------
    "hub-from-torch-import-hub": ({"victim.py": """
        from torch import hub

        loaded_model = hub.load(
            "willclarktech/ml-attacks:hubconf", "my_pretrained_model", force_reload=True
        )
        """},  # willclarktech/ml-attacks src/pytorch_hub/victim.py
        [("victim.py:3", "torch.hub.load", {"repo_or_dir": "willclarktech/ml-attacks:hubconf",
                                            "model": "my_pretrained_model", "kwargs": {}}, {})]),
    "hub-registered-wrapper": ({"codebase/models/__init__.py": """
        import torch
        import torch.hub

        @MODEL.register
        def PytorchHub(repo: str, model_name: str, **kwargs):
            return torch.hub.load(repo, model_name, **kwargs)
        """},  # chenyaofo/image-classification-codebase
        [("codebase/models/__init__.py:6", "torch.hub.load", {},
          {"repo_or_dir": "parameter", "model": "parameter", "**kwargs": "**kwargs"})]),
    "hub-module-level-repo-constant": ({"codehub.py": """
        import torch

        repo_url = 'keras4torch-team/codehub:main'

        def load(model, *args, **kwargs):
            return torch.hub.load(repo_url, model, *args, **kwargs)
        """},
        [("codehub.py:6", "torch.hub.load", {"repo_or_dir": "keras4torch-team/codehub:main"},
          {"model": "parameter", "*args": "*args", "**kwargs": "**kwargs"})]),
    "hub-silero-keywords-and-module-flag": ({"vad.py": """
        import torch

        USE_ONNX = False
        model, utils = torch.hub.load(repo_or_dir='snakers4/silero-vad',
                                      model='silero_vad',
                                      force_reload=True,
                                      onnx=USE_ONNX)
        (get_speech_timestamps, save_audio, read_audio, VADIterator, collect_chunks) = utils
        """},  # sushilks/whisper-edge vad.py
        [("vad.py:4", "torch.hub.load", {"repo_or_dir": "snakers4/silero-vad",
                                         "model": "silero_vad", "kwargs": {"onnx": False}}, {})]),
    "hub-silero-tag-trust-repo": ({"download.py": """
        import torch

        torch.hub.load(repo_or_dir="snakers4/silero-vad:v5.1", model="silero_vad",
                       force_reload=True, trust_repo=True)
        """},
        [("download.py:3", "torch.hub.load", {"repo_or_dir": "snakers4/silero-vad:v5.1",
                                              "model": "silero_vad", "kwargs": {}}, {})]),
    "hub-loop-over-entrypoints": ({"fetch.py": """
        import torch
        model_type = ["dinov2_vitb14", "dinov2_vits14"]
        for model in model_type:
            torch.hub.load("facebookresearch/dinov2", model)
        """},
        [("fetch.py:4", "torch.hub.load", {"repo_or_dir": "facebookresearch/dinov2"},
          {"model": "'model'"})]),
    "hub-dinov2-positional": ({"dino.py": """
        import torch

        dinov2_vits14_lc = torch.hub.load('facebookresearch/dinov2', 'dinov2_vits14_lc')
        model = torch.hub.load('facebookresearch/dinov2', 'dinov2_vitl14', pretrained=True)
        """},
        [("dino.py:3", "torch.hub.load", {"repo_or_dir": "facebookresearch/dinov2",
                                          "model": "dinov2_vits14_lc", "kwargs": {}}, {}),
         ("dino.py:4", "torch.hub.load", {"model": "dinov2_vitl14",
                                          "kwargs": {"pretrained": True}}, {})]),
    "hub-yolov5-custom-weights": ({"app/load_model.py": """
        import torch

        model = torch.hub.load('ultralytics/yolov5', 'custom', path='./model/yolov5s.pt',
                               device='cpu')
        best = torch.hub.load('ultralytics/yolov5', 'custom', 'yolov5s.pt')
        """},  # new5558/arv-hackaton-deployment, ranji3500/Yolo-new
        [("app/load_model.py:3", "torch.hub.load",
          {"repo_or_dir": "ultralytics/yolov5", "model": "custom",
           "kwargs": {"path": "./model/yolov5s.pt", "device": "cpu"}}, {}),
         ("app/load_model.py:5", "torch.hub.load",
          {"model": "custom", "args": ["yolov5s.pt"]}, {})]),
    "hub-yolov5-local-source": ({"yolo.py": """
        import torch

        def load_yolov5(weights_path):
            model = torch.hub.load(
                repo_or_dir = "external/yolov5/",
                model = "custom",
                source = "local",
                path = weights_path,
                force_reload = True)
            return model

        model = torch.hub.load('.', 'custom', path='weights/yolov5x-e8-ds2.pt', source='local')
        """},
        [("yolo.py:4", "torch.hub.load", {"repo_or_dir": "external/yolov5/", "model": "custom",
                                          "source": "local"}, {"path": "parameter"}),
         ("yolo.py:12", "torch.hub.load", {"repo_or_dir": ".", "source": "local"}, {})]),
    "hub-star-args-from-a-tuple-constant": ({"spec.py": """
        import torch

        MODEL_SPEC = ("pytorch/vision:v0.10.0", "resnet18")
        model = torch.hub.load(*MODEL_SPEC, pretrained=True)
        """},
        [("spec.py:4", "torch.hub.load", {"repo_or_dir": "pytorch/vision:v0.10.0",
                                          "model": "resnet18",
                                          "kwargs": {"pretrained": True}}, {})]),
    "hub-import-torch-as-th": ({"eval.py": """
        import torch as th

        model = th.hub.load('pytorch/vision:v0.10.0', 'resnext50_32x4d', pretrained=True)
        model.eval()
        """},  # 018kpmanoj/SkinCancerClassification model_eval.py
        [("eval.py:3", "torch.hub.load", {"repo_or_dir": "pytorch/vision:v0.10.0",
                                          "model": "resnext50_32x4d"}, {})]),
    # -- torch.hub downloads of weights files --------------------------------------------------
    "state-dict-url-in-hubconf": ({"hubconf.py": """
        import torch
        import resnet

        dependencies = ['torch', 'torchvision']

        def resnet50(pretrained=True, **kwargs):
            model = resnet.resnet50(**kwargs)
            if pretrained:
                state_dict = torch.hub.load_state_dict_from_url(
                    url="https://dl.fbaipublicfiles.com/vicreg/resnet50.pth",
                    map_location='cpu',
                )
                model.load_state_dict(state_dict, strict=True)
            return model
        """},  # facebookresearch/vicreg hubconf.py
        [("hubconf.py:9", "torch.hub.load_state_dict_from_url",
          {"url": "https://dl.fbaipublicfiles.com/vicreg/resnet50.pth"}, {})]),
    "state-dict-url-local-variable": ({"hubconf.py": """
        import torch
        from torchvision.models.resnet import resnet50 as _resnet50

        def resnet50(pretrained=True, **kwargs):
            model = _resnet50(pretrained=False, **kwargs)
            if pretrained:
                url = 'https://dl.fbaipublicfiles.com/barlowtwins/ep1000_bs2048_lrw0.2_lrb0.0048_lambd0.0051/resnet50.pth'
                state_dict = torch.hub.load_state_dict_from_url(url, map_location='cpu')
                model.load_state_dict(state_dict, strict=False)
            return model
        """},  # facebookresearch/barlowtwins hubconf.py
        [("hubconf.py:8", "torch.hub.load_state_dict_from_url",
          {"url": "https://dl.fbaipublicfiles.com/barlowtwins/ep1000_bs2048_lrw0.2_lrb0.0048_"
                  "lambd0.0051/resnet50.pth"}, {})]),
    "model-zoo-url-dict": ({"model/resnet.py": """
        import torch.utils.model_zoo as model_zoo

        model_urls = {
            'resnet18': 'https://s3.amazonaws.com/pytorch/models/resnet18-5c106cde.pth',
            'resnet50': 'https://s3.amazonaws.com/pytorch/models/resnet50-19c8e357.pth',
        }

        def resnet50(pretrained=False):
            model = ResNet(Bottleneck, [3, 4, 6, 3])
            if pretrained:
                model.load_state_dict(model_zoo.load_url(model_urls['resnet50']))
            return model

        def resnet(arch):
            return model_zoo.load_url(model_urls[arch])
        """},  # the faster-rcnn.pytorch family's lib/model/faster_rcnn/resnet.py
        [("model/resnet.py:11", "torch.hub.load_state_dict_from_url",
          {"url": "https://s3.amazonaws.com/pytorch/models/resnet50-19c8e357.pth"}, {}),
         ("model/resnet.py:15", "torch.hub.load_state_dict_from_url", {},
          {"url": "'arch' is a parameter"})]),
    "model-zoo-url-from-torchvision-module": ({"warm.py": """
        from torchvision.models import resnet
        import torch.utils.model_zoo as model_zoo

        restnet_url = resnet.model_urls['resnet50']
        _ = model_zoo.load_url(restnet_url)
        """},
        [("warm.py:5", "torch.hub.load_state_dict_from_url", {},
          {"url": "outside the project"})]),
    "torchvision-utils-load-state-dict": ({"nets/vgg.py": """
        from torchvision.models.utils import load_state_dict_from_url

        model_urls = {'vgg16': 'https://download.pytorch.org/models/vgg16-397923af.pth'}

        def vgg16(pretrained=False, progress=True):
            model = VGG(make_layers(cfg))
            if pretrained:
                state_dict = load_state_dict_from_url(model_urls['vgg16'], model_dir="./model_data",
                                                      progress=progress)
                model.load_state_dict(state_dict)
            return model
        """},  # old torchvision's re-export, used by many detection repositories
        [("nets/vgg.py:8", "torch.hub.load_state_dict_from_url",
          {"url": "https://download.pytorch.org/models/vgg16-397923af.pth"}, {})]),
    "download-url-to-file": ({"tts/__init__.py": """
        import torch

        torch.hub.download_url_to_file('https://raw.githubusercontent.com/snakers4/silero-models/master/models.yml',
                                       'latest_silero_models.yml',
                                       progress=False)
        """},  # sheeont/SongGenerationBot tts/__init__.py
        [("tts/__init__.py:3", "torch.hub.download_url_to_file",
          {"url": "https://raw.githubusercontent.com/snakers4/silero-models/master/models.yml"},
          {})]),
    # -- torchvision builders -------------------------------------------------------------------
    "torchvision-weights-enum": ({"train.py": """
        from torchvision import models
        from torchvision.models import ResNet50_Weights

        model = models.resnet50(weights=ResNet50_Weights.IMAGENET1K_V1)
        """},
        [("train.py:4", "torchvision.models", {"model": "resnet50", "kwargs": {
            "weights": "ResNet50_Weights.IMAGENET1K_V1"}}, {})]),
    "torchvision-legacy-pretrained-in-dict": ({"archs.py": """
        from torchvision import transforms, datasets, models

        archs = dict()
        archs['resnet18'] = [models.resnet18(pretrained=True), 512]
        archs['densenet'] = models.densenet121(pretrained=True), 1024
        base = models.vgg16(pretrained=False)
        """},
        [("archs.py:4", "torchvision.models", {"model": "resnet18",
                                               "kwargs": {"pretrained": True}}, {}),
         ("archs.py:5", "torchvision.models", {"model": "densenet121",
                                               "kwargs": {"pretrained": True}}, {})]),
    "torchvision-pretrained-from-a-parameter": ({"models/resnet_lib.py": """
        import torchvision

        def resnet50_lib(num_classes, loss=None, pretrained=False, **kwargs):
            model = torchvision.models.resnet50(pretrained=pretrained)
            return model
        """},  # Lucas-Florin/hardness-predictor-for-par models/resnet_lib.py
        [("models/resnet_lib.py:4", "torchvision.models", {"model": "resnet50"},
          {"pretrained": "parameter"})]),
    "torchvision-builder-chosen-by-name": ({"get_model.py": """
        import torchvision.models as models
        import torchvision

        def create_model(args):
            if args.pretrained:
                model = models.__dict__[args.arch](pretrained=True)
            else:
                model = models.__dict__[args.arch]()
            return model

        def by_getattr(arch):
            return getattr(models, arch)(pretrained=True)

        backbone = getattr(torchvision.models, "resnet34")(weights="IMAGENET1K_V1")
        """},  # the pytorch/examples imagenet shape, copied by many projects
        [("get_model.py:6", "torchvision.models", {"kwargs": {"pretrained": True}},
          {"model": "known only when the code runs"}),
         ("get_model.py:12", "torchvision.models", {"kwargs": {"pretrained": True}},
          {"model": "'arch' is a parameter"}),
         ("get_model.py:14", "torchvision.models", {"model": "resnet34",
                                                    "kwargs": {"weights": "IMAGENET1K_V1"}}, {})]),
    "torchvision-positional-pretrained": ({"model.py": """
        import torchvision.models

        def build(arch, pretrained=False):
            return torchvision.models.__dict__[arch](pretrained)

        net = torchvision.models.resnet101(True)
        """},
        [("model.py:4", "torchvision.models", {},
          {"model": "'arch' is a parameter", "pretrained": "parameter"}),
         ("model.py:6", "torchvision.models", {"model": "resnet101",
                                               "kwargs": {"pretrained": True}}, {})]),
    "torchvision-submodule-builders": ({"detect.py": """
        from torchvision.models import resnet
        from torchvision.models.detection import faster_rcnn

        backbone = resnet.resnet50(pretrained=True)
        detector = faster_rcnn.fasterrcnn_resnet50_fpn(weights="DEFAULT")
        """},
        [("detect.py:4", "torchvision.models", {"model": "resnet50",
                                                "kwargs": {"pretrained": True}}, {}),
         ("detect.py:5", "torchvision.models", {"model": "fasterrcnn_resnet50_fpn",
                                                "kwargs": {"weights": "DEFAULT"}}, {})]),
    "torchvision-get-weight": ({"cls.py": """
        from torchvision.models import get_model, get_weight

        weights = get_weight("ResNet50_Weights.IMAGENET1K_V2")
        model = get_model("resnet50", weights=weights)
        """},
        [("cls.py:4", "torchvision.models.get_model", {"model": "resnet50", "kwargs": {
            "weights": "ResNet50_Weights.IMAGENET1K_V2"}}, {})]),
    "torchvision-weights-chosen-by-a-flag": ({"src/model.py": """
        from torch import nn
        from torchvision import models

        def get_resnet18(num_classes=10, pretrained=False):
            if pretrained:
                weights = models.ResNet18_Weights.IMAGENET1K_V1
            else:
                weights = None
            model = models.resnet18(weights=weights)
            return model

        def get_resnet18_inline(num_classes=10, pretrained=False):
            return models.resnet18(weights=models.ResNet18_Weights.DEFAULT if pretrained else None)

        def main():
            weights = models.ResNet18_Weights.DEFAULT
            model = models.resnet18(weights=weights)
        """},  # cglremrcn/cifar-10-image-classification-with-pytorch, sri-sruthi/...
        [("src/model.py:9", "torchvision.models", {"model": "resnet18"},
          {"weights": "more than once"}),
         ("src/model.py:13", "torchvision.models", {"model": "resnet18"},
          {"weights": "an expression"}),
         ("src/model.py:17", "torchvision.models", {"model": "resnet18", "kwargs": {
             "weights": "ResNet18_Weights.DEFAULT"}}, {})]),
    # -- timm --------------------------------------------------------------------------------------
    "timm-literal-with-head-from-parameter": ({"models/timm_model.py": """
        import timm

        def timm_resnet50(num_classes):
            model = timm.create_model('resnet50', pretrained=True, num_classes=num_classes)
            return model
        """},  # david-0429/pytorch-Models-zoo models/timm_model.py
        [("models/timm_model.py:4", "timm.create_model",
          {"model": "resnet50", "pretrained": True}, {"num_classes": "parameter"})]),
    "timm-aliased-wrapper": ({"model.py": """
        from torch import nn
        from timm import create_model as create_model_timm

        class ClassificationModel(nn.Module):
            def __init__(self, model_name: str = "resnet34", num_classes: int = 2,
                         pretrained: bool = True):
                super().__init__()
                self.model = create_model_timm(model_name, pretrained=pretrained,
                                               num_classes=num_classes)
        """},
        [("model.py:8", "timm.create_model", {},
          {"model": "parameter", "pretrained": "parameter", "num_classes": "parameter"})]),
    "timm-literal-script": ({"step_model.py": """
        import timm
        import torch

        model_list = timm.list_models()
        model_resnet50 = timm.create_model('resnet50',pretrained=True)
        scratch = timm.create_model('resnet50')
        """},  # cenchaojun/pytorch-image-models step_model.py
        [("step_model.py:5", "timm.create_model", {"model": "resnet50", "pretrained": True}, {})]),
    "timm-hf-hub-name-from-config-dict": ({"backbone.py": """
        import timm

        CFG = {"backbone": {"name": "hf-hub:timm/vit_base_patch16_224.augreg2_in21k_ft_in1k"}}
        model = timm.create_model(CFG["backbone"]["name"], pretrained=True, num_classes=0)
        """},
        [("backbone.py:4", "timm.create_model",
          {"model": "hf-hub:timm/vit_base_patch16_224.augreg2_in21k_ft_in1k",
           "pretrained": True, "kwargs": {"num_classes": 0}}, {})]),
    # -- TensorFlow Hub ---------------------------------------------------------------------------
    "tfhub-keraslayer-variable-handle": ({"ELMo.py": """
        import tensorflow as tf
        import tensorflow_hub as hub

        model = "https://tfhub.dev/google/tf2-preview/nnlm-en-dim128/1"
        hub_layer = hub.KerasLayer(model, output_shape=[128], input_shape=[],
                                   dtype=tf.string, trainable=True)
        """},  # abeeto/PyTorchCodeCloneAnalysis .../ELMo.py
        [("ELMo.py:5", "tensorflow_hub.KerasLayer",
          {"handle": "https://tfhub.dev/google/tf2-preview/nnlm-en-dim128/1"}, {})]),
    "tfhub-keraslayer-handle-keyword-default-parameter": ({"bert.py": """
        import tensorflow_hub as hub

        BERT_TFHUB_URL = "https://tfhub.dev/tensorflow/bert_en_uncased_L-12_H-768_A-12/2"

        def load_bert_layer(model_url=BERT_TFHUB_URL):
            bert_layer = hub.KerasLayer(
                handle=model_url,
                trainable=True)
            return bert_layer

        layer = hub.KerasLayer(BERT_TFHUB_URL, trainable=False, name="USE")
        wrapped = hub.KerasLayer(hub.load(BERT_TFHUB_URL), trainable=False)
        """},
        [("bert.py:6", "tensorflow_hub.KerasLayer", {}, {"handle": "parameter"}),
         ("bert.py:11", "tensorflow_hub.KerasLayer",
          {"handle": "https://tfhub.dev/tensorflow/bert_en_uncased_L-12_H-768_A-12/2"}, {}),
         ("bert.py:12", "tensorflow_hub.KerasLayer", {}, {"handle": "a model object"}),
         ("bert.py:12", "tensorflow_hub.load",
          {"handle": "https://tfhub.dev/tensorflow/bert_en_uncased_L-12_H-768_A-12/2"}, {})]),
    "tfhub-load-signatures": ({"tf_model_loader.py": """
        import tensorflow as tf
        import tensorflow_hub as tf_hub

        detector = tf_hub.load("https://tfhub.dev/google/openimages_v4/ssd/mobilenet_v2/1").signatures['default']

        class SsdMobilenetV2:
            def load_model(self):
                if self.model is None:
                    module_handle = "https://tfhub.dev/google/openimages_v4/ssd/mobilenet_v2/1"
                    self.model = tf_hub.load(module_handle).signatures['default']
        """},  # ATHIK05/object_detection_api, sweetleejoohyun/toy_backend
        [("tf_model_loader.py:4", "tensorflow_hub.load",
          {"handle": "https://tfhub.dev/google/openimages_v4/ssd/mobilenet_v2/1"}, {}),
         ("tf_model_loader.py:10", "tensorflow_hub.load",
          {"handle": "https://tfhub.dev/google/openimages_v4/ssd/mobilenet_v2/1"}, {})]),
    "tfhub-tf1-module-in-layer": ({"elmo_layer.py": """
        import tensorflow as tf
        import tensorflow_hub as hub

        class ElmoEmbeddingLayer(tf.keras.layers.Layer):
            def build(self, input_shape):
                self.elmo = hub.Module('https://tfhub.dev/google/elmo/2', trainable=self.trainable,
                                       name="{}_module".format(self.name))

        class UniversalSentenceEncoderLayer(tf.keras.layers.Layer):
            def __init__(self, model_url, **kwargs):
                self.model_url = model_url

            def build(self, input_shape):
                self.encoder = hub.Module(self.model_url, name="{}_module".format(self.name))
        """},
        [("elmo_layer.py:6", "tensorflow_hub.Module",
          {"handle": "https://tfhub.dev/google/elmo/2"}, {}),
         ("elmo_layer.py:14", "tensorflow_hub.Module", {},
          {"handle": "known only when the code runs"})]),
    "tfhub-tf1-module-graph-mode": ({"elmo.py": """
        import tensorflow as tf
        import tensorflow_hub as hub

        module_url = "https://tfhub.dev/google/elmo/2"
        tf.compat.v1.disable_eager_execution()
        elmo = hub.Module(module_url, trainable=False)
        """},
        [("elmo.py:6", "tensorflow_hub.Module", {"handle": "https://tfhub.dev/google/elmo/2"},
          {})]),
    "tfhub-handle-from-config-dict": ({"loader.py": """
        import tensorflow_hub as hub

        class TFHubModelLoader:
            def __init__(self, config):
                self._config = config

            def load_model(self):
                model_link = self._config['model_link']
                return hub.load(model_link)
        """},  # openvinotoolkit e2e tests' tf_hub loader
        [("loader.py:9", "tensorflow_hub.load", {}, {"handle": "known only when the code runs"})]),
    # -- huggingface_hub ---------------------------------------------------------------------------
    "hf-download-positional-and-mirror": ({"download_models.py": """
        from huggingface_hub import snapshot_download,hf_hub_download
        import os
        local_dir=os.path.join(__file__,'../checkpoints')

        hf_hub_download("vikhyatk/moondream1",local_dir=local_dir,
                        filename="model.safetensors",
                        endpoint='https://hf-mirror.com')
        """},  # shadowcz007/comfyui-moondream download_models.py
        [("download_models.py:5", "hf_hub_download",
          {"repo_id": "vikhyatk/moondream1", "filename": "model.safetensors"}, {})]),
    "hf-snapshot-module-constants": ({"download_mipha_3b.py": """
        from huggingface_hub import snapshot_download

        model_repo = "zhumj34/Mipha-3B"
        local_dir = "./ckpts/Mipha-3B"

        snapshot_download(
            repo_id=model_repo,
            local_dir=local_dir,
            local_dir_use_symlinks=False
        )
        """},  # yuanze-lin/Olympus download_mipha_3b.py
        [("download_mipha_3b.py:6", "snapshot_download", {"repo_id": "zhumj34/Mipha-3B"}, {})]),
    "hf-snapshot-env-with-defaults": ({"scripts/model_download.py": """
        from huggingface_hub import snapshot_download
        import os

        REPO_ID = os.environ.get("REPO_ID", "TheBloke/SynthIA-7B-v2.0-GPTQ")
        REVISION = os.environ.get("REVISION", "gptq-4bit-32g-actorder_True")

        snapshot_download(
            repo_id=REPO_ID,
            local_dir=".model",
            local_dir_use_symlinks=False,
            revision=REVISION,
        )
        """},  # defenseunicorns/leapfrogai-backend-vllm scripts/model_download.py
        [("scripts/model_download.py:7", "snapshot_download", {}, {
            "repo_id": "environment variable REPO_ID (default 'TheBloke/SynthIA-7B-v2.0-GPTQ')",
            "revision": "environment variable REVISION"})]),
    "hf-snapshot-patterns-and-derived-paths": ({"download_model.py": """
        from huggingface_hub import snapshot_download

        save_dir = "/app/BAGEL/models/BAGEL-7B-MoT"
        repo_id = "ByteDance-Seed/BAGEL-7B-MoT"
        cache_dir = save_dir + "/cache"

        snapshot_download(cache_dir=cache_dir,
          local_dir=save_dir,
          repo_id=repo_id,
          local_dir_use_symlinks=False,
          allow_patterns=["*.json", "*.safetensors", "*.bin", "*.py", "*.md", "*.txt"],
        )
        """},  # balamurali-c/Bagel download_model.py
        [("download_model.py:7", "snapshot_download",
          {"repo_id": "ByteDance-Seed/BAGEL-7B-MoT"}, {})]),
    "hf-download-dataset-repo": ({"fetch.py": """
        from huggingface_hub import hf_hub_download

        hf_hub_download(repo_id="pscotti/mindeyev2", filename="coco_images_224_float16.hdf5",
                        repo_type="dataset", cache_dir="./stimulus", resume_download=True)
        """},
        [("fetch.py:3", "hf_hub_download", {"repo_id": "pscotti/mindeyev2",
                                            "repo_type": "dataset"}, {})]),
    "hf-download-helper-with-defaults": ({"src/hf_utils.py": """
        from huggingface_hub import hf_hub_download

        def fetch_checkpoint(repo_id: str, filename: str, revision: str = "main") -> str:
            return hf_hub_download(repo_id=repo_id, filename=filename, revision=revision)

        if __name__ == "__main__":
            checkpoint_path = hf_hub_download(repo_id="Eddedc/resnet50_VRP",
                                              filename="resnet50.pth")
        """},
        [("src/hf_utils.py:4", "hf_hub_download", {},
          {"repo_id": "parameter", "filename": "parameter", "revision": "parameter"}),
         ("src/hf_utils.py:7", "hf_hub_download", {"repo_id": "Eddedc/resnet50_VRP",
                                                   "filename": "resnet50.pth"}, {})]),
    "hf-download-kwargs-from-a-dict": ({"weights.py": """
        from huggingface_hub import hf_hub_download

        HF_KWARGS = dict(repo_id="CompVis/stable-diffusion-v-1-4-original", revision="main")
        ckpt = hf_hub_download(filename="sd-v1-4.ckpt", **HF_KWARGS)
        """},
        [("weights.py:4", "hf_hub_download",
          {"repo_id": "CompVis/stable-diffusion-v-1-4-original", "filename": "sd-v1-4.ckpt",
           "revision": "main"}, {})]),
    "hf-legacy-cached-download": ({"load_from_hub.py": """
        from huggingface_hub import cached_download, hf_hub_url

        REPO = "sb3/demo-hf-CartPole-v1"
        path = cached_download(hf_hub_url(REPO, filename="ppo-CartPole-v1.zip"))
        """},  # huggingface/huggingface_sb3 before hf_hub_download
        [("load_from_hub.py:4", "hf_hub_download",
          {"repo_id": "sb3/demo-hf-CartPole-v1", "filename": "ppo-CartPole-v1.zip"}, {})]),
    # -- transformers from_pretrained and pipeline ---------------------------------------------
    "from-pretrained-argparse": ({"main.py": """
        import argparse
        from transformers import AutoConfig,AutoTokenizer,AutoModel

        def main(args):
            bert_model_name:str=args.bert_model_name
            model=AutoModel.from_pretrained(bert_model_name)

        if __name__=="__main__":
            parser=argparse.ArgumentParser()
            parser.add_argument("--bert_model_name",type=str,default="cl-tohoku/bert-base-japanese-whole-word-masking")
            args=parser.parse_args()
            main(args)
        """},
        [("main.py:6", "from_pretrained", {"class": "transformers.AutoModel"},
          {"repo_id": "known only when the code runs"})]),
    "from-pretrained-dataclass-arguments": ({"train.py": """
        from dataclasses import dataclass, field
        from transformers import AutoModel, AutoTokenizer, HfArgumentParser

        @dataclass
        class ModelArgs:
            model_name_or_path: str = field(default="bert-base-cased")

        args_parser = HfArgumentParser((ModelArgs,))
        model_args, = args_parser.parse_args_into_dataclasses()
        model = AutoModel.from_pretrained(model_args.model_name_or_path)
        """},
        [("train.py:10", "from_pretrained", {"class": "transformers.AutoModel"},
          {"repo_id": "known only when the code runs"})]),
    "from-pretrained-tokenizer-kwargs-dict": ({"pretrain/load.py": """
        from transformers import AutoTokenizer

        def loadTokenizer(modelArgs):
            tokenizer_kwargs = {
                "cache_dir": modelArgs.cache_dir,
                "use_fast": modelArgs.use_fast_tokenizer,
                "revision": "v2.0",
            }
            return AutoTokenizer.from_pretrained("gpt2", **tokenizer_kwargs)
        """},
        [("pretrain/load.py:9", "from_pretrained",
          {"class": "transformers.AutoTokenizer", "repo_id": "gpt2", "revision": "v2.0"}, {})]),
    "from-pretrained-conditional-name": ({"qa.py": """
        from transformers import BertTokenizer

        def configure(args):
            return BertTokenizer.from_pretrained(
                args.config_name if args.config_name else args.model_name_or_path,
                do_lower_case=args.do_lower_case)
        """},
        [("qa.py:4", "from_pretrained", {"class": "transformers.BertTokenizer"},
          {"repo_id": "an expression"})]),
    "from-pretrained-literal-keyword": ({"download.py": """
        from transformers import CLIPProcessor, CLIPModel

        model = CLIPModel.from_pretrained(
            pretrained_model_name_or_path="laion/CLIP-ViT-H-14-laion2B-s32B-b79K")
        processor = CLIPProcessor.from_pretrained("laion/CLIP-ViT-H-14-laion2B-s32B-b79K")
        """},  # averyanalex/picsavbot download.py
        [("download.py:3", "from_pretrained", {"class": "transformers.CLIPModel",
                                               "repo_id": "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"},
          {}),
         ("download.py:5", "from_pretrained", {"class": "transformers.CLIPProcessor",
                                               "repo_id": "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"},
          {})]),
    "from-pretrained-local-path-join": ({"serve.py": """
        import os
        from transformers import AutoModelForSequenceClassification

        MODEL_DIR = "models"
        model = AutoModelForSequenceClassification.from_pretrained(os.path.join(MODEL_DIR, "bert"))
        """},
        [("serve.py:5", "from_pretrained", {"repo_id": "models/bert"}, {})]),
    "from-pretrained-config-get": ({"cfg.py": """
        from transformers import AutoModelForCausalLM

        CONFIG = {"model_id": "facebook/opt-125m", "revision": "main"}
        model = AutoModelForCausalLM.from_pretrained(CONFIG.get("model_id"),
                                                     revision=CONFIG.get("revision", "main"),
                                                     device_map="auto")
        """},
        [("cfg.py:4", "from_pretrained", {"repo_id": "facebook/opt-125m", "revision": "main"},
          {})]),
    "from-pretrained-self-attribute-set-just-before": ({"embed.py": """
        from sentence_transformers import SentenceTransformer

        class MiniLMEmbeddings:
            def __init__(self) -> None:
                self.model_name = "sentence-transformers/all-MiniLM-L6-v2"
                self.model = SentenceTransformer(self.model_name)
        """},
        [("embed.py:6", "SentenceTransformer",
          {"repo_id": "sentence-transformers/all-MiniLM-L6-v2"}, {})]),
    "project-wrapper-named-from-pretrained": ({"diffusion_models.py": """
        import torch
        from diffusers import ControlNetModel, UNet2DConditionModel

        class BaseModel:
            def from_pretrained(self, model_class, framework_model_dir, subfolder):
                return model_class.from_pretrained(framework_model_dir, subfolder=subfolder)

            def load_unet(self, framework_model_dir, controlnet):
                model = self.from_pretrained(UNet2DConditionModel, framework_model_dir, "unet")
                nets = [ControlNetModel.from_pretrained(path).to("cuda") for path in controlnet]
                return model, nets
        """},  # onnxruntime's stable_diffusion/diffusion_models.py
        [("diffusion_models.py:6", "from_pretrained", {"class": None},
          {"repo_id": "parameter", "subfolder": "parameter"}),
         ("diffusion_models.py:10", "from_pretrained", {"class": "diffusers.ControlNetModel"},
          {"repo_id": "'path' is not a constant"})]),
    "peft-adapter-second-argument": ({"chat.py": """
        from transformers import AutoModelForCausalLM
        from peft import PeftModel

        base = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-2-7b-hf")
        model = PeftModel.from_pretrained(base, "tloen/alpaca-lora-7b")
        """},
        [("chat.py:4", "from_pretrained", {"repo_id": "meta-llama/Llama-2-7b-hf"}, {}),
         ("chat.py:5", "from_pretrained", {"class": "peft.PeftModel",
                                           "repo_id": "tloen/alpaca-lora-7b"}, {})]),
    "diffusers-pipeline-revision": ({"sd.py": """
        import torch
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline.from_pretrained("runwayml/stable-diffusion-v1-5",
                                                       revision="fp16",
                                                       torch_dtype=torch.float16)
        """},
        [("sd.py:4", "from_pretrained", {"class": "diffusers.StableDiffusionPipeline",
                                         "repo_id": "runwayml/stable-diffusion-v1-5",
                                         "revision": "fp16"}, {})]),
    "pipeline-task-and-model": ({"model.py": """
        from transformers import pipeline
        import torch

        classifier = pipeline(
            "text-classification",
            model="distilbert-base-uncased-finetuned-sst-2-english",
            device=0 if torch.cuda.is_available() else 1
        )
        """},  # aligreo/python_core src/model_development/model.py
        [("model.py:4", "pipeline", {"task": "text-classification",
                                     "model": "distilbert-base-uncased-finetuned-sst-2-english"},
          {})]),
    "pipeline-name-rebound": ({"bert.py": """
        from transformers import pipeline

        pipeline = pipeline(
            task='sentiment-analysis',
            model='distilbert-base-uncased-finetuned-sst-2-english',
            max_length=512,
        )
        """},
        [("bert.py:3", "pipeline", {"task": "sentiment-analysis",
                                    "model": "distilbert-base-uncased-finetuned-sst-2-english"},
          {})]),
    "pipeline-default-model-called-at-once": ({"src/__init__.py": """
        from transformers import pipeline;

        print(pipeline('sentiment-analysis')('I love you'))
        """},  # badlogic/ml-template src/__init__.py
        [("src/__init__.py:3", "pipeline", {"task": "sentiment-analysis"}, {})]),
    "pipeline-model-object": ({"sa.py": """
        from transformers import AutoTokenizer, AutoModelForSequenceClassification, pipeline

        def sentiment(model_name, device="cpu"):
            return pipeline(
                task="sentiment-analysis",
                model=AutoModelForSequenceClassification.from_pretrained(model_name).to(device),
                tokenizer=AutoTokenizer.from_pretrained(model_name),
                device=device)
        """},
        [("sa.py:4", "pipeline", {"task": "sentiment-analysis"},
          {"model": "a model object"}),
         ("sa.py:6", "from_pretrained", {}, {"repo_id": "parameter"}),
         ("sa.py:7", "from_pretrained", {}, {"repo_id": "parameter"})]),
    # -- sentence-transformers --------------------------------------------------------------------
    "sentence-transformer-short-name": ({"embeddings.py": """
        from sentence_transformers import SentenceTransformer, util

        model = SentenceTransformer('all-MiniLM-L6-v2', device='cpu')
        """},  # kz4killua/wikirec embeddings.py
        [("embeddings.py:3", "SentenceTransformer",
          {"model": "all-MiniLM-L6-v2", "repo_id": "sentence-transformers/all-MiniLM-L6-v2"},
          {})]),
    "sentence-transformer-default-parameter": ({"encoder.py": """
        from sentence_transformers import SentenceTransformer

        class SentenceTransformerEncoder:
            def __init__(self, model_name: str = 'all-MiniLM-L6-v2'):
                self.model_name = model_name
                self.model = SentenceTransformer(self.model_name)
        """},
        [("encoder.py:6", "SentenceTransformer", {}, {"model": "parameter"})]),
    "sentence-transformer-lambda-module": ({"sbert.py": """
        from sentence_transformers import SentenceTransformer
        smodel\t\t= SentenceTransformer(model_name_or_path='all-MiniLM-L6-v2')
        vec_encode\t= lambda snt : smodel.encode(snt)
        """},
        [("sbert.py:2", "SentenceTransformer",
          {"repo_id": "sentence-transformers/all-MiniLM-L6-v2"}, {})]),
    # -- open_clip (listed: mlpm has no package for it to map to) ------------------------------
    "open-clip-models-and-tags": ({"detection.py": """
        import open_clip
        from open_clip import create_model_and_transforms, get_tokenizer

        model, _, preprocess = open_clip.create_model_and_transforms('ViT-B-32-quickgelu',
                                                                     pretrained='laion400m_e32')
        bio, pre_train, pre_val = open_clip.create_model_and_transforms(
            'hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224')
        scratch = create_model_and_transforms("ViT-B-32")

        def load_open_clip(model: str = "ViT-B-32-quickgelu", pretrained: str = "laion400m_e32"):
            return create_model_and_transforms(model, pretrained=pretrained)
        """},  # nazar5444/Svidomiy-bot detection.py, dilint/BiomedCLIP-PUNCE test/test.py
        [("detection.py:4", "open_clip.create_model",
          {"model": "ViT-B-32-quickgelu", "pretrained": "laion400m_e32"}, {}),
         ("detection.py:6", "open_clip.create_model", {
             "model": "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"}, {}),
         ("detection.py:11", "open_clip.create_model", {},
          {"model": "parameter", "pretrained": "parameter"})]),
    # -- values that change along a script, or come from outside the code ---------------------
    "script-reassigning-the-model-name": ({"compare.py": """
        from transformers import AutoTokenizer, AutoModelForSequenceClassification

        # model_name = "distilbert-base-uncased"
        model_name = "distilbert-base-german-cased"
        tokenizer = AutoTokenizer.from_pretrained(model_name)
        model_name = "bert-base-german-cased"
        model = AutoModelForSequenceClassification.from_pretrained(model_name, num_labels=2)
        for model_name in ["a/b", "c/d"]:
            AutoModelForSequenceClassification.from_pretrained(model_name)
        """},
        [("compare.py:5", "from_pretrained", {"repo_id": "distilbert-base-german-cased"}, {}),
         ("compare.py:7", "from_pretrained", {"repo_id": "bert-base-german-cased"}, {}),
         ("compare.py:9", "from_pretrained", {}, {"repo_id": "more than once"})]),
    "script-name-set-in-a-branch-in-between": ({"pick.py": """
        import sys
        from transformers import AutoModel

        model_id = "bert-base-uncased"
        if len(sys.argv) > 1:
            model_id = sys.argv[1]
        model = AutoModel.from_pretrained(model_id)
        """},
        [("pick.py:7", "from_pretrained", {}, {"repo_id": "more than once"})]),
    "parameter-overridden-on-one-path": ({"load.py": """
        from transformers import AutoModel

        MODEL = "bert-base-uncased"

        def use(name=None):
            global MODEL
            MODEL = name or MODEL

        def build(model_id=None):
            if model_id is None:
                model_id = "roberta-base"
            return AutoModel.from_pretrained(model_id)

        def pinned(model_id=None):
            model_id = "roberta-large"
            return AutoModel.from_pretrained(model_id)

        model = AutoModel.from_pretrained(MODEL)
        """},
        [("load.py:12", "from_pretrained", {}, {"repo_id": "parameter"}),
         ("load.py:16", "from_pretrained", {"repo_id": "roberta-large"}, {}),
         ("load.py:18", "from_pretrained", {}, {"repo_id": "global MODEL"})]),
    "env-var-in-a-config-module": ({
        "app/config.py": """
            import os
            from dotenv import load_dotenv

            load_dotenv()

            MODEL_NAME = os.getenv("MODEL_NAME", "all-MiniLM-L6-v2")
            """,
        "app/model.py": """
            from sentence_transformers import SentenceTransformer
            from app.config import MODEL_NAME

            def get_model():
                return SentenceTransformer(MODEL_NAME)
            """},  # harikeshranjan/embedly-microservice app/config.py
        [("app/model.py:5", "SentenceTransformer", {},
          {"model": "environment variable MODEL_NAME (default 'all-MiniLM-L6-v2')"})]),
    "argparse-option-with-default": ({"run.py": """
        import argparse
        from transformers import AutoModel

        parser = argparse.ArgumentParser()
        parser.add_argument('--model_name_or_path', type=str, default='bert-base-uncased',
                            help='pretrained model name or path to local checkpoint')
        args = parser.parse_args()
        model = AutoModel.from_pretrained(args.model_name_or_path)
        """},
        [("run.py:8", "from_pretrained", {},
          {"repo_id": "command-line option (default 'bert-base-uncased')"})]),
    "config-dict-changed-before-use": ({"cfg.py": """
        import sys
        from transformers import AutoModel

        CONFIG = {"model_id": "facebook/opt-125m"}
        CONFIG["model_id"] = sys.argv[1]
        model = AutoModel.from_pretrained(CONFIG["model_id"])
        """},
        [("cfg.py:6", "from_pretrained", {}, {"repo_id": "changed in place"})]),
    "weights-enum-by-item": ({"tv.py": """
        import torchvision
        from torchvision.models import ResNet50_Weights

        WEIGHTS = "IMAGENET1K_V2"
        model = torchvision.models.resnet50(weights=ResNet50_Weights[WEIGHTS])
        """},
        [("tv.py:5", "torchvision.models", {"model": "resnet50", "kwargs": {
            "weights": "ResNet50_Weights.IMAGENET1K_V2"}}, {})]),
}


NOTEBOOK_CELLS = [
    ("markdown", "# Image classification with TF Hub"),
    ("code", "!pip install -q tensorflow-hub\n"),
    ("code", "import tensorflow as tf\nimport tensorflow_hub as hub\n"),
    ("code", 'model_name = "efficientnetv2-s" # @param ["efficientnetv2-s", "mobilenet_v2"]\n'
             "model_handle_map = {\n"
             '  "efficientnetv2-s": "https://tfhub.dev/google/imagenet/efficientnet_v2_imagenet1k_s/classification/2",\n'
             '  "mobilenet_v2": "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/classification/5",\n'
             "}\n"
             "model_handle = model_handle_map[model_name]\n"),
    ("code", "%%time\nclassifier = hub.load(model_handle)\n"),
    ("code", "from transformers import AutoTokenizer\n"
             "model_checkpoint = 'bert-base-uncased'\n"
             "tok = AutoTokenizer.from_pretrained(model_checkpoint)\n"),
    ("code", "model_checkpoint = 'distilbert-base-uncased'\n"),
    ("code", "tok = AutoTokenizer.from_pretrained(model_checkpoint)\n"),
]


def test_a_colab_notebook_with_form_parameters(tmp_path):
    """A Colab form (`# @param`) is a constant in the notebook as saved; a name set again
    in a later cell is read, for each call, as the cells above it last set it."""
    cells = [{"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True),
              **({"outputs": [], "execution_count": None} if kind == "code" else {})}
             for kind, text in NOTEBOOK_CELLS]
    (tmp_path / "tf_hub_classify.ipynb").write_text(json.dumps({
        "cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 0}))
    assert rows(tmp_path) == [
        ("tf_hub_classify.ipynb[cell 4]:2", "tensorflow_hub.load", {
            "handle": "https://tfhub.dev/google/imagenet/efficientnet_v2_imagenet1k_s/"
                      "classification/2"}, {}),
        ("tf_hub_classify.ipynb[cell 5]:3", "from_pretrained", {
            "class": "transformers.AutoTokenizer", "repo_id": "bert-base-uncased"}, {}),
        ("tf_hub_classify.ipynb[cell 7]:1", "from_pretrained", {
            "class": "transformers.AutoTokenizer", "repo_id": "distilbert-base-uncased"}, {}),
    ]


def rows(folder: Path) -> list[tuple[str, str, dict, dict]]:
    return [(s.where, s.kind, s.args, s.reasons) for s in scan(folder).sites]


@pytest.mark.parametrize("name", sorted(CASES))
def test_public_call_site_shapes(tmp_path, name):
    files, expected = CASES[name]
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    got = rows(tmp_path)
    assert [(where, kind) for where, kind, _, _ in got] == \
        [(where, kind) for where, kind, _, _ in expected]
    for (where, _, args, reasons), (_, _, want_args, want_unread) in zip(got, expected,
                                                                       strict=True):
        assert {k: args.get(k) for k in want_args} == want_args, where
        assert set(reasons) == set(want_unread), (where, reasons)
        for arg, why in want_unread.items():
            assert why in reasons[arg], (where, arg, reasons[arg])


def test_a_peft_adapter_is_rewritten_in_its_own_argument(tmp_path):
    """``PeftModel.from_pretrained(base, "org/adapter")``: the adapter's repository is the
    second argument, so that is the one the rewrite points at the locked snapshot."""
    from mlpm.adopt.mapping import map_sites
    from mlpm.adopt.rewrite import plan_rewrite
    from mlpm.adopt.sites import EXACT
    from mlpm.project import Lock, LockedPackage
    from mlpm.registry import BUNDLED, open_registry

    (tmp_path / "chat.py").write_text(textwrap.dedent(CASES["peft-adapter-second-argument"][0]
                                                      ["chat.py"]).lstrip("\n"))
    mappings = map_sites(scan(tmp_path).sites, open_registry(BUNDLED), tmp_path)
    adapter = next(m for m in mappings if m.site.line == 5)
    assert (adapter.how, adapter.source) == (EXACT, "hf:tloen/alpaca-lora-7b")
    lock = Lock("0" * 64, {m.package: LockedPackage(m.package, "0.0.0", m.source, "", [])
                           for m in mappings if m.package})
    (edit,) = plan_rewrite(tmp_path, mappings, lock).edits
    assert f'PeftModel.from_pretrained(base, str(mlpm.path("{adapter.package}")))' in edit.after
