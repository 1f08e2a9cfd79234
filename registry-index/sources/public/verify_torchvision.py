"""Check the torchvision packages in packages/ against torchvision's own source.

Every torchvision number in packages/*/mlpm.toml (weights url, sha256 prefix, parameters,
ImageNet-1K acc@1/acc@5, GFLOPS, file size, crop size, label count) must equal what the
`*_Weights` enums of the pinned torchvision release say. The source is read from the
release's wheel on PyPI with `ast`, never imported, so no torchvision install is needed:

    pip download --no-deps torchvision==0.20.1 -d /tmp/tv
    python registry-index/sources/public/verify_torchvision.py /tmp/tv/torchvision-0.20.1-*.whl

Prints one line per checked package version and exits 1 on the first mismatch.
"""

from __future__ import annotations

import ast
import sys
import tomllib
import zipfile
from pathlib import Path

PACKAGES = Path(__file__).resolve().parent / "packages"
MODULES = ("resnet", "mobilenetv2", "mobilenetv3", "vgg", "efficientnet")


def _literal_dict(node: ast.Dict, names: dict[str, dict]) -> dict:
    """The literal entries of a dict display, with `**NAME` expanded from module-level dicts."""
    out: dict = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if key is None:  # **_COMMON_META
            out.update(names.get(getattr(value, "id", ""), {}))
            continue
        try:
            out[ast.literal_eval(key)] = ast.literal_eval(value)
        except ValueError:
            pass  # names such as _IMAGENET_CATEGORIES
    return out


def _weights_in(source: str) -> dict[str, dict]:
    """`{"ResNet50_Weights.IMAGENET1K_V2": {"url": ..., "meta": {...}, "crop": 224}}`."""
    found: dict[str, dict] = {}
    names: dict[str, dict] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            names[node.targets[0].id] = _literal_dict(node.value, names)
        if not (isinstance(node, ast.ClassDef) and node.name.endswith("_Weights")):
            continue
        for stmt in node.body:
            if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
                continue
            kw = {k.arg: k.value for k in stmt.value.keywords}
            crop = next(ast.literal_eval(k.value) for k in kw["transforms"].keywords
                        if k.arg == "crop_size")
            found[f"{node.name}.{stmt.targets[0].id}"] = {
                "url": ast.literal_eval(kw["url"]), "meta": _literal_dict(kw["meta"], names),
                "crop": crop}
    return found


def main(wheel: str) -> int:
    weights: dict[str, dict] = {}
    with zipfile.ZipFile(wheel) as zf:
        for module in MODULES:
            weights.update(_weights_in(zf.read(f"torchvision/models/{module}.py").decode()))
    checked = 0
    for manifest in sorted(PACKAGES.glob("*/mlpm.toml")):
        with open(manifest, "rb") as fh:
            pkg = tomllib.load(fh)["package"]
        if pkg["upstream"]["type"] != "torch-hub":
            continue
        enum = pkg["upstream"]["kwargs"]["weights"]
        truth = weights[enum]
        meta, metrics = truth["meta"], pkg["metrics"]
        (art,) = [a for a in pkg["artifacts"] if a["role"] == "weights"]
        (sig,) = pkg["interface"]["signatures"]
        expected = {
            "url": (art["url"], truth["url"]),
            "path": (art["path"], truth["url"].rsplit("/", 1)[1]),
            "sha256-prefix": (art["sha256-prefix"], truth["url"].rsplit("-", 1)[1].split(".")[0]),
            "acc@1": (metrics["imagenet-1k-acc@1"], meta["_metrics"]["ImageNet-1K"]["acc@1"]),
            "acc@5": (metrics["imagenet-1k-acc@5"], meta["_metrics"]["ImageNet-1K"]["acc@5"]),
            "parameters": (metrics["parameters"], meta["num_params"]),
            "gflops": (metrics["gflops"], meta["_ops"]),
            "file-size-mb": (metrics["file-size-mb"], meta["_file_size"]),
            "input shape": (sig["inputs"][0]["shape"], ["batch", 3, truth["crop"], truth["crop"]]),
            "output shape": (sig["outputs"][0]["shape"], ["batch", 1000]),
        }
        if "sha256" in art and not art["sha256"].startswith(art["sha256-prefix"]):
            expected["sha256 vs prefix"] = (art["sha256"][:8], art["sha256-prefix"])
        if "size" in art:  # _file_size is size / 2**20 rounded to 3 decimals
            expected["size vs _file_size"] = (round(art["size"] / 2**20, 3), meta["_file_size"])
        for what, (ours, theirs) in expected.items():
            if ours != theirs:
                print(f"MISMATCH {manifest.parent.name}: {what} is {ours!r}, "
                      f"{enum} says {theirs!r}")
                return 1
        print(f"ok  {manifest.parent.name:<24} {enum}")
        checked += 1
    print(f"{checked} torchvision package versions match {Path(wheel).name}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
