# ruff: noqa
"""General utils"""

import logging


def set_logging(rank=-1, verbose=True):
    logging.basicConfig(format="%(message)s", level=logging.INFO if (verbose and rank in [-1, 0]) else logging.WARN)


def check_requirements(requirements='requirements.txt', exclude=(), install=True):
    # Check installed dependencies meet requirements (pass *.txt file or list of packages)
    return True
