"""serve: pick how to run a locked package behind `mlpm serve`.

ONNX Runtime when an ONNX form exists (published, or converted and recorded in
mlpm.lock): it starts fast and needs no framework. Otherwise the package's own
framework: a torch module with its declared signature, or a SavedModel signature. Those
formats run their publisher's code, so ``mlpm.load`` checks the source is trusted and
scans them first (mlpm.codescan), as everywhere else.
"""

from __future__ import annotations

from mlpm.errors import UsageError
from mlpm.project import Project


def runner_for(project: Project, name: str, *, trust: bool = False):
    from mlpm import serve
    from mlpm.artifacts import ensure, locked_package
    from mlpm.loading import _converted, load

    _, pkg = locked_package(name, project.root)
    onnx = next((a for a in pkg.artifacts if a.format == "onnx"), None)
    if onnx is not None:
        (file,) = ensure(pkg, [onnx])
        return serve.OnnxRunner(name, pkg.version, file)
    if any(c.get("format") == "onnx" and not c.get("signature") for c in pkg.conversions):
        return serve.OnnxRunner(name, pkg.version, _converted(pkg, "onnx", None, trust))
    formats = {a.format for a in pkg.artifacts}
    signatures = pkg.interface.get("signatures") or []
    if formats & {"torch-hub", "torchscript", "exported-program"}:
        if not signatures:
            raise UsageError(f"{name}@{pkg.version} declares no signature to serve; convert "
                             f"it first: `mlpm convert {name} --to onnx`.")
        module = load(name, project_dir=project.root, trust=trust)
        return serve.TorchRunner(name, pkg.version, module, signatures[0])
    if "savedmodel" in formats:
        sig = next((s for s in signatures if s["name"] == "serving_default"),
                   signatures[0] if signatures else None)
        fn = load(name, project_dir=project.root, signature=sig["name"] if sig else None,
                  trust=trust)
        return serve.SavedModelRunner(name, pkg.version, fn, sig)
    raise UsageError(f"{name}@{pkg.version} has no format mlpm can serve "
                     f"({', '.join(sorted(formats))}).")
