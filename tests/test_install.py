"""`pip install .` (not editable): the wheel holds the default workloads and cluster profiles, and
an installed bench writes to ./reports of the working directory, not next to the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_workload

ROOT = Path(__file__).resolve().parent.parent
# What a wheel is built from: the package (bench/definitions/{workloads,clusters} link to the
# folders at the top) and the files pyproject names.
SOURCES = ("bench", "workloads", "clusters", "pyproject.toml", "README.md")

# What an installed bench finds and where it writes, seen from the working directory.
PROBE = """
import json
import bench
from bench.cli import build_parser
from bench.commands import check, history
from bench.definitions.locations import REPORTS_DIR
from bench.definitions.profile import DEFAULT_PROFILES, load_profiles
from bench.definitions.workload import load_workload
import sys
workload = load_workload(sys.argv[1] if len(sys.argv) > 1 else None)
profiles = load_profiles([*DEFAULT_PROFILES, "existing-example"])
print(json.dumps({
    "package": bench.__file__, "workload": [workload.name, str(workload.path)],
    "profiles": {p.name: str(p.path) for p in profiles},
    "reports": str(REPORTS_DIR), "runs": str(build_parser().parse_args(["run"]).out),
    "history": str(history.HISTORY_DIR), "references": str(check.REFERENCE_DIR),
}))
"""


def _pip(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args, "--quiet",
                           "--disable-pip-version-check"], cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _probe(site: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    """PROBE run by this Python with the installed bench first on its path: PYTHONPATH comes
    before site-packages, where the checkout's editable bench is found (last) otherwise."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    environ |= {"PYTHONPATH": str(site), **(env or {})}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this working tree, built from a copy of it (the build's own folders stay out
    of the shared tree) with the venv's setuptools, installed into a folder of its own."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    _pip("wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(tmp / "wheel"),
         cwd=tmp)
    wheel, = (tmp / "wheel").glob("bench-*.whl")
    site = tmp / "site"
    _pip("install", "--no-deps", "--target", str(site), str(wheel), cwd=tmp)
    return site


@pytest.mark.slow
def test_the_wheel_ships_the_definitions_and_writes_to_the_working_directory(
        installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    seen = _probe(installed, empty)
    package = (installed / "bench").resolve()
    assert Path(seen["package"]).resolve().is_relative_to(package)
    # the default workload and every profile, from the wheel's own files (not links)
    name, path = seen["workload"]
    assert name == "digits-mlp"
    assert Path(path) == package / "definitions" / "workloads" / "digits-mlp.toml"
    assert seen["profiles"] == {
        n: str(package / "definitions" / "clusters" / f"{n}.toml")
        for n in ("local", "2-node", "13-node", "existing-example")}
    for shipped in (package / "definitions" / "workloads", package / "definitions" / "clusters"):
        assert not shipped.is_symlink() and any(shipped.glob("*.toml"))
    # outputs: ./reports of the working directory, nothing written by looking
    reports = empty.resolve() / "reports"
    assert Path(seen["reports"]) == reports
    assert Path(seen["runs"]) == reports / "runs"
    assert Path(seen["history"]) == reports / "history"
    assert Path(seen["references"]) == reports / "references"
    assert list(empty.iterdir()) == []

    # ./workloads of the working directory first; BENCH_REPORTS moves every output
    own = tmp_path / "own"
    (own / "workloads").mkdir(parents=True)
    write_workload(own / "workloads")
    elsewhere = tmp_path / "elsewhere"
    seen = _probe(installed, own, "tiny", env={"BENCH_REPORTS": str(elsewhere)})
    assert seen["workload"] == ["tiny", str(own.resolve() / "workloads" / "tiny.toml")]
    assert Path(seen["profiles"]["local"]) == package / "definitions" / "clusters" / "local.toml"
    assert (Path(seen["runs"]), Path(seen["history"])) == (elsewhere / "runs",
                                                            elsewhere / "history")
