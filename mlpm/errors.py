"""One exception hierarchy for everything a user can cause.

Every error is one sentence that names the thing and the fix. Each class also
subclasses the builtin a Python user would reach for (``ValueError``,
``LookupError``, ``FileNotFoundError``, ``ConnectionError``) so library callers
can catch them plainly. The CLI turns any ``MlpmError`` into that sentence and
exit code 1 (``UsageError``, ``InvalidName``, ``InvalidSpec``: 2), never a traceback.

Two kinds of error live elsewhere on purpose: ``semver.InvalidVersion`` and
``semver.InvalidRange`` are plain ``ValueError`` subclasses because ``mlpm.semver`` is a pure
library with no dependencies (callers wrap them in ``InvalidSpec`` and friends), and
``interface.protobuf.DecodeError`` is an internal signal of the wire reader, always
turned into ``InvalidModelFile`` before it reaches a user.
"""

from __future__ import annotations


class MlpmError(Exception):
    """Base of all mlpm errors; ``str(err)`` is the sentence shown to the user."""

    exit_code = 1


class UsageError(MlpmError, ValueError):
    """The command line itself is wrong (exit code 2)."""

    exit_code = 2


class InvalidName(MlpmError, ValueError):
    """A package name that is not allowed (bad usage: exit code 2)."""

    exit_code = 2


class InvalidSpec(MlpmError, ValueError):
    """A ``NAME@RANGE`` that cannot be parsed (bad usage: exit code 2)."""

    exit_code = 2


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


class RemovedWhileLoading(NotInstalled, FileNotFoundError):
    """A package's files left the cache (``mlpm remove``, ``mlpm cache prune`` in another
    process) while ``mlpm.load`` was reading them."""


class HasDependents(MlpmError, ValueError):
    """Removal refused because installed packages depend on it."""


class StaleLock(MlpmError, ValueError):
    """mlpm.lock does not match mlpm.toml."""


class InconsistentLock(ManifestError):
    """mlpm.lock is not a complete, consistent resolution of the manifest (a bad merge,
    a hand edit): an entry missing, a version outside its range, a broken dependency."""


class RegistryError(MlpmError, ConnectionError):
    """The registry cannot be reached or answered with an error."""


class TooLarge(RegistryError):
    """A server sent more than one of mlpm's limits allows (docs/security.md#limits)."""


class DamagedIndex(RegistryError):
    """A registry's index file or names file is malformed; only its owner can fix it."""


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


class FormatNotLoadable(MlpmError, ValueError):
    """A format of a package that ``mlpm.load`` cannot load (no loader for it, or its file
    needs what the runtime lacks, e.g. a custom TFLite op); the message lists the formats
    the package has and which of them mlpm can load. Nothing is missing from the machine."""


class StoreError(MlpmError, OSError):
    """The cache directory cannot be written (permissions, disk full)."""


class UnsafePath(MlpmError, ValueError):
    """A path taken from a project file that would lead outside mlpm's cache."""


class UnsafeModel(MlpmError, PermissionError):
    """A code-bearing model whose static scan found code that reaches outside the model
    (files, Python, network); refused even from a trusted source unless allowed."""


class UntrustedCode(MlpmError, PermissionError):
    """Hub code of a source the user has not trusted."""


class UnsafeArchive(MlpmError, ValueError):
    """An archive (or a folder to pack) holds something that could escape its entry."""


class BadArchive(MlpmError, ValueError):
    """A file is not a readable archive, or lacks the file its package kind needs."""


class InvalidModelFile(MlpmError, ValueError):
    """A model file mlpm cannot read; the message names the file and the fix."""


class InvalidVersionStep(MlpmError, ValueError):
    """A version step that does not go forwards (the new version is not newer)."""


class ConversionError(MlpmError, ValueError):
    """The conversion cannot be done: no such route, unknown input shapes, a converter
    that is missing or that failed (with its own last error line)."""


class ParityError(MlpmError, ValueError):
    """The converted model's outputs differ from the original's by more than the
    tolerance; the message gives the numbers, and nothing was kept."""


class InvalidHubconf(MlpmError, ValueError):
    """hubconf.py is not valid Python; the message names the line."""


class HubconfNotFound(MlpmError, FileNotFoundError):
    """The path given has no hubconf.py."""


class RequestError(MlpmError, ValueError):
    """A request a served model cannot answer as sent (`mlpm serve`); ``status`` is the
    HTTP status to send."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
