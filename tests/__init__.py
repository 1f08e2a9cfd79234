"""mlpm's tests: unit/ (one module, in-process), e2e/ (the mlpm command and whole flows over
a served registry), repo/ (the repository as a whole: imports, types, docs, packaging).
Shared fixtures are in conftest.py, the small real models in models.py."""
