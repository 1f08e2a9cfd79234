"""The CLI's rough edges, as a user meets them: the cache says what it holds, trust can
be listed and revoked, a wrong registry URL is named as such, a yanked version says why,
and nothing prints noise or None.

Most run offline against the bundled registry (registry-index/)."""

from __future__ import annotations

import http.server
import inspect
import os
import socket
import subprocess
import sys
import threading
import tomllib

import pytest

from tests.conftest import assert_clean_error, publish, run_mlpm

OFFLINE = {"MLPM_OFFLINE": "1"}


@pytest.fixture
def app(project):
    assert run_mlpm("init", cwd=project).code == 0
    return project


# -- mlpm cache list / prune --------------------------------------------------------------


def test_cache_list_names_packages_and_conversions_and_prune_frees_them(app, isolated):
    assert run_mlpm("install", "digits@1.2", cwd=app, env=OFFLINE).code == 0
    result = run_mlpm("install", "digits-hub@1.1", "--trust", "--format", "onnx", cwd=app,
                      env=OFFLINE)
    assert result.code == 0, result.err

    listed = run_mlpm("cache", "list", cwd=app)
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert lines[0].split() == ["package", "format", "file", "size", "id", "used", "by"]
    assert any(ln.startswith("digits@1.2.1") and " onnx " in ln and "model.onnx" in ln
               for ln in lines), listed.out
    assert any(ln.startswith("digits-hub@1.1.0") and "onnx (converted)" in ln
               for ln in lines), listed.out
    assert str(app.resolve()) in listed.out and "unreferenced" not in listed.out
    assert "1 conversion" in lines[-1]

    rows = run_mlpm("cache", "list", "--json", cwd=app).json["entries"]
    conversion = next(r for r in rows if r["kind"] == "conversion")
    assert conversion["packages"] == ["digits-hub@1.1.0"] and conversion["formats"] == ["onnx"]
    assert conversion["projects"] == [str(app.resolve())]
    assert {"digits@1.2.1"} == {p for r in rows if r["kind"] == "blob" and "onnx" in r["formats"]
                                and r["packages"] == ["digits@1.2.1"] for p in r["packages"]}

    (app / "mlpm.lock").unlink()  # the project uses nothing now
    listed = run_mlpm("cache", "list", cwd=app)
    body = listed.out.splitlines()[1:-1]
    assert body and all(ln.startswith("unreferenced") for ln in body), listed.out
    assert "`mlpm cache prune` frees it" in listed.out

    pruned = run_mlpm("cache", "prune", cwd=app)
    assert pruned.code == 0 and pruned.out.startswith("freed "), pruned.err
    assert list((isolated / "cache" / "entries" / "converted").iterdir()) == []
    assert run_mlpm("cache", "list", cwd=app).out.strip() == "the cache is empty"


# -- mlpm trust ---------------------------------------------------------------------------


