"""One exception hierarchy for everything a user can cause.

Every error is one sentence that names the thing and the fix. Each class also
subclasses the builtin a Python user would reach for (``ValueError``,
``LookupError``, ``FileNotFoundError``, ``ConnectionError``) so library callers
can catch them plainly. The CLI turns any ``MlpmError`` into that sentence and
exit code 1 (``UsageError``: 2), never a traceback.
"""

from __future__ import annotations


class MlpmError(Exception):
    """Base of all mlpm errors; ``str(err)`` is the sentence shown to the user."""

    exit_code = 1


class UsageError(MlpmError, ValueError):
    """The command line itself is wrong (exit code 2)."""

    exit_code = 2


class InvalidName(MlpmError, ValueError):
    """A package name that is not allowed."""


class InvalidSpec(MlpmError, ValueError):
    """A ``NAME@RANGE`` that cannot be parsed."""


class ManifestError(MlpmError, ValueError):
    """mlpm.toml / pyproject.toml / mlpm.lock cannot be read or is malformed."""


class ProjectNotFound(MlpmError, FileNotFoundError):
    """No mlpm project in this directory or any parent."""


class PackageNotFound(MlpmError, LookupError):
    """The registry has no package of that name."""


class NoMatchingVersion(MlpmError, LookupError):
    """The package exists but no (non-yanked) version satisfies the range."""


class ResolutionConflict(MlpmError, ValueError):
    """The requirements cannot all be satisfied; the message is the chain."""


class NotInstalled(MlpmError, LookupError):
    """The package is not a dependency of this project."""


class HasDependents(MlpmError, ValueError):
    """Removal refused because installed packages depend on it."""


class StaleLock(MlpmError, ValueError):
    """mlpm.lock does not match mlpm.toml."""


class RegistryError(MlpmError, ConnectionError):
    """The registry cannot be reached or answered with an error."""


class IntegrityError(MlpmError, ValueError):
    """Downloaded or cached bytes do not match the recorded sha256."""


class OfflineError(MlpmError, ConnectionError):
    """Offline mode needed something that is not in the cache."""


class PublishError(MlpmError, ValueError):
    """A publish was refused (existing version, bad package directory...)."""


class FrameworkMissing(MlpmError, ImportError):
    """Loading needs a framework that is not installed."""


class ModelLoadError(MlpmError, RuntimeError):
    """The framework refused the model file (unsafe pickle, wrong format)."""


class StoreError(MlpmError, OSError):
    """The cache directory cannot be written (permissions, disk full)."""
