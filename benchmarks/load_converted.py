"""A second `mlpm.load(NAME, format="onnx")` (conversion cached) against creating the
`onnxruntime.InferenceSession` directly from the same converted file, in the same run.

Two PyTorch Hub packages that publish no ONNX are installed with `--format onnx --trust`,
which converts them once (torch.onnx.export, parity-checked) and records the conversion
in mlpm.lock; everything runs offline (MLPM_OFFLINE=1):

  small  `digits-hub@1.1` from the bundled registry (registry-index/): a 64-64-10 MLP.
  large  `resnet18-hub@1.0.0`, published by this script with `mlpm publish` into a
         registry folder in the temp dir: hub code with a plain ResNet-18 written out in
         models.py (11.7 M parameters, random weights from a fixed seed, a 46.8 MB
         state dict served from mlpm's store through load_state_dict_from_url) and a
         declared signature `x [batch, 3, 224, 224] -> logits [batch, 1000]`.

Then, per case, in ONE process (so every timed call is a warm, second load), after one
unrecorded call of each, ROUNDS interleaved rounds (the order alternates) of
  (a) `mlpm.load(NAME, format="onnx")`
  (b) `onnxruntime.InferenceSession(PATH, providers=["CPUExecutionProvider"])` with PATH
      the very file mlpm loads (`mlpm convert NAME --to onnx --json` gives it),
each timed alone (the session of the previous call is freed, and gc run, outside the
timer). Printed: median, best and max of each, process CPU time, the ratio of medians
(a)/(b), the median per-round ratio, the absolute overhead in ms; then mlpm's own part
timed alone, step by step (`locked_package`: find the project and read mlpm.lock;
`_converted`: find the cached entry, size check), which gives the ratio without noise;
and a cProfile of `mlpm.load` with the session creation (and everything under it) taken
out. An extra row times fresh processes (`python -c "import mlpm; mlpm.load(...)"`
against `python -c "import onnxruntime; onnxruntime.InferenceSession(...)"`).

The large case needs more rounds than the small one: on a busy 2-core machine creating
the ResNet-18 session takes anywhere from 40 to 230 ms, which swamps mlpm's ~1 ms.

    .venv/bin/python benchmarks/load_converted.py [--rounds-small 30] [--rounds-large 40]
                                                  [--cold-rounds 8] [--no-profile]

Target: the large case's ratio of medians (a)/(b) ≤ 1.1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from _harness import (
    PYTHON,
    extra_imports,
    import_chain,
    importtime,
    isolated_env,
    machine,
    print_table,
    run,
    time_interleaved,
)

TARGET = 1.1
PROVIDERS = ["CPUExecutionProvider"]

MODELS = '''
"""ResNet-18 (He et al., 2015) written out: BasicBlock x [2, 2, 2, 2], 1000 classes."""
import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, inplanes = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers.append(nn.Sequential(BasicBlock(inplanes, planes, stride),
                                        BasicBlock(planes, planes)))
            inplanes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
'''

HUBCONF = '''
"""A hub repo written the way public ones are: resnet18 with pretrained weights."""
import torch

from models import ResNet18

dependencies = ["torch"]

WEIGHTS = "https://models.example.org/resnet/{file}"


def resnet18(pretrained=True):
    """ResNet-18 for 224x224 RGB images, 1000 classes (random weights, fixed seed)."""
    model = ResNet18()
    if pretrained:
        state = torch.hub.load_state_dict_from_url(WEIGHTS, progress=False,
                                                   map_location="cpu")
        model.load_state_dict(state)
    return model.eval()
'''

MANIFEST = '''
[package]
name = "resnet18-hub"
version = "1.0.0"
framework = "torch"
kind = "torch-hub"
description = "ResNet-18 with random weights (benchmark package)"
license = "MIT"

[package.upstream]
type = "torch-hub"
repo = "example/resnet18-hub"
entrypoint = "resnet18"

[[package.artifacts]]
format = "torch-hub"
role = "code"
file = "hub"

[[package.artifacts]]
format = "torch-hub"
role = "weights"
file = "{file}"
upstream = "https://models.example.org/resnet/{file}"

[package.interface]
default-entrypoint = "resnet18"

[[package.interface.signatures]]
name = "forward"
inputs = [{ name = "x", dtype = "float32", shape = ["batch", 3, 224, 224] }]
outputs = [{ name = "logits", dtype = "float32", shape = ["batch", 1000] }]
'''

# One process per case: warm, second loads of (a) and (b), interleaved; then mlpm's part
# alone; then a cProfile of mlpm.load. Prints one JSON line.
WARM = r'''
import gc, json, os, sys, time
name, path, rounds, profile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
pc = time.perf_counter
t0 = pc()
import onnxruntime
t1 = pc()
import mlpm
import mlpm.loading
t2 = pc()
providers = ["CPUExecutionProvider"]
runs = {"mlpm": lambda: mlpm.load(name, format="onnx"),
        "ort": lambda: onnxruntime.InferenceSession(path, providers=providers)}

# the first call of each in this process: not in the comparison. The session goes first,
# so that mlpm.load's first call shows mlpm's lazy imports, not onnxruntime's one-time costs
first = {}
for label in ("ort", "mlpm"):
    start = pc()
    session = runs[label]()
    first[label] = pc() - start
    if label == "mlpm":
        a = session
    else:
        b = session

# the same model: the same file, the same inputs and outputs, the same numbers
import numpy as np
from mlpm.loading import _converted, locked_package
_, pkg = locked_package(name)
same_file = os.path.samefile(_converted(pkg, "onnx", None, False), path)
feeds = {}
for i in a.get_inputs():
    dims = [d if isinstance(d, int) else 1 for d in i.shape]
    feeds[i.name] = np.random.default_rng(0).random(dims, dtype=np.float32)
ya, yb = a.run(None, feeds), b.run(None, feeds)
same_outputs = all(np.array_equal(x, y) for x, y in zip(ya, yb))
del a, b, session
gc.collect()

times = {"mlpm": [], "ort": []}
cpu = {"mlpm": [], "ort": []}  # process CPU time (all threads): less hit by other processes
for i in range(rounds):
    for label in (("mlpm", "ort") if i % 2 == 0 else ("ort", "mlpm")):
        gc.collect()
        c0 = time.process_time()
        start = pc()
        session = runs[label]()
        times[label].append(pc() - start)
        cpu[label].append(time.process_time() - c0)
        del session  # freed outside the timer

# mlpm's part alone: what mlpm.load does before it creates the session, and its steps
from mlpm.convert import Conversion
from mlpm.ops import Session
from mlpm.project import Lock, Project, _read_toml
project = Project.find()
entry = Session.from_env().store.root / "entries" / "converted" / pkg.conversions[0]["key"]
steps = {
    "locked_package + _converted": lambda: _converted(locked_package(name)[1], "onnx", None,
                                                      False),
    "locked_package": lambda: locked_package(name),
    "  Project.find (reads mlpm.toml)": lambda: Project.find(),
    "  Lock.read (mlpm.lock)": lambda: Lock.read(project.lock_path),
    "    tomllib.load of mlpm.lock": lambda: _read_toml(project.lock_path),
    "_converted": lambda: _converted(pkg, "onnx", None, False),
    "  Session.from_env": lambda: Session.from_env(),
    "  Conversion.read(verify=False)": lambda: Conversion.read(entry, verify=False),
}
parts = {label: [] for label in steps}
for _ in range(max(50, rounds * 5)):
    for label, step in steps.items():
        start = pc()
        step()
        parts[label].append(pc() - start)

rows, summary = [], {}
if profile:
    import cProfile, pstats
    calls = max(5, rounds)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        mlpm.load(name, format="onnx")
    prof.disable()
    stats = pstats.Stats(prof).stats
    session_key = next((k for k in stats if k[2] == "__init__" and "onnxruntime" in k[0]
                        and "inference_collection" in k[0]), None)
    # every function that is the session's caller (directly or not) has the session's
    # time inside its cumulative time: take it out; functions under the session are dropped
    ancestors, todo = set(), [session_key] if session_key else []
    while todo:
        for caller in stats[todo.pop()][4]:
            if caller not in ancestors:
                ancestors.add(caller)
                todo.append(caller)
    below = set()
    todo = [session_key] if session_key else []
    children = {}
    for k, v in stats.items():
        for caller in v[4]:
            children.setdefault(caller, []).append(k)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in below and child not in ancestors:
                below.add(child)
                todo.append(child)
    sess_ct = stats[session_key][3] if session_key else 0.0
    load_key = next(k for k in stats
                    if k[2] == "load" and k[0].endswith(os.path.join("mlpm", "loading.py")))
    summary = {"calls": calls, "load": stats[load_key][3] / calls, "session": sess_ct / calls}
    for k, (cc, nc, tt, ct, _) in stats.items():
        if k == session_key or k in below or "cProfile" in k[0] or k[2] == "<lambda>":
            continue
        if k in ancestors:
            ct -= sess_ct
        where = f"{os.path.basename(k[0])}:{k[1]}({k[2]})" if k[1] else k[2]
        if "site-packages" not in k[0] and "/mlpm/" in k[0]:
            where = "mlpm/" + k[0].split("/mlpm/", 1)[1] + f":{k[1]}({k[2]})"
        rows.append([where, nc / calls, tt / calls, ct / calls])
    rows.sort(key=lambda r: -r[3])

print("WARM " + json.dumps({"import_onnxruntime": t1 - t0, "import_mlpm": t2 - t1,
                            "first": first, "times": times, "cpu": cpu, "parts": parts,
                            "same_file": same_file, "same_outputs": same_outputs,
                            "profile": rows[:40], "summary": summary}))
'''


def make_resnet_package(folder: Path) -> None:
    """The package dir `mlpm publish` takes: hub/ (hubconf.py + models.py), the weights
    (a state dict named like torch.hub's `NAME-<sha256 prefix>.pth`) and mlpm.toml."""
    import torch

    hub = folder / "hub"
    hub.mkdir(parents=True)
    (hub / "models.py").write_text(MODELS)
    namespace: dict = {}
    exec(compile(MODELS, "models.py", "exec"), namespace)  # noqa: S102 (this script's code)
    torch.manual_seed(0)
    net = namespace["ResNet18"]()
    weights = folder / "weights.pth"
    torch.save(net.state_dict(), weights)
    name = f"resnet18_random-{hashlib.sha256(weights.read_bytes()).hexdigest()[:8]}.pth"
    weights.rename(folder / name)
    (hub / "hubconf.py").write_text(HUBCONF.replace("{file}", name))
    (folder / "mlpm.toml").write_text(textwrap.dedent(MANIFEST).replace("{file}", name))
    params = sum(p.numel() for p in net.parameters())
    size = (folder / name).stat().st_size
    print(f"large: ResNet-18 with {params:,} parameters, weights {size / 1e6:.1f} MB")


def install_converted(project: Path, spec: str, env: dict[str, str],
                      registry: Path | None = None) -> tuple[Path, dict, float]:
    """`mlpm init` + `mlpm install SPEC --format onnx --trust` in ``project``; returns the
    converted file, its conversion record and the install's wall seconds."""
    project.mkdir()
    init = [PYTHON, "-m", "mlpm", "init"]
    run(init + (["--registry", str(registry)] if registry else []), cwd=project, env=env)
    start = time.perf_counter()
    run([PYTHON, "-m", "mlpm", "install", spec, "--format", "onnx", "--trust"], cwd=project,
        env=env, timeout=600)
    seconds = time.perf_counter() - start
    name = spec.split("@")[0]
    conv = json.loads(run([PYTHON, "-m", "mlpm", "convert", name, "--to", "onnx", "--json"],
                          cwd=project, env=env).stdout)
    if not conv.get("reused"):
        raise SystemExit(f"{name}: `mlpm convert` converted again instead of reusing the "
                         "conversion the install cached")
    return Path(conv["path"]), conv, seconds


def warm(project: Path, name: str, path: Path, rounds: int, profile: bool,
         env: dict[str, str]) -> dict:
    proc = run([PYTHON, "-c", WARM, name, str(path), str(rounds), "1" if profile else "0"],
               cwd=project, env=env, timeout=600)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("WARM "))
    return json.loads(line[len("WARM "):])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def report_warm(case: str, name: str, data: dict) -> dict:
    a, b = data["times"]["mlpm"], data["times"]["ort"]
    ca, cb = data["cpu"]["mlpm"], data["cpu"]["ort"]
    ma, mb = statistics.median(a), statistics.median(b)
    ratio, best = ma / mb, min(a) / min(b)
    paired = statistics.median(x / y for x, y in zip(a, b, strict=True))
    diff = statistics.median(x - y for x, y in zip(a, b, strict=True))
    parts = {k: statistics.median(v) for k, v in data["parts"].items()}
    own = parts["locked_package + _converted"]
    print(f"\n{case}: {len(a)} interleaved rounds in one process (warm, second loads); "
          f"same file: {data['same_file']}, same outputs: {data['same_outputs']}")
    print_table(["call", "median ms", "best ms", "max ms", "CPU median ms", "vs session"], [
        [f'(a) mlpm.load("{name}", format="onnx")', ms(ma), ms(min(a)), ms(max(a)),
         ms(statistics.median(ca)), f"{ratio:.3f}x"],
        ["(b) onnxruntime.InferenceSession(path)", ms(mb), ms(min(b)), ms(max(b)),
         ms(statistics.median(cb)), "1.000x"],
    ])
    print(f"overhead (a) - (b): {ms(ma - mb)} ms between medians, {ms(min(a) - min(b))} ms "
          f"between bests, {ms(diff)} ms median of the per-round differences; ratio of "
          f"medians {ratio:.3f}, of bests {best:.3f}, median per-round ratio {paired:.3f}; "
          f"CPU time ratio of medians "
          f"{statistics.median(ca) / statistics.median(cb):.3f}")
    print(f"mlpm's own part, timed alone (median of {len(data['parts'][next(iter(parts))])} "
          f"calls): {ms(own)} ms = {own / mb * 100:.1f}% of the median session, i.e. a "
          f"ratio of {(mb + own) / mb:.3f} without noise")
    print_table(["step of mlpm.load before the session", "median ms"],
                [[label, f"{v * 1000:.3f}"] for label, v in parts.items()])
    print(f"first calls in the process (not compared): InferenceSession "
          f"{ms(data['first']['ort'])} ms, then mlpm.load {ms(data['first']['mlpm'])} ms "
          f"(about {ms(data['first']['mlpm'] - ma)} ms over a warm one: the modules mlpm.load "
          f"imports on first use); import onnxruntime {ms(data['import_onnxruntime'])} ms, "
          f"import mlpm + mlpm.loading {ms(data['import_mlpm'])} ms")
    return {"ratio": ratio, "best": best, "paired": paired, "mlpm": ma, "ort": mb,
            "part": own}


