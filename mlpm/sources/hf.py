"""A Hugging Face Hub repository as an mlpm package.

How a repository becomes records, in steps:

1. The refs (``list_repo_refs``): its tags and branches, each naming a commit.
2. The versions. Tracked by tags (no ``rev`` in the manifest, and the repository has
   SemVer tags, ``v5.1.0`` or ``5.1.0``): one record per tag. Tracked by a revision
   (``rev`` = a branch, a tag or a 40-hex commit; or no tag to track): one record, the
   commit the revision names now, with the version ``0.0.0+<12 hex of the commit>`` (plus
   the commit locked before, so an unrelated install does not move it).
3. A record's files, on first use (``model_info(revision=COMMIT, files_metadata=True)``):
   the files ``mlpm.interface.hfrepo.choose_files`` picks for the format asked, each an
   artifact at ``resolve/<commit>/<path>``. An LFS file's sha256 is the Hub's own; a small
   git file is hashed on its first download and pinned in mlpm.lock.
4. A record's dependencies: the base model of an adapter (``adapter_config.json``) or of a
   fine-tune (``base_model`` in the model card), each a Hugging Face package too.

The client is ``huggingface_hub`` (the ``mlpm[hf]`` extra), imported only here and only
when a repository is read; it honours ``HF_ENDPOINT`` and ``HF_TOKEN``. Locked files are
fetched by mlpm itself from ``HF_ENDPOINT/ORG/REPO/resolve/COMMIT/PATH`` (resume, retries,
verification, the shared store), so an install from mlpm.lock never imports it.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

from mlpm.errors import NoMatchingVersion, OfflineError, PackageNotFound, RegistryError
from mlpm.project import HF_PREFIX
from mlpm.registry import Registry
from mlpm.registry.records import Artifact, Record

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any

    from mlpm.project import Source
    from mlpm.store import Store

DEFAULT_ENDPOINT = "https://huggingface.co"
_TAG = re.compile(r"v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)")
_COMMIT = re.compile(r"[0-9a-f]{40}")
#: The files read while resolving (a base model named there is a dependency).
_ADAPTER, _CARD = "adapter_config.json", "README.md"


def endpoint() -> str:
    """The Hub's base URL: ``HF_ENDPOINT``, as huggingface_hub reads it, else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def commit_version(commit: str) -> str:
    """The version of a revision-tracked package at ``commit``.

    >>> commit_version("8b3219a92973c328a8e22fadcfa821b5dc75636a")
    '0.0.0+8b3219a92973'
    """
    return f"0.0.0+{commit[:12]}"


def tag_version(tag: str) -> str | None:
    """The SemVer version a tag names (``v5.1.0`` or ``5.1.0``), else None.

    >>> tag_version("v5.1.0"), tag_version("release-2")
    ('5.1.0', None)
    """
    from mlpm import semver

    match = _TAG.fullmatch(tag)
    if match is None or semver.valid(match.group(1)) is None:
        return None
    return str(semver.parse_version(match.group(1)))