def test_trust_lists_removes_and_validates_sources(app):
    assert run_mlpm("trust", "--list", cwd=app).out.startswith("no trusted sources")
    result = run_mlpm("trust", "pytorch/vision", cwd=app)
    assert (result.code, result.out.strip()) == (0, "trusted pytorch/vision")
    assert run_mlpm("trust", "pytorch/vision", cwd=app).out.strip() == \
        "pytorch/vision was already trusted"
    assert run_mlpm("trust", "bundled#mlpm-starters/digits-hub", cwd=app).code == 0
    assert run_mlpm("trust", "http://127.0.0.1:8700/#example/tinyhub", cwd=app).code == 0
    listed = run_mlpm("trust", "--list", cwd=app, env={"MLPM_TRUST": "acme/models"})
    assert listed.out.splitlines() == [
        "bundled#mlpm-starters/digits-hub", "http://127.0.0.1:8700/#example/tinyhub",
        "pytorch/vision", "(also trusted for this shell by MLPM_TRUST: acme/models)"]
    data = run_mlpm("trust", "--list", "--json", cwd=app, env={"MLPM_TRUST": "acme/x"}).json
    assert data["trusted"][-1] == "pytorch/vision" and data["from_env"] == ["acme/x"]

    result = run_mlpm("trust", "--remove", "pytorch/vision", cwd=app)
    assert (result.code, result.out.strip()) == (0, "no longer trusted: pytorch/vision")
    assert "pytorch/vision" not in run_mlpm("trust", "--list", cwd=app).out
    assert_clean_error(run_mlpm("trust", "--remove", "pytorch/vision", cwd=app), 1,
                       "pytorch/vision is not a trusted source", "mlpm trust --list")
    assert_clean_error(run_mlpm("trust", "--remove", "acme/x", cwd=app,
                                env={"MLPM_TRUST": "acme/x"}), 1, "only by MLPM_TRUST")

    for bad, why in [("", "empty"), (" pytorch/vision", "white space"),
                     ("pytorch/../vision", "not OWNER/REPO"), ("vision", "not OWNER/REPO"),
                     ("pytorch/vision@v0.6", "leave out the @REF"),
                     ("https://github.com/pytorch/vision", "trusted as pytorch/vision"),
                     ("http://127.0.0.1:8700/a/../#x", "'..' path segment"),
                     ("bundled#../x", "after #"), ("ftp://x#y", "before # comes")]:
        result = run_mlpm("trust", bad, cwd=app)
        assert_clean_error(result, 2, why, "OWNER/REPO")
    assert_clean_error(run_mlpm("trust", cwd=app), 2, "--list")
    assert run_mlpm("trust", "--list", cwd=app).out.splitlines() == [
        "bundled#mlpm-starters/digits-hub", "http://127.0.0.1:8700/#example/tinyhub"]


def test_a_failed_install_trust_trusts_nothing_and_a_repeat_says_nothing_twice(app):
    result = run_mlpm("install", "digits-hub@1.1", "digits@99", "--trust", cwd=app, env=OFFLINE)
    assert_clean_error(result, 1, "digits")
    assert "trusted" not in result.err
    assert run_mlpm("trust", "--list", cwd=app).out.startswith("no trusted sources")

    first = run_mlpm("install", "digits-hub@1.1", "--trust", cwd=app, env=OFFLINE)
    assert first.code == 0, first.err
    assert "trusted bundled#mlpm-starters/digits-hub (hub code of digits-hub)" in first.err
    assert 'saved digits-hub = "1.1" in the manifest' in first.out
    again = run_mlpm("install", "digits-hub@1.1", "--trust", cwd=app, env=OFFLINE)
    assert again.code == 0, again.err
    assert "trusted" not in again.err and "saved" not in again.out
    assert again.out.strip() == "installed: 1 package up to date"
    assert run_mlpm("trust", "--list", cwd=app).out.splitlines() == [
        "bundled#mlpm-starters/digits-hub"]


# -- registries that are not registries -----------------------------------------------------


def _serve(handler_body):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            handler_body(self)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture
def html_site():
    """A web site (an SPA or a login page) that answers every path with 200 and HTML."""
    def page(handler):
        body = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>\n"
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    server, url = _serve(page)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def empty_site():
    """A web server that has nothing at all (404 everywhere)."""
    def missing(handler):
        handler.send_response(404)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server, url = _serve(missing)
    yield url
    server.shutdown()
    server.server_close()


def test_a_registry_url_that_serves_html_is_named_as_not_a_registry(app, html_site):
    for args in (["search", "digit"], ["install", "digits"], ["info", "digits"]):
        result = run_mlpm(*args, "--registry", html_site, cwd=app)
        assert_clean_error(result, 1, f"{html_site} is not an mlpm registry: it answered with "
                                      "an HTML page", "check the registry URL")
        assert "no packages found" not in result.out
    assert not (app / "mlpm.lock").exists()


