"""Where definitions are found: a path as given, or a name in ./<folder> then the project's own."""

from __future__ import annotations

from pathlib import Path

from bench.errors import UserError

# The checkout bench runs from (an editable install): its workloads/, clusters/ and reports/.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def find_definition(name_or_path: str, *, folder: str, what: str, option: str) -> Path:
    """The TOML file ``name_or_path`` names: a path (it ends in .toml or has a /) as given, else
    ``<name>.toml`` in the working directory's ``folder``, then in the project's."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise UserError(f"{what} file not found: {name_or_path}", where=option,
                            fix="check the path")
        return path
    folders = [Path.cwd() / folder, PROJECT_ROOT / folder]
    for candidate in folders:
        if (candidate / f"{name_or_path}.toml").is_file():
            return candidate / f"{name_or_path}.toml"
    known = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.toml")})
    raise UserError(
        f"unknown {what} '{name_or_path}'", where=option,
        fix=f"use one of: {', '.join(known) or '(none found)'}, or a path to a .toml file",
    )