class HfRecord(Record):
    """One commit of a repository as a record; its files and dependencies are read from the
    Hub the first time the resolver or the lock asks for them."""

    def __init__(self, repo: HfRepo, name: str, version: str, commit: str, revision: str,
                 source: Source | None):
        super().__init__(name, version, "", [], None, False,
                         {"hf": {"repo": repo.repo_id, "revision": revision, "commit": commit}})
        self.repo = repo
        self.commit = commit
        self.revision = revision
        self.source = source
        self._read = False

    def _ensure(self) -> None:
        if not self._read:
            self._read = True  # first, so a failure is not retried half-way through
            self.repo.fill(self)

    # The resolver reads these; each reads the commit's file list once.
    @property  # type: ignore[override]
    def artifacts(self) -> list[Artifact]:
        self._ensure()
        return self._artifacts

    @artifacts.setter
    def artifacts(self, value: list[Artifact]) -> None:
        self._artifacts = value

    @property  # type: ignore[override]
    def dependencies(self) -> dict[str, str]:
        self._ensure()
        return self._dependencies

    @dependencies.setter
    def dependencies(self, value: dict[str, str]) -> None:
        self._dependencies = value

    @property  # type: ignore[override]
    def framework(self) -> str:
        self._ensure()
        return self._framework

    @framework.setter
    def framework(self, value: str) -> None:
        self._framework = value


    def changes_to(self, new: HfRecord) -> list:
        """What ``new`` changes against this commit, with the SemVer level each needs: the
        tensor table (read from the safetensors headers; a tensor renamed or reshaped is
        MAJOR, one added MINOR), new weights (MINOR), files added or removed."""
        from mlpm.interface.diff import InterfaceChange
        from mlpm.interface.safetensors import TensorTable, compare_tables

        changes = []
        old_t, new_t = self.repo.tensor_table(self), new.repo.tensor_table(new)
        if old_t is not None and new_t is not None:
            level, reasons = compare_tables(TensorTable.from_json(old_t),
                                            TensorTable.from_json(new_t))
            changes += [InterfaceChange("major" if "added" not in r else "minor",
                                        "tensors", r) for r in reasons]
        old_files = {a.path: a for a in self.artifacts}
        new_files = {a.path: a for a in new.artifacts}
        for path in sorted(set(old_files) - set(new_files)):
            changes.append(InterfaceChange("major", "file-removed", f"file {path} removed"))
        for path in sorted(set(new_files) - set(old_files)):
            changes.append(InterfaceChange("minor", "file-added", f"file {path} added"))
        weights = [p for p in old_files if p in new_files and old_files[p].role == "weights"]
        if any(_differ(old_files[p], new_files[p]) for p in weights):
            changes.append(InterfaceChange("minor", "weights", "new weights"))
        return changes


def _differ(a: Artifact, b: Artifact) -> bool:
    """Whether two files differ: by sha256 when both are known, else by size."""
    if a.sha256 and b.sha256:
        return a.sha256 != b.sha256
    return a.size != b.size