def test_search_of_a_server_without_a_registry_or_of_no_server_is_an_error(app, empty_site):
    result = run_mlpm("search", "--registry", empty_site, cwd=app)
    assert_clean_error(result, 1, f"{empty_site} is not an mlpm registry: it has no config.json")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    result = run_mlpm("search", "digit", "--registry", f"http://127.0.0.1:{port}/", cwd=app)
    assert_clean_error(result, 1, "cannot reach", "connection refused")
    assert "no packages found" not in result.out


def test_search_of_an_empty_registry_still_finds_nothing_quietly(app, registry):
    result = run_mlpm("search", "--registry", registry.url, cwd=app)
    assert (result.code, result.out.strip()) == (0, "no packages found")


def test_offline_search_without_the_package_list_says_so(app, registry, model_files):
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    result = run_mlpm("search", "tiny", "--registry", registry.url, cwd=app, env=OFFLINE)
    assert_clean_error(result, 1, "offline mode is on", "names")
    assert run_mlpm("search", "tiny", "--registry", registry.url, cwd=app).code == 0
    result = run_mlpm("search", "tiny", "--registry", registry.url, cwd=app, env=OFFLINE)
    assert result.code == 0 and result.out.splitlines()[1].startswith("tiny "), result.out


# -- yanked versions, diff, option values -----------------------------------------------


def test_installing_a_yanked_version_says_it_is_yanked_and_why(registry, app, model_files):
    publish(registry.root, model_files[1], "tiny", "1.0.0")
    publish(registry.root, model_files[2], "tiny", "1.1.0")
    result = run_mlpm("yank", "tiny@1.1.0", "--registry", str(registry.root), "--reason",
                      "wrong labels; use 1.0.0", cwd=app)
    assert result.code == 0, result.err
    result = run_mlpm("install", "tiny@1.1.0", "--registry", registry.url, cwd=app)
    assert_clean_error(result, 1, "tiny@1.1.0 is yanked (wrong labels; use 1.0.0)",
                       "mlpm info tiny", "tiny@^1.0.0")
    assert not (app / "mlpm.lock").exists()
    assert_clean_error(run_mlpm("yank", "tiny@1.0.0", "--registry", str(registry.root),
                                "--undo", "--reason", "x", cwd=app), 2, "--reason")
    # Un-yanked, the reason goes too, and the version installs.
    assert run_mlpm("yank", "tiny@1.1.0", "--registry", str(registry.root), "--undo",
                    cwd=app).code == 0
    from mlpm.registry.records import index_path

    index = (registry.root / "index" / index_path("tiny")).read_text()
    assert "yanked-reason" not in index
    assert run_mlpm("install", "tiny@1.1.0", "--registry", registry.url, cwd=app).code == 0


def test_diff_shows_a_metric_one_version_lacks_as_none_not_python_none(app):
    result = run_mlpm("diff", "digits-hub@1.1", "digits-hub@2", cwd=app, env=OFFLINE)
    assert result.code == 0, result.err
    assert "  mlp-h128-parameters: (none) -> 9610" in result.out
    assert "None" not in result.out


@pytest.mark.parametrize("args, valid", [
    (["install", "digits", "--format", "bogus"], "onnx, torchscript, exported-program"),
    (["install", "digits", "--context", "bogus"], "python, server, edge, cpp, onnx, browser"),
    (["convert", "digits", "--to", "bogus"], "onnx, torchscript, exported-program, js, tflite"),
])
def test_unknown_format_or_context_is_a_usage_error_listing_the_valid_ones(app, args, valid):
    result = run_mlpm(*args, cwd=app, env=OFFLINE)
    assert result.code == 2, (result.out, result.err)
    assert "'bogus' is not one of" in result.err and valid in result.err
    assert "Traceback" not in result.err
    assert not (app / "mlpm.lock").exists()


# -- noise ----------------------------------------------------------------------------------


