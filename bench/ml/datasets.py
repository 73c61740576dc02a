"""Datasets, loaded on the driver and broadcast once in a compact dtype (uint8).

``digits`` ships with scikit-learn and works offline anywhere. ``mnist`` comes through the real
loaders: a keras ``mnist.npz`` or the four IDX files, or keras' own cache through
``keras.datasets.mnist.load_data()``. Nothing is downloaded at run time. A workload's own loader
(``[dataset] loader``) returns its arrays, broadcast as it gives them.
"""

from __future__ import annotations

import gzip
import os
import struct
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.definitions.hyperparameters import DATASETS
from bench.definitions.user_code import is_reference, load_function
from bench.errors import UserError

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte",
}
MNIST_HOW_TO_GET = (
    "on a machine with internet run `python -c \"import keras; keras.datasets.mnist.load_data()\"` "
    "and copy ~/.keras/datasets/mnist.npz here, or point [dataset] path (or the BENCH_MNIST "
    "variable) at a keras mnist.npz or a folder with the four IDX files"
)


@dataclass(frozen=True)
class FloatData:
    """The dataset as the model trains on it: float32 in [0, 1], with a channel axis."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


@dataclass(frozen=True)
class Dataset:
    """Images as uint8 (H x W), labels as uint8: what the driver broadcasts. A workload's own
    loader's arrays are kept as it gave them (``own``): no scaling and no channel axis added."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    scale: float  # pixels / scale lie in [0, 1]
    num_classes: int
    own: bool = False  # a workload's own loader's arrays: the model gets them as float32 only

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.x_train, self.y_train, self.x_val, self.y_val,
                                      self.x_test, self.y_test))

    def as_float32(self) -> FloatData:
        """Runs inside the Spark task: the broadcast stays small, the model gets floats."""
        def images(x: np.ndarray) -> np.ndarray:
            if self.own:
                return x.astype(np.float32, copy=False)
            return (x.astype(np.float32) / np.float32(self.scale))[..., np.newaxis]

        return FloatData(
            images(self.x_train), self.y_train.astype(np.int64), images(self.x_val),
            self.y_val.astype(np.int64), images(self.x_test), self.y_test.astype(np.int64),
            self.num_classes,
        )


def load_dataset(
    name: str, *, seed: int, path: str | None = None, validation_size: int | None = None,
    train_limit: int | None = None, where: str = "", options: dict | None = None,
) -> Dataset:
    """bench's dataset ``name``, or the one a workload's loader ("module:function") returns when
    called with ``seed`` and ``options``; its first ``train_limit`` training examples."""
    if is_reference(name):
        data = _own(name, seed, options or {}, where)
    elif name == "digits":
        data = _digits(seed, validation_size)
    elif name == "mnist":
        data = _mnist(path, validation_size or 5000, where)
    else:
        raise UserError(f"unknown dataset '{name}'", where=where or None,
                        fix=f"use one of: {', '.join(DATASETS)}")
    if train_limit is not None:
        data = Dataset(data.name, data.x_train[:train_limit], data.y_train[:train_limit],
                       data.x_val, data.y_val, data.x_test, data.y_test, data.scale,
                       data.num_classes, data.own)
    return data


_SPLITS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def _own(reference: str, seed: int, options: dict, where: str) -> Dataset:
    """A workload's own loader's arrays, checked: the six splits as numpy arrays, as many
    examples as labels in each, the same example shape, integer labels 0 ... num_classes - 1."""
    at = f"{where} loader {reference}"
    try:
        loaded = load_function(reference)(seed=seed, **options)
    except Exception:
        # The user's own loader failed: its traceback is what they need, not bench's.
        lines = traceback.format_exc().rstrip()
        raise UserError(f"the loader raised an error:\n{lines}", where=at,
                        fix=f"correct {reference}") from None
    if not hasattr(loaded, "get"):
        raise UserError(f"returned a {type(loaded).__name__}, not a mapping of arrays",
                        where=at, fix=f"return a dict with {', '.join(_SPLITS)}")
    missing = [k for k in _SPLITS if k not in loaded]
    if missing:
        raise UserError(f"returned no {', '.join(missing)}", where=at,
                        fix=f"return a dict with {', '.join(_SPLITS)} (and num_classes if "
                            "some class is absent from every split)")
    try:
        arrays = {k: np.asarray(loaded[k]) for k in _SPLITS}
    except ValueError as e:  # ragged lists
        raise UserError(f"returned what is no array: {e}", where=at,
                        fix="return numpy arrays of one shape per split") from None
    for key in ("x_train", "x_val", "x_test"):
        if not (np.issubdtype(arrays[key].dtype, np.number) or arrays[key].dtype == bool):
            raise UserError(f"{key} holds {arrays[key].dtype}, not numbers", where=at,
                            fix="return numeric arrays (the model gets them as float32)")
    for split in ("train", "val", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if y.ndim != 1 or len(x) != len(y) or not len(y):
            raise UserError(f"x_{split} {x.shape} and y_{split} {y.shape} do not fit together",
                            where=at, fix="give N examples and N labels (a 1-D array), N > 0")
        if x.shape[1:] != arrays["x_train"].shape[1:]:
            raise UserError(f"x_{split}'s examples are {x.shape[1:]}, x_train's "
                            f"{arrays['x_train'].shape[1:]}", where=at,
                            fix="give every split examples of one shape")
        if not np.issubdtype(y.dtype, np.integer) or (y < 0).any():
            raise UserError(f"y_{split} must hold class numbers 0, 1, ... (integers), got "
                            f"{y.dtype}", where=at, fix="map the labels to 0 ... classes - 1")
    largest = max(int(arrays[f"y_{s}"].max()) for s in ("train", "val", "test"))
    num_classes = loaded.get("num_classes", largest + 1)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise UserError(f"num_classes is {num_classes!r}, not a whole number", where=at,
                        fix="give num_classes as an int, or leave it out")
    num_classes = int(num_classes)
    if num_classes <= largest:
        raise UserError(f"num_classes {num_classes} but a label is {largest}", where=at,
                        fix="give num_classes above every label, or leave it out")
    label = np.uint8 if num_classes <= 256 else np.int64
    return Dataset(reference, arrays["x_train"], arrays["y_train"].astype(label),
                   arrays["x_val"], arrays["y_val"].astype(label), arrays["x_test"],
                   arrays["y_test"].astype(label), 1.0, num_classes, own=True)


def _digits(seed: int, validation_size: int | None) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.images.astype(np.uint8)  # 8 x 8 pixels of 0 ... 16
    y = digits.target.astype(np.uint8)
    # 60 / 20 / 20, stratified, fixed by the workload's seed
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, stratify=y, random_state=seed)
    val_share = 0.5 if validation_size is None else validation_size / len(y_rest)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, train_size=val_share, stratify=y_rest, random_state=seed)
    return Dataset("digits", x_train, y_train, x_val, y_val, x_test, y_test, 16.0, 10)


