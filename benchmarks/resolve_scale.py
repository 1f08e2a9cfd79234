"""Backtracking at Hugging Face scale: the resolver over packages with N versions, before and
after the provider's memos, and against uv's resolver on the same problem.

Three problems, each built in memory (a `Registry` subclass holding `Record`s, no I/O):

  backjump   the project needs a@* and b@*; a@i depends on x@=i, and b@1.0.0 on x@=0, so
             every a but the oldest fails only after b is pinned: N backjumps, each one
             more incompatible version of a (the answer: a@0.0.0, x@0.0.0)
  ranges     the project needs a@* and z@*; a@i depends on b@<i (a@0 on b@=0), b@j on
             c@=j, z on c@=0: a new range of b at every step (the answer: a newest, b@0)
  direct     200 direct dependencies of 50 versions each, every version depending on
             base@^1 (50 versions): no backtracking, many packages

"before" is mlpm/resolve.py as it was before the memos (`git show REV:mlpm/resolve.py`,
REV f090c66 by default, or `--before FILE`), imported from a temp dir; "after" is the
working tree's. Both must give the same answer. uv (`uv pip compile --offline --no-index
--find-links DIR`) solves the same problems written as tiny wheels, as a fresh process
with a warm cache (its own, in the temp dir); uv is optional: pass `--uv PATH`, or have
`uv` on PATH (`python -m venv /tmp/uvenv && /tmp/uvenv/bin/pip install uv`).

    .venv/bin/python benchmarks/resolve_scale.py [--sizes 300,1000,2000] [--rounds 3]
        [--before FILE | --before-rev REV] [--before-max 2000] [--uv PATH]   ~3 min

(most of it is "before", which is quadratic: `--before-max 300` skips its slow runs)

Times are wall seconds and CPU seconds (mlpm: this process; uv: user + system of the child,
all its threads). On a machine shared with other work the wall times swing with the load;
the CPU ratio does not.

Not a test: it prints times and ratios, and one last line
`RESULT resolve_scale ratio=X.XX` (after / uv in wall time, backjump at the largest N).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mlpm.errors import PackageNotFound  # noqa: E402
from mlpm.registry import Registry  # noqa: E402
from mlpm.registry.records import Record  # noqa: E402

# A problem: its packages as (name, version, {dependency: (mlpm range, PEP 440 specifier)})
# and the project's requirements in the same two spellings.
Spec = tuple[str, str, dict[str, tuple[str, str]]]


class MemoryRegistry(Registry):
    """Records held in memory, as a registry's memo holds them after the first read."""

    def __init__(self, records: list[Record]):
        super().__init__("memory://bench")
        self.held: dict[str, list[Record]] = {}
        for rec in records:
            self.held.setdefault(rec.name, []).append(rec)

    def records(self, name: str) -> list[Record]:
        if name not in self.held:
            raise PackageNotFound(f"no such package '{name}' in the registry {self.display}")
        return self.held[name]

    def _read_index(self, name: str) -> str | None:
        raise AssertionError("records() is overridden")

    def _read_names(self) -> list[str]:
        return sorted(self.held)

    def artifact_url(self, artifact, name=None) -> str:
        return artifact.url


def backjump(n: int) -> tuple[list[Spec], dict[str, tuple[str, str]]]:
    specs: list[Spec] = [("a", f"{i}.0.0", {"x": (f"={i}.0.0", f"=={i}.0.0")}) for i in range(n)]
    specs += [("x", f"{i}.0.0", {}) for i in range(n)]
    specs.append(("b", "1.0.0", {"x": ("=0.0.0", "==0.0.0")}))
    return specs, {"a": ("*", ""), "b": ("*", "")}


def ranges(n: int) -> tuple[list[Spec], dict[str, tuple[str, str]]]:
    specs: list[Spec] = [("a", f"{i}.0.0", {"b": (f"<{i}.0.0", f"<{i}.0.0") if i else
                                               ("=0.0.0", "==0.0.0")}) for i in range(n)]
    specs += [("b", f"{i}.0.0", {"c": (f"={i}.0.0", f"=={i}.0.0")}) for i in range(n)]
    specs += [("c", f"{i}.0.0", {}) for i in range(n)]
    specs.append(("z", "1.0.0", {"c": ("=0.0.0", "==0.0.0")}))
    return specs, {"a": ("*", ""), "z": ("*", "")}


