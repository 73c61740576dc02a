"""The deployment step's Spark tasks, on the executors: retraining the chosen configuration, and
scoring one partition of generated rows (the driver's side is bench.execute.deployment)."""

from __future__ import annotations

import hashlib
import sys
import time
from typing import Any

import numpy as np

from bench.execute.tasks import executor_id, float_data
from bench.ml.training import TrainedWeights


def partition_range(index: int, rows: int, partitions: int) -> tuple[int, int]:
    """Rows [start, end) of partition ``index``: contiguous, sizes differing by one at most."""
    return index * rows // partitions, (index + 1) * rows // partitions


def train_task(payload: dict, *, data_bc: Any) -> TrainedWeights:
    """The body of the retraining task, on an executor."""
    from bench.ml.training import freeze_imports, trained_weights

    cold = "tensorflow" not in sys.modules
    data = float_data(data_bc)
    if cold:
        import tensorflow  # noqa: F401

        freeze_imports()  # as a trial task does: later collections skip TensorFlow's objects
    return trained_weights(data, payload["family"], payload["params"], epochs=payload["epochs"],
                           batch_size=payload["batch_size"], seed=payload["seed"],
                           shuffle=payload.get("shuffle", True))


def score_partition(
    index: int, _: Any, *, weights_bc: Any, data_bc: Any, family: str, params: dict[str, Any],
    rows: int, partitions: int, batch_size: int, replay: list[dict] | None,
) -> list[dict]:
    """The body of one scoring task, on an executor: partition ``index`` of the rows."""
    start, end = partition_range(index, rows, partitions)
    weights = weights_bc.value  # the model's way to the executor: real in both modes
    me = executor_id()
    if replay is not None:
        # Only the executor's compute is replayed: what generating and scoring this partition
        # took on 1 node. Dispatch, the broadcast, scheduling and collection are real.
        ref = replay[index]
        time.sleep(ref["generate_s"] + ref["seconds"])
        return [{"index": index, "rows": end - start, "seconds": ref["seconds"],
                 "generate_s": ref["generate_s"], "digest": ref["digest"],
                 "correct": ref["correct"], "executor_id": me, "cold": False}]
    cold = "tensorflow" not in sys.modules
    t = time.perf_counter()
    data = float_data(data_bc)
    which = np.arange(start, end) % len(data.x_test)
    x, y = data.x_test[which], data.y_test[which]
    generate_s = time.perf_counter() - t

    t = time.perf_counter()
    import keras

    from bench.ml.models import build_model

    if cold:
        from bench.ml.training import freeze_imports

        freeze_imports()
    keras.backend.clear_session()  # the worker scores many partitions: keep one model at a time
    # train_size and batch_size only shape the convnet's learning-rate schedule: no training here.
    model = build_model(family, params, input_shape=data.input_shape,
                        num_classes=data.num_classes, train_size=1, batch_size=1)
    model.set_weights(weights)
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    classes = np.argmax(logits, axis=1).astype(np.uint8 if logits.shape[1] <= 256 else np.int64)
    seconds = time.perf_counter() - t
    del model
    return [{"index": index, "rows": end - start, "seconds": seconds, "generate_s": generate_s,
             "digest": hashlib.sha256(classes.tobytes()).hexdigest(),
             "correct": int(np.count_nonzero(classes == y)), "executor_id": me, "cold": cold}]
