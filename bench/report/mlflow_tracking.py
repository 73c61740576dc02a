"""`--mlflow [URI]`: a run directory logged to MLflow the way SparkTrials and Ray Tune users know
it, so they can browse, filter and compare bench's trials in the MLflow UI they already use.

One experiment per workload and grid ("bench digits-mlp medium"); one parent run per grid run
(profile, mode, repeat; its runner, i.e. the back-end) with the grid's figures; one child run per
trial with its hyperparameters, metrics, phase times and status. Only what the records (and the
summary.json of `bench report`, when there) hold is logged: a figure a record lacks is left out.

The default store is ``./mlruns``, but as a SQLite database in it (``sqlite:///<abs>/mlruns/
mlflow.db``), not MLflow's plain file store: MLflow 3.17 refuses the file store ("in maintenance
mode", an MlflowException) unless ``MLFLOW_ALLOW_FILE_STORE=true`` is set, and MLflow's own
default is now SQLite. Whoever sets that variable gets the plain ``./mlruns`` file store, as
SparkTrials wrote it. A folder given as the URI is treated the same way.

The URI goes to an ``MlflowClient``, never to ``mlflow.set_tracking_uri``: the caller's global
MLflow state is left alone. Each run takes three calls (create, ``log_batch``, terminate), so a
grid of 100 trials logs in a few seconds (a new store takes a few more: MLflow migrates its
database). Logging a run directory again adds only the grid runs not yet logged (each parent
carries a ``bench.key`` tag), so a re-run of `--mlflow` makes no duplicates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import UserError
from bench.store.records import ProfileRun, TrialResult, TrialStatus
from bench.store.rundir import SUMMARY, RunDirectory

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

DEFAULT_FOLDER = "mlruns"
WHERE = "--mlflow"
ERROR_CHARS = 300  # MLflow tags hold 8,000 characters; a traceback's end says enough
_ROW_FIGURES = ("speedup", "efficiency_vs_bound", "overhead_per_trial_s")  # from summary.json
_TRIAL_METRICS = ("val_error", "test_error", "final_loss", "cpu_s")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")  # sqlite:, file:, http:, ...; not C:
_BARE = ("databricks", "databricks-uc", "uc")  # URIs MLflow takes without a colon
_MLFLOW_STATUS = {TrialStatus.OK: "FINISHED", TrialStatus.CANCELLED: "KILLED"}  # others FAILED


@dataclass(frozen=True)
class MlflowLogged:
    """What ``log_to_mlflow`` logged, and where."""

    experiment_name: str
    experiment_id: str
    tracking_uri: str
    parent_runs: int  # grid runs logged now
    trial_runs: int  # trials logged now
    skipped_parents: int = 0  # grid runs logged by an earlier call, left as they were


def log_to_mlflow(run_dir: Path, tracking_uri: str | None = None) -> MlflowLogged:
    """Log the run in ``run_dir`` to MLflow at ``tracking_uri`` (default: ``./mlruns``).

    Raises UserError for a run directory bench cannot read, a store MLflow cannot open or write
    (a bad URI), or mlflow missing. Only reads ``run_dir``."""
    run = RunDirectory.open(run_dir)
    meta, trials, grid_runs = run.meta(), run.trials(), run.profile_runs()
    workload = meta.get("workload", {})
    name = f"bench {workload.get('name', '?')} {workload.get('grid', '?')}"
    uri, artifacts = _resolve(tracking_uri)
    with _quiet(), _as_user_error(uri):
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        experiment_id = _experiment(client, name, artifacts)
        logged = _already_logged(client, experiment_id, run.run_id)
        figures = _row_figures(run)
        parents = children = skipped = 0
        for key, grid_run, its_trials in _grid_runs(grid_runs, trials):
            tag = "/".join((run.run_id, *map(str, key)))
            if tag in logged:
                skipped += 1
                continue
            parent = _log_parent(client, experiment_id, run.run_id, workload, key, grid_run,
                                 figures)
            for trial in its_trials:
                _log_trial(client, experiment_id, parent, run.run_id, trial)
            # marked logged and ended only now: a parent cut short is logged again next time
            client.set_tag(parent, "bench.key", tag)
            client.set_terminated(parent, "FINISHED" if grid_run else "KILLED",
                                  end_time=_ms(grid_run.ended_at) if grid_run else None)
            parents += 1
            children += len(its_trials)
    return MlflowLogged(name, experiment_id, uri, parents, children, skipped)


def _resolve(tracking_uri: str | None) -> tuple[str, str | None]:
    """The URI to give MLflow, and the artifact folder of a new experiment when bench chose the
    store's place (else None: MLflow's default). A URI with a scheme goes to MLflow as it is."""
    if tracking_uri is not None and (_SCHEME.match(tracking_uri) or tracking_uri in _BARE):
        return tracking_uri, None
    folder = Path(tracking_uri or DEFAULT_FOLDER).expanduser().absolute()
    try:
        from mlflow.environment_variables import MLFLOW_ALLOW_FILE_STORE
    except ImportError:
        raise _no_mlflow() from None
    if MLFLOW_ALLOW_FILE_STORE.get():  # the user opted into the file store MLflow 3 refuses
        return folder.as_uri(), None
    return f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri()


def _no_mlflow() -> UserError:
    return UserError("mlflow is not installed", where=WHERE,
                     fix="install bench's 'backends' extra: pip install -e '.[backends]'")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's INFO lines (creating the database's tables) and SQLAlchemy's deprecation warnings
    are not bench's to show; its WARNINGs and errors are."""
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@contextlib.contextmanager
def _as_user_error(uri: str) -> Iterator[None]:
    """A store MLflow refuses, cannot reach or cannot write is the user's to fix: say so, with
    the URI. The run directory is only read, so nothing of the run is lost."""
    try:
        yield
    except ImportError:
        raise _no_mlflow() from None
    except Exception as e:
        if not isinstance(e, _store_errors()):
            raise  # a bug of bench's: keep its traceback
        what = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        file_store = " (or set MLFLOW_ALLOW_FILE_STORE=true)" if uri.startswith("file:") else ""
        raise UserError(
            f"MLflow could not log to {uri}: {what[:ERROR_CHARS]}", where=WHERE,
            fix="give a URI MLflow can write, e.g. a folder (./mlruns), "
                "sqlite:///path/to/mlflow.db or http://host:5000 of a running `mlflow server`"
                f"{file_store}; the run directory is unchanged: log it again when the store "
                "works",
        ) from None


