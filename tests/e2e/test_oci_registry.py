"""An mlpm registry on an OCI registry (a real Docker Distribution on 127.0.0.1,
tests/oci_registry.py), through the `mlpm` command: publish, info, install, outdated,
upgrade, yank, search; the layout other OCI tools read; bounded requests; two publishers
racing for one version; HTTP Basic (over TLS) and the token flow; credentials kept out of
everything mlpm writes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import assert_clean_error, needs, run_mlpm
from tests.models import make_onnx
from tests.oci_registry import (  # noqa: F401
    oci_basic_fixture,
    oci_basic_server_fixture,
    oci_fixture,
    oci_server_fixture,
    oci_token_fixture,
    oci_token_server_fixture,
)

needs("onnx")


@pytest.fixture
def models(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    return {seed: make_onnx(folder / f"m{seed}.onnx", seed) for seed in (1, 2, 3)}


def publish(ref, file, name, version, *extra, cwd, env=None):
    return run_mlpm("publish", str(file), "--registry", ref, "--name", name, "--version",
                    version, *extra, cwd=cwd, env=env)


def test_publish_install_upgrade_yank_search(oci, models, project, tmp_path):
    ref = oci.ref(oci.namespace())
    for seed, version in ((1, "1.0.0"), (2, "1.1.0")):
        result = publish(ref, models[seed], "digits", version, cwd=tmp_path)
        assert result.code == 0, result.err
        assert f"published digits@{version}" in result.out
    again = publish(ref, models[2], "digits", "1.1.0", cwd=tmp_path)
    assert_clean_error(again, 1, "already published")
    # the enforced SemVer rules run as for any registry: new weights are not a PATCH
    assert_clean_error(publish(ref, models[3], "digits", "1.1.1", cwd=tmp_path), 1, "1.2.0")

    assert run_mlpm("init", "--registry", ref, cwd=project).code == 0
    result = run_mlpm("install", "digits@1.0", cwd=project)
    assert result.code == 0, result.err
    (pkg,) = tomllib.loads((project / "mlpm.lock").read_text())["package"]
    assert pkg["registry"] == ref and pkg["version"] == "1.0.0"

    info = run_mlpm("info", "digits", "--json", cwd=project)
    assert info.code == 0, info.err
    assert [v["version"] for v in info.json["versions"]] == ["1.0.0", "1.1.0"]
    assert info.json["installed"] == "1.0.0"

    rows = run_mlpm("outdated", "--json", "--all", cwd=project)
    assert rows.code == 0, rows.err
    (row,) = rows.json["packages"]
    assert (row["current"], row["wanted"], row["latest"]) == ("1.0.0", "1.0.0", "1.1.0")

    result = run_mlpm("install", "digits@^1.0.0", cwd=project)
    assert "~ digits 1.0.0 -> 1.1.0" in result.out, result.err

    yank = run_mlpm("yank", "digits@1.1.0", "--registry", ref, "--reason", "wrong labels",
                    cwd=project)
    assert yank.code == 0, yank.err
    # a locked yanked version keeps installing; a new resolve does not choose it
    assert run_mlpm("install", cwd=project).code == 0
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert run_mlpm("init", "--registry", ref, cwd=fresh).code == 0
    result = run_mlpm("install", "digits@1.1.0", cwd=fresh)
    assert_clean_error(result, 1, "yanked", "wrong labels")
    assert run_mlpm("install", "digits", cwd=fresh).code == 0
    assert tomllib.loads((fresh / "mlpm.lock").read_text())["package"][0]["version"] == "1.0.0"

    hits = run_mlpm("search", "dig", "--json", cwd=project)
    assert hits.code == 0, hits.err
    assert [h["name"] for h in hits.json["packages"]] == ["digits"]


def test_the_layout_is_an_oci_artifact_other_tools_read(oci, models, tmp_path):
    namespace = oci.namespace()
    ref = oci.ref(namespace)
    assert publish(ref, models[1], "digits", "1.0.0", cwd=tmp_path).code == 0
    session = oci.session()
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    manifest = session.get(f"{oci.url}/v2/{namespace}/digits/manifests/1.0.0",
                           headers=accept).json()
    assert manifest["artifactType"] == "application/vnd.mlpm.package.v1"
    assert manifest["config"]["mediaType"] == "application/vnd.mlpm.record.v1+json"
    assert manifest["annotations"]["org.opencontainers.image.version"] == "1.0.0"
    (layer,) = manifest["layers"]
    data = models[1].read_bytes()
    import hashlib

    assert layer["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert layer["annotations"]["org.opencontainers.image.title"] == "m1.onnx"
    record = session.get(f"{oci.url}/v2/{namespace}/digits/blobs/"
                         f"{manifest['config']['digest']}").json()
    assert record["name"] == "digits" and record["version"] == "1.0.0"
    tags = session.get(f"{oci.url}/v2/{namespace}/digits/tags/list").json()["tags"]
    assert sorted(tags) == ["1.0.0", "mlpm-index"]
    # skopeo (Debian's) shows the same manifest; oras pulls the model file by its digest
    import shutil

    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo is installed by .ci/setup --tests"
    raw = subprocess.run([skopeo, "inspect", "--raw", "--tls-verify=false",
                          f"docker://{oci.host}/{namespace}/digits:1.0.0"],
                         capture_output=True, text=True, timeout=60)
    assert raw.returncode == 0, raw.stderr
    assert json.loads(raw.stdout) == manifest
    oras = pytest.importorskip("oras.provider", reason="needs oras: pip install 'mlpm[dev]'")
    registry = oras.Registry(hostname=oci.host, insecure=True)
    blob = registry.get_blob(f"{oci.host}/{namespace}/digits", layer["digest"])
    assert blob.content == data


def test_resolution_costs_a_bounded_number_of_requests(oci, models, project, tmp_path):
    ref = oci.ref(oci.namespace())
    for i in range(6):  # many versions: none of them is read one by one
        file = make_onnx(tmp_path / f"v{i}.onnx", 10 + i)
        assert publish(ref, file, "many", f"1.{i}.0", cwd=tmp_path).code == 0
    assert run_mlpm("init", "--registry", ref, cwd=project).code == 0
    mark = oci.mark()
    result = run_mlpm("install", "many@^1.0.0", cwd=project,
                      env={"MLPM_CACHE_DIR": str(tmp_path / "cold-cache")})
    assert result.code == 0, result.err
    _, requests = oci.since(mark)
    manifests = [p for m, p in requests if "/manifests/" in p]
    assert manifests == [f"/v2/{ref.split('/', 3)[3]}/many/manifests/mlpm-index"], requests
    assert len(requests) <= 5, requests  # index manifest + blob, auth probe, the artifact


def test_two_publishers_racing_for_one_version_one_wins(oci, models, tmp_path):
    ref = oci.ref(oci.namespace())
    procs = [subprocess.Popen(
        [sys.executable, "-m", "mlpm", "publish", str(models[seed]), "--registry", ref,
         "--name", "raced", "--version", "1.0.0"], cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert "already published" in loser and "Traceback" not in loser


def test_basic_auth_over_tls(oci_basic, models, project, tmp_path):
    host = oci_basic.direct_url.split("//", 1)[1]  # the registry itself, no proxy in between
    ref = f"oci://{host}/{oci_basic.namespace()}"
    tls = {"REQUESTS_CA_BUNDLE": oci_basic.ca_file}
    refused = publish(ref, models[1], "digits", "1.0.0", cwd=tmp_path, env=tls)
    assert_clean_error(refused, 1, host, "MLPM_OCI_USERNAME", "docker login")
    creds = {**tls, "MLPM_OCI_USERNAME": oci_basic.username,
             "MLPM_OCI_PASSWORD": oci_basic.password}
    result = publish(ref, models[1], "digits", "1.0.0", cwd=tmp_path, env=creds)
    assert result.code == 0, result.err
    # credentials from docker's config.json, as `docker login` writes them
    docker = tmp_path / "home" / ".docker"
    docker.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{oci_basic.username}:{oci_basic.password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    assert run_mlpm("init", "--registry", ref, cwd=project).code == 0
    result = run_mlpm("install", "digits", cwd=project, env=tls)
    assert result.code == 0, result.err
    written = (project / "mlpm.lock").read_text() + (project / "mlpm.toml").read_text()
    assert oci_basic.password not in written and oci_basic.password not in result.err
    # a docker credential helper (the protocol: `docker-credential-NAME get`, host on stdin)
    helper_dir = tmp_path / "bin"
    helper_dir.mkdir()
    helper = helper_dir / "docker-credential-mlpmtest"
    helper.write_text("#!/bin/sh\nread host\n"
                      f"[ \"$host\" = \"{host}\" ] || exit 1\n"
                      f"printf '%s' '{{\"Username\": \"{oci_basic.username}\", "
                      f"\"Secret\": \"{oci_basic.password}\"}}'\n")
    helper.chmod(0o755)
    (docker / "config.json").write_text(json.dumps({"credHelpers": {host: "mlpmtest"}}))
    import os

    path = f"{helper_dir}{os.pathsep}{os.environ['PATH']}"
    result = run_mlpm("info", "digits", cwd=project, env={**tls, "PATH": path})
    assert result.code == 0, result.err
    # an untrusted certificate is one sentence
    untrusted = run_mlpm("info", "digits", cwd=project,
                         env={"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": ""})
    assert_clean_error(untrusted, 1, "REQUESTS_CA_BUNDLE")


def test_token_flow(oci_token, models, project, tmp_path):
    ref = oci_token.ref(oci_token.namespace())
    creds = {"MLPM_OCI_USERNAME": oci_token.username, "MLPM_OCI_PASSWORD": oci_token.password}
    result = publish(ref, models[1], "digits", "1.0.0", cwd=tmp_path, env=creds)
    assert result.code == 0, result.err
    assert any(user == oci_token.username for user, _ in
               [(r.user, r.scopes) for r in oci_token.token_requests])
    assert run_mlpm("init", "--registry", ref, cwd=project).code == 0
    result = run_mlpm("install", "digits", cwd=project, env=creds)
    assert result.code == 0, result.err


def test_mirror_folder_to_oci_to_folder_is_byte_identical(oci, models, project, tmp_path):
    from tests.conftest import publish as publish_folder

    folder = tmp_path / "registry"
    publish_folder(folder, models[1], "digits", "1.0.0")
    publish_folder(folder, models[2], "digits", "1.1.0")
    publish_folder(folder, models[3], "head", "2.0.0", "digits@^1.0.0")
    assert run_mlpm("yank", "digits@1.0.0", "--registry", str(folder), "--reason", "old",
                    cwd=tmp_path).code == 0
    ref = oci.ref(oci.namespace())
    result = run_mlpm("registry", "mirror", str(folder), ref, "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    assert sorted(result.json["copied"]) == ["digits@1.0.0", "digits@1.1.0", "head@2.0.0"]
    again = run_mlpm("registry", "mirror", str(folder), ref, "--json", cwd=tmp_path)
    assert again.json["copied"] == [] and again.json["present"] == 3  # only what is missing

    back = tmp_path / "back"
    result = run_mlpm("registry", "mirror", ref, str(back), cwd=tmp_path)
    assert result.code == 0, result.err
    for rel in ("index/di/gi/digits", "index/he/ad/head"):
        assert (back / rel).read_bytes() == (folder / rel).read_bytes(), rel
    originals = sorted(p.relative_to(folder) for p in (folder / "artifacts").rglob("*")
                       if p.is_file())
    assert originals == sorted(p.relative_to(back) for p in (back / "artifacts").rglob("*")
                               if p.is_file())

    # a project moves from the folder to its OCI mirror and keeps its lock's bytes
    assert run_mlpm("init", "--registry", str(folder), cwd=project).code == 0
    assert run_mlpm("install", "head", cwd=project).code == 0
    before = tomllib.loads((project / "mlpm.lock").read_text())["package"]
    text = (project / "mlpm.toml").read_text().replace(str(folder.resolve()), ref)
    (project / "mlpm.toml").write_text(text)
    result = run_mlpm("install", cwd=project)
    assert result.code == 0, result.err
    after = tomllib.loads((project / "mlpm.lock").read_text())["package"]
    assert [(p["name"], p["version"]) for p in after] == \
        [(p["name"], p["version"]) for p in before]
    assert [a["sha256"] for p in after for a in p["artifacts"]] == \
        [a["sha256"] for p in before for a in p["artifacts"]]
    assert {p["registry"] for p in after} == {ref}


def test_mirror_what_a_lock_pins_for_an_air_gapped_machine(oci, models, project, tmp_path):
    ref = oci.ref(oci.namespace())
    for seed, version in ((1, "1.0.0"), (2, "1.1.0"), (3, "1.2.0")):
        assert publish(ref, models[seed], "digits", version, cwd=tmp_path).code == 0
    assert run_mlpm("init", "--registry", ref, cwd=project).code == 0
    assert run_mlpm("install", "digits@1.1", cwd=project).code == 0
    offline = tmp_path / "offline"
    result = run_mlpm("registry", "mirror", ref, str(offline), "--lock",
                      str(project / "mlpm.lock"), "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.json["copied"] == ["digits@1.1.0"]
    text = (offline / "index/di/gi/digits").read_text()
    assert [json.loads(line)["version"] for line in text.splitlines()] == ["1.1.0"]


def test_a_publish_killed_after_its_tag_leaves_a_version_the_next_write_completes(
        oci, models, tmp_path):
    import os
    import signal
    import time

    namespace = oci.namespace()
    ref = oci.ref(namespace)
    proc = subprocess.Popen([sys.executable, "-m", "mlpm", "publish", str(models[1]),
                             "--registry", ref, "--name", "killed", "--version", "1.0.0"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    session = oci.session()
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    deadline = time.time() + 60
    while time.time() < deadline:  # the version's tag is written: kill before the index
        if session.head(f"{oci.url}/v2/{namespace}/killed/manifests/1.0.0",
                        headers=accept).status_code == 200:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    index = session.head(f"{oci.url}/v2/{namespace}/killed/manifests/mlpm-index",
                         headers=accept)
    assert index.status_code == 404  # killed before the index: readers see no version yet
    assert_clean_error(run_mlpm("info", "killed", "--registry", ref, cwd=tmp_path), 1,
                       "killed")
    # the version is complete (its tag, record and blobs): the next publish indexes it too
    result = publish(ref, models[2], "killed", "1.1.0", cwd=tmp_path)
    assert result.code == 0, result.err
    info = run_mlpm("info", "killed", "--registry", ref, "--json", cwd=tmp_path)
    assert [v["version"] for v in info.json["versions"]] == ["1.0.0", "1.1.0"]
    again = publish(ref, models[1], "killed", "1.0.0", cwd=tmp_path)
    assert_clean_error(again, 1, "already published")


def test_a_blob_in_the_namespace_is_mounted_not_uploaded_again(oci, models, tmp_path):
    ref = oci.ref(oci.namespace())
    assert publish(ref, models[1], "first", "1.0.0", cwd=tmp_path).code == 0
    mark = oci.mark()
    result = publish(ref, models[1], "second", "1.0.0", cwd=tmp_path)  # the same file
    assert result.code == 0, result.err
    _, requests = oci.since(mark)
    mounts = [p for m, p in requests if m == "POST" and "mount=" in p]
    assert len(mounts) == 1 and "from=" in mounts[0], requests
    # the model's bytes were not sent again: only the record and the index were uploaded
    uploads = [p for m, p in requests if m == "PUT" and "/blobs/uploads/" in p]
    assert len(uploads) == 2, requests
