"""Which mlpm package each call site becomes, and how sure that is.

For each call site, in this order:

1. An argument that matters could not be read: ``UNRESOLVED``, with the reason.
2. A Hugging Face repository (``hf_hub_download``, ``snapshot_download``, ``from_pretrained``,
   ``pipeline(model=...)``, ``SentenceTransformer``, ``timm.create_model("hf-hub:...")``):
   an ``hf:ORG/REPO`` dependency pinned to the revision the code asks for (None: the
   repository's default branch), ``EXACT``.
3. Anything else is looked up by its upstream in the registry's upstreams index
   (mlpm/registry/upstreams.py): a PyTorch Hub repo and entrypoint (``torchvision.models.X``
   is ``pytorch/vision`` X), a TF Hub handle, or a download URL. Each version the index
   names is read from the package's own index file and kept when its ``upstream`` matches
   the call (repo, ref when the call names one, entrypoint, and the arguments that choose
   the weights); the newest such version that is not yanked is the mapping, ``EXACT``.
4. No upstream matches, but a package has the model's name: ``NAME`` (never rewritten).
5. Otherwise ``UNMAPPED``, with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlpm.adopt.sites import EXACT, NAME, UNMAPPED, UNRESOLVED, CallSite, Mapping
from mlpm.errors import PackageNotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mlpm.registry import Registry
    from mlpm.registry.records import Record

HF_KINDS = {"hf_hub_download", "snapshot_download", "from_pretrained", "pipeline",
            "SentenceTransformer"}
TORCH_KINDS = {"torch.hub.load", "torchvision.models", "torchvision.models.get_model"}
URL_KINDS = {"torch.hub.load_state_dict_from_url", "torch.hub.download_url_to_file"}
TFHUB_KINDS = {"tensorflow_hub.load", "tensorflow_hub.KerasLayer", "tensorflow_hub.resolve",
               "tensorflow_hub.Module"}
# What ``--rewrite`` puts in place of the call: the loaded model, or its files' folder.
_REPLACEMENT = {"torch.hub.load": "load", "torchvision.models": "load",
                "torchvision.models.get_model": "load", "tensorflow_hub.load": "load"}
_HUB_REPO = re.compile(r"([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)(?::([A-Za-z0-9_./-]+))?")
# Keyword arguments that do not choose the model or its weights (compared without them).
_IGNORED = {"progress", "map_location", "device", "verbose", "force_reload", "trust_repo",
            "skip_validation", "source"}


def map_sites(sites: list[CallSite], registry: Registry, root: Path | None = None) -> list[Mapping]:
    """A mapping for each call site, in the same order (see the module's docstring).

    ``root``: the adopted folder, so that a model id naming one of its folders is known as
    a local path rather than a Hugging Face repository.
    """
    mapper = Mapper(registry, root)
    return [mapper.map(site) for site in sites]


class Mapper:
    """Maps call sites against one registry; each upstream and package is read once."""

    def __init__(self, registry: Registry, root: Path | None):
        from mlpm.registry.upstreams import Upstreams

        self.registry = registry
        self.root = root
        self.upstreams = Upstreams(registry)
        self._exists: dict[str, bool] = {}

    def map(self, site: CallSite) -> Mapping:
        if site.kind in HF_KINDS or site.kind == "timm.create_model":
            return self._hf(site)
        if site.unresolved:
            return self._unresolved(site)
        if site.kind in TORCH_KINDS:
            return self._torch_hub(site)
        if site.kind in URL_KINDS:
            return self._url(site)
        if site.kind in TFHUB_KINDS:
            return self._tfhub(site)
        return Mapping(site, UNMAPPED, reason=f"mlpm does not map {site.kind} calls")

    def _unresolved(self, site: CallSite) -> Mapping:
        why = "; ".join(f"{name}: {site.reasons.get(name, 'not read')}"
                        for name in site.unresolved)
        return Mapping(site, UNRESOLVED, reason=f"not read statically ({why})")

    # -- Hugging Face repositories ----------------------------------------------------------

    def _hf(self, site: CallSite) -> Mapping:
        args = site.args
        needed = {"timm.create_model": ("model", "pretrained"), "pipeline": ("model", "revision"),
                  "SentenceTransformer": ("model", "revision")}.get(
                      site.kind, ("repo_id", "revision", "repo_type"))
        if any(n in site.unresolved for n in (*needed, "**kwargs", "*args")):
            return self._unresolved(site)
        if site.kind == "timm.create_model":
            return self._timm(site)
        repo_type = args.get("repo_type")
        if repo_type not in (None, "model"):
            return Mapping(site, UNMAPPED, reason=f"a {repo_type} repository, not a model")
        if site.kind == "pipeline":
            repo_id = args.get("model")
            if repo_id is None:
                return Mapping(site, UNMAPPED, reason="no model named: the task's default "
                               "model depends on the installed transformers; pass model=")
        else:
            repo_id = args.get("repo_id")
        return self._hf_repo(site, repo_id, args.get("revision"))

    def _hf_repo(self, site: CallSite, repo_id: object, revision: object) -> Mapping:
        from mlpm.registry.hfid import check_repo_id, package_name

        if not isinstance(repo_id, str):
            return Mapping(site, UNMAPPED, reason="the model is not named by a text")
        if self._local(repo_id):
            return Mapping(site, UNMAPPED, reason=f"'{repo_id}' is a local folder")
        try:
            check_repo_id(repo_id)
        except ValueError:
            return Mapping(site, UNMAPPED, reason=f"'{repo_id[:80]}' is not a Hugging Face "
                           "repo id")
        if revision is not None and not isinstance(revision, str):
            return Mapping(site, UNMAPPED, reason="the revision is not a text")
        name = package_name(repo_id)
        if name is None:
            return Mapping(site, UNMAPPED, reason=f"'{repo_id}' gives no valid package name")
        note = ""
        if site.unresolved:  # e.g. the file name: the repository is the dependency all the same
            note = "; ".join(f"{n} not read ({site.reasons.get(n, '')})" for n in site.unresolved)
        return Mapping(site, EXACT, package=name, source=f"hf:{repo_id}", revision=revision,
                       replacement=_REPLACEMENT.get(site.kind, "path"), reason=note)

    def _local(self, text: str) -> bool:
        if text.startswith((".", "/", "~")) or "\\" in text:
            return True
        if self.root is not None:
            try:
                return (self.root / text).is_dir()
            except (OSError, ValueError):
                return False
        return False

    def _timm(self, site: CallSite) -> Mapping:
        model = site.args.get("model")
        if not isinstance(model, str):
            return Mapping(site, UNMAPPED, reason="the model is not named by a text")
        for prefix in ("hf-hub:", "hf_hub:"):
            if model.startswith(prefix):
                repo, _, rev = model[len(prefix):].partition("@")
                return self._hf_repo(site, repo, rev or None)
        base = model.split(".", 1)[0]
        return self._by_name(site, [base], f"timm's '{model}' weights")

    # -- PyTorch Hub and torchvision --------------------------------------------------------

    def _torch_hub(self, site: CallSite) -> Mapping:
        from mlpm.registry.upstreams import torch_hub_key

        args = site.args
        kwargs = dict(args.get("kwargs") or {})  # type: ignore[call-overload]
        if site.kind == "torch.hub.load":
            if args.get("source", "github") != "github":
                return Mapping(site, UNMAPPED, reason=f"loads hub code from a {args['source']} "
                               "folder, not a GitHub repository")
            text, model = args.get("repo_or_dir"), args.get("model")
            found = _HUB_REPO.fullmatch(text) if isinstance(text, str) else None
            if found is None or not isinstance(model, str):
                return Mapping(site, UNMAPPED, reason="not an 'owner/repo[:ref]' GitHub "
                               "repository and entrypoint")
            repo, ref = f"{found[1]}/{found[2]}", found[3]
            positional = list(args.get("args") or [])  # type: ignore[call-overload]
        else:
            repo, ref, model, positional = "pytorch/vision", None, args.get("model"), []
            if not isinstance(model, str):
                return Mapping(site, UNMAPPED, reason="the model is not named by a text")
        want = _weights_kwargs(kwargs, repo)
        if positional:
            want["*args"] = positional
        if want.get("weights") == "DEFAULT":
            return self._by_name(site, [model], "weights DEFAULT: which weights depends on the "
                                 "installed torchvision; name them (e.g. IMAGENET1K_V2)")
        candidates, differ = [], []
        for record in self._records(torch_hub_key(repo, model), [model]):
            up = record.upstream or {}
            if up.get("type") != "torch-hub" or str(up.get("repo", "")).lower() != repo.lower() \
                    or up.get("entrypoint") != model:
                continue
            same_ref = ref is None or ref in (up.get("ref"), up.get("commit")) or \
                len(ref) >= 7 and str(up.get("commit", "")).startswith(ref)
            params = _parameters(record, model)
            asked = _without_defaults(_named(kwargs, positional, params), params)
            packaged = _without_defaults(dict(up.get("kwargs") or {}), params)
            if same_ref and asked is not None and packaged is not None and \
                    _weights_kwargs(asked, repo) == _weights_kwargs(packaged, repo):
                candidates.append(record)
            else:
                differ.append(record)
        what = f"{repo}{':' + ref if ref else ''} {model}" + \
            "".join(f" {k}={v}" for k, v in sorted(want.items()))
        return self._choose(site, candidates, differ, what, [model])

    # -- download URLs and TF Hub handles ---------------------------------------------------

    def _url(self, site: CallSite) -> Mapping:
        from mlpm.registry.upstreams import url_key

        url = site.args.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return Mapping(site, UNMAPPED, reason="not an http(s) URL")
        key = url_key(url)
        stem = url.rsplit("/", 1)[-1].split("?")[0]
        names = [stem.split("-")[0].split(".")[0]] if stem else []
        found = []
        for record in self._records(key, names):
            if any(url_key(u) == key for a in record.artifacts for u in (a.url, a.upstream)
                   if isinstance(u, str) and u.startswith(("http://", "https://"))):
                found.append(record)
        if found:
            # the package the file is most particular to: fewest files, then by name
            best = min({r.name for r in found},
                       key=lambda n: (min(len(r.artifacts) for r in found if r.name == n), n))
            found = [r for r in found if r.name == best]
        return self._choose(site, found, [], url, names)

    def _tfhub(self, site: CallSite) -> Mapping:
        from mlpm.registry.upstreams import tfhub_key

        handle = site.args.get("handle")
        if not isinstance(handle, str) or not handle.startswith(("http://", "https://")):
            return Mapping(site, UNMAPPED, reason="not a TF Hub handle (a local path or bucket)")
        key = tfhub_key(handle)
        parts = [p for p in key.split("/")[1:] if not p.isdigit()]  # publisher/.../name
        names = ["-".join(parts[i:]) for i in range(1, len(parts))]
        found = [r for r in self._records(key, names)
                 if isinstance((r.upstream or {}).get("handle"), str)
                 and tfhub_key(r.upstream["handle"]) == key]  # type: ignore[index]
        return self._choose(site, found, [], handle, names)

    # -- choosing a version -----------------------------------------------------------------

    def _records(self, key: str, names: list[str]) -> list[Record]:
        """The records the upstreams index names under ``key`` (each read from its package's
        own index file: the index is derived, the records are the truth). A registry without
        that index (an OCI one, or a folder an older mlpm wrote) gives every record of the
        packages called ``names`` instead: the callers compare each record's upstream, so a
        package named after its model still maps exactly, at the cost of one read per name."""
        if not self.upstreams.available:
            return [record for raw in names if self._has(name := raw.lower().replace("_", "-"))
                    for record in self.registry.records(name)]
        out = []
        for name, version in self.upstreams.lookup(key):
            try:
                record = self.registry.record(name, version)
            except PackageNotFound:
                continue  # the index is older than a hand edit of index/
            out.append(record)
        return out

    def _choose(self, site: CallSite, candidates: list[Record], differ: list[Record],
                what: str, names: list[str]) -> Mapping:
        from mlpm.registry.versions import latest_version

        usable = [r for r in candidates if not r.yanked]
        if usable:
            name = usable[0].name
            version = latest_version([r for r in usable if r.name == name])
            return Mapping(site, EXACT, package=name, version=version,
                           replacement=_REPLACEMENT.get(site.kind, "path"))
        if candidates:
            return Mapping(site, NAME, package=candidates[0].name,
                           reason=f"every version naming {what} is yanked")
        if differ:
            name = differ[0].name
            versions = ", ".join(f"{r.version} ({_describe(r)})" for r in differ
                                 if r.name == name)
            return Mapping(site, NAME, package=name,
                           reason=f"no version of {name} is {what}; it has {versions}")
        if not self.upstreams.available:
            return self._by_name(site, names, "the registry has no upstreams index (its owner "
                                 "runs `mlpm registry reindex`)")
        return self._by_name(site, names, f"no package names {what}")

    def _by_name(self, site: CallSite, names: list[str], why: str) -> Mapping:
        for raw in names:
            name = raw.lower().replace("_", "-")
            if self._has(name):
                return Mapping(site, NAME, package=name,
                               reason=f"only the name matches ({why})")
        return Mapping(site, UNMAPPED, reason=why)

    def _has(self, name: str) -> bool:
        from mlpm.registry.records import check_name

        if name not in self._exists:
            try:
                check_name(name)
                self._exists[name] = self.registry.exists(name)
            except (ValueError, PackageNotFound):
                self._exists[name] = False
        return self._exists[name]


def _weights_kwargs(kwargs: dict, repo: str) -> dict:
    """The arguments that choose a model's weights, as one text each: torchvision's
    ``pretrained=True`` is ``weights=IMAGENET1K_V1`` (its legacy rule), and a ``Weights``
    member is compared by its member name (torchvision accepts both spellings)."""
    out = {k: v for k, v in kwargs.items() if k not in _IGNORED}
    if repo.lower() == "pytorch/vision":
        pretrained = out.pop("pretrained", None)
        if pretrained is True and "weights" not in out:
            out["weights"] = "IMAGENET1K_V1"
        if isinstance(out.get("weights"), str):
            out["weights"] = str(out["weights"]).rsplit(".", 1)[-1]
        if out.get("weights") is None:
            out.pop("weights", None)
    return out


def _parameters(record: Record, entrypoint: str) -> list[dict]:
    """The entrypoint's parameters as the record's interface lists them ([] if unknown)."""
    iface = record.interface
    for entry in (iface.entrypoints or []) if iface is not None else []:
        if isinstance(entry, dict) and entry.get("name") == entrypoint:
            params = entry.get("parameters")
            return [p for p in params if isinstance(p, dict)] if isinstance(params, list) else []
    return []


def _named(kwargs: dict, positional: list, params: list[dict]) -> dict | None:
    """The call's arguments by name: positional ones named by the entrypoint's positional
    parameters (None when there are more than it takes, or its parameters are unknown)."""
    if not positional:
        return dict(kwargs)
    names = [p.get("name") for p in params
             if p.get("kind", "positional_or_keyword") in ("positional_only",
                                                           "positional_or_keyword")]
    if len(positional) > len(names):
        return None
    return {**dict(zip(names, positional, strict=False)), **kwargs}


def _without_defaults(kwargs: dict | None, params: list[dict]) -> dict | None:
    """The arguments that differ from the entrypoint's declared defaults: ``hidden=64``
    asks for the same model as no ``hidden`` when 64 is its default."""
    import ast

    if kwargs is None:
        return None
    out = dict(kwargs)
    for param in params:
        name, default = param.get("name"), param.get("default")
        if name in out and isinstance(default, str):
            try:
                value = ast.literal_eval(default)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            if value == out[name] and type(value) is type(out[name]):
                del out[name]
    return out


def _describe(record: Record) -> str:
    up = record.upstream or {}
    kwargs = up.get("kwargs") or {}
    parts = [str(up.get("ref"))] if up.get("ref") else []
    parts += [f"{k}={v}" for k, v in sorted(kwargs.items())] if isinstance(kwargs, dict) else []
    return " ".join(parts) or "no arguments"
