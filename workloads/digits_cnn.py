"""The example of a workload with its own code (workloads/digits-cnn.toml): a dataset loader
and a model builder, found by bench next to the workload file and shipped to the executors.

bench calls ``load_digits(seed=...)`` once, on the driver, and broadcasts what it returns;
``build_cnn(params, input_shape=..., num_classes=...)`` runs in every trial, on an executor,
with one configuration of the grid. Keras is imported inside the builder, so reading the
workload on the driver stays light.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def load_digits(seed: int) -> dict[str, Any]:
    """scikit-learn's 8x8 digits as 8x8x1 images in [0, 1]: 60 % to train, 20 % to validate,
    20 % to test, stratified and fixed by the workload's seed."""
    from sklearn.datasets import load_digits as digits
    from sklearn.model_selection import train_test_split

    data = digits()
    x = (data.images / 16.0).astype(np.float32)[..., np.newaxis]
    y = data.target.astype(np.int64)
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, stratify=y, random_state=seed)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed)
    return {"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val,
            "x_test": x_test, "y_test": y_test}


def build_cnn(params: dict[str, Any], *, input_shape: tuple[int, ...], num_classes: int) -> Any:
    """One 3x3 convolution of ``filters`` channels, a 2x2 max-pool and a softmax layer, trained
    by ``optimizer`` at ``learning_rate``: a compiled keras.Model, as bench expects."""
    import keras

    model = keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(params["filters"], 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(num_classes),
    ])
    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}
    model.compile(optimizer=optimizers[params["optimizer"]](params["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def train_forest(params: dict[str, Any], data: Any, context: Any) -> dict[str, Any]:
    """A whole trial function (``[model] trial``; workloads/digits-forest.toml): a scikit-learn
    random forest, no Keras. bench times the call, checks what it returns and records it; it
    gives the configuration, the broadcast data (x_train ... y_test, float32) and a context
    with the seed, the CPU threads of the trial and the deadline of [training] timeout_s."""
    from sklearn.ensemble import RandomForestClassifier

    def flat(x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1)

    forest = RandomForestClassifier(n_estimators=params["trees"], max_depth=params["depth"],
                                    random_state=context.seed, n_jobs=context.threads)
    forest.fit(flat(data.x_train), data.y_train)
    wrong = forest.predict(flat(data.x_test)) != data.y_test
    # test_wrong, one boolean per test image: bench derives the test error and its intervals
    return {"val_error": float(np.mean(forest.predict(flat(data.x_val)) != data.y_val)),
            "test_wrong": wrong}
