"""publish and yank: add an immutable version to a directory registry or an OCI registry
(docs/reference/registry-oci.md), or flag one yanked."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from mlpm import semver
from mlpm.errors import PublishError, UsageError
from mlpm.files import remove_tree
from mlpm.registry import (
    BUNDLED,
    LocalRegistry,
    Registry,
    bundled_path,
    canonical,
    init_registry_dir,
    layout,
    open_registry,
)
from mlpm.registry.records import (
    FILE_SUFFIX_FORMAT,
    FORMAT_FRAMEWORK,
    Artifact,
    Record,
    check_name,
    parse_spec,
)
from mlpm.registry.versions import newest_matching
from mlpm.store import file_sha256, write_atomic

TYPE_CHECKING = False  # the names are for annotations only
if TYPE_CHECKING:
    from mlpm.interface.build import Description
    from mlpm.registry.records import Interface

# [package] keys that become record fields as they are; the rest of the table is refused.
_META_KEYS = ("kind", "description", "license", "weights-license", "authors", "task", "family",
              "algorithm", "dataset", "release-notes", "source", "homepage", "docs",
              "python-requires", "metrics", "interface", "upstream", "keywords")


def registry_dir(location: str) -> Path:
    """The registry folder ``location`` names, made a registry if it is a new folder."""
    return _registry_dir(location)


def add_to_folder(reg_dir: Path, record: Record, files: list[tuple[Artifact, Path]]) -> None:
    """Add a record published elsewhere (``mlpm registry mirror``) to a registry folder: each
    artifact file where its url says (checked relative, inside the folder), then its line,
    byte for byte."""
    from filelock import FileLock

    with FileLock(str(layout.publish_lock_file(reg_dir))):
        local = open_registry(str(reg_dir))
        existing = (local.records(record.name)
                    if layout.index_file(reg_dir, record.name).is_file() else [])
        if any(r.version == record.version for r in existing):
            return  # another mirror got here first: the same record
        for art, file in files:
            dest = (reg_dir / art.url).resolve()
            if not dest.is_relative_to(reg_dir.resolve()):
                raise PublishError(f"{record.name}@{record.version} names the artifact url "
                                   f"{art.url}, outside the registry folder; not copied.")
            if not dest.is_file():
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".tmp")
                os.close(fd)
                try:
                    shutil.copyfile(file, tmp)
                    os.chmod(tmp, 0o644)
                    os.replace(tmp, dest)
                finally:
                    Path(tmp).unlink(missing_ok=True)
        _append_record(reg_dir, record, new_name=not existing)


def _registry_dir(location: str) -> Path:
    if location.startswith(("http://", "https://")):
        raise UsageError(
            "publishing goes into a registry directory; run `mlpm publish` where the registry's "
            "files live (--registry DIR), then serve them with `mlpm registry serve DIR` or any "
            "static HTTP server."
        )
    location = canonical(location)
    path = bundled_path() if location == BUNDLED else Path(location)
    if path.exists() and any(path.iterdir()) and not layout.config_file(path).is_file():
        raise PublishError(f"{path} is not empty and is not an mlpm registry (no config.json); "
                           "choose an empty or new folder, or an existing registry.")
    init_registry_dir(path)
    return path


def _check_version(text: str) -> str:
    try:
        version = semver.parse_version(text)
    except ValueError:
        raise PublishError(f"'{text}' is not a valid version: a package version is an exact "
                           "SemVer version like 1.2.3.") from None
    return str(version)


def _check_model_file(path: Path, fmt: str, role: str | None = None) -> None:
    if fmt == "torch-hub" and role == "weights":
        if not path.is_file():
            raise PublishError(f"the weights artifact {path} must be a file.")
        return
    if fmt in ("savedmodel", "torch-hub") and path.is_file():
        import tarfile

        if not (tarfile.is_tarfile(path) or zipfile.is_zipfile(path)):
            raise PublishError(f"{path} is neither a folder nor a .tar.gz/.zip archive; a {fmt} "
                               "artifact is one of those.")
        return
    if path.is_dir():
        marker = {"savedmodel": "saved_model.pb", "torch-hub": "hubconf.py"}.get(fmt)
        if marker is None or not (path / marker).is_file():
            raise PublishError(f"{path} is a folder, but a {fmt} artifact is a file"
                               + (f"; a {fmt} folder needs {marker}" if marker else "") + ".")
        return
    if fmt in ("torchscript", "exported-program") and not zipfile.is_zipfile(path):
        raise PublishError(f"{path} is not a {fmt} archive (not a zip file); save it with "
                           f"{'torch.jit.save' if fmt == 'torchscript' else 'torch.export.save'}.")
    if fmt == "onnx":
        with open(path, "rb") as fh:
            head = fh.read(2)
        if not head or head[0] != 0x08:  # every ONNX ModelProto starts with ir_version (field 1)
            raise PublishError(f"{path} is not an ONNX model; export it with torch.onnx.export "
                               "or onnx.save.")


class _Item:
    """One artifact about to be published: a local file/folder, or a remote URL."""

    def __init__(self, fmt: str, role: str | None = None, file: Path | None = None,
                 url: str | None = None, name: str | None = None, sha256: str = "",
                 prefix: str | None = None, size: int | None = None,
                 upstream: str | None = None):
        self.format, self.role, self.file, self.url = fmt, role, file, url
        self.name = name or (file.name if file is not None else "")
        self.sha256, self.prefix, self.size, self.upstream = sha256, prefix, size, upstream


def _items_from_table(folder: Path, manifest: Path, pkg: dict[str, Any]) -> list[_Item]:
    root = folder.resolve()
    items = []

    def local(rel: str) -> Path:
        path = (folder / str(rel)).resolve()
        if path != root and root not in path.parents:
            raise PublishError(f"the file '{rel}' in {manifest} is outside the package folder.")
        if not path.exists():
            raise PublishError(f"the file '{rel}' listed in {manifest} does not exist.")
        return path

    for fmt, rel in dict(pkg.get("files", {})).items():
        items.append(_Item(str(fmt), file=local(rel)))
    for entry in pkg.get("artifacts", []):
        if not isinstance(entry, dict) or "format" not in entry:
            raise PublishError(f"each [[package.artifacts]] in {manifest} needs a format.")
        unknown = set(entry) - {"format", "role", "file", "url", "path", "sha256",
                                "sha256-prefix", "size", "upstream"}
        if unknown:
            raise PublishError(f"[[package.artifacts]] in {manifest} has unknown keys "
                               f"{sorted(unknown)}.")
        if ("file" in entry) == ("url" in entry):
            raise PublishError(f"each [[package.artifacts]] in {manifest} needs either file "
                               "(shipped in the registry) or url (fetched at install).")
        if "url" in entry:
            from mlpm.urls import check_http_url

            try:  # by its parts: a dot segment or user info would send clients elsewhere
                check_http_url(entry["url"])
            except ValueError as exc:
                raise PublishError(f"[[package.artifacts]] in {manifest}: {exc}; write the "
                                   "plain http(s) URL the file is really at.") from None
        if "url" in entry:
            try:  # the record must parse again when read from the index
                Artifact.from_json({**entry, "path": entry.get("path", "")})
            except (ValueError, KeyError, TypeError) as exc:
                raise PublishError(f"[[package.artifacts]] {entry['url']} in {manifest}: {exc}; "
                                   "give path, and sha256 (64 hex) or sha256-prefix.") from None
            if not entry.get("path"):
                raise PublishError(f"[[package.artifacts]] {entry['url']} in {manifest} needs "
                                   "path (the file name, e.g. resnet50-11ad3fa6.pth).")
        items.append(_Item(
            str(entry["format"]), entry.get("role"),
            file=local(entry["file"]) if "file" in entry else None, url=entry.get("url"),
            name=entry.get("path"), sha256=str(entry.get("sha256", "")),
            prefix=entry.get("sha256-prefix"), size=entry.get("size"),
            upstream=entry.get("upstream")))
    if not items:
        raise PublishError(f"[package] in {manifest} lists no artifacts; add files = "
                           "{ onnx = \"model.onnx\" } or [[package.artifacts]] entries.")
    return items


def _package_from_dir(folder: Path) -> tuple[dict[str, Any], list[_Item], dict[str, str]]:
    manifest = folder / "mlpm.toml"
    if not manifest.is_file():
        raise PublishError(f"{folder} has no mlpm.toml; a package directory needs one with a "
                           "[package] table (name, version, framework, files).")
    with open(manifest, "rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise PublishError(f"{manifest} is not valid TOML ({exc}).") from None
    pkg = data.get("package")
    if not isinstance(pkg, dict):
        raise PublishError(f"{manifest} has no [package] table; add name, version, framework "
                           "and files.")
    for key in ("name", "version"):
        if key not in pkg:
            raise PublishError(f"[package] in {manifest} needs '{key}'.")
    unknown = set(pkg) - {"name", "version", "framework", "files", "artifacts", "samples",
                          *_META_KEYS}
    if unknown:
        raise PublishError(f"[package] in {manifest} has unknown keys {sorted(unknown)}; see "
                           "docs/reference/manifest.md for the package table.")
    items = _items_from_table(folder, manifest, pkg)
    deps = data.get("dependencies", {})
    return pkg, items, {str(k): str(v) for k, v in deps.items()}


def publish(path: Path, registry: str, *, name: str | None = None, version: str | None = None,
            depends: list[str] | None = None, framework: str | None = None) -> Record:
    """Publish a model file or a package directory as a new version; returns the record.

    The interface is computed from the files and compared with the previous release of
    the same major line: a version bump smaller than the change requires is refused.
    """
    path = Path(path)
    if path.is_dir():
        if name or version:
            raise UsageError("--name and --version are for a single file; a package directory "
                             "takes them from its mlpm.toml [package] table.")
        pkg, items, deps = _package_from_dir(path)
        meta = {k: pkg[k] for k in _META_KEYS if k in pkg}
        samples_file = pkg.get("samples")  # parity's real inputs: shipped as role "samples"
        name, version, framework = pkg["name"], str(pkg["version"]), pkg.get("framework")
    elif path.is_file():
        fmt = FILE_SUFFIX_FORMAT.get(path.suffix.lower())
        if fmt is None:
            raise PublishError(f"cannot tell the format of {path.name}: a single-file package is "
                               ".onnx, .pt (TorchScript) or .pt2 (exported program); for other "
                               "kinds publish a directory with an mlpm.toml.")
        if not name or not version:
            raise UsageError("publishing a file needs --name NAME and --version X.Y.Z.")
        items, deps, meta = [_Item(fmt, file=path)], {}, {}
        samples_file = None
    else:
        raise PublishError(f"{path} does not exist; give a model file or a package directory.")
    name = check_name(name)
    version = _check_version(version)
    for spec in depends or []:
        dep, rng = parse_spec(spec)
        deps[dep] = rng or "*"
    for item in items:
        if item.format not in FORMAT_FRAMEWORK:
            raise PublishError(f"unknown format '{item.format}' for {item.name}; formats are "
                               f"{', '.join(FORMAT_FRAMEWORK)}.")
        if item.file is not None:
            _check_model_file(item.file, item.format, item.role)
    framework = framework or FORMAT_FRAMEWORK[items[0].format]
    if framework not in set(FORMAT_FRAMEWORK.values()):
        raise PublishError(f"unknown framework '{framework}'; use one of "
                           f"{', '.join(sorted(set(FORMAT_FRAMEWORK.values())))}.")
    meta.setdefault("kind", items[0].format)
    if meta["kind"] not in FORMAT_FRAMEWORK:
        raise PublishError(f"unknown kind '{meta['kind']}'; use one of "
                           f"{', '.join(FORMAT_FRAMEWORK)}.")
    for key in ("upstream", "interface", "metrics"):
        if key in meta and not isinstance(meta[key], dict):
            raise PublishError(f"[package] {key} must be a table ([package.{key}]).")
    repo = meta.get("upstream", {}).get("repo")
    if repo is not None:
        from mlpm.urls import github_repo

        if github_repo(repo) is None:  # trust is keyed by it: no '..', no extra parts
            raise PublishError(f"[package.upstream] repo {repo!r} is not a GitHub repository "
                               "as OWNER/NAME (e.g. pytorch/vision); write it that way.")
    if isinstance(meta.get("python-requires"), str):
        meta["python-requires"] = [meta["python-requires"]]
    _check_python_requires(meta.get("python-requires", []))

    from mlpm.interface.build import describe
    from mlpm.interface.diff import fingerprint

    files = [(i.format, i.role, i.file, i.sha256 or i.prefix or i.url or "") for i in items]
    described = describe(meta["kind"], files, meta.get("interface"))
    interface, weights, code = described.interface, described.weights, described.code
    meta["interface"] = interface.to_json()
    meta["fingerprint"] = fingerprint(interface)
    if weights:
        meta["weights"] = weights
    if code:
        meta["code"] = code
    formats = list(dict.fromkeys(i.format for i in items))
    if len(formats) > 1:  # one format's digests are the package's `weights` and `code`
        meta["format-digests"] = described.digests(formats)
    _check_declared_values(interface)
    if samples_file is not None:  # after the formats: samples are no model format
        items.append(_samples_item(path, samples_file, interface))

    if registry.startswith("oci://"):
        return _publish_oci(registry, name, version, framework, items, deps, meta, described)
    reg_dir = _registry_dir(registry)
    from filelock import FileLock

    with FileLock(str(layout.publish_lock_file(reg_dir))):
        local = open_registry(str(reg_dir))
        assert isinstance(local, LocalRegistry)
        existing = (local.records(name) if layout.index_file(reg_dir, name).is_file()
                    else [])  # not exists(): a new name needs no did-you-mean
        if any(r.version == version for r in existing):
            bumped = semver.parse_version(version).bump("patch")
            raise PublishError(f"{name}@{version} is already published in {reg_dir}; versions "
                               f"are immutable: publish a new version (e.g. {bumped}).")
        _check_dependencies(local, name, deps)
        _check_semver(name, version, existing, described, formats)
        artifacts = [_store_item(reg_dir, item) for item in items]
        record = Record(name=name, version=version, framework=framework, artifacts=artifacts,
                        dependencies=deps, extra={
                            **meta,
                            "published": _dt.datetime.now(_dt.timezone.utc)
                            .replace(microsecond=0).isoformat().replace("+00:00", "Z"),
                        })
        _append_record(reg_dir, record, new_name=not existing)
    return record


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat() \
        .replace("+00:00", "Z")


def _publish_oci(location: str, name: str, version: str, framework: str, items: list[_Item],
                 deps: dict[str, str], meta: dict[str, Any], described: Description) -> Record:
    """Publish into an OCI registry: the same checks as for a folder, then the blobs, the
    version's manifest and the package's index (mlpm/registry/oci.py)."""
    from mlpm.registry.oci import OciRegistry
    from mlpm.store import Store

    oci = OciRegistry(canonical(location), Store(), offline=False)
    existing = oci.records(name) if oci.exists(name) else []
    if any(r.version == version for r in existing) or oci.exists_version(name, version):
        bumped = semver.parse_version(version).bump("patch")
        raise PublishError(f"{name}@{version} is already published in {oci.location}; versions "
                           f"are immutable: publish a new version (e.g. {bumped}).")
    _check_dependencies(oci, name, deps)
    _check_semver(name, version, existing, described,
                  list(dict.fromkeys(i.format for i in items if i.role != "samples")))
    work = Path(tempfile.mkdtemp(prefix="mlpm-publish-"))
    try:
        files: list[tuple[Artifact, Path]] = []
        artifacts = []
        for item in items:
            art, file = _prepare_item(work, item)
            artifacts.append(art)
            if file is not None:
                files.append((art, file))
        record = Record(name=name, version=version, framework=framework, artifacts=artifacts,
                        dependencies=deps, extra={**meta, "published": _now()})
        oci.publish_version(record, files, existing)
    finally:
        remove_tree(work)
    return record


def _prepare_item(work: Path, item: _Item) -> tuple[Artifact, Path | None]:
    """An item as an artifact, and the file to upload (a folder packed as .tar.gz); the
    artifact's url is where a folder registry would keep it, so a mirror of the package
    between the two kinds keeps every record byte for byte."""
    if item.file is None:
        return Artifact(format=item.format, path=item.name, sha256=item.sha256, size=item.size,
                        url=item.url or "", role=item.role, upstream=item.upstream,
                        sha256_prefix=item.prefix), None
    if item.sha256 and file_sha256(item.file) != item.sha256:
        raise PublishError(f"{item.file} does not match the sha256 its mlpm.toml declares; fix "
                           "the declared digest or the file.")
    file = item.file
    if file.is_dir():
        from mlpm.archive import pack_dir

        file = work / f"{item.file.name}.tar.gz"
        pack_dir(item.file, file)
    sha = file_sha256(file)
    return Artifact(format=item.format, path=file.name, sha256=sha, size=file.stat().st_size,
                    url=layout.artifact_rel(sha), role=item.role, upstream=item.upstream), file


def previous_release(version: str, records: list[Record]) -> Record | None:
    """The highest earlier version of the same major line (same 0.minor line for 0.x)."""
    new = semver.parse_version(version)
    line = [r for r in records if semver.parse_version(r.version) < new
            and semver.parse_version(r.version).major == new.major
            and (new.major != 0 or semver.parse_version(r.version).minor == new.minor)]
    return max(line, key=lambda r: semver.parse_version(r.version), default=None)


def _check_semver(name: str, version: str, records: list[Record], described: Description,
                  formats: list[str]) -> None:
    """Refuse a version step smaller than its changes need, with the changes: each format
    is compared with the same format in the previous release (docs/reference/semver.md)."""
    from mlpm.interface import diff

    prev = previous_release(version, records)
    if prev is None:
        return
    weights, code = described.weights, described.code
    old_digests = prev.format_digests
    if old_digests is None:  # an older multi-format record: compare over its formats
        weights, code = described.weights_over(prev.formats), described.code_over(prev.formats)
    changes = diff.diff(prev.interface, described.interface, old_weights=prev.weights_digest,
                        new_weights=weights, old_formats=prev.formats, new_formats=formats,
                        old_code=prev.code_digest, new_code=code, old_digests=old_digests,
                        new_digests=described.digests(formats) if old_digests else None)
    needed = diff.required_level(changes)
    made = diff.bump_level(prev.version, version)
    order = {"patch": 0, "minor": 1, "major": 2}
    if order[made] >= order[needed]:
        return
    allowed = diff.smallest_allowed(prev.version, needed, [r.version for r in records])
    listing = "; ".join(f"{c.level.upper()}: {c.text}" for c in changes if
                        order[c.level] > order[made])
    raise PublishError(
        f"{name}@{version} is a {made} release after {prev.version}, but its changes need a "
        f"{needed} release ({listing}); publish it as {allowed} or later."
    )


def _input_specs(interface: Interface) -> dict[str, dict]:
    """Every input of the package's signatures (each format's own too), by name."""
    sigs = list(interface.signatures or [])
    for own in (getattr(interface, "formats", None) or {}).values():
        if isinstance(own, dict):
            sigs += own.get("signatures") or []
    found: dict[str, dict] = {}
    for sig in sigs:
        for tensor in (sig.get("inputs") or []) if isinstance(sig, dict) else []:
            if isinstance(tensor, dict) and isinstance(tensor.get("name"), str):
                found.setdefault(tensor["name"], tensor)
    return found


def _check_declared_values(interface: Interface) -> None:
    """``[package.interface]`` per-input values (``sr = { values = [16000] }``) name real
    inputs and hold numbers of the input's kind."""
    from mlpm.convert.samples import declared_values

    inputs = _input_specs(interface)
    try:
        values = declared_values(interface.to_json(), list(inputs))
    except ValueError as exc:
        raise PublishError(f"[package.interface] {exc}.") from None
    for name, listed in values.items():
        dtype = str(inputs[name].get("dtype") or "")
        ok = (all(isinstance(v, bool) for v in listed) if dtype == "bool" else
              all(isinstance(v, int) and not isinstance(v, bool) for v in listed)
              if dtype.startswith(("int", "uint")) else
              not any(isinstance(v, bool) for v in listed))
        if not ok:
            raise PublishError(f"[package.interface] {name} = {{ values = {listed} }} does not "
                               f"fit the input '{name}', which is {dtype}; give {dtype} values.")


