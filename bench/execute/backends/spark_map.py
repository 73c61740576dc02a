"""The 2016 pattern, bench's default: the whole grid is one Spark job, one task per trial, in
dispatch order."""

from __future__ import annotations

from bench.execute.backends.base import GridSubmission


class SparkMap:
    name = "spark-map"

    def run(self, grid: GridSubmission) -> list[dict]:
        return grid.sc.parallelize(grid.payloads, len(grid.payloads)).map(grid.task()).collect()
