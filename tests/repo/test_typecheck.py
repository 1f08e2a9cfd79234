"""mlpm/ passes the type checker: `python -m mypy` with the [tool.mypy] config of
pyproject.toml reports no error, with no module of mlpm left out.
mypy comes with the dev extra (`pip install -c .ci/constraints.txt -e '.[all,dev]'`).
"""

import subprocess
import sys

from tests.conftest import ROOT


def test_mypy_finds_no_error_in_mlpm():
    # The cache (.mypy_cache, at the top of the repository) makes a second run take a second.
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"mypy found errors:\n{proc.stdout}{proc.stderr}"
