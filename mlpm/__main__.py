"""`python -m mlpm` is the `mlpm` command."""

import sys

from mlpm.cli import main

sys.exit(main())
