"""How fast the machine is right now: a fixed piece of work, timed inside every measured trial.

A shared host's speed drifts between runs minutes apart (other tenants; measured on a 2-core
host: 10-50 %), and within seconds too: the same 1 s of work took 0.52-0.85 s back to back. A wall
time moves with it whatever the code did. So every measured trial task first does the same small
piece of work and times it (its ``probe`` phase): the samples fall where the trials run, on the
executors that run them (a remote cluster's driver is on another machine), with the trials'
threads and their contention, spread over the whole grid. A repeat's mean probe is its machine's
speed, and a wall time divided by it is in "probe units", which the drift moves less
(``compare.comparison`` gates those, where the time as measured agrees). The probe comes before
training, so a trial that became slower (the gate's test knob, or a real regression) does not
slow it.
"""

from __future__ import annotations

import time

# The fixed work: small dense layers in TensorFlow's eager mode, one op at a time, as a digits
# trial's own steps are (64 x 64 float32 products; TensorFlow's dispatch, kernels and thread pool
# are the trial's). 0.10-0.15 s on a 2-core host in 2026, about 4 % of a digits trial. Never
# calibrated at run time, or two runs would not compare.
_SIZE = 64
_STEPS = 600


def probe_work() -> float:
    """Seconds this process takes for the fixed work. A measured trial's worker has TensorFlow
    imported already (the warm-up); its first probe runs there too, so no probe pays TensorFlow's
    first use of these kernels."""
    import numpy as np
    import tensorflow as tf

    begin = time.perf_counter()
    a, b = np.random.default_rng(0).standard_normal((2, _SIZE, _SIZE)).astype(np.float32)
    x, w = tf.constant(a), tf.constant(b)
    for _ in range(_STEPS):
        # The same inputs every step: values that fed back could drift into denormals, whose
        # arithmetic is many times slower, and the probe would time the numbers, not the machine.
        tf.reduce_sum(tf.nn.relu(tf.matmul(x, w))).numpy()
    return time.perf_counter() - begin
