"""The OCI test registry itself (tests/oci_registry.py): Docker Distribution 2.8 on 127.0.0.1,
anonymous, with htpasswd over TLS, and with token auth. These pin down what a client sees from
it, using plain requests as mlpm's own OCI client will (see /work/oci_facts.md for the rest)."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest
import requests

from tests.oci_registry import (  # noqa: F401
    OCI_MANIFEST,
    OciServer,
    digest_of,
    oci_basic_fixture,
    oci_basic_server_fixture,
    oci_fixture,
    oci_namespace_fixture,
    oci_server_fixture,
    oci_token_fixture,
    oci_token_server_fixture,
    registry_binary,
)

ACCEPT = {"Accept": OCI_MANIFEST}


def actions(scope: str, repo: str) -> set[str]:
    """The actions of a "repository:NAME:a,b" scope on ``repo`` (empty for another one)."""
    kind, _, rest = scope.partition(":")
    name, _, acts = rest.rpartition(":")
    return set(acts.split(",")) if (kind, name) == ("repository", repo) else set()


def plain_session(server: OciServer) -> requests.Session:
    """No credentials at all (but the CA of the TLS variant)."""
    s = requests.Session()
    s.trust_env = False
    if server.ca_file:
        s.verify = server.ca_file
    return s


def test_push_then_pull_back_the_same_bytes(oci, oci_namespace):
    repo = f"{oci_namespace}/resnet"
    weights, config = os.urandom(4096), b'{"name":"resnet","version":"1.0.0"}'
    mark = oci.mark()
    digest = oci.push_artifact(repo, "1.0.0", {"model.onnx": weights}, config=config,
                               config_media_type="application/vnd.mlpm.record.v1+json",
                               artifact_type="application/vnd.mlpm.package.v1",
                               layer_media_type="application/vnd.mlpm.file.v1",
                               annotations={"org.opencontainers.image.version": "1.0.0"})
    s = plain_session(oci)

    tags = s.get(f"{oci.url}/v2/{repo}/tags/list")
    assert tags.status_code == 200 and tags.json() == {"name": repo, "tags": ["1.0.0"]}

    r = s.get(f"{oci.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_MANIFEST
    assert r.headers["Docker-Content-Digest"] == digest == digest_of(r.content)
    manifest = r.json()
    assert manifest["artifactType"] == "application/vnd.mlpm.package.v1"
    assert manifest["config"]["mediaType"] == "application/vnd.mlpm.record.v1+json"
    (layer,) = manifest["layers"]
    assert layer["annotations"]["org.opencontainers.image.title"] == "model.onnx"

    blob = s.get(f"{oci.url}/v2/{repo}/blobs/{layer['digest']}")
    assert blob.status_code == 200 and blob.content == weights
    assert s.get(f"{oci.url}/v2/{repo}/blobs/{manifest['config']['digest']}").content == config

    # The counting proxy saw all of it, in order: two uploads (POST + PUT each), the manifest.
    _, seen = oci.since(mark)
    methods = [m for m, _ in seen]
    assert methods[:5] == ["POST", "PUT", "POST", "PUT", "PUT"]
    assert seen[4] == ("PUT", f"/v2/{repo}/manifests/1.0.0")
    assert seen[-1] == ("GET", f"/v2/{repo}/blobs/{manifest['config']['digest']}")


def test_an_oci_manifest_is_only_served_to_clients_accepting_oci(oci, oci_namespace):
    repo = f"{oci_namespace}/m"
    oci.push_artifact(repo, "1.0.0", {"a": b"a"})
    r = requests.get(f"{oci.url}/v2/{repo}/manifests/1.0.0")  # requests sends Accept: */*
    assert r.status_code == 404
    assert r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert requests.get(f"{oci.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT).status_code == 200


def test_unknown_names_answer_the_registry_error_codes(oci, oci_namespace):
    s = plain_session(oci)
    repo = f"{oci_namespace}/m"
    r = s.get(f"{oci.url}/v2/{repo}/tags/list")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    r = s.get(f"{oci.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT)
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    r = s.get(f"{oci.url}/v2/{repo}/blobs/{digest_of(b'nothing')}")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "BLOB_UNKNOWN"


def test_namespaces_are_fresh_and_the_catalog_lists_them(oci):
    first, second = oci.namespace(), oci.namespace()
    assert first != second
    oci.push_artifact(f"{first}/a", "1", {"x": b"x"})
    oci.push_artifact(f"{second}/b", "1", {"y": b"y"})
    repos = plain_session(oci).get(f"{oci.url}/v2/_catalog").json()["repositories"]
    assert f"{first}/a" in repos and f"{second}/b" in repos
    assert not [r for r in repos if r.startswith(f"{first}/") and r != f"{first}/a"]


def test_a_tag_can_be_overwritten_last_writer_wins(oci, oci_namespace):
    repo = f"{oci_namespace}/m"
    first = oci.push_artifact(repo, "1.0.0", {"a": b"one"})
    second = oci.push_artifact(repo, "1.0.0", {"a": b"two"})
    assert first != second
    r = requests.head(f"{oci.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT)
    assert r.headers["Docker-Content-Digest"] == second


def test_basic_auth_refuses_without_credentials_and_accepts_with_them(oci_basic):
    assert oci_basic.url.startswith("https://127.0.0.1:")
    repo = f"{oci_basic.namespace()}/m"
    anonymous = plain_session(oci_basic)
    r = anonymous.get(f"{oci_basic.url}/v2/")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
    r = anonymous.get(f"{oci_basic.url}/v2/", auth=(oci_basic.username, "wrong"))
    assert r.status_code == 401
    with pytest.raises(requests.exceptions.SSLError):  # the CA is the fixture's own
        requests.get(f"{oci_basic.url}/v2/", timeout=10)

    digest = oci_basic.push_artifact(repo, "1.0.0", {"w": b"weights"})
    user = plain_session(oci_basic)
    user.auth = (oci_basic.username, oci_basic.password)
    r = user.get(f"{oci_basic.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT)
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest
    assert anonymous.get(f"{oci_basic.url}/v2/{repo}/manifests/1.0.0",
                         headers=ACCEPT).status_code == 401
    # The proxy decrypts, so even over TLS every request line is counted.
    assert ("GET", f"/v2/{repo}/manifests/1.0.0") in oci_basic.requests


def test_token_auth_issues_scoped_tokens(oci_token):
    repo = f"{oci_token.namespace()}/m"
    anonymous = plain_session(oci_token)
    r = anonymous.post(f"{oci_token.url}/v2/{repo}/blobs/uploads/")
    assert r.status_code == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer realm="{oci_token.token_url}"')
    # The order of the actions varies from one challenge to the next (a Go map).
    (scope,) = re.findall(r'scope="([^"]*)"', challenge)
    assert actions(scope, repo) == {"pull", "push"}

    digest = oci_token.push_artifact(repo, "1.0.0", {"w": b"weights"})  # as the user
    assert any(t.user == oci_token.username and t.status == 200
               and any(actions(s, repo) == {"pull", "push"} for s in t.scopes)
               for t in oci_token.token_requests)

    # Anonymous: a pull-only token; it reads but cannot push.
    params = {"service": oci_token.service, "scope": f"repository:{repo}:pull,push"}
    token = anonymous.get(oci_token.token_url, params=params).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    r = anonymous.get(f"{oci_token.url}/v2/{repo}/manifests/1.0.0", headers={**ACCEPT, **bearer})
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest
    r = anonymous.post(f"{oci_token.url}/v2/{repo}/blobs/uploads/", headers=bearer)
    assert r.status_code == 401 and 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]

    # A wrong password gets nothing from the token server.
    r = anonymous.get(oci_token.token_url, params=params, auth=(oci_token.username, "wrong"))
    assert r.status_code == 401


def test_stop_kills_the_registry_and_closes_its_ports(tmp_path):
    if registry_binary() is None:
        pytest.skip("docker-registry is not installed")
    with OciServer(tmp_path / "oci") as server:
        assert requests.get(f"{server.url}/v2/", timeout=10).status_code == 200
        pid, ports = server._proc.pid, (server.port, server.registry_port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    for port in ports:
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                break
            assert time.monotonic() < deadline, f"port {port} still open"
            time.sleep(0.05)


def test_oras_pulls_what_was_pushed_by_hand(oci, oci_namespace, tmp_path):
    oras_provider = pytest.importorskip("oras.provider",
                                        reason="needs oras: pip install 'mlpm[dev]'")
    repo = f"{oci_namespace}/m"
    weights = os.urandom(1000)
    oci.push_artifact(repo, "1.0.0", {"model.onnx": weights},
                      layer_media_type="application/vnd.mlpm.file.v1")
    registry = oras_provider.Registry(hostname=oci.host, insecure=True)
    out = registry.download_blob(f"{oci.host}/{repo}", digest_of(weights),
                                 str(tmp_path / "blob"))
    assert Path(out).read_bytes() == weights
    manifest = registry.get_manifest(f"{oci.host}/{repo}:1.0.0")
    assert manifest["layers"][0]["digest"] == digest_of(weights)
