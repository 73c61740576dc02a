"""The model families a workload can tune, built with Keras on TensorFlow."""

from __future__ import annotations

from typing import Any


def build_model(
    family: str, params: dict[str, Any], *, input_shape: tuple[int, ...], num_classes: int,
    train_size: int, batch_size: int,
) -> Any:
    """A compiled ``keras.Model`` of ``family`` with the hyperparameters ``params``."""
    import keras

    if family == "mlp":
        model = _mlp(keras, params, input_shape, num_classes)
        optimizer = keras.optimizers.SGD(params["learning_rate"], momentum=params["momentum"])
    elif family == "convnet":
        model = _convnet(keras, params, input_shape, num_classes)
        # The tutorial decays the base rate by decay_rate once per epoch (staircase).
        schedule = keras.optimizers.schedules.ExponentialDecay(
            params["learning_rate"], decay_steps=train_size / batch_size,
            decay_rate=params["decay_rate"], staircase=True)
        optimizer = keras.optimizers.SGD(schedule, momentum=params["momentum"])
    else:
        raise ValueError(f"unknown model family {family!r}")
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _mlp(keras: Any, params: dict, input_shape: tuple[int, ...], num_classes: int) -> Any:
    layers = [keras.Input(input_shape), keras.layers.Flatten()]
    layers += [keras.layers.Dense(params["neurons"], activation="relu")
               for _ in range(params["layers"])]
    layers.append(keras.layers.Dense(num_classes))
    return keras.Sequential(layers)


def _convnet(keras: Any, params: dict, input_shape: tuple[int, ...], num_classes: int) -> Any:
    """TensorFlow's 2016 tutorial models/image/mnist/convolutional.py."""
    l2 = keras.regularizers.L2(params["l2"])
    return keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(32, 5, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 5, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(params["neurons"], activation="relu", kernel_regularizer=l2,
                           bias_regularizer=l2),
        keras.layers.Dropout(params["dropout"]),
        keras.layers.Dense(num_classes, kernel_regularizer=l2, bias_regularizer=l2),
    ])
