"""Training and evaluation of one trial with real TensorFlow, in this process."""

from __future__ import annotations

import numpy as np
import pytest

from bench.ml.datasets import Dataset, load_dataset
from bench.store.records import TrialStatus

pytestmark = pytest.mark.tensorflow

MLP = {"learning_rate": 0.1, "neurons": 16, "layers": 1, "momentum": 0.0}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=4).as_float32()


def train(data, family="mlp", params=MLP, epochs=3, batch_size=64):
    from bench.ml.training import train_and_evaluate

    return train_and_evaluate(data, family, params, epochs=epochs, batch_size=batch_size, seed=9)


def test_a_trial_learns_and_times_its_phases(digits):
    out = train(digits)
    assert out.status is TrialStatus.OK and out.error is None
    assert 0.0 <= out.test_error < 0.5 and 0.0 <= out.val_error < 0.5
    assert set(out.phases) == {"build", "train", "evaluate", "cleanup"}
    # errors are counts over the split: exact fractions
    assert out.test_error * len(digits.y_test) == pytest.approx(round(out.test_error *
                                                                      len(digits.y_test)))


def test_same_seed_same_metrics_whatever_ran_before(digits):
    first = train(digits)
    train(digits, params={**MLP, "learning_rate": 0.7, "neurons": 64})
    again = train(digits)
    assert (first.val_error, first.test_error, first.final_loss) == \
        (again.val_error, again.test_error, again.final_loss)


def test_a_loss_that_overflows_is_diverged(digits):
    out = train(digits, params={**MLP, "learning_rate": 1e20})
    assert out.status is TrialStatus.DIVERGED and "non-finite" in out.error
    assert out.test_error is None


def test_a_trial_that_raises_is_failed_with_its_traceback(digits):
    out = train(digits, params={**MLP, "neurons": -1})
    assert out.status is TrialStatus.FAILED
    assert "Traceback" in out.error and "cleanup" in out.phases


def test_the_2016_convnet_trains_on_a_tiny_mnist():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (96, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 96, dtype=np.uint8)
    data = Dataset("mnist", x[:64], y[:64], x[64:80], y[64:80], x[80:], y[80:], 255.0, 10)
    params = {"learning_rate": 0.01, "neurons": 32, "momentum": 0.9, "decay_rate": 0.95,
              "l2": 5e-4, "dropout": 0.5}
    out = train(data.as_float32(), "convnet", params, epochs=1, batch_size=16)
    assert out.status is TrialStatus.OK, out.error
    assert 0.0 <= out.test_error <= 1.0


def test_warm_up_imports_tensorflow():
    import sys

    from bench.ml.training import warm_up

    assert warm_up() >= 0.0
    assert "tensorflow" in sys.modules


def test_a_trial_over_its_timeout_is_stopped_and_says_so(digits):
    from bench.ml.training import train_and_evaluate

    ticks = iter(range(10**6))  # a fake clock: one second per look, so the limit is exact

    out = train_and_evaluate(digits, "mlp", MLP, epochs=50, batch_size=64, seed=9, timeout_s=5,
                             clock=lambda: float(next(ticks)))
    assert out.status is TrialStatus.TIMEOUT and out.test_error is None
    assert "stopped in epoch 1 of 50" in out.error and "timeout_s" in out.error
    assert TrialStatus.TIMEOUT.is_hyperparameter_fault()  # never retried by Spark
    within = train_and_evaluate(digits, "mlp", MLP, epochs=2, batch_size=64, seed=9,
                                timeout_s=3600)
    assert within.status is TrialStatus.OK