def test_tflite_says_nothing_about_its_xnnpack_delegate(app):
    result = run_mlpm("install", "digits-tf@1.1", "--context", "edge", "--trust", cwd=app,
                      env=OFFLINE)
    assert result.code == 0, result.err
    assert "XNNPACK" not in result.err and "INFO:" not in result.err
    code = ("import mlpm, numpy as np; it = mlpm.load('digits-tf', context='edge');"
            "run = it.get_signature_runner('serving_default');"
            "print(sorted(run(pixels=np.zeros((1, 64), np.float32))))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=app, capture_output=True, text=True,
                          env=dict(os.environ, **OFFLINE), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "['probabilities']"
    assert "XNNPACK" not in proc.stderr


# -- shell completion and help() ----------------------------------------------------------------


def test_shell_completion_scripts_and_completions(project):
    for shell, marker in (("bash", "complete -o nosort -F _mlpm_completion mlpm"),
                          ("zsh", "#compdef mlpm"), ("fish", "complete --no-files --command mlpm")):
        result = run_mlpm(cwd=project, env={"_MLPM_COMPLETE": f"{shell}_source"})
        assert result.code == 0 and marker in result.out, (shell, result.out, result.err)
    result = run_mlpm(cwd=project, env={"_MLPM_COMPLETE": "bash_complete",
                                        "COMP_WORDS": "mlpm ca", "COMP_CWORD": "1"})
    assert result.out.split() == ["plain,cache"]
    result = run_mlpm(cwd=project, env={"_MLPM_COMPLETE": "bash_complete",
                                        "COMP_WORDS": "mlpm install --context e",
                                        "COMP_CWORD": "3"})
    assert result.out.split() == ["plain,edge"]


def test_help_of_the_public_functions_shows_their_real_keyword_arguments():
    import pydoc

    import mlpm
    import mlpm.loading

    for name in ("load", "path", "keras_layer"):
        assert inspect.signature(getattr(mlpm, name)) == \
            inspect.signature(getattr(mlpm.loading, name)), name
    text = pydoc.render_doc(mlpm.load, renderer=pydoc.plaintext)
    for keyword in ("format: 'str | None' = None", "entrypoint: 'str | None' = None",
                    "signature: 'str | None' = None", "trust: 'bool' = False",
                    "context: 'str | None' = None", "project_dir: 'Path | None' = None"):
        assert keyword in text, keyword
    params = inspect.signature(mlpm.entrypoints).parameters
    assert list(params) == ["name", "project_dir", "registry"]
    # and still without importing a framework
    proc = subprocess.run([sys.executable, "-c", "import sys, inspect, mlpm; "
                           "inspect.signature(mlpm.load); "
                           "print('torch' in sys.modules, 'tensorflow' in sys.modules)"],
                          capture_output=True, text=True)
    assert proc.stdout.strip() == "False False", proc.stderr


def test_manifest_is_untouched_by_a_repeated_install(app):
    assert run_mlpm("install", "digits@1.2", cwd=app, env=OFFLINE).code == 0
    before = (app / "mlpm.toml").read_text()
    again = run_mlpm("install", "digits@1.2", "--json", cwd=app, env=OFFLINE)
    assert again.code == 0 and again.json["saved"] == {}
    assert (app / "mlpm.toml").read_text() == before
    assert tomllib.loads(before)["dependencies"]["digits"] == "1.2"
    assert run_mlpm("list", "--json", cwd=app).json["packages"][0]["name"] == "digits"


def test_load_with_an_unknown_format_or_context_lists_the_valid_ones(app):
    assert run_mlpm("install", "digits@1.2", cwd=app, env=OFFLINE).code == 0
    code = ("import mlpm\n"
            "for kw in ({'format': 'bogus'}, {'context': 'bogus'}):\n"
            "    try:\n"
            "        mlpm.load('digits', **kw)\n"
            "    except ValueError as exc:\n"
            "        print(type(exc).__name__, exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=app, capture_output=True, text=True,
                          env=dict(os.environ, **OFFLINE), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == [
        "UsageError unknown format 'bogus'; formats are onnx, torchscript, exported-program, "
        "state-dict, torch-hub, savedmodel, tflite, tfjs, js.",
        "UsageError unknown context 'bogus'; contexts are python, server, edge, cpp, onnx, "
        "browser, js."]