def direct(count: int, versions: int = 50) -> tuple[list[Spec], dict[str, tuple[str, str]]]:
    base = ("^1.0.0", ">=1.0.0,<2.0.0")
    specs: list[Spec] = [("base", f"1.{i}.0", {}) for i in range(versions)]
    names = [f"p{k:03d}" for k in range(count)]
    specs += [(name, f"1.{i}.0", {"base": base}) for name in names for i in range(versions)]
    return specs, {name: ("*", "") for name in names}


def registry_of(specs: list[Spec]) -> MemoryRegistry:
    return MemoryRegistry([Record(name, version, "onnx", [],
                                  {dep: rng for dep, (rng, _) in deps.items()})
                           for name, version, deps in specs])


def load_resolve(path: Path, module: str):
    spec = importlib.util.spec_from_file_location(module, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module] = mod  # dataclasses look the module up
    spec.loader.exec_module(mod)
    return mod


def time_resolve(resolve_module, specs, root, rounds: int
                 ) -> tuple[float, float, dict[str, str]]:
    """Median wall and CPU seconds of ``rounds`` resolutions, each over a fresh registry;
    the answer."""
    times, cpu, answer = [], [], {}
    for _ in range(rounds):
        registry = registry_of(specs)
        requirements = {name: rng for name, (rng, _) in root.items()}
        start, start_cpu = time.perf_counter(), time.process_time()
        result = resolve_module.resolve(registry, requirements)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        answer = {name: rec.version for name, rec in sorted(result.records.items())}
    return statistics.median(times), statistics.median(cpu), answer


def _digest(text: str) -> str:
    raw = hashlib.sha256(text.encode()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def write_wheels(specs: list[Spec], folder: Path) -> None:
    """One tiny py3-none-any wheel per version: METADATA with its Requires-Dist, WHEEL,
    RECORD."""
    folder.mkdir(parents=True)
    for name, version, deps in specs:
        dist = f"{name}-{version}.dist-info"
        meta = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                + "".join(f"Requires-Dist: {dep}{pep}\n" for dep, (_, pep) in deps.items()))
        files = {f"{dist}/METADATA": meta,
                 f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: mlpm-bench\n"
                                  "Root-Is-Purelib: true\nTag: py3-none-any\n"}
        record = "".join(f"{path},sha256={_digest(text)},{len(text.encode())}\n"
                         for path, text in files.items())
        files[f"{dist}/RECORD"] = record + f"{dist}/RECORD,,\n"
        with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as whl:
            for path, text in files.items():
                whl.writestr(path, text)


