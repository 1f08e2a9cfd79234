"""Hostile input, property-based: version and range parsing, package names, manifests,
locks and index records, fed hypothesis-generated input (structured and raw).

The only allowed outcomes of a case are a result or a ``ValueError``-family error (every
mlpm parse error is one). Anything else is counted as a bug: another exception, a case
that runs longer than ``HANG_SECONDS`` (a SIGALRM timer interrupts it), or a write
anywhere but the case's own scratch folder (an audit hook watches every open-for-write,
mkdir, rename, remove and chmod while mlpm's code runs). Accepted inputs must also keep
their invariants: a version prints back to itself, an accepted name is a safe relative
path, a lock that reads writes back to the same lock.

pytest runs 2,600 cases with a fixed seed (``FUZZ_CASES``, about 15 s). The long run is the
same file as a script; it prints a table of counts per property, one example of each
distinct bug, and one final line:

    .venv/bin/python tests/unit/test_fuzz.py [--cases 100000] [--seed 20250101]

    RESULT fuzz cases=N ok=A rejected=B bugs=C seconds=S
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import string
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: the repository's tests/ package first
    sys.path.insert(0, str(ROOT))

from tests.conftest import needs  # noqa: E402

HANG_SECONDS = 5.0

# -- the watch on writes ----------------------------------------------------------------------


class _Watch:
    """Records writes made while ``active``; allowed only below ``allowed`` (a scratch dir)."""

    active = False
    allowed: str = ""
    seen: list[str] = []

    @classmethod
    def hook(cls, event: str, args: tuple) -> None:
        if not cls.active:
            return
        path = None
        if event == "open":
            file, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            if writing and isinstance(file, (str, bytes, os.PathLike)):
                path = os.fsdecode(file)
        elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.rename", "os.replace",
                       "os.chmod", "os.truncate", "os.symlink", "os.link", "shutil.rmtree",
                       "shutil.copyfile", "shutil.move"):
            first = args[0] if args else None
            if isinstance(first, (str, bytes, os.PathLike)):
                path = os.fsdecode(first)
            elif isinstance(first, int):
                path = f"<fd {first}>"
        if path is not None and not os.path.abspath(path).startswith(cls.allowed):
            cls.seen.append(f"{event} {path}")


_hook_installed = False


def _install_hook() -> None:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_Watch.hook)  # audit hooks cannot be removed: it is a no-op when idle
        _hook_installed = True


class Hang(Exception):
    pass


_DELETE = object()
# Fields a mutation may replace or delete (any document: unknown ones are just extra keys).
_KEYS = ("name", "version", "registry", "framework", "artifacts", "dependencies", "format",
         "path", "sha256", "size", "url", "role", "sha256-prefix", "upstream", "interface",
         "manifest-hash", "package", "yanked", "advisories", "allow-pickle", "kind")


def _alarm(signum, frame):
    raise Hang()


# -- strategies -------------------------------------------------------------------------------


def strategies():
    from hypothesis import strategies as st

    semver_chars = string.digits + ".-+xX*^~<>=| vabcrc" + "\t"
    number = st.integers(min_value=0, max_value=9999).map(str)
    ident = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=6)
    version_like = st.builds(
        lambda v, a, b, c, pre, build: f"{v}{a}.{b}.{c}{pre}{build}",
        st.sampled_from(["", "", "", "v"]), number, number, number,
        st.one_of(st.just(""), st.lists(ident, min_size=1, max_size=3).map(
            lambda ids: "-" + ".".join(ids))),
        st.one_of(st.just(""), ident.map(lambda i: "+" + i)))
    versions = st.one_of(version_like, st.text(semver_chars, max_size=30),
                         st.text(max_size=30), st.integers().map(str))
    range_like = st.lists(st.tuples(st.sampled_from(["", "^", "~", ">=", "<", "<=", ">", "=",
                                                     "~>", "v"]), version_like,
                                    st.sampled_from([" ", " || ", " - ", ""])),
                          max_size=4).map(lambda parts: "".join(a + b + c for a, b, c in parts))
    ranges = st.one_of(range_like, st.text(semver_chars, max_size=40), st.text(max_size=40),
                       st.sampled_from(["*", "x", "", "1.x", "^0.0.0", ">=1.2.3-alpha <2",
                                        "1 - 2", "9" * 300, "^" * 300]))
    evil_names = st.sampled_from([
        "../x", "/etc/passwd", "a/../../b", "x\x00y", "\uff52esnet", "r\u0435snet", "..",
        ".", "a/b", "C:\\evil", "resnet\u200b", "~/x", "Resnet", "resnet ", " resnet",
        "con", "a" * 65, "-a", "a-", "a..b", "\\\\server\\share", "%2e%2e", "resnet\n",
    ])
    valid_names = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
    names = st.one_of(valid_names, evil_names,
                      st.text(max_size=20),
                      st.text(string.ascii_lowercase + string.digits + "._-/\\:", max_size=12))
    scalars = st.one_of(st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
                        st.dates())
    toml_values = st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
        max_leaves=5)
    hexes = st.text("0123456789abcdef", min_size=64, max_size=64)
    hostile = st.one_of(toml_values, st.sampled_from([
        float("inf"), float("nan"), -1, 1 << 70, "", "../../x", "/etc/passwd", "a\x00b",
        "c:x", "file:///etc/passwd", [], {}]))

    def mutated(base):
        """A valid document with up to two fields replaced by hostile values or deleted."""
        def apply(pair):
            doc, changes = pair
            doc = dict(doc)
            for key, value in changes:
                if value is _DELETE:
                    doc.pop(key, None)
                else:
                    doc[key] = value
            return doc
        keys = st.sampled_from(_KEYS)
        change = st.tuples(keys, st.one_of(st.just(_DELETE), hostile, names, versions))
        return st.tuples(base, st.lists(change, max_size=2)).map(apply)

    artifact = mutated(st.fixed_dictionaries({
        "format": st.sampled_from(["onnx", "torchscript", "state-dict"]),
        "path": st.sampled_from(["model.onnx", "sub/model.pt", "w.pth"]),
        "sha256": hexes, "size": st.integers(min_value=0, max_value=1 << 40),
        "url": st.one_of(hexes.map(lambda h: f"artifacts/{h[:2]}/{h}"),
                         st.just("http://127.0.0.1:1/w.pth")),
    }, optional={"role": st.sampled_from(["code", "weights"]),
                 "sha256-prefix": st.text("0123456789abcdef", min_size=4, max_size=8)}))
    package = mutated(st.fixed_dictionaries({
        "name": valid_names, "version": version_like,
        "registry": st.sampled_from(["bundled", "http://127.0.0.1:1/"]),
        "framework": st.sampled_from(["onnx", "torch"]),
        "dependencies": st.dictionaries(valid_names, version_like, max_size=2),
        "artifacts": st.lists(artifact, max_size=2),
    }, optional={"interface": st.dictionaries(st.text(max_size=6), toml_values, max_size=2),
                 "upstream": st.dictionaries(st.text(max_size=6), toml_values, max_size=2),
                 "kind": st.just("onnx"), "fingerprint": st.text(max_size=10)}))
    lock_doc = mutated(st.fixed_dictionaries({
        "version": st.just(1), "manifest-hash": st.just("sha256:" + "0" * 64),
        "package": st.lists(package, max_size=2)}))
    manifest_doc = mutated(st.fixed_dictionaries({
        "dependencies": st.dictionaries(st.one_of(valid_names, names), st.one_of(
            ranges, st.fixed_dictionaries({"version": ranges}), hostile), max_size=4)},
        optional={"registry": st.sampled_from(["http://127.0.0.1:1/", "../reg", "bundled"]),
                  "allow-pickle": st.one_of(st.lists(valid_names, max_size=2),
                                            st.lists(names, max_size=2))}))
    record = mutated(st.fixed_dictionaries({
        "name": st.just("pkg"), "version": version_like,
        "framework": st.sampled_from(["onnx", "torch"]),
        "artifacts": st.lists(artifact, max_size=2),
        "dependencies": st.dictionaries(valid_names, ranges, max_size=2),
        "yanked": st.booleans()},
        optional={"advisories": st.lists(st.fixed_dictionaries(
            {"id": st.text(max_size=8), "severity": st.sampled_from(["low", "high"]),
             "summary": st.text(max_size=20), "fixed-in": version_like}), max_size=2),
                  "yanked-reason": st.text(max_size=20)}))
    return {
        "versions": versions, "ranges": st.tuples(ranges, versions), "names": names,
        "manifests": st.one_of(st.tuples(st.booleans(), manifest_doc), st.text(max_size=200)),
        "locks": st.one_of(lock_doc, st.text(max_size=200)),
        "records": st.one_of(st.lists(record, min_size=1, max_size=3), st.text(max_size=200)),
    }


# -- what each case checks ----------------------------------------------------------------------


def check_version(text: str, scratch: Path) -> None:
    from mlpm import semver

    version = semver.parse_version(text)
    again = semver.parse_version(str(version))
    assert str(again) == str(version), f"{text!r} prints as {version} but reads back as {again}"


def check_range(case: tuple[str, str], scratch: Path) -> None:
    from mlpm import semver

    rng_text, version = case
    rng = semver.parse_range(rng_text)
    semver.valid_range(rng_text)
    try:
        semver.satisfies(version, rng)
    except ValueError:
        pass
    assert str(semver.parse_range(str(rng))) == str(rng), f"{rng_text!r} does not round-trip"


def check_name(text: str, scratch: Path) -> None:
    from mlpm.registry.records import check_name, index_path, parse_spec

    name = check_name(text)
    rel = index_path(name)
    parts = rel.split("/")
    assert name.isascii() and name == name.lower(), f"accepted {name!r}"
    assert not rel.startswith("/") and "\x00" not in rel and ".." not in parts and \
        "." not in parts and "" not in parts, f"{name!r} maps to the unsafe path {rel!r}"
    parse_spec(f"{name}@^1.0.0")


def _toml_file(scratch: Path, filename: str, doc, wrap: bool = False) -> Path:
    import tomli_w

    path = scratch / filename
    if isinstance(doc, str):
        path.write_text(doc, encoding="utf-8", errors="surrogatepass")
        return path
    if wrap:
        doc = {"project": {"name": "x"}, "tool": {"mlpm": doc}}
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        text = json.dumps(doc, default=str)  # not TOML at all: the parser must refuse it
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def check_manifest(case, scratch: Path) -> None:
    from mlpm.ops.audit import allow_pickle_list
    from mlpm.project import Project

    if isinstance(case, str):
        path = _toml_file(scratch, "mlpm.toml", case)
    else:
        wrap, doc = case
        path = _toml_file(scratch, "pyproject.toml" if wrap else "mlpm.toml", doc, wrap)
    _Watch.active = True
    try:
        project = Project.read(path)
        project.manifest_hash()
        allow_pickle_list(project)
    finally:
        _Watch.active = False


def _plain_write(path, data) -> None:
    """write_atomic without its fsync: serialisation is under test here, not durability."""
    Path(path).write_text(data) if isinstance(data, str) else Path(path).write_bytes(data)


def check_lock(case, scratch: Path) -> None:
    import mlpm.project
    from mlpm.project import Lock

    path = _toml_file(scratch, "mlpm.lock", case)
    atomic = mlpm.project.write_atomic
    mlpm.project.write_atomic = _plain_write
    _Watch.active = True
    try:
        lock = Lock.read(path)
        if lock is None:
            return
        lock.blobs()
        lock.write(scratch / "again.lock")
        again = Lock.read(scratch / "again.lock")
        assert again is not None and sorted(again.packages) == sorted(lock.packages), \
            "a lock that reads does not write back to the same packages"
    finally:
        _Watch.active = False
        mlpm.project.write_atomic = atomic


def check_records(case, scratch: Path) -> None:
    from mlpm.registry.records import Record, parse_index_file

    if isinstance(case, str):
        text = case
    else:
        text = "\n".join(json.dumps(r, default=str) for r in case)
    _Watch.active = True
    try:
        for record in parse_index_file("pkg", text):
            line = record.to_line()
            again = Record.from_json(json.loads(line))
            assert again.version == record.version and again.name == "pkg", \
                "a record that reads does not write back to itself"
    finally:
        _Watch.active = False


CHECKS = {"versions": check_version, "ranges": check_range, "names": check_name,
          "manifests": check_manifest, "locks": check_lock, "records": check_records}


# -- running ---------------------------------------------------------------------------------------


class Tally:
    def __init__(self) -> None:
        self.outcomes: Counter = Counter()
        self.bugs: list[str] = []
        self.seconds = 0.0

    @property
    def cases(self) -> int:
        return sum(self.outcomes.values())


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame in mlpm's own code."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f"{os.sep}mlpm{os.sep}" in f.filename]
    if not frames:
        return "?"
    return f"{os.path.relpath(frames[-1].filename, ROOT)}:{frames[-1].lineno}"


def signatures(tallies) -> Counter:
    """Distinct bugs: exception type and where mlpm raised it, with how often each was hit."""
    out: Counter = Counter()
    for tally in tallies:
        for bug in tally.bugs:
            head = bug.split(" <- ", 1)[0]
            kind = head.split(": ", 2)[1] if head.count(": ") >= 1 else head
            where = head.rsplit(" at ", 1)[-1] if " at " in head else "?"
            out[f"{head.split(':', 1)[0]}: {kind} at {where}"] += 1
    return out


def run_property(name: str, cases: int, seed: int, scratch: Path) -> Tally:
    """Run ``cases`` generated cases of one property; never raises for a bad case."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    _install_hook()
    tally = Tally()
    check = CHECKS[name]
    _Watch.allowed = str(scratch.resolve())
    _Watch.seen = []

    def one(case) -> None:
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
        try:
            check(case, scratch)
            outcome = "ok"
        except Hang:
            outcome = "hang"
        except AssertionError as exc:
            outcome = "broken-invariant"
            tally.bugs.append(f"{name}: {exc} <- {case!r}"[:500])
        except ValueError:
            outcome = "rejected"
        except Exception as exc:  # the bug this run is looking for
            outcome = type(exc).__name__
            tally.bugs.append(f"{name}: {type(exc).__name__}: {exc} at {_where(exc)} "
                              f"<- {case!r}"[:500])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            _Watch.active = False
        if outcome == "hang":
            tally.bugs.append(f"{name}: ran over {HANG_SECONDS}s <- {case!r}"[:500])
        if _Watch.seen:
            outcome = "wrote-outside"
            tally.bugs.append(f"{name}: wrote {_Watch.seen[:3]} <- {case!r}"[:500])
            _Watch.seen = []
        tally.outcomes[outcome] += 1

    runner = settings(max_examples=cases, database=None, deadline=None, derandomize=False,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck))(
        given(strategies()[name])(one))
    # SIGALRM may belong to someone else (pytest-timeout): give it back as it was.
    previous = signal.getsignal(signal.SIGALRM)
    remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    t0 = time.perf_counter()
    try:
        hseed(seed)(runner)()
    finally:
        tally.seconds = time.perf_counter() - t0
        signal.signal(signal.SIGALRM, previous)
        if remaining:
            signal.setitimer(signal.ITIMER_REAL, max(remaining - tally.seconds, 0.001))
    return tally


