"""One trial's training and evaluation, as it runs inside a Spark task.

The Python worker is reused for many trials, so each trial resets Keras and seeds everything:
its metrics must not depend on what ran before it in the process.
"""

from __future__ import annotations

import gc
import math
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.store.records import TrialStatus, pack_wrong


@dataclass
class TrainOutcome:
    status: TrialStatus
    val_error: float | None = None
    test_error: float | None = None
    final_loss: float | None = None
    # build, train, evaluate, cleanup (seconds)
    phases: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    weights: list[np.ndarray] | None = None  # with keep_weights: keras get_weights() order
    # The test images it got wrong, packed (bench.store.records.pack_wrong): test_error is
    # their count / n, so the two always agree.
    test_wrong: dict[str, Any] | None = None


def warm_up() -> float:
    """Import TensorFlow and run one tiny model, so the first trial does not pay for it."""
    begin = time.perf_counter()
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)  # determinism refuses random ops without a seed
    tf.config.experimental.enable_op_determinism()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32), verbose=0)
    # Trials evaluate with predict: its first use in the process is no trial's evaluation.
    model.predict(np.zeros((4, 2), np.float32), verbose=0)
    keras.backend.clear_session()
    freeze_imports()
    return time.perf_counter() - begin


def freeze_imports() -> None:
    """Move what is alive now (TensorFlow's modules) out of the garbage collector's sight.

    Without it every full collection walks TensorFlow's object graph: about 0.2 s after each
    trial on this machine, spent after the task reported its end (measured here).
    """
    gc.collect()
    gc.freeze()


