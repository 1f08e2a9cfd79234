"""A no-op `mlpm install` (everything locked and cached) against `python -c pass`.

Builds a registry of 20 small real ONNX models, some depending on others, serves it on
127.0.0.1, installs all 20 into a project, then times commands that should do almost
nothing, each as a fresh process over many interleaved rounds. The registry counts
its requests during the timed runs: a no-op install must not touch the network.

    .venv/bin/python benchmarks/noop_install.py [--rounds 30]

Target: a no-op `mlpm install` within 1.5x of `python -c pass` (wall time; the CPU time of
the same commands is printed too, as it moves less with other work on the machine).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
from pathlib import Path

from _harness import (
    MLPM_SCRIPT,
    PYTHON,
    extra_imports,
    importtime,
    isolated_env,
    machine,
    make_onnx,
    phase_split,
    print_extra_by_self,
    print_importtime_top,
    print_profile,
    run,
    time_interleaved,
    timing_table,
)

TARGET = 1.5
PACKAGES = 20


def dependencies(i: int) -> list[str]:
    """Chains of four (m01 -> m00, m02 -> m01, ...) plus cross links between chains."""
    deps = []
    if i % 4:
        deps.append(f"m{i - 1:02d}@^1.0.0")
    if i >= 8 and i % 4 == 0:
        deps.append(f"m{i - 8:02d}@^1.0")
    if i == 19:
        deps.append("m05@~1.0.0")
    return deps


def build_registry(root: Path, models: Path, env: dict[str, str]) -> None:
    """Publish m00..m19 with `mlpm publish`, as a registry owner would."""
    for i in range(PACKAGES):
        file = make_onnx(models / f"m{i:02d}.onnx", weights_seed=100 + i)
        args = [PYTHON, "-m", "mlpm", "publish", str(file), "--registry", str(root),
                "--name", f"m{i:02d}", "--version", "1.0.0"]
        for dep in dependencies(i):
            args += ["--depends", dep]
        run(args, cwd=root.parent, env=env)


def serve(root: Path):
    """Serve ``root`` on loopback in a thread, counting requests."""
    from mlpm.registry.server import RegistryRequestHandler, RegistryServer

    counter = {"requests": 0}

    class Counting(RegistryRequestHandler):
        def send_response(self, code, message=None):
            counter["requests"] += 1
            super().send_response(code, message)

    server = RegistryServer(root, "127.0.0.1", 0, handler=Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, counter


def cpu_times(commands: dict[str, list[str]], *, rounds: int, cwd: Path,
              env: dict[str, str]) -> dict[str, float]:
    """Median CPU seconds (user + system) of each command as a fresh process, interleaved."""
    import resource
    import statistics
    import subprocess

    spent: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(rounds):
        for label, argv in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent[label].append(after.ru_utime - before.ru_utime
                                + after.ru_stime - before.ru_stime)
    return {label: statistics.median(values) for label, values in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mlpm-bench-noop-"))
    server = None
    try:
        env = isolated_env(tmp)
        registry = tmp / "registry"
        registry.mkdir()
        build_registry(registry, tmp / "models", env)
        server, counter = serve(registry)

        app = tmp / "app"
        app.mkdir()
        mlpm = [PYTHON, "-m", "mlpm"]
        run([*mlpm, "init", "--registry", server.url], cwd=app, env=env)
        direct = ["m03", "m07", "m11", "m15", "m19", "m05"]
        run([*mlpm, "install", *direct], cwd=app, env=env)
        listed = run([*mlpm, "list", "--json"], cwd=app, env=env).stdout
        installed = listed.count('"name"')
        lock_lines = (app / "mlpm.lock").read_text().count("\n")
        print(f"noop_install: {PACKAGES} packages published, {len(direct)} direct "
              f"dependencies, {installed} installed (mlpm.lock {lock_lines} lines); "
              f"{args.rounds} interleaved rounds; {machine()}\n")

        commands = {
            "python -c pass": [PYTHON, "-c", "pass"],
            "mlpm install (no-op)": [MLPM_SCRIPT, "install"],
            "mlpm install --frozen": [MLPM_SCRIPT, "install", "--frozen"],
            "python -m mlpm install": [PYTHON, "-m", "mlpm", "install"],
            "mlpm list": [MLPM_SCRIPT, "list"],
            "python -c 'import mlpm; mlpm.path(\"m19\")'":
                [PYTHON, "-c", "import mlpm; mlpm.path('m19')"],
        }
        before = counter["requests"]
        times = time_interleaved(commands, rounds=args.rounds, cwd=app, env=env)
        requests = counter["requests"] - before
        ratios = timing_table(times, "python -c pass")
        print(f"\nregistry HTTP requests during the timed runs (incl. warm-up): {requests}")
        cpu = cpu_times({k: commands[k] for k in ("python -c pass", "mlpm install (no-op)",
                                                   "mlpm install --frozen")},
                        rounds=args.rounds, cwd=app, env=env)
        print("CPU time (user + system), medians: " + ", ".join(
            f"{label} {value * 1000:.1f} ms ({value / cpu['python -c pass']:.2f}x)"
            for label, value in cpu.items()))

        base = importtime(["-c", "pass"], cwd=app, env=env)
        noop = importtime([MLPM_SCRIPT, "install"], cwd=app, env=env)
        print_importtime_top("mlpm install (no-op)", noop, base)
        print_extra_by_self("mlpm install (no-op)", noop, base, top=16)
        total, ranked = extra_imports(noop, base)
        print(f"\nmlpm install (no-op): {total:.1f} ms of import self-time beyond "
              f"`python -c pass`, by top-level package (ms): {', '.join(ranked[:12])}")
        t_imp, t_run, t_warm = phase_split(["install"], cwd=app, env=env)
        print(f"\nmlpm install (no-op) inside one process: `from mlpm.cli import main` "
              f"{t_imp * 1000:.1f} ms; first main(['install']) {t_run * 1000:.1f} ms (with the "
              f"imports the command makes); second main(['install']) {t_warm * 1000:.1f} ms "
              "(the command's own work)")
        print_profile(["install"], cwd=app, env=env)

        print(f"\nratios: no-op install {ratios['mlpm install (no-op)']:.2f}x, "
              f"--frozen {ratios['mlpm install --frozen']:.2f}x, "
              f"python -m mlpm install {ratios['python -m mlpm install']:.2f}x, "
              f"list {ratios['mlpm list']:.2f}x, "
              f"mlpm.path {ratios[list(commands)[-1]]:.2f}x (target ≤ {TARGET} for install)")
        print(f"RESULT noop_install ratio={ratios['mlpm install (no-op)']:.2f} "
              f"(target ≤ {TARGET})")
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