def _store_errors() -> tuple[type[Exception], ...]:
    from mlflow.exceptions import MlflowException

    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # installed with MLflow's database stores; absent, none can raise it
        return MlflowException, OSError
    return MlflowException, OSError, SQLAlchemyError


def _experiment(client: MlflowClient, name: str, artifacts: str | None) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name, artifact_location=artifacts)
    if found.lifecycle_stage == "deleted":  # its name stays taken until restored or purged
        client.restore_experiment(found.experiment_id)
    return found.experiment_id


def _already_logged(client: MlflowClient, experiment_id: str, run_id: str) -> set[str]:
    """The ``bench.key`` tags of this run directory's parents already in the experiment."""
    keys: set[str] = set()
    token = None
    while True:
        page = client.search_runs([experiment_id], f"tags.`bench.run_id` = '{run_id}'",
                                  max_results=1000, page_token=token)
        keys |= {r.data.tags["bench.key"] for r in page if "bench.key" in r.data.tags}
        token = page.token
        if not token:
            return keys


def _row_figures(run: RunDirectory) -> dict[tuple[str, str], dict[str, float]]:
    """Each row's (profile, mode) figures from summary.json, if `bench report` wrote it; a
    missing or damaged one only leaves them out (they are derived; the records are not)."""
    try:
        summary = json.loads((run.path / SUMMARY).read_text())
        rows = summary["profiles"]
        return {(r["name"], r["mode"]): {k: r[k] for k in _ROW_FIGURES
                                         if isinstance(r.get(k), (int, float))} for r in rows}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


GridKey = tuple[str, str, int, str]  # profile, mode, repeat, kind