def _samples_item(folder: Path, rel: Any, interface: Interface) -> _Item:
    """``samples = "samples.npz"``: a small .npz of real inputs, one array per input name,
    shipped with the version (role "samples") for conversions and their parity checks."""
    from mlpm.convert import ConversionError
    from mlpm.convert.samples import SAMPLES_ROLE, Samples, check_array

    manifest = folder / "mlpm.toml"
    if not isinstance(rel, str) or not rel.endswith(".npz"):
        raise PublishError(f"[package] samples in {manifest} must name an .npz file in the "
                           "package folder, e.g. samples = \"samples.npz\".")
    path = (folder / rel).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise PublishError(f"the samples file '{rel}' in {manifest} is not a file inside the "
                           "package folder.")
    inputs = _input_specs(interface)
    try:
        arrays = Samples.from_file(path, publisher=True, name=rel).arrays
        for key, value in arrays.items():
            if key not in inputs:
                raise ConversionError(
                    f"its array '{key}' is not an input (the inputs are "
                    f"{', '.join(inputs) or 'none: declare the signatures'}); name the arrays "
                    "after the inputs")
            shape = inputs[key].get("shape")
            check_array(key, value, inputs[key].get("dtype"),
                        None if shape is None else [None, *shape[1:]] if shape and
                        not isinstance(shape[0], int) else shape, rel, "the package")
    except ConversionError as exc:
        raise PublishError(f"{rel} cannot be the package's samples: "
                           f"{str(exc).rstrip('.')}.") from None
    return _Item(SAMPLES_ROLE, SAMPLES_ROLE, file=path)


