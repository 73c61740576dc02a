"""The deployment step's table: rows/s and speedup per profile, and whether predictions agree."""

from __future__ import annotations

from bench.analyse import deployment
from bench.analyse.summary import DeploymentRow
from bench.report.formats import DASH
from bench.store.records import DeploymentRun, Mode

DEPLOYMENT_HEADERS = ["profile", "mode", "nodes", "rows", "partitions", "wall (mean ± sd) s",
                      "rows/s", "speedup", "predictions identical"]


def deployment_cells(rows: list[DeploymentRow]) -> tuple[list[str], list[list[str]]]:
    """The deployment table (bench.analyse.deployment): one row per profile and mode."""
    return list(DEPLOYMENT_HEADERS), [[
        r.profile, r.mode.value, _span(r.nodes), _span(r.rows), _span(r.partitions),
        f"{r.wall_s:.2f}" + (f" ± {r.wall_sd_s:.2f}" if r.wall_sd_s is not None else ""),
        f"{r.rows_per_s:.0f}", DASH if r.speedup is None else f"{r.speedup:.2f}",
        _identical(r)] for r in rows]


def deployment_rows(
    runs: list[DeploymentRun], reference: str | None,
) -> tuple[list[str], list[list[str]]]:
    """The deployment table of ``runs`` read against the ``reference`` profile."""
    return deployment_cells(deployment.deployment_rows(runs, reference))


def _span(distinct: tuple[int, ...]) -> str:
    return str(distinct[0]) if len(distinct) == 1 else f"{distinct[0]} … {distinct[-1]}"


def _identical(row: DeploymentRow) -> str:
    if row.mode is Mode.REPLAY:
        return "replayed"
    if row.predictions_identical is None:  # no measured reference to compare with
        return DASH
    return "yes" if row.predictions_identical else "no"
