"""The `convnet` family is the network of TensorFlow's 2016 tutorial
models/image/mnist/convolutional.py, the one Databricks' 2016 Spark + TensorFlow experiment tuned:
its layers, sizes, initial values, regularisation, input scaling, optimizer and learning-rate
schedule, pinned with exact numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytestmark = pytest.mark.tensorflow

# The tutorial's defaults (workloads/mnist-convnet.toml's [baseline]).
TUTORIAL = {"learning_rate": 0.01, "neurons": 512, "momentum": 0.9, "decay_rate": 0.95,
            "l2": 5e-4, "dropout": 0.5}
SEED = 66478  # the tutorial's SEED, the workload's [training] seed


def convnet(params=TUTORIAL, *, train_size=55_000, batch_size=64, seed=SEED):
    import keras

    from bench.ml.models import build_model

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)  # as training.train_and_evaluate does before building
    return build_model("convnet", params, input_shape=(28, 28, 1), num_classes=10,
                       train_size=train_size, batch_size=batch_size)


@pytest.fixture(scope="module")
def model():
    return convnet()


def test_the_layers_and_their_shapes(model):
    seen = [(type(layer).__name__, tuple(layer.output.shape)) for layer in model.layers]
    assert seen == [
        ("Rescaling", (None, 28, 28, 1)),
        ("Conv2D", (None, 28, 28, 32)),
        ("MaxPooling2D", (None, 14, 14, 32)),
        ("Conv2D", (None, 14, 14, 64)),
        ("MaxPooling2D", (None, 7, 7, 64)),
        ("Flatten", (None, 3136)),
        ("Dense", (None, 512)),
        ("Dropout", (None, 512)),
        ("Dense", (None, 10)),
    ]
    _, conv1, pool1, conv2, pool2, _, fc1, dropout, fc2 = model.layers
    for conv in (conv1, conv2):
        assert (conv.kernel_size, conv.strides, conv.padding) == ((5, 5), (1, 1), "same")
        assert conv.activation.__name__ == "relu"
    for pool in (pool1, pool2):
        assert (pool.pool_size, pool.strides, pool.padding) == ((2, 2), (2, 2), "same")
    assert fc1.activation.__name__ == "relu" and fc2.activation.__name__ == "linear"
    assert dropout.rate == 0.5


@pytest.mark.parametrize("neurons, count", [
    (512, 832 + 51_264 + 1_606_144 + 5_130),  # 1,663,370
    (64, 832 + 51_264 + 200_768 + 650),  # 253,514
])
def test_parameter_count(neurons, count, model):
    built = model if neurons == 512 else convnet({**TUTORIAL, "neurons": neurons})
    assert built.count_params() == count
    assert [int(np.prod(w.shape)) for w in built.weights] == [
        5 * 5 * 1 * 32, 32, 5 * 5 * 32 * 64, 64, 3136 * neurons, neurons, neurons * 10, 10]


def test_pixels_are_scaled_to_the_tutorials_range(model):
    # The tutorial: (pixel - 255 / 2) / 255. bench feeds pixel / 255.
    pixels = np.array([0.0, 127.5, 255.0], np.float32)
    scaled = np.asarray(model.layers[0](pixels / 255.0))
    np.testing.assert_allclose(scaled, [-0.5, 0.0, 0.5], atol=1e-7)


def test_initial_biases(model):
    conv1, conv2, fc1, fc2 = (model.layers[i] for i in (1, 3, 6, 8))
    assert np.all(np.asarray(conv1.bias) == 0.0)
    for layer in (conv2, fc1, fc2):
        assert np.all(np.asarray(layer.bias) == np.float32(0.1))


def test_initial_weights_are_a_normal_truncated_at_two_stddev(model):
    kernels = [np.asarray(model.layers[i].kernel) for i in (1, 3, 6, 8)]
    for kernel in kernels:
        assert np.abs(kernel).max() <= 2 * 0.1 + 1e-6
    # A normal of stddev 0.1 cut at +-2 stddev has stddev 0.1 * 0.8796 and mean 0.
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    truncated = 0.1 * math.sqrt(1 - 2 * 2 * phi2 / math.erf(2 / math.sqrt(2)))
    assert truncated == pytest.approx(0.08796, abs=1e-5)
    fc1 = kernels[2]  # 1,605,632 values
    assert fc1.std() == pytest.approx(truncated, abs=3e-4)
    assert abs(fc1.mean()) < 3e-4
    assert np.abs(fc1).max() > 0.199  # the tail reaches the cut
    # Each layer draws its own values (one initializer reused would repeat them).
    assert not np.array_equal(kernels[3][:10].ravel(), fc1[:10, :10].ravel())


def test_the_initial_weights_follow_the_seed(model):
    again = convnet()
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    other = convnet(seed=SEED + 1)
    assert not np.array_equal(model.get_weights()[0], other.get_weights()[0])


def test_l2_is_the_tutorials_on_the_fully_connected_weights_and_biases_only():
    model = convnet()
    conv1, conv2, fc1, fc2 = (model.layers[i] for i in (1, 3, 6, 8))
    assert [len(layer.losses) for layer in (conv1, conv2)] == [0, 0]
    conv1.kernel.assign(np.full(conv1.kernel.shape, 3.0, np.float32))
    conv2.bias.assign(np.full(conv2.bias.shape, -2.0, np.float32))
    values = [(fc1.kernel, 0.01), (fc1.bias, 0.2), (fc2.kernel, -0.03), (fc2.bias, 0.5)]
    for variable, value in values:
        variable.assign(np.full(variable.shape, value, np.float32))
    # 5e-4 * (l2_loss(fc1_w) + l2_loss(fc1_b) + l2_loss(fc2_w) + l2_loss(fc2_b)), and
    # tf.nn.l2_loss(t) = sum(t ** 2) / 2
    squares = 3136 * 512 * 0.01**2 + 512 * 0.2**2 + 512 * 10 * 0.03**2 + 10 * 0.5**2
    assert squares == pytest.approx(188.1512)
    expected = 5e-4 * squares / 2
    assert expected == pytest.approx(0.0470378)
    assert sum(float(loss) for loss in model.losses) == pytest.approx(expected, rel=1e-5)
    assert len(model.losses) == 4


@pytest.mark.parametrize("step, epochs", [
    (0, 0), (859, 0), (860, 1), (1718, 1), (1719, 2), (6874, 7), (6875, 8), (8593, 9),
    (8594, 10), (8599, 10),
])
def test_the_learning_rate_decays_once_per_epoch_in_images(step, epochs, model):
    # exponential_decay(0.01, batch * 64, 55000, 0.95, staircase=True)
    assert math.floor(step * 64 / 55_000) == epochs
    optimizer = model.optimizer
    optimizer.iterations.assign(step)
    try:
        rate = float(optimizer.learning_rate)
    finally:
        optimizer.iterations.assign(0)
    assert rate == pytest.approx(0.01 * 0.95**epochs, rel=1e-6)


def test_momentum_is_tensorflow_1s_accumulator():
    """tf.train.MomentumOptimizer: a = 0.9 a + g; w -= rate * a. The rate here halves every 2
    steps, so a rule that keeps old rates in its velocity (Keras' SGD) would differ."""
    import keras

    params = {**TUTORIAL, "learning_rate": 0.1, "decay_rate": 0.5}
    optimizer = convnet(params, train_size=64, batch_size=32).optimizer
    w = keras.Variable(np.float32(1.0))
    expected, a = 1.0, 0.0
    for step in range(5):
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(np.float32(1.0)), w)])
        a = 0.9 * a + 1.0
        expected -= 0.1 * 0.5 ** (step // 2) * a
        assert float(w) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(1 - 0.1 - 0.19 - 0.05 * 2.71 - 0.05 * 3.439 - 0.025 * 4.0951)


def test_dropout_only_in_training(model):
    x = np.random.default_rng(0).random((4, 28, 28, 1), np.float32)
    inference = np.asarray(model(x, training=False))
    np.testing.assert_array_equal(inference, np.asarray(model(x, training=False)))
    np.testing.assert_allclose(inference, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(inference, np.asarray(model(x, training=True)))
    dropout = model.layers[7]
    ones = np.ones((1, 10_000), np.float32)
    dropped = np.asarray(dropout(ones, training=True))
    assert set(np.unique(dropped)) == {0.0, 2.0}  # kept units scaled by 1 / keep_prob
    assert abs((dropped == 0).mean() - 0.5) < 0.02
    np.testing.assert_array_equal(np.asarray(dropout(ones, training=False)), ones)
