"""bench as a library, for a notebook or a job: run a workload, read a run directory as pandas
DataFrames, compare two runs.

    import bench

    run = bench.run(workload="digits-mlp", grid="small", clusters=["local", "2-node"])
    run.trials.groupby("profile")["phase.train"].mean()
    bench.compare("reports/runs/before", run)

``bench.run`` takes `bench run`'s options as keyword arguments and goes through the very code the
command line does (bench.commands.run.execute). What the command prints goes to the ``bench``
logger at INFO instead, and the progress display shows only with ``progress=True``.

Given a running SparkSession (``spark=``), bench runs on that session's cluster as one profile,
``session``, of its executors (``nodes=``, ``cores=`` say otherwise): bench.cluster._session
says what is read from the session, what bench leaves as it was, and why a sweep on it only
labels its counts.

This module sits on top of the package beside bench.cli; ``import bench`` loads it (and pandas)
only when one of its names is first used.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from bench.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from bench.cluster import SessionCluster

log = logging.getLogger("bench")

PathLike = str | os.PathLike
# A keyword argument of bench.run that is not the option's name with dashes for underscores.
_KEYWORDS = {"--nodes": "sweep=", "--no-floor": "no_floor=True", "--set": "settings="}


@dataclass(frozen=True, eq=False, repr=False)
class Run:
    """A run directory as data: what ``load_run`` and ``run`` return.

    ``trials``: one row per line of trials.jsonl (a trial on one profile, mode and repeat), its
    hyperparameters as ``param.NAME`` columns and its phases as ``phase.NAME`` (seconds).
    ``profiles``: one row per line of profiles.jsonl (a grid run of one profile, mode and
    repeat). ``deployments``: one row per deployment scoring. ``summary``: summary.json's
    document. ``meta``: run.json."""

    path: Path
    meta: dict[str, Any]
    summary: dict[str, Any]
    trials: pd.DataFrame
    profiles: pd.DataFrame
    deployments: pd.DataFrame

    @property
    def run_id(self) -> str:
        return self.path.name

    def __repr__(self) -> str:
        return (f"Run({str(self.path)!r}: {len(self.trials)} trial records, "
                f"{len(self.profiles)} profile runs)")


def run(
    workload: PathLike | None = None,
    *,
    grid: str | None = None,
    clusters: str | Sequence[str] | None = None,
    repeats: int | None = None,
    mode: str | None = None,
    order: str | None = None,
    sweep: Sequence[int] | None = None,
    trials_per_node: int | None = None,
    deploy_rows: int | None = None,
    no_floor: bool = False,
    backends: str | Sequence[str] | None = None,
    mlflow: str | bool | None = None,
    settings: Mapping[str, Any] | None = None,
    out: PathLike | None = None,
    resume: PathLike | None = None,
    spark: Any = None,
    nodes: int | None = None,
    cores: int | None = None,
    progress: bool = False,
) -> Run:
    """Run a workload's grid on cluster profiles, as `bench run` does, and return the run.

    The keyword arguments are `bench run`'s options (``bench run --help``), with the same
    defaults and checks: ``workload`` a name in workloads/ or a .toml path, ``grid``,
    ``clusters`` (names or paths, a list or "a,b"), ``repeats``, ``mode`` ("auto", "measured",
    "replay"), ``order`` ("longest_first", "grid"), ``sweep`` (node counts, `--nodes`),
    ``trials_per_node``, ``deploy_rows``, ``no_floor``, ``backends`` (names or "a,b":
    spark-map, pull, joblibspark, hyperopt, optuna, ray, floor), ``mlflow`` (True: log to
    ./mlruns; or a tracking URI), ``settings`` (`--set`:
    ``{"training.epochs": 2}``), ``out`` (default reports/runs) and ``resume`` (a run
    directory to finish). ``progress``: show the progress display on stderr.

    ``spark``: a running SparkSession (or SparkContext) to run on instead of bench's own
    clusters: one profile named ``session``, of ``nodes`` executors of ``cores`` cores each,
    read from the session unless given. Without ``mode``, a session of more than one node runs
    measured (there is no 1-node reference to replay from). bench never stops the session, and
    puts back the calling thread's local properties (job group, description, pool, tags); it
    changes neither its configuration nor its log level. ``sweep`` on a session runs each count
    on the whole session: bench cannot take executors from it, so the counts compare nothing
    (a warning says so); without ``sweep`` the session runs at its full size only.

    Mistakes you can fix raise bench.errors.UserError (what, where and how to fix it); Ctrl-C
    raises KeyboardInterrupt, with every finished trial kept in the run directory.
    """
    session = None
    if spark is not None:
        session = _session_cluster(spark, nodes, cores, clusters, resume)
        if mode is None and session.profile.nodes > 1 and 1 not in (sweep or ()):
            mode = "measured"
    elif nodes is not None or cores is not None:
        raise UserError("nodes= and cores= describe a given SparkSession, and spark= is not "
                        "given", where="bench.run()",
                        fix="pass spark=session, or name cluster profiles with clusters= "
                            "(sweep= for node counts)")
    else:
        _no_running_context()
    args = _arguments(workload=workload, grid=grid, clusters=clusters, repeats=repeats, mode=mode,
                      order=order, sweep=sweep, trials_per_node=trials_per_node,
                      deploy_rows=deploy_rows, no_floor=no_floor, backends=backends,
                      mlflow=mlflow, out=out, resume=resume)
    if settings is not None:
        args.set = _settings(settings)
    from bench.commands.run import execute

    with contextlib.redirect_stdout(_LogLines(log)):
        written = execute(args, progress=progress, session=session)
    return load_run(written.run.path)


def load_run(path: PathLike) -> Run:
    """The run directory at ``path`` (e.g. reports/runs/latest) as a Run: its records as
    DataFrames, summary.json's document (computed from the records, not written, if the run
    has none yet) and run.json."""
    from bench.store.records import DeploymentRun, ProfileRun
    from bench.store.rundir import SUMMARY, RunDirectory

    run_dir = RunDirectory.open(Path(path))
    summary_file = run_dir.path / SUMMARY
    if summary_file.is_file():
        summary = json.loads(summary_file.read_text())
    else:  # a run stopped before its reports
        from bench.compare.results import summary_of_run

        summary = summary_of_run(run_dir)
    return Run(path=run_dir.path, meta=run_dir.meta(), summary=summary,
               trials=trials_frame(run_dir.trials()),
               profiles=records_frame(run_dir.profile_runs(), ProfileRun),
               deployments=records_frame(run_dir.deployments(), DeploymentRun))


def compare(a: Run | PathLike, b: Run | PathLike) -> pd.DataFrame:
    """Every figure of ``a`` (before) and ``b`` (after) side by side, as `bench compare A B`
    judges them: one row per figure of each profile and mode (``scope``, with ``profile`` and
    ``mode``; "run" and None for the accuracy figures), with ``figure`` (its key), ``label``,
    ``a``, ``b``, ``ratio`` (B / A), ``change``, the 95 % interval (``interval_low``,
    ``interval_high``), ``verdict``, ``why`` and ``gated``. ``attrs`` holds the labels of A and
    B, ``comparable``, ``mismatches`` and ``notes``.

    ``a`` and ``b``: Runs, run directories, summary.json files, saved references or
    pytest-benchmark files, as `bench compare` takes them."""
    import pandas as pd

    from bench.compare.comparison import compare as compare_summaries
    from bench.compare.results import load_result

    result_a, result_b = load_result(_location(a)), load_result(_location(b))
    comparison = compare_summaries(result_a.summary, result_b.summary,
                                   a_label=result_a.label, b_label=result_b.label)
    rows_of = {f"{p['name']} ({p['mode']})": (p["name"], p["mode"])
               for doc in (result_a.summary, result_b.summary) for p in doc.get("profiles", [])}
    rows = []
    for fc in comparison.figures:
        profile, mode = rows_of.get(fc.scope, (None, None))
        low, high = fc.interval if fc.interval is not None else (None, None)
        rows.append({"scope": fc.scope, "profile": profile, "mode": mode,
                     "figure": fc.figure.key, "label": fc.figure.label, "a": fc.a, "b": fc.b,
                     "ratio": fc.ratio, "change": fc.change, "interval_low": low,
                     "interval_high": high, "verdict": fc.verdict.value, "why": fc.why,
                     "gated": fc.gated and fc.figure.gated})
    frame = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    frame.attrs.update(a=comparison.a_label, b=comparison.b_label,
                       comparable=comparison.comparable, mismatches=list(comparison.mismatches),
                       notes=list(comparison.notes))
    return frame


COMPARE_COLUMNS = ["scope", "profile", "mode", "figure", "label", "a", "b", "ratio", "change",
                   "interval_low", "interval_high", "verdict", "why", "gated"]


def trials_frame(trials: Iterable[Any]) -> pd.DataFrame:
    """TrialResults as a DataFrame: their fields, ``param.NAME`` and ``phase.NAME`` columns
    (phases in their order in a trial), without the test-image mask (``test_wrong``)."""
    import pandas as pd

    from bench.store.records import PHASES, TrialResult

    flat = ("params", "phases", "test_wrong")
    base = [f.name for f in dataclasses.fields(TrialResult) if f.name not in flat]
    params: dict[str, None] = {}
    phases: dict[str, None] = dict.fromkeys(PHASES)
    rows = []
    for trial in trials:
        record = trial.to_dict()
        row = {key: record.get(key) for key in base}
        for name, value in record["params"].items():
            params.setdefault(name)
            row[f"param.{name}"] = value
        for name, value in record["phases"].items():
            phases.setdefault(name)
            row[f"phase.{name}"] = value
        rows.append(row)
    seen = {name.partition(".")[2] for row in rows for name in row if name.startswith("phase.")}
    columns = [*base, *(f"param.{p}" for p in params),
               *(f"phase.{p}" for p in phases if p in seen)]
    return pd.DataFrame(rows, columns=columns)


def records_frame(records: Iterable[Any], kind: type) -> pd.DataFrame:
    """Records of one ``kind`` (ProfileRun, DeploymentRun) as a DataFrame of their JSON lines,
    a column per field."""
    import pandas as pd

    return pd.DataFrame([r.to_dict() for r in records],
                        columns=[f.name for f in dataclasses.fields(kind)])


def _location(result: Run | PathLike) -> str:
    return str(result.path if isinstance(result, Run) else Path(result))


def _session_cluster(spark: Any, nodes: int | None, cores: int | None,
                     clusters: object, resume: object) -> SessionCluster:
    if clusters is not None:
        raise UserError("clusters= and spark= both say where to run", where="bench.run()",
                        fix="drop clusters= to run on the session, or spark= to run on the "
                            "profiles")
    if resume is not None:
        raise UserError("a run is resumed on the clusters it was made on; spark= cannot change "
                        "them", where="bench.run(resume=...)", fix="drop spark=")
    from bench.cluster import SessionCluster, session_profile

    sc = getattr(spark, "sparkContext", spark)  # a SparkSession, or its SparkContext
    for name, value in (("nodes", nodes), ("cores", cores)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise UserError(f"{name}={value!r} is not a whole number of 1 or more",
                            where=f"bench.run({name}=...)", fix=f"give {name} as an int")
    return SessionCluster(session_profile(sc, nodes=nodes, cores=cores), sc)


def _no_running_context() -> None:
    """bench's own clusters each need a SparkContext of bench's; Spark runs one at a time."""
    pyspark = sys.modules.get("pyspark")
    if pyspark is not None and pyspark.SparkContext._active_spark_context is not None:
        raise UserError(
            "a SparkContext is running in this process, and bench's clusters need their own "
            "(Spark allows one at a time)", where="bench.run()",
            fix="run on its cluster with bench.run(spark=session, ...), or stop it first")


class _Raising(argparse.ArgumentParser):
    """`bench run`'s parser, its errors raised as UserError naming the keyword argument."""

    def error(self, message: str) -> NoReturn:
        def keyword(match: re.Match) -> str:
            flag = match.group(0)
            return _KEYWORDS.get(flag, flag.removeprefix("--").replace("-", "_") + "=")

        raise UserError(re.sub(r"--[a-z][a-z-]*", keyword, message), where="bench.run()",
                        fix="see help(bench.run) and `bench run --help`")