def _check_python_requires(reqs: list[str]) -> None:
    from packaging.requirements import InvalidRequirement, Requirement

    for text in reqs:
        try:
            Requirement(text)
        except InvalidRequirement:
            raise PublishError(f"'{text}' in python-requires is not a PEP 508 requirement "
                               "(e.g. numpy>=1.21).") from None


def _check_dependencies(registry: Registry, name: str, deps: dict[str, str]) -> None:
    for dep, rng in deps.items():
        check_name(dep)
        if dep == name:
            raise PublishError(f"{name} cannot depend on itself.")
        try:
            semver.parse_range(rng)
        except ValueError:
            raise PublishError(f"the dependency range '{rng}' for {dep} is not a valid range "
                               "(e.g. ^1.2.0).") from None
        if not registry.exists(dep):
            raise PublishError(f"{name} depends on {dep}, which is not in the registry; publish "
                               f"{dep} first.")
        if newest_matching(registry.records(dep), rng) is None:
            raise PublishError(f"{name} depends on {dep}@{rng}, but no published version of {dep} "
                               "matches; publish one or widen the range.")


def _store_item(reg_dir: Path, item: _Item) -> Artifact:
    """Copy a local artifact into the registry (folders packed as .tar.gz); remote ones
    are recorded as they are."""
    if item.file is None:
        return Artifact(format=item.format, path=item.name, sha256=item.sha256, size=item.size,
                        url=item.url or "", role=item.role, upstream=item.upstream,
                        sha256_prefix=item.prefix)
    if item.sha256 and file_sha256(item.file) != item.sha256:
        raise PublishError(f"{item.file} does not match the sha256 its mlpm.toml declares; fix "
                           "the declared digest or the file.")
    if item.file.is_dir():
        from mlpm.archive import pack_dir

        packed = Path(tempfile.mkdtemp(dir=reg_dir)) / f"{item.file.name}.tar.gz"
        try:
            pack_dir(item.file, packed)
            art = _copy_in(reg_dir, item, packed)
        finally:
            remove_tree(packed.parent)
        return art
    return _copy_in(reg_dir, item, item.file)


