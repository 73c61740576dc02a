"""How long Spark takes to start a wave of no-op tasks on a profile's cluster: the floor under
any runner's first wave. Not a test; run it as
    .venv/bin/python tests/benchmarks/launch_latency.py [PROFILE] [GRIDS]
It starts the profile's local cluster, warms every slot, then times GRIDS jobs of one no-op task
per slot: the job submitted -> each task running in its Python worker -> the results back."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench.cluster import LocalStandaloneCluster, load_profile
from bench.cluster.spark_session import shutdown_gateway, spark_context
from bench.execute.runner import warm_up_workers


def started(_: object) -> float:
    return time.time()


def main(profile_name: str = "13-node", grids: int = 4) -> None:
    profile = load_profile(profile_name)
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as logs, \
            LocalStandaloneCluster(profile, Path(logs)) as cluster, \
            spark_context(cluster, "bench launch latency", []) as sc:
        warm_up_workers(sc, profile.slots, tensorflow=False)
        for grid in range(grids):
            submitted = time.time()
            starts = sorted(t - submitted for t in
                            sc.parallelize(range(profile.slots), profile.slots).map(started)
                            .collect())
            print(f"{profile.name}, job {grid + 1} of {profile.slots} no-op tasks: first task "
                  f"running after {starts[0]:.3f} s, last after {starts[-1]:.3f} s, results "
                  f"back after {time.time() - submitted:.3f} s", flush=True)
    shutdown_gateway()


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["13-node"]), *(int(a) for a in sys.argv[2:3]))