def _mnist(path: str | None, validation_size: int, where: str) -> Dataset:
    source = path or os.environ.get("BENCH_MNIST")
    arrays = read_mnist(Path(source).expanduser(), where) if source else _keras_cache(where)
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    if not 0 < validation_size < len(x_train):
        raise UserError(
            f"validation_size {validation_size} leaves no training data ({len(x_train)} images)",
            where=where or None, fix="lower validation_size")
    # The 2016 tutorial validates on the first images of the training set.
    return Dataset("mnist", x_train[validation_size:], y_train[validation_size:],
                   x_train[:validation_size], y_train[:validation_size],
                   arrays["x_test"], arrays["y_test"], 255.0, 10)


def _keras_cache(where: str) -> dict[str, np.ndarray]:
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    cached = home / "datasets" / "mnist.npz"
    if not cached.is_file():
        raise UserError(f"no MNIST data: not given as a path, BENCH_MNIST is unset, and {cached} "
                        "does not exist", where=where or None, fix=MNIST_HOW_TO_GET)
    import keras

    try:
        # The real loader checks the file's hash; it would download only if the check failed.
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as e:
        raise UserError(f"keras could not load its MNIST cache: {e}", where=str(cached),
                        fix=MNIST_HOW_TO_GET) from None
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def read_mnist(path: Path, where: str = "") -> dict[str, np.ndarray]:
    """A keras-format ``.npz`` or a folder with the four IDX files (each raw or ``.gz``)."""
    if path.is_dir():
        return {key: _read_idx(_find_idx(path, stem)) for key, stem in IDX_FILES.items()}
    if not path.is_file():
        raise UserError(f"MNIST data not found at {path}", where=where or None,
                        fix=MNIST_HOW_TO_GET)
    try:
        with np.load(path) as npz:
            missing = [k for k in IDX_FILES if k not in npz.files]
            if missing:
                raise UserError(f"the file lacks {', '.join(missing)} (a keras mnist.npz has "
                                "x_train, y_train, x_test, y_test)", where=str(path))
            arrays = {k: npz[k] for k in IDX_FILES}
    except (OSError, ValueError) as e:
        raise UserError(f"not a readable .npz file: {e}", where=str(path),
                        fix=MNIST_HOW_TO_GET) from None
    _check_shapes(arrays, path)
    return {k: v.astype(np.uint8) for k, v in arrays.items()}


def _find_idx(folder: Path, stem: str) -> Path:
    dotted = stem.replace("-idx", ".idx")  # some mirrors name them train-images.idx3-ubyte
    for name in (stem, f"{stem}.gz", dotted, f"{dotted}.gz"):
        if (folder / name).is_file():
            return folder / name
    raise UserError(f"{stem} (or {stem}.gz) is missing", where=str(folder),
                    fix="the folder needs all four MNIST IDX files")


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UserError(f"cannot read the IDX file: {e}", where=str(path)) from None
    if len(raw) < 8:
        raise UserError("too short to be an IDX file", where=str(path))
    magic, count = struct.unpack(">II", raw[:8])
    dims = {2051: 3, 2049: 1}.get(magic)
    if dims is None:
        raise UserError(f"bad magic number {magic} (images have 2051, labels 2049)",
                        where=str(path), fix="give the original MNIST IDX files")
    header = 4 + 4 * dims
    shape = (count, *struct.unpack(f">{dims - 1}I", raw[8:header])) if dims > 1 else (count,)
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise UserError(f"holds {len(raw) - header} bytes of data, its header says {expected} "
                        "(truncated?)", where=str(path), fix="get the file again")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _check_shapes(arrays: dict[str, np.ndarray], path: Path) -> None:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise UserError(f"x_{split} {x.shape} and y_{split} {y.shape} do not fit together "
                            "(images N x H x W, labels N)", where=str(path))
