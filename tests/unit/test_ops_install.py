"""What `mlpm install NAME[@RANGE]` writes into the manifest (mlpm/ops/install.py
``save_range``): npm's rule, ``^INSTALLED`` unless the typed range is narrower."""

from __future__ import annotations

import pytest

from mlpm import semver
from mlpm.ops.install import save_range


@pytest.mark.parametrize("installed, typed, saved", [
    ("1.2.3", None, "^1.2.3"),            # `mlpm install resnet`
    ("1.2.3", "1.2.3", "^1.2.3"),         # an exact version is saved as its caret, as npm does
    ("1.2.3", "^1.0.0", "^1.2.3"),        # wider than ^1.2.3: the caret of what was installed
    ("1.2.3", "*", "^1.2.3"),
    ("1.2.3", ">=1.0.0", "^1.2.3"),
    ("1.2.3", "1", "^1.2.3"),
    ("1.2.3", "1.2", "1.2"),              # narrower: kept as typed
    ("1.2.3", "~1.2.0", "~1.2.0"),
    ("1.2.3", ">=1.0.0 <1.2.5", ">=1.0.0 <1.2.5"),
    ("0.2.3", None, "^0.2.3"),
    ("0.2.3", "0.x", "^0.2.3"),
])
def test_save_range_follows_npm(installed, typed, saved):
    assert save_range(installed, typed) == saved


@pytest.mark.parametrize("installed, typed", [
    ("1.2.3", None), ("1.2.3", "1.2"), ("1.2.3", "^1.0.0"), ("1.2.3", "~1.2.0"),
    ("0.2.3", "0.x"), ("1.2.3", ">=1.0.0 <1.2.5"),
])
def test_the_saved_range_still_allows_what_was_installed_and_no_more_than_typed(installed, typed):
    saved = save_range(installed, typed)
    assert semver.satisfies(installed, saved)
    if typed is not None:
        assert semver.subset(saved, typed)
