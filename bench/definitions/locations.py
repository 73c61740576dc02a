"""Where definitions are found and where outputs go.

A definition is a path as given, or a name looked up in ``./<folder>`` of the working directory,
then in the defaults bench ships: ``bench/definitions/workloads`` and ``bench/definitions/clusters``
are links to the checkout's ``workloads/`` and ``clusters/`` (one copy of each file), and a wheel
holds the files themselves (pyproject's package-data). Outputs go to ``./reports`` of the working
directory, or where ``BENCH_REPORTS`` says.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.errors import UserError

# The defaults shipped with the package: in a checkout, links to its workloads/ and clusters/.
SHIPPED = Path(__file__).resolve().parent
# The checkout bench runs from, when it runs from one (an editable install): its git commit is
# recorded with each run. In an installed wheel, the folder holding the package.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
REPORTS_VARIABLE = "BENCH_REPORTS"


def reports_dir() -> Path:
    """The default folder of bench's outputs (runs, references, history): ``$BENCH_REPORTS``, else
    ``reports`` in the working directory; absolute, as it was when bench started."""
    return Path(os.environ.get(REPORTS_VARIABLE) or "reports").expanduser().absolute()


REPORTS_DIR = reports_dir()


def find_definition(name_or_path: str, *, folder: str, what: str, option: str) -> Path:
    """The TOML file ``name_or_path`` names: a path (it ends in .toml or has a /) as given, else
    ``<name>.toml`` in the working directory's ``folder``, then in the ones bench ships."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise UserError(f"{what} file not found: {name_or_path}", where=option,
                            fix="check the path")
        return path
    folders = [Path.cwd() / folder, SHIPPED / folder]
    for candidate in folders:
        if (candidate / f"{name_or_path}.toml").is_file():
            return candidate / f"{name_or_path}.toml"
    known = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.toml")})
    raise UserError(
        f"unknown {what} '{name_or_path}'", where=option,
        fix=f"use one of: {', '.join(known) or '(none found)'}, or a path to a .toml file",
    )