def _grid_runs(grid_runs: list[ProfileRun], trials: list[TrialResult],
               ) -> Iterator[tuple[GridKey, ProfileRun | None, list[TrialResult]]]:
    """Each grid run with its trials. An order check or weak-scaling run records no trials of
    its own; trials whose grid run never finished (a driver died) still get a parent, without
    the grid's figures, keyed apart so that once `bench run --resume` finishes it, it is logged
    again whole."""
    by_key: dict[GridKey, list[TrialResult]] = {}
    for t in trials:
        by_key.setdefault((t.profile, t.mode.value, t.repeat, "grid"), []).append(t)
    finished = set()
    for gr in grid_runs:
        kind = "order-check" if gr.order_check else "weak-scaling" if gr.weak_trial_ids else "grid"
        key = (gr.profile, gr.mode.value, gr.repeat, kind)
        finished.add(key)
        yield key, gr, by_key.get(key, []) if kind == "grid" else []
    for key, its_trials in by_key.items():
        if key not in finished:
            yield (*key[:3], "unfinished"), None, its_trials


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def _batch(client: MlflowClient, run_id: str, params: dict[str, Any],
           metrics: dict[str, float | None], at: float | None) -> None:
    from mlflow.entities import Metric, Param

    stamp = _ms(at) if at is not None else _ms(time.time())
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items() if v is not None],
        params=[Param(k, v if isinstance(v, str) else json.dumps(v)) for k, v in params.items()
                if v is not None],
        synchronous=True,
    )


def _log_parent(client: MlflowClient, experiment_id: str, run_id: str, workload: dict,
                key: GridKey, gr: ProfileRun | None,
                figures: dict[tuple[str, str], dict[str, float]]) -> str:
    """The grid run's parent, left running: its trials are logged under it next."""
    profile, mode, repeat, kind = key
    label = {"grid": f"repeat {repeat}", "unfinished": f"repeat {repeat} (unfinished)",
             "order-check": "order check", "weak-scaling": "weak scaling"}[kind]
    tags = {"bench.run_id": run_id, "bench.kind": kind}
    run = client.create_run(experiment_id, start_time=_ms(gr.started_at) if gr else None,
                            tags=tags, run_name=f"{profile} {mode} {label}")
    params: dict[str, Any] = {"workload": workload.get("name"), "grid": workload.get("grid"),
                              "profile": profile, "mode": mode, "repeat": repeat,
                              "run_id": run_id}
    metrics: dict[str, float | None] = {}
    if gr is not None:
        params |= {"runner": gr.runner, "nodes": gr.nodes, "cores": gr.cores, "slots": gr.slots,
                   "order": gr.order}
        metrics = {"wall_s": gr.wall_s, "startup_s": gr.startup_s, "warmup_s": gr.warmup_s,
                   "trials": gr.trials, "probe_s": gr.probe_s, "data_fetch_s": gr.data_fetch_s,
                   "task_failures": gr.task_failures,
                   # getattr: fields ProfileRun gains with the back-ends, absent before
                   "backend_start_s": getattr(gr, "backend_start_s", None),
                   "workers_started": getattr(gr, "workers_started", None)}
        if kind == "grid":  # the row's figures are of its repeats, not of an extra run
            metrics |= figures.get((profile, mode), {})
    _batch(client, run.info.run_id, params, metrics, gr.ended_at if gr else None)
    return run.info.run_id


def _log_trial(client: MlflowClient, experiment_id: str, parent: str, run_id: str,
               t: TrialResult) -> None:
    tags = {"mlflow.parentRunId": parent, "bench.run_id": run_id, "status": t.status.value,
            "trial_id": t.trial_id, "index": str(t.index), "is_baseline": str(t.is_baseline),
            "executor_id": t.executor_id, "host": t.host, "attempt": str(t.attempt),
            "cold": str(t.cold)}
    if t.error:
        tags["error"] = t.error.strip()[-ERROR_CHARS:]  # a traceback ends with what went wrong
    run = client.create_run(experiment_id, start_time=_ms(t.dispatched_at), run_name=t.trial_id,
                            tags={k: v for k, v in tags.items() if v is not None})
    metrics: dict[str, float | None] = {k: getattr(t, k) for k in _TRIAL_METRICS}
    metrics |= {f"phase_{name}_s": s for name, s in t.phases.items()}
    _batch(client, run.info.run_id, t.params, metrics, t.received_at)
    client.set_terminated(run.info.run_id, _MLFLOW_STATUS.get(t.status, "FAILED"),
                          end_time=_ms(t.received_at))


def log_and_tell(run_dir: Path, tracking_uri: str | None = None) -> MlflowLogged:
    """`bench run --mlflow`: log the run (log_to_mlflow) and say where, on stderr."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no network here to spend
    logged = log_to_mlflow(run_dir, tracking_uri)
    print(f"bench: logged {logged.trial_runs} trials under {logged.parent_runs} grid runs to "
          f"MLflow experiment '{logged.experiment_name}' at {logged.tracking_uri}",
          file=sys.stderr)
    return logged
