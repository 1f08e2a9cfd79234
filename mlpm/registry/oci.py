"""An mlpm registry on an OCI registry (``oci://HOST[:PORT]/NAMESPACE``).

The layout (docs/reference/registry-oci.md): a repository per package, a tag per version
whose manifest has the record as its config blob and the artifacts as its layers, and the
tag ``mlpm-index`` whose config blob is the package's whole index file. Reading a package
is two requests (the index manifest, then its config blob, cached by digest); publishing
and yanking are here too (``publish_version``, ``set_yanked``), for mlpm/ops/publish.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from mlpm.errors import PackageNotFound, PublishError, RegistryError
from mlpm.registry import Registry
from mlpm.registry.oci_client import OCI_MANIFEST, OciClient, split_location
from mlpm.registry.records import MAX_INDEX_FILE_BYTES, Artifact, Record

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any

INDEX_TAG = "mlpm-index"
PACKAGE_TYPE = "application/vnd.mlpm.package.v1"
INDEX_TYPE = "application/vnd.mlpm.index.v1"
RECORD_MEDIA = "application/vnd.mlpm.record.v1+json"
INDEX_MEDIA = "application/vnd.mlpm.index.v1+jsonl"
ARTIFACT_MEDIA = "application/vnd.mlpm.artifact.v1"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
SETTLE = 1.0  # seconds between writing a tag and reading it back (docs: two publishers)


def version_tag(version: str) -> str:
    """The tag of a version: OCI tags have no '+', so build metadata is joined with '_'.

    >>> version_tag("1.2.0"), version_tag("1.0.0-rc.1+build.5")
    ('1.2.0', '1.0.0-rc.1_build.5')
    """
    return version.replace("+", "_")


class OciRegistry(Registry):
    """An mlpm registry laid out on an OCI registry's repositories."""

    def __init__(self, location: str, store, offline: bool):
        super().__init__(location)
        try:
            self.host, self.namespace = split_location(location)
        except ValueError as exc:
            raise RegistryError(f"{exc}.") from None
        self.client = OciClient(self.host)
        self.store = store
        self.offline = offline
        self._index_digest: dict[str, str | None] = {}

    def repo(self, name: str) -> str:
        return f"{self.namespace}/{name}"

    # -- reading --------------------------------------------------------------------------

    def _check_online(self) -> None:
        if self.offline:
            from mlpm.errors import OfflineError

            raise OfflineError(f"mlpm is offline and the OCI registry {self.location} must be "
                               "read for this; connect, or use what mlpm.lock pins.")

    def _read_index(self, name: str) -> str | None:
        self._check_online()
        found = self.client.manifest(self.repo(name), INDEX_TAG)
        if found is None:
            self._index_digest[name] = None
            return None
        digest, manifest = found
        self._index_digest[name] = digest
        config = manifest.get("config") or {}
        blob = config.get("digest")
        if not isinstance(blob, str) or not blob.startswith("sha256:"):
            raise RegistryError(f"the index of {name} in {self.location} has no config blob; "
                                "ask the registry's owner to republish the package.")
        cache = self.store.index_cache(self.location) / "blobs" / blob[7:]
        try:
            return cache.read_text("utf-8")
        except OSError:
            pass
        text = self.client.blob(self.repo(name), blob, MAX_INDEX_FILE_BYTES).decode("utf-8")
        from mlpm.store import write_atomic

        try:  # by digest: a cached copy is never stale
            cache.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(cache, text)
        except OSError:
            pass  # a read-only cache: read it again next time
        return text

    def _read_names(self) -> list[str]:
        self._check_online()
        prefix = self.namespace + "/"
        return sorted(r[len(prefix):] for r in self.client.catalog()
                      if r.startswith(prefix) and "/" not in r[len(prefix):])

    def artifact_url(self, artifact: Artifact, name: str | None = None) -> str:
        """The artifact's blob in the package's repository (its layers are the artifacts);
        the download is given the pull authorization the registry asks for."""
        if name is None:
            raise ValueError("an OCI registry's blob URL needs the package name")
        if artifact.url.startswith(("http://", "https://")) and not artifact.sha256:
            return artifact.url  # a public artifact, never uploaded: fetched where it lives
        repo = self.repo(name)
        if not self.offline:
            auth = self.client.pull_authorization(repo)
            if auth:
                from mlpm.fetch import add_credentials

                add_credentials(f"{self.client.base}/v2/{repo}/blobs/", auth["Authorization"])
        return self.client.blob_url(repo, "sha256:" + artifact.sha256)

    @property
    def display(self) -> str:
        return self.location

    # -- writing ----------------------------------------------------------------------------

    def exists_version(self, name: str, version: str) -> bool:
        return self.client.manifest(self.repo(name), version_tag(version)) is not None

    def publish_version(self, record: Record, files: list[tuple[Artifact, Path]],
                        previous: list[Record]) -> None:
        """Upload a new version: missing blobs, the record, the manifest under its tag (one
        publisher wins a race, see the docs), then the package's index."""
        repo = self.repo(record.name)
        mount = self._mount_source(record.name, [a.sha256 for a, _ in files])
        for art, path in files:
            self.client.upload(repo, "sha256:" + art.sha256, art.size or path.stat().st_size,
                               path=path, mount_from=mount.get(art.sha256))
        self._remember(record.name, [a.sha256 for a, _ in files])
        config = json.dumps(record.to_json(), separators=(",", ":")).encode()
        config_digest = _digest(config)
        self.client.upload(repo, config_digest, len(config), data=config)
        manifest = _manifest(PACKAGE_TYPE, RECORD_MEDIA, config_digest, len(config), [
            {"mediaType": ARTIFACT_MEDIA, "digest": "sha256:" + a.sha256, "size": a.size,
             "annotations": {"org.opencontainers.image.title": a.path,
                             "org.mlpm.format": a.format}} for a, _ in files],
            _annotations(record))
        tag = version_tag(record.version)
        if self.exists_version(record.name, record.version):
            raise _already(record)
        ours = self.client.put_manifest(repo, tag, manifest)
        time.sleep(SETTLE)
        now = self.client.manifest(repo, tag)
        if now is None or now[0] != ours:
            raise _already(record)
        self._write_index(record.name, lambda records: [*records, record]
                          if all(r.version != record.version for r in records) else records)

    def set_yanked(self, name: str, version: str, yanked: bool, reason: str | None) -> Record:
        """Flag a version yanked (or not) in the package's index; the version's own manifest
        is never rewritten."""
        changed: list[Record] = []

        def edit(records: list[Record]) -> list[Record]:
            for rec in records:
                if rec.version == version:
                    rec.yanked = yanked
                    rec.yanked_reason = reason if yanked else None
                    changed.append(rec)
            return records

        self._write_index(name, edit)
        if not changed:
            raise PackageNotFound(f"{name}@{version} is not in the registry {self.location}; "
                                  f"run `mlpm info {name}` to see the versions it has.")
        return changed[-1]

    def _write_index(self, name: str, edit) -> None:
        """Read the index, apply ``edit``, write it; retried when another writer moved it."""
        from mlpm.registry.records import parse_index_file

        repo = self.repo(name)
        for _attempt in range(5):
            self._records.pop(name, None)
            text = self._read_index(name)
            before = self._index_digest.get(name)
            records = parse_index_file(name, text, self.location) if text else []
            records = edit(self._reconcile(name, records))
            body = ("\n".join(r.to_line() for r in records) + "\n").encode()
            digest = _digest(body)
            self.client.upload(repo, digest, len(body), data=body)
            manifest = _manifest(INDEX_TYPE, INDEX_MEDIA, digest, len(body), [], {
                "org.opencontainers.image.title": f"mlpm index of {name}"})
            current = self.client.manifest(repo, INDEX_TAG)
            if (current[0] if current else None) != before:
                continue  # another publisher wrote the index meanwhile: read it again
            ours = self.client.put_manifest(repo, INDEX_TAG, manifest)
            time.sleep(SETTLE / 4)
            now = self.client.manifest(repo, INDEX_TAG)
            if now is not None and now[0] == ours:
                self._records.pop(name, None)
                return
        raise PublishError(f"the index of {name} in {self.location} kept changing under "
                           "other publishers; retry the command.")

    def repair_index(self, name: str) -> None:
        """Add to the index every version whose tag it lacks (see ``_reconcile``)."""
        self._write_index(name, lambda records: records)

    def _reconcile(self, name: str, records: list[Record]) -> list[Record]:
        """The index's records plus any version whose tag exists without an index entry (a
        publish killed between its tag and its index): the writer that comes next adds it."""
        from mlpm import semver

        known = {version_tag(r.version) for r in records}
        missing = [t for t in self.client.tags(self.repo(name)) or []
                   if t != INDEX_TAG and t not in known and semver.valid(t.replace("_", "+"))]
        for tag in missing:
            found = self.client.manifest(self.repo(name), tag)
            config = (found[1].get("config") or {}) if found else {}
            if config.get("mediaType") != RECORD_MEDIA:
                continue  # not a version mlpm published
            try:
                data = json.loads(self.client.blob(self.repo(name), config["digest"], 1 << 20))
                record = Record.from_json(data)
            except (ValueError, KeyError, TypeError):
                continue
            if record.name == name and version_tag(record.version) == tag:
                records.append(record)
        return sorted(records, key=lambda r: semver.parse_version(r.version))

    def _mount_source(self, name: str, digests: list[str]) -> dict[str, str]:
        """For each blob, another repository of this registry host known to hold it (this
        machine uploaded it there): a cross-repository mount then costs one request and no
        upload. A wrong guess costs nothing more: the registry answers with an upload."""
        found: dict[str, str] = {}
        for sha in digests:
            try:
                repo = (self._mounts() / sha).read_text().strip()
            except OSError:
                continue
            if repo and repo != self.repo(name) and repo.startswith(self.namespace + "/"):
                found[sha] = repo
        return found

    def _remember(self, name: str, digests: list[str]) -> None:
        from mlpm.store import write_atomic

        try:
            self._mounts().mkdir(parents=True, exist_ok=True)
            for sha in digests:
                write_atomic(self._mounts() / sha, self.repo(name))
        except OSError:
            pass  # a read-only cache: no mounts next time

    def _mounts(self) -> Path:
        return self.store.index_cache(self.location) / "mounts"


def _already(record: Record) -> PublishError:
    return PublishError(f"{record.name}@{record.version} is already published; versions are "
                        "immutable: bump the version and publish again.")


def _digest(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _annotations(record: Record) -> dict[str, str]:
    import datetime

    out = {"org.opencontainers.image.version": record.version,
           "org.opencontainers.image.created": record.published or
           datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if record.description:
        out["org.opencontainers.image.description"] = record.description[:1000]
    if record.license:
        out["org.opencontainers.image.licenses"] = record.license
    upstream = record.upstream
    source = upstream.get("repo") or upstream.get("url") if isinstance(upstream, dict) else None
    if isinstance(source, str):
        out["org.opencontainers.image.source"] = source
    return out


def _manifest(artifact_type: str, config_media: str, config_digest: str, config_size: int,
              layers: list[dict[str, Any]], annotations: dict[str, str]) -> bytes:
    data = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
            "config": {"mediaType": config_media, "digest": config_digest,
                       "size": config_size},
            "layers": layers, "annotations": annotations}
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