def wrong_predictions(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> np.ndarray:
    """One boolean per image: True where the model's class is not the label."""
    logits = model.predict(x, batch_size=max(batch_size, 256), verbose=0)
    return np.argmax(logits, axis=1) != y


def error_rate(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    """Misclassified / n, from integer counts: exact, so runs compare bit for bit."""
    return _rate(wrong_predictions(model, x, y, batch_size))


def _rate(wrong: np.ndarray) -> float:
    return int(np.count_nonzero(wrong)) / len(wrong)


def _time_limit(limit_s: float, clock: Callable[[], float]) -> Any:
    """A Keras callback that stops training once ``limit_s`` have passed since it was made.

    Checked after every batch: the trial ends cleanly in its own task (nothing is killed, the
    Python worker stays usable), at most one batch late."""
    import keras

    class TimeLimit(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.start = clock()
            self.hit_in_epoch: int | None = None
            self.epoch = 0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epoch = epoch

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if clock() - self.start > limit_s:
                self.hit_in_epoch = self.epoch + 1
                self.model.stop_training = True

    return TimeLimit()


def _out_of_memory(error: Exception) -> bool:
    """TensorFlow's allocator failing (ResourceExhaustedError, "OOM when allocating tensor") or
    Python's own MemoryError: the configuration asked for more memory than the worker has."""
    if isinstance(error, MemoryError):
        return True
    import tensorflow as tf

    return isinstance(error, tf.errors.ResourceExhaustedError)


def train_and_evaluate(
    data: Any, family: str, params: dict[str, Any], *, epochs: int, batch_size: int, seed: int,
    timeout_s: float | None = None, clock: Callable[[], float] = time.perf_counter,
    keep_weights: bool = False, shuffle: bool = True, trial_function: bool = False,
) -> TrainOutcome:
    """Train ``family`` with ``params`` on ``data`` (a FloatData) and measure its errors; with
    ``trial_function``, ``family`` is a workload's whole trial ("module:function", ``own_trial``).

    A loss that turns NaN is DIVERGED; running out of memory is OOM; another exception is FAILED
    with its traceback. All are properties of the hyperparameters: they are returned, never
    raised, so Spark does not retry.
    """
    if trial_function:
        return own_trial(data, family, params, seed=seed, timeout_s=timeout_s, clock=clock)
    from bench.ml.models import build_model

    phases: dict[str, float] = {}
    model = None
    try:
        import keras
        import tensorflow as tf

        t = clock()
        limit = _time_limit(timeout_s, clock) if timeout_s else None
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
        model = build_model(family, params, input_shape=data.input_shape,
                            num_classes=data.num_classes, train_size=len(data.x_train),
                            batch_size=batch_size)
        phases["build"] = clock() - t

        t = clock()
        history = model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch_size,
                            shuffle=shuffle, verbose=0,
                            callbacks=[keras.callbacks.TerminateOnNaN(),
                                       *([limit] if limit else [])])
        phases["train"] = clock() - t
        losses = history.history.get("loss", [])
        outcome = _stopped_early(losses, limit, epochs, timeout_s, phases)
        if outcome is None:
            t = clock()
            val_error = error_rate(model, data.x_val, data.y_val, batch_size)
            test_wrong = wrong_predictions(model, data.x_test, data.y_test, batch_size)
            phases["evaluate"] = clock() - t
            outcome = TrainOutcome(TrialStatus.OK, val_error, _rate(test_wrong),
                                   float(losses[-1]), phases, test_wrong=pack_wrong(test_wrong))
            if keep_weights:  # the deployment step: numpy arrays a driver without TF can hold
                outcome.weights = [np.asarray(w) for w in model.get_weights()]
    except Exception as e:  # never BaseException: a Ctrl-C must stay an interrupt
        status = TrialStatus.OOM if _out_of_memory(e) else TrialStatus.FAILED
        outcome = TrainOutcome(status, phases=phases, error=traceback.format_exc())
    # Free this trial's model inside the trial, so its cost is counted here and not after the
    # task has reported its end.
    t = clock()
    del model
    gc.collect()
    phases["cleanup"] = clock() - t
    return outcome


def _stopped_early(losses: list[float], limit: Any, epochs: int, timeout_s: float | None,
                   phases: dict[str, float]) -> TrainOutcome | None:
    """The outcome of a training that did not run every epoch to a finite loss: over its time
    limit (TIMEOUT) or diverged (DIVERGED). None when it ran every epoch."""
    bad = next((i for i, loss in enumerate(losses) if not math.isfinite(loss)), None)
    if limit is not None and limit.hit_in_epoch is not None and bad is None:
        return TrainOutcome(
            TrialStatus.TIMEOUT, phases=phases,
            error=f"stopped in epoch {limit.hit_in_epoch} of {epochs}: over the workload's "
                  f"per-trial timeout of {timeout_s:g} s ([training] timeout_s)")
    if bad is not None or len(losses) < epochs:
        epoch = (bad if bad is not None else len(losses)) + 1
        return TrainOutcome(TrialStatus.DIVERGED, phases=phases,
                            error=f"the training loss became non-finite in epoch {epoch}")
    return None


@dataclass
class TrainedWeights:
    """A trained model as plain numpy arrays (``keras.Model.get_weights()`` order), so a driver
    without TensorFlow can hold it and broadcast it, with the metrics its trial recorded."""

    status: TrialStatus
    weights: list[np.ndarray] = field(default_factory=list)
    val_error: float | None = None
    test_error: float | None = None
    final_loss: float | None = None
    train_s: float | None = None  # build + fit + evaluate, seconds
    error: str | None = None


def trained_weights(
    data: Any, family: str, params: dict[str, Any], *, epochs: int, batch_size: int, seed: int,
    shuffle: bool = True,
) -> TrainedWeights:
    """Train ``family`` with ``params`` exactly as its trial was trained (``train_and_evaluate``,
    so with the trial's seed, epochs, batch size and TensorFlow threads its errors are the
    trial's, bit for bit), and keep the weights. Failures are returned, never raised."""
    begin = time.perf_counter()
    outcome = train_and_evaluate(data, family, params, epochs=epochs, batch_size=batch_size,
                                 seed=seed, keep_weights=True, shuffle=shuffle)
    return TrainedWeights(outcome.status, outcome.weights or [], outcome.val_error,
                          outcome.test_error, outcome.final_loss,
                          time.perf_counter() - begin, outcome.error)


@dataclass(frozen=True)
class TrialContext:
    """What a workload's own trial function gets besides its hyperparameters and data."""

    seed: int  # the workload's seed: seed every generator the trial uses with it
    threads: int  # CPU threads the trial may use (its Spark task's cores)
    deadline: float | None  # a time.perf_counter() instant to stop by ([training] timeout_s)

    def time_left(self) -> float:
        """Seconds until the deadline (infinite without one)."""
        return math.inf if self.deadline is None else self.deadline - time.perf_counter()


def own_trial(data: Any, reference: str, params: dict[str, Any], *, seed: int,
              timeout_s: float | None = None,
              clock: Callable[[], float] = time.perf_counter) -> TrainOutcome:
    """A workload's whole trial function (``[model] trial``), timed as one "train" phase and
    checked: it returns val_error and test_error (fractions), and may return final_loss,
    test_wrong (one boolean per test example, which test_error must agree with), and a status
    ("diverged" or "timeout", with an error message). What it raises is FAILED, with the
    traceback; a result bench cannot read is FAILED too, saying what was wrong."""
    from bench.definitions.user_code import load_function

    phases: dict[str, float] = {}
    t = clock()
    try:
        import os
        import random

        random.seed(seed)
        np.random.seed(seed % 2**32)
        context = TrialContext(seed, int(os.environ.get("TF_NUM_INTRAOP_THREADS", "1")),
                               None if timeout_s is None else time.perf_counter() + timeout_s)
        returned = load_function(reference)(dict(params), data, context)
        phases["train"] = clock() - t
        outcome = _read_trial_result(reference, returned, len(data.y_test))
        if timeout_s is not None and phases["train"] > timeout_s and \
                outcome.status is TrialStatus.OK:  # as bench's own trainings, past the limit
            outcome = TrainOutcome(TrialStatus.TIMEOUT, error=(
                f"returned after {phases['train']:.1f} s, over the workload's per-trial "
                f"timeout of {timeout_s:g} s ([training] timeout_s; context.deadline)"))
        outcome.phases = phases
    except Exception as e:  # never BaseException: a Ctrl-C must stay an interrupt
        phases.setdefault("train", clock() - t)
        status = TrialStatus.OOM if _out_of_memory(e) else TrialStatus.FAILED
        outcome = TrainOutcome(status, phases=phases, error=traceback.format_exc())
    t = clock()
    if "keras" in sys.modules:  # a Keras trial leaves its graph behind: not the next one's
        sys.modules["keras"].backend.clear_session()
    gc.collect()
    phases["cleanup"] = clock() - t
    return outcome


_TRIAL_STATUSES = {"ok": TrialStatus.OK, "diverged": TrialStatus.DIVERGED,
                   "timeout": TrialStatus.TIMEOUT}


def _read_trial_result(reference: str, returned: Any, test_size: int) -> TrainOutcome:
    """The outcome a trial function returned; a TypeError or ValueError saying what is wrong."""
    if not isinstance(returned, dict):
        raise TypeError(f"{reference} returned a {type(returned).__name__}; return a dict with "
                        "val_error and test_error")
    status = _TRIAL_STATUSES.get(str(returned.get("status", "ok")))
    if status is None:
        raise ValueError(f"{reference} returned status {returned['status']!r}; use one of "
                         f"{', '.join(_TRIAL_STATUSES)}")
    if status is not TrialStatus.OK:
        return TrainOutcome(status, error=str(returned.get("error", f"{status.value} "
                                                                    f"(said {reference})")))
    wrong = returned.get("test_wrong")
    if wrong is not None:
        wrong = np.asarray(wrong, dtype=bool)
        if wrong.shape != (test_size,):
            raise ValueError(f"{reference} returned test_wrong of shape {wrong.shape}; give one "
                             f"boolean per test example ({test_size})")
        given = returned.get("test_error")
        # 1 - accuracy and wrong / n can differ in the last bit; more is another count
        if given is not None and abs(float(given) - _rate(wrong)) > 0.5 / test_size:
            raise ValueError(f"{reference} returned test_error {given!r} but test_wrong says "
                             f"{_rate(wrong)!r}: return one of them, or both alike")
        returned = {**returned, "test_error": _rate(wrong)}
    errors = {}
    for key in ("val_error", "test_error"):
        value = returned.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
                or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{reference} returned {key}={value!r}; give the fraction of "
                             "examples it got wrong, a number in [0, 1]")
        errors[key] = float(value)
    loss = returned.get("final_loss")
    if loss is not None and not math.isfinite(float(loss)):
        return TrainOutcome(TrialStatus.DIVERGED, error=f"{reference} returned final_loss "
                                                        f"{loss!r}")
    packed = None if wrong is None else pack_wrong(wrong)
    return TrainOutcome(TrialStatus.OK, errors["val_error"], errors["test_error"],
                        None if loss is None else float(loss), test_wrong=packed)
