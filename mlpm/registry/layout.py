"""The registry folder layout: the one place that spells a path inside a registry.

    config.json                 {"mlpm-registry": 1}: marks the folder as a registry
    names                       every package name, one a line
    index/<prefix>/<name>       one JSON record a line (``index_path`` gives <prefix>/<name>)
    artifacts/<ab>/<sha256>     artifact bytes, by content
    search/head.json            the search log's head (``SEARCH_HEAD_REL``)
    search/log-ID/NNNNNN.jsonl  the search log's segments (``segment_rel``)
    upstreams/head.json         the upstreams index's head (``UPSTREAMS_HEAD_REL``)
    upstreams/<ab>/<cd>         its shards (mlpm/registry/upstreams.py ``shard_rel``)
    .publish.lock               held while publishing or yanking (never served)

The ``*_rel`` forms are POSIX paths relative to the registry root, what an HTTP registry
appends to its base URL; the ``*_file`` forms join them onto a local folder. Reading,
serving and publishing all go through here (docs/reference/registry-index.md).

>>> artifact_rel("ab" + "0" * 62)[:12], index_rel("resnet50"), is_text_rel("names")
('artifacts/ab', 'index/re/sn/resnet50', True)
"""

from __future__ import annotations

from mlpm.registry.records import index_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

CONFIG_REL = "config.json"
NAMES_REL = "names"
INDEX_DIR = "index"
ARTIFACTS_DIR = "artifacts"
PUBLISH_LOCK_REL = ".publish.lock"
SEARCH_DIR = "search"
SEARCH_HEAD_REL = f"{SEARCH_DIR}/head.json"
UPSTREAMS_DIR = "upstreams"
UPSTREAMS_HEAD_REL = f"{UPSTREAMS_DIR}/head.json"


def index_rel(name: str) -> str:
    """A package's index file, relative to the registry root."""
    return f"{INDEX_DIR}/{index_path(name)}"


def segment_rel(log: str, segment: int) -> str:
    """A segment of the search log ``log`` (a ``log-ID`` folder name), relative to the root."""
    return f"{SEARCH_DIR}/{log}/{segment:06d}.jsonl"


def artifact_rel(sha256: str) -> str:
    """An artifact's content-addressed path, relative to the registry root (its ``url``)."""
    return f"{ARTIFACTS_DIR}/{sha256[:2]}/{sha256}"


def artifact_sha256(rel: str) -> str | None:
    """The sha256 a registry's own content-addressed url names, else None."""
    parts = rel.split("/")
    if len(parts) == 3 and parts[0] == ARTIFACTS_DIR and len(parts[2]) == 64 \
            and parts[1] == parts[2][:2]:
        return parts[2]
    return None


def is_text_rel(rel: str) -> bool:
    """Whether a path relative to the root is one of the registry's text files."""
    return rel.startswith((INDEX_DIR + "/", SEARCH_DIR + "/", UPSTREAMS_DIR + "/")) or \
        rel in (NAMES_REL, CONFIG_REL)


def config_file(root: Path) -> Path:
    return root / CONFIG_REL


def names_file(root: Path) -> Path:
    return root / NAMES_REL


def index_file(root: Path, name: str) -> Path:
    return root / INDEX_DIR / index_path(name)


def publish_lock_file(root: Path) -> Path:
    return root / PUBLISH_LOCK_REL
