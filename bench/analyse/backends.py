"""The back-end comparison (`bench run --backends`): each profile's grid through every back-end,
one table per profile and mode.

Every row is read against the same 1-node row (the default back-end's, local measured), and,
where the floor ran beside each repeat, against the floor repeat by repeat: the two ran minutes
apart at most, so their ratio is what the machine's drift moves least.
"""

from __future__ import annotations

import statistics

from bench.analyse.summary import BackendEntry, BackendTable, Row
from bench.store.records import Mode

# profiles.jsonl's runner -> the back-end's name (bench.execute.backends)
_NAMES = {"spark": "spark-map", "process-pool": "floor"}
# the table's order: the default, bench's own dispatcher, the libraries, the floor last
_ORDER = {name: i for i, name in enumerate(
    ("spark-map", "pull", "joblibspark", "hyperopt", "optuna", "ray", "floor"))}


def backend_name(row: Row) -> str:
    return _NAMES.get(row.runner, row.runner)


def base_profile(row: Row) -> str:
    """The profile a back-end's row ran on: ``2-node@pull`` ran on ``2-node``."""
    return row.name.split("@", 1)[0]


def backend_tables(rows: list[Row], backend_rows: list[Row],
                   repeats: dict[tuple[str, Mode], int]) -> list[BackendTable]:
    """One table per default row that has other back-ends beside it, in the rows' order.
    ``repeats``: each row's repeats, for the per-repeat TensorFlow imports."""
    tables = []
    for row in rows:
        if row.runner != "spark":
            continue
        others = [b for b in backend_rows if base_profile(b) == row.name and b.mode is row.mode]
        floor = next((f for f in rows if f.runner == "process-pool" and f.slots == row.slots
                      and row.mode is Mode.MEASURED), None)
        if not others:
            continue
        entries = sorted((_entry(r, floor, repeats)
                          for r in [row, *others, *([floor] if floor else [])]),
                         key=lambda e: _ORDER.get(e.backend, len(_ORDER)))
        tables.append(BackendTable(row.name, row.mode, row.slots, entries))
    return tables


def _entry(row: Row, floor: Row | None, repeats: dict[tuple[str, Mode], int]) -> BackendEntry:
    ratios = []
    if floor is not None and row is not floor:
        ratios = [a / b for a, b in zip(row.wall_samples_s, floor.wall_samples_s, strict=False)
                  if b > 0]
    return BackendEntry(
        backend=backend_name(row), row=row,
        floor_ratio=statistics.median(ratios) if ratios else None, floor_ratios=ratios,
        tensorflow_imports=row.cold_trials / max(repeats.get((row.name, row.mode), 1), 1))
