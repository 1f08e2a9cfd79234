"""Resolution over model -> model dependencies: backtracking, pins, transitive chains."""

from __future__ import annotations

import tomllib

from tests.conftest import assert_clean_error, publish, run_mlpm


def locked(project):
    data = tomllib.loads((project / "mlpm.lock").read_text())
    return {p["name"]: p["version"] for p in data["package"]}


def init(project, registry):
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0


def test_backtracks_to_an_older_dependent_that_fits(registry, project, model_files):
    for seed, version in enumerate(["1.0.0", "1.2.0", "2.0.0"], start=1):
        publish(registry.root, model_files[seed], "base", version)
    publish(registry.root, model_files[4], "head", "1.0.0", "base@^1.0.0")
    publish(registry.root, model_files[5], "head", "2.0.0", "base@^2.0.0")
    init(project, registry)
    # The newest head needs base 2, which the project refuses: head 1.0.0 must be chosen.
    result = run_mlpm("install", "base@1.2", "head", cwd=project)
    assert result.code == 0, result.err
    assert locked(project) == {"base": "1.2.0", "head": "1.0.0"}


def test_transitive_chain_and_shared_dependency(registry, project, model_files):
    publish(registry.root, model_files[1], "feat", "1.0.0")
    publish(registry.root, model_files[2], "feat", "1.3.0")
    publish(registry.root, model_files[3], "mid", "1.0.0", "feat@~1.0.0")
    publish(registry.root, model_files[4], "top", "1.0.0", "mid@^1", "feat@^1")
    init(project, registry)
    assert run_mlpm("install", "top", cwd=project).code == 0
    # feat must satisfy both ~1.0.0 (via mid) and ^1 (via top): 1.0.0, not the newer 1.3.0.
    assert locked(project) == {"top": "1.0.0", "mid": "1.0.0", "feat": "1.0.0"}
    why = run_mlpm("why", "feat", "--json", cwd=project).json
    assert (why["name"], why["version"]) == ("feat", "1.0.0")
    chains = [(c["range"], [f"{p['name']}@{p['version']}" for p in c["path"]])
              for c in why["chains"]]
    assert ("^1.0.0", ["top@1.0.0", "feat@1.0.0"]) in chains
    assert ("^1.0.0", ["top@1.0.0", "mid@1.0.0", "feat@1.0.0"]) in chains


def test_transitive_conflict_names_the_whole_chain(registry, project, model_files):
    publish(registry.root, model_files[1], "feat", "1.0.0")
    publish(registry.root, model_files[2], "feat", "2.0.0")
    publish(registry.root, model_files[3], "left", "1.0.0", "feat@^1")
    publish(registry.root, model_files[4], "right", "1.0.0", "feat@^2")
    init(project, registry)
    result = run_mlpm("install", "left", "right", cwd=project)
    assert_clean_error(result, 1, "left@1.0.0 needs feat@^1", "right@1.0.0 needs feat@^2")
    assert "ResolutionImpossible" not in result.err
    assert not (project / "mlpm.lock").exists()


def test_prereleases_are_only_chosen_when_asked_for(registry, project, model_files):
    publish(registry.root, model_files[1], "pre", "1.0.0")
    publish(registry.root, model_files[2], "pre", "1.1.0-beta.1")
    init(project, registry)
    assert run_mlpm("install", "pre", cwd=project).code == 0
    assert locked(project) == {"pre": "1.0.0"}
    assert run_mlpm("install", "pre@1.1.0-beta.1", cwd=project).code == 0
    assert locked(project) == {"pre": "1.1.0-beta.1"}


def test_a_manifest_without_a_lock_is_resolved(registry, project, model_files):
    publish(registry.root, model_files[1], "solo", "1.0.0")
    publish(registry.root, model_files[2], "solo", "1.4.0")
    (project / "mlpm.toml").write_text(f'registry = "{registry.url}"\n\n[dependencies]\n'
                                       'solo = "~1.0"\n')
    assert_clean_error(run_mlpm("install", "--frozen", cwd=project), 1, "no mlpm.lock")
    assert run_mlpm("install", cwd=project).code == 0
    assert locked(project) == {"solo": "1.0.0"}


def test_registry_from_the_environment_is_remembered(registry, project, model_files):
    publish(registry.root, model_files[1], "envpkg", "1.0.0")
    assert run_mlpm("init", cwd=project).code == 0
    result = run_mlpm("install", "envpkg", cwd=project, env={"MLPM_REGISTRY": registry.url})
    assert result.code == 0, result.err
    manifest = tomllib.loads((project / "mlpm.toml").read_text())
    assert manifest["registry"] == registry.url
    assert run_mlpm("install", "--frozen", cwd=project).code == 0


def test_a_directory_registry_works_without_http(registry, project, model_files):
    publish(registry.root, model_files[1], "local", "1.0.0")
    assert run_mlpm("init", "--registry", str(registry.root), cwd=project).code == 0
    assert run_mlpm("install", "local", cwd=project).code == 0
    assert locked(project) == {"local": "1.0.0"}
    assert registry.requests == []
