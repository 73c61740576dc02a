"""The folders of bench/ are layers: each imports only from those below it.

The contract lives in pyproject.toml (``[tool.importlinter]``); import-linter checks it. The
second test proves the check can fail: a copy of the package whose store imports the report
layer must be refused, naming the import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH first: the copy's bench, not the installed one, is the package analysed
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=project, capture_output=True, text=True,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"}, timeout=120,
    )


def test_the_package_keeps_its_layers() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_a_lower_layer_importing_a_higher_one_is_refused(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "bench", tmp_path / "bench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "bench" / "store" / "rundir.py").open("a") as f:
        f.write("\nfrom bench.report import text  # noqa: E402,F401\n")
    done = lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "bench.store is not allowed to import bench.report" in done.stdout
    assert "bench.store.rundir -> bench.report.text" in done.stdout
