"""The deployment step read per profile and mode: rows/s against the 1-node profile's, and
whether the predictions agree with it."""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from bench.analyse.summary import DeploymentRow
from bench.store.records import DeploymentRun, Mode


def deployment_rows(runs: Iterable[DeploymentRun], reference: str | None) -> list[DeploymentRow]:
    """One row per profile and mode, in the order the runs came. Speedup is rows/s (mean over
    repeats) over the ``reference`` profile's measured rows/s; each measured row's predictions
    are compared with the reference's (replay rows' are the reference's by construction)."""
    groups: dict[tuple[str, Mode], list[DeploymentRun]] = {}
    for r in runs:
        groups.setdefault((r.profile, r.mode), []).append(r)
    base = groups.get((reference, Mode.MEASURED), []) if reference is not None else []
    base_rate = statistics.fmean(r.rows_per_s for r in base) if base else None
    base_digests = {r.predictions_digest for r in base}
    out = []
    for (profile, mode), group in groups.items():
        walls = [r.wall_s for r in group]
        rate = statistics.fmean(r.rows_per_s for r in group)
        out.append(DeploymentRow(
            profile=profile, mode=mode, nodes=_distinct(r.nodes for r in group),
            rows=_distinct(r.rows for r in group),
            partitions=_distinct(r.partitions for r in group),
            wall_s=statistics.fmean(walls),
            wall_sd_s=statistics.stdev(walls) if len(walls) > 1 else None,
            rows_per_s=rate, speedup=None if base_rate is None else rate / base_rate,
            predictions_identical=_identical(group, base_digests)))
    return out


def _distinct(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(values)))


def _identical(group: list[DeploymentRun], base_digests: set[str]) -> bool | None:
    """None for replay and without a measured reference: nothing to compare."""
    if group[0].mode is Mode.REPLAY or not base_digests:
        return None
    return len({r.predictions_digest for r in group} | base_digests) == 1
