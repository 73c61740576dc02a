"""The model families a workload can tune, built with Keras on TensorFlow; or the workload's
own builder ("module:function", bench.definitions.user_code)."""

from __future__ import annotations

from typing import Any

from bench.definitions.user_code import is_reference, load_function


def build_model(
    family: str, params: dict[str, Any], *, input_shape: tuple[int, ...], num_classes: int,
    train_size: int, batch_size: int,
) -> Any:
    """A compiled ``keras.Model`` of ``family`` with the hyperparameters ``params``."""
    import keras

    if is_reference(family):
        return _own(family, params, input_shape, num_classes)
    if family == "mlp":
        model = _mlp(keras, params, input_shape, num_classes)
        optimizer = keras.optimizers.SGD(params["learning_rate"], momentum=params["momentum"])
    elif family == "convnet":
        model = _convnet(keras, params, input_shape, num_classes)
        # The tutorial: exponential_decay(0.01, batch * BATCH_SIZE, train_size, 0.95,
        # staircase=True), i.e. the rate times decay_rate ** floor(step * batch_size /
        # train_size): once every train_size / batch_size steps (an epoch), counted in images.
        schedule = keras.optimizers.schedules.ExponentialDecay(
            params["learning_rate"], decay_steps=train_size / batch_size,
            decay_rate=params["decay_rate"], staircase=True)
        optimizer = _tutorial_momentum(keras)(schedule, momentum=params["momentum"])
    else:
        raise ValueError(f"unknown model family {family!r}")
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _own(builder: str, params: dict[str, Any], input_shape: tuple[int, ...],
         num_classes: int) -> Any:
    """The workload's builder's model; one it did not compile cannot train: a TypeError that the
    trial records as its failure, with this message."""
    model = load_function(builder)(dict(params), input_shape=input_shape,
                                   num_classes=num_classes)
    if not hasattr(model, "fit") or not hasattr(model, "predict"):
        raise TypeError(f"{builder} returned a {type(model).__name__}, not a keras.Model")
    outputs = getattr(model, "output_shape", None)
    if not isinstance(outputs, tuple) or outputs[-1:] != (num_classes,):
        raise TypeError(f"{builder} returned a model whose output is {outputs}; bench takes "
                        f"each example's class as the argmax of {num_classes} outputs (logits "
                        "or probabilities, one per class)")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise TypeError(f"{builder} returned a model that is not compiled: call "
                        "model.compile(optimizer=..., loss=...) before returning it (a loss "
                        "on logits or probabilities of num_classes classes)")
    return model


def _mlp(keras: Any, params: dict, input_shape: tuple[int, ...], num_classes: int) -> Any:
    layers = [keras.Input(input_shape), keras.layers.Flatten()]
    layers += [keras.layers.Dense(params["neurons"], activation="relu")
               for _ in range(params["layers"])]
    layers.append(keras.layers.Dense(num_classes))
    return keras.Sequential(layers)


def _convnet(keras: Any, params: dict, input_shape: tuple[int, ...], num_classes: int) -> Any:
    """TensorFlow's 2016 tutorial models/image/mnist/convolutional.py, layer for layer.

    Every weight starts as tf.truncated_normal(stddev=0.1): Keras' TruncatedNormal also redraws
    values beyond 2 standard deviations. The tutorial gave each its op seed SEED; here they
    draw from Keras' global seed, which training sets from the workload's seed before building
    (keras.utils.set_random_seed), so a trial's initial weights are the same on every run. No
    seed can make them the tutorial's numbers: TF 0.x's generator is not Keras'. Each layer
    gets its own initializer object: a Keras initializer draws the same values on every call.
    """
    layers = keras.layers

    def weights() -> Any:
        return keras.initializers.TruncatedNormal(mean=0.0, stddev=0.1)

    def l2() -> Any:
        # The tutorial adds 5e-4 * tf.nn.l2_loss(t) for the fc weights and biases, and
        # tf.nn.l2_loss(t) is sum(t ** 2) / 2; Keras' L2(l) adds l * sum(t ** 2): so l2 / 2.
        # The convolutions are not regularised.
        return keras.regularizers.L2(params["l2"] / 2)

    return keras.Sequential([
        keras.Input(input_shape),
        # The tutorial feeds (pixel - 255 / 2) / 255, in [-0.5, 0.5]; bench's images are
        # pixel / 255, and pixel / 255 - 0.5 is the same number.
        layers.Rescaling(1.0, offset=-0.5),
        layers.Conv2D(32, 5, padding="same", activation="relu", kernel_initializer=weights(),
                      bias_initializer="zeros"),
        layers.MaxPooling2D(2, strides=2, padding="same"),
        layers.Conv2D(64, 5, padding="same", activation="relu", kernel_initializer=weights(),
                      bias_initializer=keras.initializers.Constant(0.1)),
        layers.MaxPooling2D(2, strides=2, padding="same"),
        # channels last, row-major: the tutorial's tf.reshape of its NHWC pool, same order
        layers.Flatten(),
        layers.Dense(params["neurons"], activation="relu", kernel_initializer=weights(),
                     bias_initializer=keras.initializers.Constant(0.1),
                     kernel_regularizer=l2(), bias_regularizer=l2()),
        # tf.nn.dropout(hidden, 0.5) in training only; keep_prob 0.5 is rate 0.5, and both
        # scale the kept units by 2
        layers.Dropout(params["dropout"]),
        layers.Dense(num_classes, kernel_initializer=weights(),
                     bias_initializer=keras.initializers.Constant(0.1),
                     kernel_regularizer=l2(), bias_regularizer=l2()),
    ])


def _tutorial_momentum(keras: Any) -> Any:
    """SGD with TensorFlow 1's momentum (tf.train.MomentumOptimizer, the tutorial's optimizer).

    TF 1 keeps ``a = momentum * a + gradient`` and steps ``w -= rate * a``; Keras' SGD keeps
    ``v = momentum * v - rate * gradient`` and steps ``w += v``. They agree while the rate is
    constant; when the schedule lowers it, TF 1 scales the whole accumulated step by the new
    rate at once, while Keras' velocity still carries steps taken at the old one.
    """

    class TutorialMomentum(keras.optimizers.SGD):
        def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
            ops = keras.ops
            learning_rate = ops.cast(learning_rate, variable.dtype)
            gradient = ops.cast(gradient, variable.dtype)
            if self.momentum == 0:
                self.assign_sub(variable, ops.multiply(gradient, learning_rate))
                return
            a = self.momentums[self._get_variable_index(variable)]
            self.assign(a, ops.add(ops.multiply(a, ops.cast(self.momentum, variable.dtype)),
                                   gradient))
            self.assign_sub(variable, ops.multiply(a, learning_rate))

    return TutorialMomentum