class HfRepo(Registry):
    """One Hugging Face repository (location ``hf:ORG/REPO``); each package name the project
    gives it is read with that dependency's source (revision, files) from ``want``."""

    def __init__(self, repo_id: str, store: Store, offline: bool):
        super().__init__(HF_PREFIX + repo_id)
        self.repo_id = repo_id
        self.store = store
        self.offline = offline or hub_offline()
        self.endpoint = endpoint()
        self.sources: dict[str, Source | None] = {}
        self.locked: dict[str, str] = {}  # name -> commit locked before
        self.formats: dict[str, str | None] = {}  # name -> format asked (onnx: ONNX files)
        self._refs: Any = None
        self._pinned: dict[tuple[str, str], str] = {}  # small files read while resolving
        self._infos: dict[str, Any] = {}
        self._api: Any = None
        token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
        if token:
            from mlpm.fetch import add_credentials

            add_credentials(self.endpoint + "/", f"Bearer {token}")

    @property
    def display(self) -> str:
        return f"Hugging Face repository {self.repo_id}"

    def want(self, name: str, source: Source | None, locked_commit: str | None = None,
             format: str | None = None) -> None:  # noqa: A002
        """Read ``name`` as ``source`` says (None: newest tag, else the default branch)."""
        self.sources[name] = source
        if locked_commit:
            self.locked[name] = locked_commit
        if format is not None:
            self.formats[name] = format
        self._records.pop(name, None)

    # -- the Registry seam ----------------------------------------------------------------

    def _read_index(self, name: str) -> str | None:  # records() is overridden
        raise NotImplementedError

    def _read_names(self) -> list[str]:
        return []

    def artifact_url(self, artifact: Artifact, name: str | None = None) -> str:
        return f"{self.endpoint}/{self.repo_id}/{artifact.url}"

    def records(self, name: str) -> list[Record]:
        if name not in self._records:
            self._records[name] = self._versions(name)
        return self._records[name]

    def _not_found(self, name: str) -> PackageNotFound:
        return PackageNotFound(f"the Hugging Face repository {self.repo_id} has nothing to "
                               f"install as {name}")

    # -- reading the Hub ------------------------------------------------------------------

    def api(self) -> Any:
        if self.offline:
            raise OfflineError(
                f"{self.repo_id} is not in mlpm.lock and mlpm is offline (--offline, "
                "MLPM_OFFLINE or HF_HUB_OFFLINE); connect, or install from the lock only.")
        if self._api is None:
            # mlpm asks the Hub for what it installs and nothing else (no telemetry call)
            os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
            try:
                from huggingface_hub import HfApi
            except ImportError:
                raise RegistryError("reading a Hugging Face repository needs huggingface_hub; "
                                    "install it with pip install 'mlpm[hf]'.") from None
            token = os.environ.get("HF_TOKEN") or None
            self._api = HfApi(endpoint=self.endpoint, token=token)
        return self._api

    def refs(self) -> Any:
        if self._refs is None:
            self._refs = self._call(lambda api: api.list_repo_refs(self.repo_id), None)
        return self._refs

    def tags(self) -> dict[str, tuple[str, str]]:
        """SemVer tags: version -> (tag, commit); the newest tag wins a version named twice."""
        found: dict[str, tuple[str, str]] = {}
        for ref in self.refs().tags:
            version = tag_version(ref.name)
            if version is not None:
                found[version] = (ref.name, ref.target_commit)
        return found

    def default_branch(self) -> tuple[str, str]:
        """(branch, commit) of the default branch: ``main`` when there is one."""
        branches = {b.name: b.target_commit for b in self.refs().branches}
        if not branches:
            raise PackageNotFound(f"the Hugging Face repository {self.repo_id} has no branch; "
                                  "it holds nothing to install.")
        name = "main" if "main" in branches else ("master" if "master" in branches
                                                  else sorted(branches)[0])
        return name, branches[name]

    def revision(self, rev: str) -> str:
        """The commit a branch, tag or commit names now."""
        if _COMMIT.fullmatch(rev):
            return rev
        refs = self.refs()
        for ref in [*refs.branches, *refs.tags]:
            if ref.name == rev:
                return ref.target_commit
        branches = ", ".join(sorted(b.name for b in refs.branches)) or "none"
        tags = ", ".join(sorted(t.name for t in refs.tags)[-8:]) or "none"
        raise NoMatchingVersion(f"the Hugging Face repository {self.repo_id} has no branch, tag "
                                f"or commit '{rev}' (branches: {branches}; tags: {tags}); "
                                "choose one of them.")

    def interpret(self, at: str) -> tuple[str | None, str | None]:
        """What ``hf:REPO@AT`` asks for, as (revision, range): a 40-hex commit, a branch or
        a non-SemVer tag is a revision; a SemVer tag is that exact version; anything else
        must be a range over the SemVer tags. Empty: the newest SemVer tag if there is
        one (range None), else the default branch."""
        from mlpm import semver

        at = at.strip()
        if not at:
            return (None if self.tags() else self.default_branch()[0]), None
        if _COMMIT.fullmatch(at):
            return at, None
        refs = self.refs()
        if at in {b.name for b in refs.branches}:
            return at, None
        if at in {t.name for t in refs.tags}:
            version = tag_version(at)
            return (at, None) if version is None else (None, version)
        try:
            semver.parse_range(at)
        except ValueError:
            self.revision(at)  # raises the sentence naming the branches and tags
            raise
        return None, at

    def pick(self, name: str, at: str) -> HfRecord:
        """The record ``hf:REPO@AT`` means (see ``interpret``), read as package ``name``."""
        from mlpm.project import Source
        from mlpm.registry.versions import latest_version, newest_matching

        rev, rng = self.interpret(at)
        self.want(name, Source(hf=self.repo_id, rev=rev))
        records = self.records(name)
        if rng is not None:
            chosen = newest_matching(records, rng)
            if chosen is None:
                raise NoMatchingVersion(
                    f"no version of {self.repo_id} matches {rng}; its SemVer tags: "
                    f"{', '.join(r.version for r in records) or 'none'}.")
        else:
            latest = latest_version(records)
            chosen = next(r for r in records if r.version == latest)
        assert isinstance(chosen, HfRecord)
        return chosen

    def describe(self, name: str, at: str) -> dict[str, Any]:
        """What ``mlpm info hf:REPO[@AT]`` shows, read before anything is installed: the
        versions and branches, the files the default choice takes, the config, the tensor
        table from the safetensors headers (their first bytes only), the card's metadata
        and the base models it depends on."""
        from mlpm.registry.versions import latest_version

        chosen = self.pick(name, at)
        records = self.records(name)
        latest = latest_version(records)
        data = chosen.to_json()
        data.pop("artifacts")
        files = self.files(chosen.commit)
        tensors = self.tensor_table(chosen)
        config = self.config(chosen)
        data.update({
            "registry": self.display, "latest": latest,
            "newer_available": latest is not None and latest != chosen.version and
            not chosen.version.startswith("0.0.0+"),
            "installed": None,
            "size": chosen.size if all(a.size is not None for a in chosen.artifacts) else None,
            "formats": [{"format": a.format, "file": a.path, "size": a.size,
                         "sha256": a.sha256} for a in chosen.artifacts],
            "versions": [{"version": r.version, "yanked": False, "published": None,
                          "size": None} for r in records],
            "branches": sorted(b.name for b in self.refs().branches),
            "files_in_repo": len(files),
            "config": config, "tensors": tensors,
            "dependents": [], "conversions": [], "entrypoints": [], "signatures": [],
            "upstream": {"type": "huggingface", "repo": self.repo_id,
                         "revision": chosen.revision, "commit": chosen.commit},
        })
        return data

    def config(self, record: HfRecord) -> dict[str, Any] | None:
        """The summary of the commit's config.json (architectures, model type, sizes)."""
        from mlpm.interface.hfrepo import read_config

        files = self.files(record.commit)
        if "config.json" not in files:
            return None
        try:
            return read_config(self._small_file(record.commit, "config.json",
                                                files["config.json"]))
        except ValueError:
            return None

    def tensor_table(self, record: HfRecord) -> dict[str, Any] | None:
        """The tensors of the record's safetensors files (every shard), read from each
        file's header with a Range request: names, dtypes, shapes, parameter count."""
        from mlpm.fetch import read_prefix
        from mlpm.interface.safetensors import (
            header_length,
            merge_tables,
            parse_header,
            table_fingerprint,
        )

        weights = [a for a in record.artifacts if a.path.endswith(".safetensors")]
        if not weights:
            return None
        tables = {}
        for art in weights:
            raw = read_prefix(self.artifact_url(art), lambda first8: 8 + header_length(first8),
                              offline=self.offline, label=f"{self.repo_id} {art.path}")
            try:
                tables[art.path] = parse_header(raw[8:], None)
            except ValueError as exc:
                raise RegistryError(f"{self.repo_id} {art.path} at {record.revision}: the "
                                    f"file {exc}") from None
        table = merge_tables(tables) if len(tables) > 1 else next(iter(tables.values()))
        dtypes: dict[str, int] = {}
        for dtype, _shape in table.tensors.values():
            dtypes[dtype] = dtypes.get(dtype, 0) + 1
        return {"count": len(table.tensors), "parameters": table.parameters,
                "dtypes": dtypes, "fingerprint": table_fingerprint(table),
                "tensors": table.to_json()["tensors"]}

    def _versions(self, name: str) -> list[Record]:
        source = self.sources.get(name)
        rev = source.rev if source is not None else None
        if rev is None:
            tags = self.tags()
            if tags:
                return [HfRecord(self, name, version, commit, tag, source)
                        for version, (tag, commit) in tags.items()]
            rev, _ = self.default_branch()
        commit = self.revision(rev)
        version = tag_version(rev) if rev in {t.name for t in self.refs().tags} else None
        records: list[Record] = [HfRecord(self, name, version or commit_version(commit), commit,
                                          rev, source)]
        before = self.locked.get(name)
        if before and before != commit:  # kept as a candidate: a locked pin stays put
            records.append(HfRecord(self, name, commit_version(before), before, rev, source))
        return records

    def files(self, commit: str) -> dict[str, Any]:
        """The commit's files (path -> RepoFile: size, blob_id, lfs with the sha256)."""
        if commit not in self._infos:
            from mlpm.interface.hfrepo import MAX_FILES

            listing: dict[str, Any] = {}

            def walk(api: Any) -> None:
                for item in api.list_repo_tree(self.repo_id, revision=commit, recursive=True):
                    if hasattr(item, "size") and hasattr(item, "blob_id"):  # a file
                        listing[item.path] = item
                        if len(listing) > MAX_FILES:
                            raise RegistryError(f"{self.repo_id} lists over {MAX_FILES} "
                                                "files, more than mlpm will read.")
            self._call(walk, commit)
            self._infos[commit] = listing
        return self._infos[commit]

    def fill(self, record: HfRecord) -> None:
        """Read a record's files and dependencies from its commit."""
        from mlpm.interface.hfrepo import FORMATS, choose_files, weights_format

        siblings = self.files(record.commit)
        source = record.source
        fmt = self.formats.get(record.name)
        try:
            chosen = choose_files(sorted(siblings), fmt if fmt in FORMATS else None,
                                  source.include if source is not None else None,
                                  source.exclude if source is not None else None)
        except ValueError as exc:
            raise RegistryError(f"{self.repo_id} at {record.revision}: {exc}") from None
        if not chosen:
            raise PackageNotFound(
                f"the Hugging Face repository {self.repo_id} at {record.revision} has no files "
                f"to install{' as ' + fmt if fmt else ''} (it has {len(siblings)} files); check "
                "include / exclude in the manifest.")
        try:
            kind = _FORMAT[weights_format(chosen)]
        except ValueError:
            raise PackageNotFound(
                f"the Hugging Face repository {self.repo_id} at {record.revision} has no "
                f"weights mlpm can install among the files chosen ({', '.join(chosen[:5])}"
                f"{', ...' if len(chosen) > 5 else ''}): it needs safetensors, PyTorch or "
                "ONNX files; check include / exclude in the manifest.") from None
        artifacts = []
        for path in chosen:
            sib = siblings[path]
            lfs = getattr(sib, "lfs", None)
            sha = ""
            if lfs is not None:  # the Hub's own sha256: verified while streaming
                sha = str(lfs.get("sha256", "") if isinstance(lfs, dict) else
                          getattr(lfs, "sha256", ""))
            if not re.fullmatch(r"[0-9a-f]{64}", sha):
                sha = self._pinned.get((record.commit, path), "")
            artifacts.append(Artifact(kind, path, sha, sib.size,
                                      f"resolve/{record.commit}/{quote(path, safe='/')}",
                                      role=_role(path)))
        record.artifacts = artifacts
        record.framework = kind
        card = self._card(record.commit, siblings)
        record.extra.update(_card_metadata(card))
        deps: dict[str, str] = {}
        sources: dict[str, str] = {}
        for base in self._bases(record, siblings, card):
            from mlpm.registry.hfid import package_name

            base_name = package_name(base)
            if base_name is None or base == self.repo_id:
                continue
            deps[base_name] = "*"
            sources[base_name] = HF_PREFIX + base
        record.dependencies = deps
        if sources:
            record.extra["dependency-sources"] = sources

    def _card(self, commit: str, siblings: dict[str, Any]) -> dict[str, Any]:
        """The model card's metadata (license, task, datasets, base_model, metrics)."""
        from mlpm.interface.hfrepo import read_card

        if _CARD not in siblings:
            return {}
        return read_card(self._small_file(commit, _CARD, siblings[_CARD]))

    def _bases(self, record: HfRecord, siblings: dict[str, Any],
               card: dict[str, Any]) -> list[str]:
        """Base models this commit builds on: an adapter's base, a fine-tune's base_model."""
        from mlpm.interface.hfrepo import adapter_base

        found: list[str] = []
        if _ADAPTER in siblings:
            try:
                base = adapter_base(self._small_file(record.commit, _ADAPTER,
                                                     siblings[_ADAPTER]).encode())
            except ValueError:
                base = None
            if base:
                found.append(base)
        from mlpm.registry.hfid import check_repo_id

        for base in card.get("base_model") or []:
            try:
                check_repo_id(base)
            except ValueError:
                continue  # a card is documentation: a bad id names no dependency
            if base not in found:
                found.append(base)
        return found

    def _small_file(self, commit: str, path: str, sibling: Any) -> str:
        """A small file of the commit, through the store (it is an artifact too)."""
        from mlpm.fetch import fetch_blob

        if (sibling.size or 0) > 1 << 20:
            return ""
        url = f"{self.endpoint}/{self.repo_id}/resolve/{commit}/{quote(path, safe='/')}"
        blob = fetch_blob(self.store, url, "", sibling.size,
                          label=f"{self.repo_id} {path}", offline=self.offline)
        self._pinned[(commit, path)] = blob.name  # its digest: the lock pins it, no second download
        return blob.read_text("utf-8", "replace")

    def _call(self, fn: Any, revision: str | None) -> Any:
        """Call the Hub; its errors become one sentence naming the repository and the fix."""
        from mlpm.fetch import _describe_network_error

        api = self.api()
        try:
            from huggingface_hub import errors as hf
        except ImportError:  # older huggingface_hub
            from huggingface_hub.utils import _errors as hf  # type: ignore[no-redef]
        try:
            return fn(api)
        except hf.GatedRepoError:
            raise RegistryError(f"the Hugging Face repository {self.repo_id} is gated: accept "
                                "its conditions on its page, then set HF_TOKEN to a token of "
                                "that account.") from None
        except hf.RepositoryNotFoundError:
            token = " (or set HF_TOKEN if it is private)" if not os.environ.get("HF_TOKEN") \
                else " (or check that HF_TOKEN may read it)"
            raise PackageNotFound(f"there is no Hugging Face repository {self.repo_id} at "
                                  f"{self.endpoint}; check the name{token}.") from None
        except hf.RevisionNotFoundError:
            raise NoMatchingVersion(f"the Hugging Face repository {self.repo_id} has no "
                                    f"revision {revision}; run `mlpm info hf:{self.repo_id}` "
                                    "to see its branches and tags.") from None
        except hf.HfHubHTTPError as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status == 429:
                raise RegistryError(f"the Hugging Face Hub is rate-limiting requests (HTTP 429) "
                                    f"for {self.repo_id}; wait a minute and retry, or set "
                                    "HF_TOKEN (signed-in requests get a higher limit).") \
                    from None
            if status == 404 and revision is None:  # a mirror's plain 404, no error code
                raise PackageNotFound(f"there is no Hugging Face repository {self.repo_id} at "
                                      f"{self.endpoint}; check the name.") from None
            if status == 404:
                raise NoMatchingVersion(f"the Hugging Face repository {self.repo_id} has no "
                                        f"revision {revision}; run `mlpm info "
                                        f"hf:{self.repo_id}` to see its branches and tags.") \
                    from None
            if status in (401, 403):
                raise RegistryError(f"the Hugging Face Hub refused access to {self.repo_id} "
                                    f"(HTTP {status}); set HF_TOKEN to a token that may read "
                                    "it.") from None
            raise RegistryError(f"the Hugging Face Hub answered HTTP {status} for "
                                f"{self.repo_id}; retry later.") from None
        except OSError as exc:  # connection refused, DNS, timeouts (requests/httpx errors)
            raise RegistryError(f"cannot reach the Hugging Face Hub at {self.endpoint} "
                                f"({_describe_network_error(exc)}); check the network or "
                                "HF_ENDPOINT, or use --offline with a lock.") from None
        except Exception as exc:  # httpx transport errors are not OSErrors
            if type(exc).__module__.startswith("httpx"):
                raise RegistryError(f"cannot reach the Hugging Face Hub at {self.endpoint} "
                                    f"({type(exc).__name__}); check the network or "
                                    "HF_ENDPOINT, or use --offline with a lock.") from None
            raise


