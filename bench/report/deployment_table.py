"""The deployment step's table: rows/s and speedup per profile, and whether predictions agree."""

from __future__ import annotations

import statistics
from typing import Any

from bench.report.formats import DASH
from bench.store.records import DeploymentRun, Mode

DEPLOYMENT_HEADERS = ["profile", "mode", "nodes", "rows", "partitions", "wall (mean ± sd) s",
                      "rows/s", "speedup", "predictions identical"]


def deployment_rows(
    runs: list[DeploymentRun], reference: str | None,
) -> tuple[list[str], list[list[str]]]:
    """The deployment table: one row per profile and mode, in the order the runs came.

    Speedup is rows/s (mean over repeats) over the ``reference`` profile's measured rows/s; the
    last column compares each measured row's predictions with the reference's ("replayed" for
    replay rows, whose predictions are the reference's by construction)."""
    groups: dict[tuple[str, Mode], list[DeploymentRun]] = {}
    for r in runs:
        groups.setdefault((r.profile, r.mode), []).append(r)
    base = groups.get((reference, Mode.MEASURED), []) if reference is not None else []
    base_rate = statistics.fmean(r.rows_per_s for r in base) if base else None
    base_digests = {r.predictions_digest for r in base}
    rows = []
    for (profile, mode), group in groups.items():
        walls = [r.wall_s for r in group]
        sd = f" ± {statistics.stdev(walls):.2f}" if len(walls) > 1 else ""
        rate = statistics.fmean(r.rows_per_s for r in group)
        rows.append([
            profile, mode.value, _span(r.nodes for r in group), _span(r.rows for r in group),
            _span(r.partitions for r in group), f"{statistics.fmean(walls):.2f}{sd}",
            f"{rate:.0f}", DASH if base_rate is None else f"{rate / base_rate:.2f}",
            _identical(group, base_digests),
        ])
    return list(DEPLOYMENT_HEADERS), rows


def _span(values: Any) -> str:
    distinct = sorted(set(values))
    return str(distinct[0]) if len(distinct) == 1 else f"{distinct[0]} … {distinct[-1]}"


def _identical(group: list[DeploymentRun], base_digests: set[str]) -> str:
    if group[0].mode is Mode.REPLAY:
        return "replayed"
    if not base_digests:  # no measured reference to compare with
        return DASH
    digests = {r.predictions_digest for r in group}
    return "yes" if len(digests | base_digests) == 1 else "no"
