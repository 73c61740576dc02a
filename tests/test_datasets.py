"""The real loaders, on small files the tests make: nothing is downloaded."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from bench.errors import UserError
from bench.ml.datasets import IDX_FILES, load_dataset, read_mnist


def fake_mnist(n_train: int = 60, n_test: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_idx(folder, arrays, compress=False):
    folder.mkdir(exist_ok=True)
    for key, stem in IDX_FILES.items():
        a = arrays[key]
        magic = 2051 if a.ndim == 3 else 2049
        blob = struct.pack(f">I{a.ndim}I", magic, *a.shape) + a.tobytes()
        if compress:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(blob))
        else:
            (folder / stem).write_bytes(blob)
    return folder


def test_digits_split_is_stratified_compact_and_seeded():
    d = load_dataset("digits", seed=1)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (1078, 359, 360)
    assert d.x_train.dtype == np.uint8 and d.x_train.max() <= 16 and d.scale == 16
    assert set(np.unique(d.y_val)) == set(range(10))
    again, other = load_dataset("digits", seed=1), load_dataset("digits", seed=2)
    assert np.array_equal(d.x_test, again.x_test) and not np.array_equal(d.x_test, other.x_test)
    f = d.as_float32()
    assert f.x_train.dtype == np.float32 and f.x_train.max() <= 1.0
    assert f.input_shape == (8, 8, 1)


@pytest.mark.parametrize("form", ["npz", "idx", "idx.gz"])
def test_mnist_from_each_file_form(tmp_path, form):
    arrays = fake_mnist()
    if form == "npz":
        path = tmp_path / "mnist.npz"
        np.savez(path, **arrays)
    else:
        path = write_idx(tmp_path / "idx", arrays, compress=form == "idx.gz")
    d = load_dataset("mnist", seed=0, path=str(path), validation_size=10)
    assert np.array_equal(d.x_val, arrays["x_train"][:10])  # the tutorial's first images
    assert np.array_equal(d.x_train, arrays["x_train"][10:])
    assert np.array_equal(d.y_test, arrays["y_test"]) and d.scale == 255.0
    assert d.as_float32().input_shape == (28, 28, 1)


def test_mnist_from_the_environment_variable(tmp_path, monkeypatch):
    np.savez(tmp_path / "m.npz", **fake_mnist())
    monkeypatch.setenv("BENCH_MNIST", str(tmp_path / "m.npz"))
    assert len(load_dataset("mnist", seed=0, validation_size=5, train_limit=7).x_train) == 7


def test_no_mnist_anywhere_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_MNIST", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(UserError) as info:
        load_dataset("mnist", seed=0, where="w.toml [dataset]")
    message = info.value.message
    assert "no MNIST data" in message and "mnist.load_data()" in message and "w.toml" in message


def test_damaged_files_are_named(tmp_path):
    arrays = fake_mnist()
    folder = write_idx(tmp_path / "bad-magic", arrays)
    blob = bytearray((folder / IDX_FILES["y_test"]).read_bytes())
    blob[:4] = struct.pack(">I", 1234)
    (folder / IDX_FILES["y_test"]).write_bytes(bytes(blob))
    with pytest.raises(UserError, match="bad magic number 1234"):
        read_mnist(folder)

    folder = write_idx(tmp_path / "cut", arrays)
    path = folder / IDX_FILES["x_train"]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(UserError, match="truncated") as info:
        read_mnist(folder)
    assert str(path) in info.value.message

    folder = write_idx(tmp_path / "incomplete", arrays)
    (folder / IDX_FILES["x_test"]).unlink()
    with pytest.raises(UserError, match="is missing"):
        read_mnist(folder)

    npz = tmp_path / "partial.npz"
    np.savez(npz, x_train=arrays["x_train"], y_train=arrays["y_train"])
    with pytest.raises(UserError, match="lacks x_test, y_test"):
        read_mnist(npz)

    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a readable .npz"):
        read_mnist(junk)


def test_unknown_dataset():
    with pytest.raises(UserError, match="digits, mnist"):
        load_dataset("cifar", seed=0)


def test_a_folder_copied_from_a_mac_loads(tmp_path):
    # macOS writes AppleDouble files (._NAME, magic 0x00051607) beside every file it copies to a
    # foreign file system, a .DS_Store, and __MACOSX/ in zips: none of them is an IDX file.
    arrays = fake_mnist()
    folder = write_idx(tmp_path / "from-a-mac", arrays, compress=True)
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(4066)
    for stem in IDX_FILES.values():
        (folder / f"._{stem}.gz").write_bytes(apple_double)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(100))
    (folder / "__MACOSX").mkdir()
    (folder / "__MACOSX" / f"._{IDX_FILES['x_train']}.gz").write_bytes(apple_double)
    d = load_dataset("mnist", seed=0, path=str(folder), validation_size=10)
    assert np.array_equal(d.x_test, arrays["x_test"]) and len(d.x_train) == 50