def _role(path: str) -> str:
    base = path.rsplit("/", 1)[-1].lower()
    if base.endswith((".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".onnx_data",
                      ".h5", ".msgpack")) or base.endswith(".onnx.data"):
        return "weights"
    if base.endswith(".index.json"):
        return "weights-index"
    if base == "readme.md":
        return "card"
    if "token" in base or base.startswith(("vocab", "merges", "spiece")) or \
            base.endswith(".model"):
        return "tokenizer"
    return "config"


# weights_format's answer -> the artifact format mlpm loads it as
_FORMAT = {"safetensors": "safetensors", "pickle": "state-dict", "onnx": "onnx"}


def _card_metadata(card: dict[str, Any]) -> dict[str, Any]:
    """The model card's front matter as record metadata (the keys `mlpm info` shows)."""
    out: dict[str, Any] = {}
    for key, field in (("license", "license"), ("pipeline_tag", "task"),
                       ("library_name", "library"), ("datasets", "dataset"),
                       ("tags", "tags"), ("language", "language")):
        if card.get(key):
            out[field] = card[key]
    if card.get("metrics"):
        out["metrics"] = {m["name"] or m["type"]: m["value"] for m in card["metrics"]}
    if card.get("base_model"):
        out["base-model"] = card["base_model"]
    return out
