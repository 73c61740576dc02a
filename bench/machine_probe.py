"""How fast the machine is right now: a fixed piece of work, timed inside every measured trial.

A shared host's speed drifts between runs minutes apart (other tenants; measured on a 2-core
host: 10-50 %), and within seconds too: the same 1 s of work took 0.52-0.85 s back to back. A wall
time moves with it whatever the code did. So every measured trial task first does the same small
piece of work and times it (its ``probe`` phase): the samples fall where the trials run, on the
executors that run them (a remote cluster's driver is on another machine), with the trials'
threads and their contention, spread over the whole grid. A repeat's mean probe is its machine's
speed, and a wall time divided by it is in "probe units", which the drift moves much less
(``bench.comparison`` gates those). The probe comes before training, so a trial that became slower
(the gate's test knob, or a real regression) does not slow it.
"""

from __future__ import annotations

import time

# The fixed work: float32 matrix products (what a trial's dense layers do) and an interpreter
# loop (what TensorFlow's and Spark's Python around them do): about 0.06 s on a 2-core host in
# 2026, some 2 % of a digits trial. Never calibrated at run time, or two runs would not compare.
_MATRIX = 256
_PRODUCTS = 40
_LOOP = 300_000


def probe_work() -> float:
    """Seconds this process takes for the fixed work."""
    import numpy as np

    begin = time.perf_counter()
    a, b = np.random.default_rng(0).standard_normal((2, _MATRIX, _MATRIX)).astype(np.float32)
    for _ in range(_PRODUCTS):
        # The same inputs every time: values that fed back would drift into denormals, whose
        # arithmetic is many times slower, and the probe would time the numbers, not the machine.
        np.tanh(a @ b)
    total = 0
    for i in range(_LOOP):
        total += i * i % 7
    return time.perf_counter() - begin
