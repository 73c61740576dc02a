"""The fidelity check of `mnist-convnet` on the real MNIST: a benchmark, not a test (minutes to
hours; it needs the four MNIST files, which bench never downloads).

It trains configurations exactly as a trial of the workload does (``bench.ml.training``: the
workload's seed, epochs, batch size, data order and the tutorial's network), without Spark, and
records the validation and test error after every epoch and the time each epoch took, so a
training cut short still says where it was heading. Run it with

    BENCH_MNIST=/path/to/mnist .venv/bin/python tests/benchmarks/fidelity_mnist.py \
        [--params learning_rate=0.01,neurons=512] [--epochs 10] [--threads 2] [--out FILE]

Several --params run one after another. ``--proxy-grid NAME --proxy-epochs 1
--proxy-train-limit 10000`` first trains every configuration of a grid shortened that way and
then fully trains the one best on validation (a shortcut of the full grid, and said so in its
output). The results are appended as JSON lines to --out (default
reports/fidelity/fidelity.jsonl).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.definitions.workload import Workload, load_workload
from bench.ml.datasets import load_dataset


def _params(text: str, workload: Workload) -> dict[str, Any]:
    params = dict(workload.baseline)
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        kind = type(workload.baseline[key])
        params[key] = kind(value)
    return params


def train(workload: Workload, params: dict[str, Any], *, epochs: int,
          train_limit: int | None, threads: int) -> dict[str, Any]:
    """One configuration trained as its trial would be, with its errors after every epoch."""
    import keras
    import tensorflow as tf

    from bench.ml.models import build_model
    from bench.ml.training import error_rate

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    settings = workload.dataset
    data = load_dataset(settings.name, seed=workload.training.seed, path=settings.path,
                        validation_size=settings.validation_size,
                        train_limit=train_limit or settings.train_limit).as_float32()
    batch = workload.training.batch_size
    curve: list[dict[str, float]] = []

    class PerEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            train_s = time.perf_counter() - self.start
            curve.append({"epoch": epoch + 1, "train_s": round(train_s, 2),
                          "loss": float((logs or {}).get("loss", float("nan"))),
                          "val_error": error_rate(self.model, data.x_val, data.y_val, batch),
                          "test_error": error_rate(self.model, data.x_test, data.y_test, batch)})
            print(f"  epoch {epoch + 1}: {train_s:.0f} s, validation error "
                  f"{curve[-1]['val_error']:.2%}, test error {curve[-1]['test_error']:.2%}",
                  flush=True)

    keras.backend.clear_session()
    keras.utils.set_random_seed(workload.training.seed)
    tf.config.experimental.enable_op_determinism()
    model = build_model(workload.model, params, input_shape=data.input_shape,
                        num_classes=data.num_classes, train_size=len(data.x_train),
                        batch_size=batch)
    begin = time.perf_counter()
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch,
              shuffle=workload.training.shuffle, verbose=0, callbacks=[PerEpoch()])
    return {"params": params, "epochs": epochs, "train_images": len(data.x_train),
            "threads": threads, "wall_s": round(time.perf_counter() - begin, 1),
            "final": curve[-1] if curve else None, "curve": curve}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="mnist-convnet")
    parser.add_argument("--params", action="append", default=[],
                        help="k=v,k=v over the baseline (default: the baseline itself)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the workload's")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="only the first N training images (default: all 55,000)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--proxy-grid", default=None)
    parser.add_argument("--proxy-epochs", type=int, default=1)
    parser.add_argument("--proxy-train-limit", type=int, default=10000)
    parser.add_argument("--out", type=Path, default=Path("reports/fidelity/fidelity.jsonl"))
    args = parser.parse_args(argv)
    if not os.environ.get("BENCH_MNIST"):
        print("set BENCH_MNIST to a folder with the four MNIST IDX files (or a keras mnist.npz)",
              file=sys.stderr)
        return 2
    workload = load_workload(args.workload)
    epochs = args.epochs or workload.training.epochs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    stamp = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "machine": f"{platform.node()} ({os.cpu_count()} cores)",
             "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])])}
    configs = [_params(p, workload) for p in args.params] or [dict(workload.baseline)]
    if args.proxy_grid:
        configs.append(_proxy_best(workload, args, stamp))
    for params in configs:
        print(f"training {params} for {epochs} epochs", flush=True)
        record = {**stamp, "kind": "full", **train(workload, params, epochs=epochs,
                                                    train_limit=args.train_limit,
                                                    threads=args.threads)}
        _append(args.out, record)
    return 0


def _proxy_best(workload: Workload, args: argparse.Namespace,
                stamp: dict[str, str]) -> dict[str, Any]:
    """Every configuration of the proxy grid, shortened; the one best on validation."""
    best: tuple[float, dict[str, Any]] | None = None
    for trial in workload.trials(args.proxy_grid):
        print(f"proxy: {trial.trial_id}", flush=True)
        record = train(workload, trial.params, epochs=args.proxy_epochs,
                       train_limit=args.proxy_train_limit, threads=args.threads)
        _append(args.out, {**stamp, "kind": "proxy", "grid": args.proxy_grid, **record})
        val = record["final"]["val_error"] if record["final"] else float("inf")
        if best is None or val < best[0]:
            best = (val, trial.params)
    assert best is not None
    print(f"proxy best on validation: {best[1]} ({best[0]:.2%})", flush=True)
    return best[1]


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    sys.exit(main())