def run_all(total: int, seed: int) -> dict[str, Tally]:
    per = max(1, -(-total // len(CHECKS)))  # rounded up: at least ``total`` in all
    out = {}
    with tempfile.TemporaryDirectory(prefix="mlpm-fuzz-") as tmp:
        for i, name in enumerate(CHECKS):
            scratch = Path(tmp) / name
            scratch.mkdir()
            out[name] = run_property(name, per, seed + i, scratch)
    return out


# -- the bounded run pytest collects ----------------------------------------------------------

# Cases per property (2,600 in all); the structured documents cost more to generate.
FUZZ_CASES = {"versions": 500, "ranges": 500, "names": 500, "manifests": 500, "locks": 300,
              "records": 300}


@pytest.mark.parametrize("prop", list(CHECKS))
def test_hostile_input_gives_a_result_or_a_value_error(prop, tmp_path):
    needs("hypothesis")
    cases = FUZZ_CASES[prop]
    tally = run_property(prop, cases, seed=20250101, scratch=tmp_path)
    assert tally.cases == cases
    assert tally.bugs == [], "\n".join(tally.bugs[:5])
    assert tally.outcomes["ok"] > cases // 10, tally.outcomes  # not all refused
    assert tally.outcomes["rejected"] > cases // 10, tally.outcomes
    print(f"\nFIGURE fuzz {prop}: {tally.cases} cases, {dict(tally.outcomes)}, "
          f"{tally.seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20250101)
    args = parser.parse_args()
    t0 = time.perf_counter()
    results = run_all(args.cases, args.seed)
    total = Counter()
    print(f"{'property':<10} {'cases':>8} {'ok':>8} {'rejected':>9} {'bugs':>6} {'seconds':>8}")
    for name, tally in results.items():
        total.update(tally.outcomes)
        bugs = tally.cases - tally.outcomes["ok"] - tally.outcomes["rejected"]
        print(f"{name:<10} {tally.cases:>8} {tally.outcomes['ok']:>8} "
              f"{tally.outcomes['rejected']:>9} {bugs:>6} {tally.seconds:>8.1f}")
    for sig, count in signatures(results.values()).most_common():
        print(f"BUG x{count}: {sig}")
    bugs = [b for t in results.values() for b in t.bugs]
    seen = set()
    for line in bugs:  # one example of each
        key = line.split(" <- ", 1)[0].rsplit(" at ", 1)[-1]
        if key not in seen:
            seen.add(key)
            print("  e.g.", line[:300])
    cases = sum(total.values())
    print(f"RESULT fuzz cases={cases} ok={total['ok']} rejected={total['rejected']} "
          f"bugs={cases - total['ok'] - total['rejected']} "
          f"seconds={time.perf_counter() - t0:.1f}")


if __name__ == "__main__":
    main()