def report_profile(case: str, data: dict, top: int = 14) -> None:
    summary = data["summary"]
    if not summary:
        return
    mlpm_part = summary["load"] - summary["session"]
    print(f"\ncProfile of {summary['calls']} mlpm.load calls ({case}), per call: mlpm.load "
          f"{ms(summary['load'])} ms, of which InferenceSession {ms(summary['session'])} ms "
          f"and mlpm's own part {ms(mlpm_part)} ms (profiled, so slower than timed). "
          f"Top {top} by cumulative time, the session (and all under it) taken out:")
    print_table(["function", "calls/load", "tottime ms", "cumtime ms"],
                [[r[0], f"{r[1]:g}", f"{r[2] * 1000:.3f}", f"{r[3] * 1000:.3f}"]
                 for r in data["profile"][:top]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds-small", type=int, default=30)
    parser.add_argument("--rounds-large", type=int, default=40)
    parser.add_argument("--cold-rounds", type=int, default=8)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mlpm-bench-loadconv-"))
    try:
        env = isolated_env(tmp)
        env["MLPM_OFFLINE"] = "1"
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        print(f"load_converted: {machine()}")
        cases = {}
        small_path, small_conv, small_s = install_converted(tmp / "small", "digits-hub@1.1",
                                                            env)
        cases["small"] = ("digits-hub", tmp / "small", small_path, args.rounds_small)
        make_resnet_package(tmp / "pkg")
        registry = tmp / "registry"
        run([PYTHON, "-m", "mlpm", "publish", str(tmp / "pkg"), "--registry", str(registry)],
            cwd=tmp, env=env)
        large_path, large_conv, large_s = install_converted(tmp / "large", "resnet18-hub@1.0.0",
                                                            env, registry)
        cases["large"] = ("resnet18-hub", tmp / "large", large_path, args.rounds_large)
        for case, conv, seconds in (("small", small_conv, small_s),
                                    ("large", large_conv, large_s)):
            parity = conv["parity"]
            lock = (cases[case][1] / "mlpm.lock").read_text()
            print(f"{case}: install --format onnx --trust {seconds:.1f} s (conversion "
                  f"{conv['seconds']:.1f} s); {Path(conv['path']).name} "
                  f"{sum(conv['sizes'].values()) / 1e6:.2f} MB, parity max_abs "
                  f"{parity['max_abs']:.2g} (tolerance {parity['tolerance']:g}); mlpm.lock "
                  f"{lock.count(chr(10))} lines, {len(lock):,} bytes")

        results, warm_data = {}, {}
        for case, (name, project, path, rounds) in cases.items():
            warm_data[case] = warm(project, name, path, rounds, not args.no_profile, env)
            results[case] = report_warm(case, name, warm_data[case])

        print(f"\nfresh processes ({args.cold_rounds} interleaved rounds each; wall time "
              "includes the interpreter, the imports and the session):")
        cold = {}
        for case, (name, project, path, _) in cases.items():
            commands = {
                f"{case}: python -c 'import onnxruntime; InferenceSession(path)'":
                    [PYTHON, "-c", "import onnxruntime, sys; onnxruntime.InferenceSession("
                     f"sys.argv[1], providers={PROVIDERS!r})", str(path)],
                f"{case}: python -c 'import mlpm; mlpm.load(name, format=\"onnx\")'":
                    [PYTHON, "-c", f"import mlpm; mlpm.load({name!r}, format='onnx')"],
            }
            times = time_interleaved(commands, rounds=args.cold_rounds, cwd=project, env=env,
                                     warmup=1)
            peer, ours = (statistics.median(v) for v in times.values())
            cold[case] = ours / peer
            print_table(["command", "median ms", "min ms", "vs session"],
                        [[label, ms(statistics.median(v)), ms(min(v)),
                          f"{statistics.median(v) / peer:.3f}x"] for label, v in times.items()])

        if not args.no_profile:
            for case in cases:
                report_profile(case, warm_data[case])
            name, project, path, _ = cases["small"]
            peer = importtime(["-c", "import onnxruntime, sys; onnxruntime.InferenceSession("
                               f"sys.argv[1], providers={PROVIDERS!r})", str(path)],
                              cwd=project, env=env)
            ours = importtime(["-c", f"import mlpm; mlpm.load({name!r}, format='onnx')"],
                              cwd=project, env=env)
            total, ranked = extra_imports(ours, peer)
            print(f"\nfresh process: `import mlpm; mlpm.load(...)` imports {total:.1f} ms "
                  "(self time) of modules that `import onnxruntime; InferenceSession(...)` "
                  f"does not; by top-level package (ms): {', '.join(ranked[:10])}")
            extra = sorted((m for m in ours if m not in peer), key=lambda m: -ours[m][0])
            print_table(["self ms", "module <- imported by <- ... (not imported by the peer)"],
                        [[f"{ours[m][0]:.1f}",
                          textwrap.shorten(import_chain(ours, m), 100, placeholder=" ...")]
                         for m in extra[:12]])

        large, small = results["large"], results["small"]
        print("\nsummary: second mlpm.load / InferenceSession from the same file")
        print_table(["case", "ratio of medians", "median per-round ratio", "overhead ms",
                     "mlpm's part ms", "noise-free ratio", "fresh processes"],
                    [[f"{case} ({label})", f"{r['ratio']:.3f}", f"{r['paired']:.3f}",
                      ms(r["mlpm"] - r["ort"]), ms(r["part"]),
                      f"{(r['ort'] + r['part']) / r['ort']:.3f}", f"{cold[case]:.3f}"]
                     for case, label, r in (("large", "ResNet-18", large),
                                            ("small", "digits MLP", small))])
        print(f"small-model ratio={small['ratio']:.2f} (target ≤ {TARGET})")
        print(f"RESULT load_converted ratio={large['ratio']:.2f} (target ≤ {TARGET})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
