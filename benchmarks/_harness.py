"""Shared helpers for the benchmarks: an isolated environment, interleaved subprocess
timing, `python -X importtime` parsing, and table printing. The small real ONNX models come
from tests/models.py, shared with the tests.

Benchmarks print ratios against a peer measured in the same run; nothing here is a
pass/fail test (pytest never collects benchmarks/).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the benchmarks share tests/models.py with the tests
    sys.path.insert(0, str(ROOT))

from tests.models import make_onnx  # noqa: E402, F401  (the benchmarks import it from here)

PYTHON = sys.executable  # run as `.venv/bin/python benchmarks/NAME.py`: the venv's python
MLPM_SCRIPT = str(Path(PYTHON).parent / "mlpm")  # the console script, as a user types `mlpm`


def isolated_env(tmp: Path) -> dict[str, str]:
    """An environment whose caches and home all live under ``tmp``; also applied to os.environ."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for key in ("MLPM_REGISTRY", "MLPM_OFFLINE", "MLPM_DEBUG", "PYTHONPROFILEIMPORTTIME",
                "PYTHONDONTWRITEBYTECODE"):
        env.pop(key, None)
    env.update({
        "HOME": str(home),
        "MLPM_CACHE_DIR": str(tmp / "cache"),
        "TORCH_HOME": str(home / "torch"),
        "TFHUB_CACHE_DIR": str(home / "tfhub"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "MLPM_NO_PROGRESS": "1",
    })
    os.environ.clear()
    os.environ.update(env)
    return env


def run(argv: Sequence[str], *, cwd: Path, env: dict[str, str],
        timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a command to completion and fail loudly (with its stderr) if it fails."""
    proc = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark setup failed: {' '.join(argv)} exited {proc.returncode}\n"
                         f"{proc.stdout}\n{proc.stderr}")
    return proc


def time_interleaved(commands: dict[str, list[str]], *, rounds: int, cwd: Path,
                     env: dict[str, str], warmup: int = 2) -> dict[str, list[float]]:
    """Wall seconds of each command as a fresh process, ``rounds`` times, interleaved.

    Every round runs every command once, in an order rotated each round, so drift in
    machine load hits all commands alike. Warm-up rounds (bytecode, page cache) are
    not recorded, and also check that each command succeeds.
    """
    labels = list(commands)
    for _ in range(warmup):
        for label in labels:
            run(commands[label], cwd=cwd, env=env)
    times: dict[str, list[float]] = {label: [] for label in labels}
    for i in range(rounds):
        order = labels[i % len(labels):] + labels[:i % len(labels)]
        for label in order:
            start = time.perf_counter()
            code = subprocess.call(commands[label], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[label].append(time.perf_counter() - start)
            if code != 0:
                raise SystemExit(f"{label} exited {code} during timing")
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) if n and _numeric(c) else c.ljust(w)
                        for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _numeric(cell: str) -> bool:
    try:
        float(cell.rstrip("x%").replace(",", ""))
    except ValueError:
        return False
    return True


def timing_table(times: dict[str, list[float]], baseline: str) -> dict[str, float]:
    """Print median / min / p90 per command and the ratio of medians to ``baseline``."""
    base = statistics.median(times[baseline])
    ratios = {}
    rows = []
    for label, values in times.items():
        med = statistics.median(values)
        p90 = sorted(values)[max(0, int(round(0.9 * len(values))) - 1)]
        ratios[label] = med / base
        rows.append([label, ms(med), ms(min(values)), ms(p90), f"{med / base:.2f}x"])
    print_table(["command", "median ms", "min ms", "p90 ms", f"vs {baseline}"], rows)
    return ratios


# -- python -X importtime ----------------------------------------------------------------


class ImportTimes(dict):
    """Module -> (median self ms, median cumulative ms, nesting depth); ``parent`` says who
    imported each module first."""

    parent: dict[str, str]


def importtime(argv_after_python: list[str], *, cwd: Path, env: dict[str, str],
               runs: int = 5) -> ImportTimes:
    """`python -X importtime ARGV` ``runs`` times; per-module medians (see ImportTimes)."""
    samples: dict[str, list[tuple[int, int]]] = {}
    depth: dict[str, int] = {}
    parent: dict[str, str] = {}
    for _ in range(runs):
        proc = subprocess.run([PYTHON, "-X", "importtime", *argv_after_python], cwd=cwd, env=env,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        pending: dict[int, list[str]] = {}  # children are printed before their importer
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cum_us, name = line[len("import time:"):].split("|", 2)
            raw = name.rstrip()
            mod = raw.strip()
            level = (len(raw) - len(raw.lstrip(" ")) - 1) // 2
            depth[mod] = level
            for child in pending.pop(level + 1, []):
                parent.setdefault(child, mod)
            pending.setdefault(level, []).append(mod)
            samples.setdefault(mod, []).append((int(self_us), int(cum_us)))
    out = ImportTimes({mod: (statistics.median(s for s, _ in vals) / 1000,
                             statistics.median(c for _, c in vals) / 1000, depth[mod])
                       for mod, vals in samples.items()})
    out.parent = parent
    return out


def import_chain(data: ImportTimes, mod: str) -> str:
    """``mod <- its importer <- ... <- top-level import``."""
    chain = [mod]
    while chain[-1] in data.parent and data.parent[chain[-1]] not in chain:
        chain.append(data.parent[chain[-1]])
    return " <- ".join(chain)


def print_extra_by_self(title: str, data: ImportTimes, baseline: ImportTimes,
                        top: int = 12) -> None:
    """Modules `python -c pass` does not import, by their own (self) import time, with the
    chain of importers that pulled each in: the candidates to make lazy."""
    extra = sorted(((m, v) for m, v in data.items() if m not in baseline),
                   key=lambda kv: -kv[1][0])[:top]
    print(f"\n{title}: top {top} modules beyond `python -c pass` by self time "
          "(who imports them)")
    from textwrap import shorten

    print_table(["self ms", "module <- imported by <- ..."],
                [[f"{v[0]:.1f}", shorten(import_chain(data, m), 110, placeholder=" ...")]
                 for m, v in extra])


def print_importtime_top(title: str, data: ImportTimes,
                         baseline: ImportTimes | None = None,
                         top: int = 10) -> None:
    """The ``top`` imports by cumulative time; those `python -c pass` also imports are marked."""
    print(f"\n{title}: top {top} imports by cumulative time (median of runs)")
    rows = []
    for mod, (self_ms, cum_ms, level) in sorted(data.items(), key=lambda kv: -kv[1][1])[:top]:
        note = "also in `python -c pass`" if baseline is not None and mod in baseline else ""
        rows.append(["  " * level + mod, f"{cum_ms:.1f}", f"{self_ms:.1f}", note])
    print_table(["module (indent = nesting)", "cumul ms", "self ms", ""], rows)


def extra_imports(data: ImportTimes, baseline: ImportTimes) -> tuple[float, list[str]]:
    """Self-time (ms) of modules imported beyond the baseline, and the top-level packages."""
    extra = {m: v for m, v in data.items() if m not in baseline}
    total = sum(v[0] for v in extra.values())
    by_pkg: dict[str, float] = {}
    for mod, (self_ms, _, _) in extra.items():
        by_pkg[mod.split(".")[0]] = by_pkg.get(mod.split(".")[0], 0.0) + self_ms
    ranked = [f"{pkg} {t:.1f}" for pkg, t in sorted(by_pkg.items(), key=lambda kv: -kv[1])]
    return total, ranked


# -- where the time of one mlpm command goes --------------------------------------------

_PHASES = """
import os, sys, time
t0 = time.perf_counter()
from mlpm.cli import main
t1 = time.perf_counter()
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
code = main(sys.argv[1:])
t2 = time.perf_counter()
main(sys.argv[1:])
t3 = time.perf_counter()
os.write(2, f"PHASES {t1 - t0} {t2 - t1} {t3 - t2} {code}\\n".encode())
"""

_PROFILE = """
import cProfile, json, os, pstats, sys
from mlpm.cli import main
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
main(sys.argv[1:])  # once unprofiled, so the profile shows the command's work, not imports
prof = cProfile.Profile()
prof.enable()
main(sys.argv[1:])
prof.disable()
rows = []
for (file, line, func), (cc, nc, tt, ct, _) in pstats.Stats(prof).stats.items():
    rows.append([f"{os.path.basename(file)}:{line}({func})" if line else func, nc, tt, ct, file])
os.write(2, ("PROFILE " + json.dumps(rows) + "\\n").encode())
"""


def phase_split(mlpm_args: list[str], *, cwd: Path, env: dict[str, str],
                runs: int = 10) -> tuple[float, float, float]:
    """Median seconds of ``import mlpm.cli``, a first ``main(ARGS)`` (with the imports the
    command makes) and a second one (imports done: the command's own work), in one process."""
    imports, runs_, warm = [], [], []
    for _ in range(runs):
        proc = subprocess.run([PYTHON, "-c", _PHASES, *mlpm_args], cwd=cwd, env=env,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        line = next((x for x in proc.stderr.splitlines() if x.startswith("PHASES ")), None)
        if line is None:
            raise SystemExit(f"phase split of mlpm {' '.join(mlpm_args)} failed:\n{proc.stderr}")
        _, t_imp, t_run, t_warm, _code = line.split()
        imports.append(float(t_imp))
        runs_.append(float(t_run))
        warm.append(float(t_warm))
    return statistics.median(imports), statistics.median(runs_), statistics.median(warm)


def print_profile(mlpm_args: list[str], *, cwd: Path, env: dict[str, str],
                  top: int = 12) -> None:
    """cProfile of ``main(ARGS)`` alone (imports already done), top functions by cumulative."""
    proc = subprocess.run([PYTHON, "-c", _PROFILE, *mlpm_args], cwd=cwd, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    line = next((x for x in proc.stderr.splitlines() if x.startswith("PROFILE ")), None)
    if line is None:
        print(f"(profile failed: {proc.stderr[-500:]})")
        return
    import json

    rows = json.loads(line[len("PROFILE "):])
    rows.sort(key=lambda r: -r[3])
    rows = [r for r in rows if "importlib" not in r[0]]
    print(f"\ncProfile of a second main({mlpm_args}) in the same process (imports done): "
          f"top {top} by cumulative time")
    print_table(["function", "calls", "tottime ms", "cumtime ms"],
                [[r[0], r[1], f"{r[2] * 1000:.2f}", f"{r[3] * 1000:.2f}"] for r in rows[:top]])


def machine() -> str:
    import platform

    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")