def _copy_in(reg_dir: Path, item: _Item, file: Path) -> Artifact:
    sha = file_sha256(file)
    rel = layout.artifact_rel(sha)
    dest = reg_dir / rel
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".tmp")
        os.close(fd)
        try:
            shutil.copyfile(file, tmp)
            if file_sha256(Path(tmp)) != sha:
                raise PublishError(f"{file} changed while it was being published; retry.")
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return Artifact(format=item.format, path=file.name, sha256=sha, size=file.stat().st_size,
                    url=rel, role=item.role, upstream=item.upstream)


def _append_record(reg_dir: Path, record: Record, new_name: bool) -> None:
    index_file = layout.index_file(reg_dir, record.name)
    index_file.parent.mkdir(parents=True, exist_ok=True)
    before = index_file.read_text() if index_file.is_file() else ""
    if before and not before.endswith("\n"):
        before += "\n"
    text = before + record.to_line() + "\n"
    from mlpm.registry import search, upstreams
    from mlpm.registry.records import parse_index_file

    if search.read_head(reg_dir) is None:  # no search index yet: built once, from index/
        write_atomic(index_file, text)
        search.reindex(reg_dir)
    else:
        # names and the search log first (appended to, never rewritten), the index file
        # last: a publish that dies between them leaves a listed name without its new
        # version, which a retry completes, never a package that names and search miss
        if new_name:
            search.add_name(reg_dir, record.name)
        search.record_changed(reg_dir, parse_index_file(record.name, text, str(reg_dir)))
        write_atomic(index_file, text)
    upstreams.record_added(reg_dir, record)