def _arguments(**given: Any) -> argparse.Namespace:
    """The options as `bench run` parses them: the same defaults, types and checks."""
    from bench.commands import run as run_command

    argv = ["run"]
    for name, value in given.items():
        if value is None or value is False:
            continue
        flag = {"sweep": "--nodes"}.get(name, "--" + name.replace("_", "-"))
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, ",".join(str(v) for v in value)]
        else:
            argv += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    parser = _Raising(prog="bench")
    run_command.add_parser(parser.add_subparsers(dest="verb"))
    return parser.parse_args(argv)


def _settings(settings: Mapping[str, Any]) -> list[Any]:
    """``{"training.epochs": 2}`` as `--set training.epochs=2` gives it, its value as is."""
    from bench.definitions.overrides import SET, Setting

    out = []
    for name, value in settings.items():
        table, _, key = str(name).partition(".")
        if not table or not key:
            raise UserError(f"'{name}' is not TABLE.KEY", where="bench.run(settings=...)",
                            fix="name a setting like 'training.epochs' or 'dataset.train_limit'")
        out.append(Setting(table, key, value, SET, f"bench.run(settings={{{name!r}: {value!r}}})"))
    return out


class _LogLines(io.TextIOBase):
    """What the command would print, a log record per line (``bench: `` left off)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger, self.pending = logger, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.strip():
                self.logger.info(line.removeprefix("bench: "))
        return len(text)

    def flush(self) -> None:
        if self.pending.strip():
            self.logger.info(self.pending.removeprefix("bench: "))
        self.pending = ""