def time_uv(uv: str, specs, root, tmp: Path, label: str, rounds: int
            ) -> tuple[float, float, dict[str, str]]:
    """Median wall and CPU seconds (user + system, all its threads) of `uv pip compile` as
    a fresh process (one unrecorded warm-up fills its cache); the pins it chose."""
    wheels = tmp / f"wheels-{label}"
    write_wheels(specs, wheels)
    reqs = tmp / f"{label}.in"
    reqs.write_text("".join(f"{name}{pep}\n" for name, (_, pep) in root.items()))
    argv = [uv, "pip", "compile", str(reqs), "--find-links", str(wheels), "--no-index",
            "--offline", "--python-version", "3.11", "--cache-dir", str(tmp / "uv-cache"),
            "--quiet", "--no-header", "--no-annotate"]
    times, cpu, out = [], [], ""
    for i in range(rounds + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                              stdin=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i:
            times.append(time.perf_counter() - start)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"uv failed on {label}:\n{proc.stdout}\n{proc.stderr}")
        out = proc.stdout
    pins = dict(line.split("==", 1) for line in out.split() if "==" in line)
    return statistics.median(times), statistics.median(cpu), dict(sorted(pins.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="300,1000,2000")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of 'after' and uv")
    parser.add_argument("--before", type=Path, help="the old mlpm/resolve.py to compare with")
    parser.add_argument("--before-rev", default="f090c66",
                        help="git revision whose mlpm/resolve.py is 'before' (default f090c66)")
    parser.add_argument("--before-max", type=int, default=2000,
                        help="skip 'before' above this N (it is quadratic; 'ranges' stops "
                             "at 1000 whatever this says)")
    parser.add_argument("--uv", default=shutil.which("uv") or next(
        (p for p in ("/tmp/uvenv/bin/uv",) if Path(p).is_file()), None),
        help="the uv binary (default: PATH, then /tmp/uvenv/bin/uv)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import mlpm.resolve as after

    with tempfile.TemporaryDirectory(prefix="mlpm-resolve-scale-") as name:
        tmp = Path(name)
        if args.before is not None:
            before_path = args.before
        else:
            before_path = tmp / "resolve_before.py"
            text = subprocess.run(["git", "show", f"{args.before_rev}:mlpm/resolve.py"],
                                  cwd=ROOT, capture_output=True, text=True, check=True).stdout
            before_path.write_text(text)
        before = load_resolve(before_path, "mlpm_resolve_before")
        uv = args.uv
        if uv:
            version = subprocess.run([uv, "--version"], capture_output=True, text=True)
            print(f"peer: {version.stdout.strip()}")
        else:
            print("peer: uv not found (pass --uv PATH); the uv column is left empty")
        shown = before_path if args.before else f"{args.before_rev}:mlpm/resolve.py"
        print(f"python {sys.version.split()[0]}, before = {shown}, medians of {args.rounds} "
              "rounds (before: 1 round)\n")

        problems = [("backjump", n, *backjump(n), args.before_max) for n in sizes]
        problems += [("ranges", n, *ranges(n), min(args.before_max, 1000)) for n in sizes]
        problems.append(("direct", 200, *direct(200), args.before_max))

        header = (f"{'problem':<9} {'N':>5} {'before s':>9} {'after s':>8} {'speedup':>8} "
                  f"{'uv s':>6} {'after/uv':>9} {'after cpu':>10} {'uv cpu':>7} {'cpu ratio':>9}")
        print(header)
        print("-" * len(header))
        after_times: dict[tuple[str, int], float] = {}
        result_ratio = None
        for label, n, specs, root, before_max in problems:
            t_after, c_after, answer = time_resolve(after, specs, root, args.rounds)
            after_times[(label, n)] = c_after
            t_before = None
            if n <= before_max:
                t_before, _, old_answer = time_resolve(before, specs, root, 1)
                if old_answer != answer:
                    raise SystemExit(f"{label} N={n}: before chose {old_answer}, after {answer}")
            t_uv = c_uv = None
            if uv:
                t_uv, c_uv, pins = time_uv(uv, specs, root, tmp, f"{label}-{n}", args.rounds)
                if pins != answer:
                    print(f"  note: uv chose {pins} where mlpm chose {answer}")
            print(f"{label:<9} {n:>5} "
                  f"{'-' if t_before is None else f'{t_before:.3f}':>9} {t_after:>8.3f} "
                  f"{'-' if t_before is None else f'{t_before / t_after:.1f}x':>8} "
                  f"{'-' if t_uv is None else f'{t_uv:.3f}':>6} "
                  f"{'-' if t_uv is None else f'{t_after / t_uv:.2f}':>9} "
                  f"{c_after:>10.3f} {'-' if c_uv is None else f'{c_uv:.3f}':>7} "
                  f"{'-' if c_uv is None else f'{c_after / c_uv:.2f}':>9}", flush=True)
            if label == "backjump" and n == max(sizes) and t_uv:
                result_ratio = t_after / t_uv

        print("\ngrowth of 'after' (CPU) from the smallest N to the largest "
              f"(linear would be {max(sizes) / min(sizes):.1f}x):")
        for label in ("backjump", "ranges"):
            grow = after_times[(label, max(sizes))] / after_times[(label, min(sizes))]
            print(f"  {label}: {grow:.1f}x")
    if result_ratio is not None:
        print(f"RESULT resolve_scale ratio={result_ratio:.2f} (after / uv, backjump "
              f"N={max(sizes)})")
    else:
        print("RESULT resolve_scale ratio=n/a (uv not available)")


if __name__ == "__main__":
    main()