def yank(spec: str, registry: str, *, undo: bool = False, reason: str | None = None) -> Record:
    """Flag NAME@VERSION yanked (or not): new resolves skip it, existing locks keep it."""
    name, version = parse_spec(spec)
    if version is None or semver.valid(version) is None:
        raise UsageError(f"yank takes an exact version: NAME@X.Y.Z, not '{spec}'.")
    if registry.startswith("oci://"):
        from mlpm.registry.oci import OciRegistry
        from mlpm.store import Store

        oci = OciRegistry(canonical(registry), Store(), offline=False)
        oci.record(name, str(semver.parse_version(version)))  # the sentence if it is not there
        return oci.set_yanked(name, str(semver.parse_version(version)), not undo,
                              reason if reason and not undo else None)
    reg_dir = _registry_dir(registry)
    from filelock import FileLock

    with FileLock(str(layout.publish_lock_file(reg_dir))):
        local = open_registry(str(reg_dir))
        record = local.record(name, str(semver.parse_version(version)))
        record.yanked = not undo
        # shown to whoever asks for this version (docs/reference)
        record.yanked_reason = reason if reason and not undo else None
        index_file = layout.index_file(reg_dir, name)
        lines = [r.to_line() if r.version != record.version else record.to_line()
                 for r in local.records(name)]
        write_atomic(index_file, "\n".join(lines) + "\n")
        from mlpm.registry import search

        search.record_changed(reg_dir, [record if r.version == record.version else r
                                        for r in local.records(name)])
    return record
