"""Startup cost of mlpm against the bare interpreter (`python -c pass`), same run.

Every command runs as a fresh process, many interleaved rounds; the table gives the
median and its ratio to `python -c pass`. Then `python -X importtime` shows which
imports `mlpm --help` pays for, so the lead knows what to make lazy.

    .venv/bin/python benchmarks/startup.py [--rounds 30]

Target: `import mlpm` and `mlpm --help` within 1.5x of `python -c pass`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _harness import (
    MLPM_SCRIPT,
    PYTHON,
    extra_imports,
    importtime,
    isolated_env,
    machine,
    phase_split,
    print_extra_by_self,
    print_importtime_top,
    time_interleaved,
    timing_table,
)

TARGET = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mlpm-bench-startup-"))
    try:
        env = isolated_env(tmp)
        cwd = tmp  # no project here: --help must not care
        commands = {
            "python -c pass": [PYTHON, "-c", "pass"],
            "python -c 'import mlpm'": [PYTHON, "-c", "import mlpm"],
            "mlpm --help": [MLPM_SCRIPT, "--help"],
            "python -m mlpm --help": [PYTHON, "-m", "mlpm", "--help"],
            "python -S -c pass (no site; info)": [PYTHON, "-S", "-c", "pass"],
        }
        print(f"startup: {args.rounds} interleaved rounds, fresh process each; {machine()}\n")
        times = time_interleaved(commands, rounds=args.rounds, cwd=cwd, env=env)
        ratios = timing_table(times, "python -c pass")

        base = importtime(["-c", "pass"], cwd=cwd, env=env)
        imp = importtime(["-c", "import mlpm"], cwd=cwd, env=env)
        help_ = importtime([MLPM_SCRIPT, "--help"], cwd=cwd, env=env)
        print_importtime_top("python -c pass", base, top=5)
        print_importtime_top("python -c 'import mlpm'", imp, base)
        print_importtime_top("mlpm --help", help_, base)
        print_extra_by_self("mlpm --help", help_, base)
        for title, data in (("import mlpm", imp), ("mlpm --help", help_)):
            total, ranked = extra_imports(data, base)
            print(f"\n{title}: {total:.1f} ms of import self-time beyond `python -c pass`, "
                  f"by top-level package (ms): {', '.join(ranked[:12])}")
        t_imp, t_run, _ = phase_split(["--help"], cwd=cwd, env=env)
        print(f"\nmlpm --help inside one process: `from mlpm.cli import main` "
              f"{t_imp * 1000:.1f} ms, main(['--help']) {t_run * 1000:.1f} ms "
              "(click building and printing the help)")
        editable = [m for m in base if m.startswith("__editable__")]
        if editable:
            print(f"\nnote: the baseline includes the editable-install hook {editable[0]} "
                  f"({base[editable[0]][1]:.1f} ms cumulative, from a .pth file); a wheel "
                  "install does not pay it, so there the baseline is smaller and the ratios "
                  "larger.")

        worst = max(("python -c 'import mlpm'", "mlpm --help"), key=lambda k: ratios[k])
        imp_ratio = ratios["python -c 'import mlpm'"]
        print(f"\nratios: import mlpm {imp_ratio:.2f}x, "
              f"mlpm --help {ratios['mlpm --help']:.2f}x, "
              f"python -m mlpm --help {ratios['python -m mlpm --help']:.2f}x (target ≤ {TARGET})")
        print(f"RESULT startup ratio={ratios[worst]:.2f} (target ≤ {TARGET}) [worst of import mlpm "
              f"and mlpm --help: {worst}]")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
