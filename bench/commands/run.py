"""`bench run`: run a workload's grid on cluster profiles and report speedup and accuracy gain."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench import __version__
from bench.cluster import SessionCluster, check_reachable, given_cluster
from bench.cluster._local import LOOPBACK
from bench.cluster.environment import capture
from bench.cluster.leftovers import clean_leftovers
from bench.cluster.preflight import (
    check_java,
    check_memory,
    check_ports,
    check_result_channel_port,
    usable_cores,
)
from bench.commands.report import Written, add_output_options, show
from bench.definitions.knobs import read_test_knobs
from bench.definitions.locations import PROJECT_ROOT, REPORTS_DIR
from bench.definitions.overrides import Setting, describe, parse_set, to_record
from bench.definitions.profile import DEFAULT_PROFILES, load_profiles, memory_mb, with_nodes
from bench.definitions.workload import Workload, load_workload
from bench.errors import UserError
from bench.execute.backends import NAMES as BACKENDS
from bench.execute.backends import check_available
from bench.execute.deployment import DEFAULT_ROWS
from bench.execute.plan import ModeChoice, plan
from bench.execute.resume import ResumeState, RunJob, load_resume
from bench.ml.datasets import load_dataset
from bench.store.records import DEFAULT_ORDER, FORMAT_VERSION, ORDERS, Mode
from bench.store.rundir import RunDirectory


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of {minimum} or more, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)


def _count(text: str) -> int:
    return _whole_number(text, 0)


def _setting(text: str) -> Setting:
    try:
        return parse_set(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


SWEPT_PROFILE = "13-node"  # what --nodes sweeps without --clusters


def _backend_names(text: str) -> tuple[str, ...]:
    """--backends: known names, each once, in the order given."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown back-end {', '.join(unknown) or '(none given)'}; choose from "
            f"{','.join(BACKENDS)}")
    return names


def _node_counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be node counts separated by commas, like 1,2,4,8,13; got {text!r}") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"node counts must be 1 or more, got {text!r}")
    if counts[0] != 1:
        raise argparse.ArgumentTypeError(
            f"a sweep needs 1 node, the reference its speedups divide: add 1 to {text!r}")
    return counts


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("run", help="run a workload's grid on cluster profiles")
    parser.add_argument("--workload", metavar="NAME|PATH", default=None,
                        help="a name in workloads/ or a .toml path (default: digits-mlp)")
    parser.add_argument("--grid", metavar="NAME", default=None,
                        help="a grid of the workload (default: the workload's default_grid)")
    parser.add_argument("--set", type=_setting, action="append", default=None,
                        metavar="TABLE.KEY=VALUE",
                        help="change a [training] or [dataset] setting of the workload for this "
                             "run, after the grid's own settings; VALUE is read as TOML (2, "
                             "0.5, false), else as text; repeatable, e.g. --set training.epochs=2 "
                             "--set dataset.train_limit=6000")
    parser.add_argument("--clusters", metavar="A,B,C", default=None,
                        help="cluster profiles, names in clusters/ or .toml paths "
                             f"(default: {','.join(DEFAULT_PROFILES)})")
    parser.add_argument("--repeats", type=_positive_int, default=None, metavar="N",
                        help="run each grid N times for mean +- sd (default: 1)")
    parser.add_argument("--mode", choices=[m.value for m in ModeChoice], default=None,
                        help="auto: replay profiles bigger than this host (default); measured: "
                             "real trials everywhere; replay: replay every multi-node profile")
    parser.add_argument("--nodes", type=_node_counts, default=None, metavar="1,2,4,8,13",
                        help="sweep node counts on one cluster: the one profile of --clusters "
                             "(default: 13-node) is started once and each count runs as its "
                             "own application on that many of its nodes; 4 or more counts "
                             "let the report fit the Universal Scalability Law")
    parser.add_argument("--trials-per-node", type=_count, default=None, metavar="K",
                        help="weak scaling: every multi-node profile also runs the grid's first "
                             "K x nodes trials once, reported as scaled speedup (default: 0, "
                             "off: it explains growth, not the speedup)")
    parser.add_argument("--deploy-rows", type=_count, default=None, metavar="N",
                        help="the deployment step: the best configuration, retrained once, "
                             "scores N rows on every profile (default: the workload's "
                             f"[deployment] rows, else {DEFAULT_ROWS:,}; 0 turns it off)")
    parser.add_argument("--no-floor", dest="floor", action="store_false", default=None,
                        help="skip the process-pool floor (the measured multi-node trials "
                             "again on a plain local process pool, no Spark)")
    parser.add_argument("--backends", type=_backend_names, default=None, metavar="A,B",
                        help="run every profile's grid through these back-ends too, repeat by "
                             f"repeat: {', '.join(BACKENDS)} (default: spark-map, the 2016 "
                             "pattern, which always runs: every row is read against its "
                             "1-node row); the report compares them")
    parser.add_argument("--mlflow", nargs="?", const="", default=None, metavar="URI",
                        help="log every trial (parameters, metrics, phases, status) as an MLflow "
                             "run under a parent run per grid run, as SparkTrials and Ray Tune "
                             "do; to ./mlruns (a SQLite store) unless URI is given")
    parser.add_argument("--order", choices=ORDERS, default=None,
                        help="dispatch order of the trials: longest_first (the longest expected "
                             "first, from the 1-node durations of this run; default) or grid "
                             "(the workload's own order)")
    parser.add_argument("--out", type=Path, default=REPORTS_DIR / "runs",
                        metavar="DIR", help="where run directories go (default: reports/runs "
                                            "of the working directory, or $BENCH_REPORTS/runs)")
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="finish a run whose driver died: run only the trials that have no "
                             "result, then report the whole run (everything else comes from "
                             "the run)")
    add_output_options(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.format != "json":
        written = execute(args, progress=not getattr(args, "quiet", False))
        show(written, args.format, args.full, first=(("run directory", written.run.path),))
    else:
        # Only the summary on stdout: whatever the run prints, Spark's processes included, goes
        # to stderr until it is written.
        with _stdout_to_stderr():
            written = execute(args, progress=not getattr(args, "quiet", False))
        show(written, "json", False)
    if not getattr(args, "quiet", False):
        from bench.report.progress_display import duration

        # everything a user waited for: checks, clusters, warm-ups, grids, extras, reports
        print(f"bench: the run took {duration(time.monotonic() - started)} in all",
              file=sys.stderr)
    return 0


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """stdout, Python's and file descriptor 1 (the processes it starts inherit), onto stderr."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's StringIO)
        fd = None
    saved = os.dup(fd) if fd is not None else None
    if fd is not None:
        os.dup2(sys.stderr.fileno(), fd)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, fd)
            os.close(saved)


def execute(args: argparse.Namespace, *, progress: bool = True,
            session: SessionCluster | None = None) -> Written:
    """The run `bench run` makes, for the command line and bench.api alike: ``args`` as its
    parser gives them, ``progress`` the progress display (stderr), ``session`` the cluster of a
    given SparkSession to run on instead of the profiles (bench.api; never stopped)."""
    # Everything a user can get wrong is checked before a file is written or a process started.
    if args.resume is not None:
        run, job = _resumed(args)
    else:
        run, job = None, _new(args, session)
    java = session.java() if session is not None else check_java()
    if session is None:  # a running session is there already
        _check_clusters(job)
    workload = job.workload
    changed = [s.where for s in workload.settings if s.table == "dataset"]
    dataset = load_dataset(
        workload.dataset.name, seed=workload.training.seed, path=workload.dataset.path,
        validation_size=workload.dataset.validation_size,
        train_limit=workload.dataset.train_limit, options=workload.dataset.options,
        where=f"{workload.path} [dataset]" + (f" with {', '.join(changed)}" if changed else ""),
    )

    # Spark and the report's plotting load only once the input is checked: `bench --help` and
    # bad input stay light.
    from bench.cluster.spark_session import shutdown_gateway
    from bench.commands.report import write_reports
    from bench.execute.experiment import run_experiment
    from bench.report.progress_display import progress_display

    if cleaned := clean_leftovers():
        print(f"bench: {cleaned.describe()}")
    if run is None:
        run = _create_run(args.out, job, java)
    else:
        _continue_run(run, job)
    if job.knobs.active:
        print(f"bench: TEST KNOB ON, these figures are made worse on purpose: "
              f"{job.knobs.describe()}")
    run.mark_latest()
    try:
        # stderr: stdout is the answer's. -q silences it.
        with progress_display(quiet=not progress) as observer, given_cluster(session):
            run_experiment(job, run, dataset, observer)
    except BaseException:  # re-raised: an error, Ctrl-C or SIGTERM all end here first
        # Whatever finished is on disk; say where and how to finish, then let main() report
        # the cause.
        with contextlib.suppress(Exception):
            write_reports(run)
        print(f"bench: finished trials are in {run.path / 'trials.jsonl'}; to run the rest: "
              f"bench run --resume {run.path}")
        raise
    finally:
        if session is None:  # the driver's JVM is the session's
            shutdown_gateway()
    written = write_reports(run)
    if getattr(args, "mlflow", None) is not None:  # after the reports: a refusal loses nothing
        from bench.report.mlflow_tracking import log_and_tell

        log_and_tell(run.path, args.mlflow or None)
    return written


def _check_clusters(job: RunJob) -> None:
    """Each cluster reachable, or small enough for this host; its driver's ports free."""
    for pp in job.planned:
        if pp.profile.is_local:
            check_memory(pp.profile.name, pp.profile.nodes,
                         memory_mb(pp.profile.executor_memory),
                         tensorflow=Mode.MEASURED in pp.modes, where=str(pp.profile.path))
        else:
            check_reachable(pp.profile)
        # A local cluster's driver binds the loopback address unless the profile says otherwise.
        bind = pp.profile.spark.get("spark.driver.bindAddress") or \
            (LOOPBACK if pp.profile.is_local else "")
        check_ports(pp.profile.spark, bind, where=f"{pp.profile.path} [spark]")
        check_result_channel_port(pp.profile)  # before a run directory is made, too


def _continue_run(run: RunDirectory, job: RunJob) -> None:
    """A resumed run: its files' torn last lines mended, the resume noted in run.json."""
    run.repair_tails()
    meta = run.meta()
    meta.setdefault("resumed_at", []).append(time.time())
    run.write_meta(meta)
    left = sum(len(job.state.remaining((pp.profile.name, mode, r), job.specs))
               for pp in job.planned for mode in pp.modes for r in range(job.repeats)
               if not job.state.is_finished((pp.profile.name, mode, r)))
    print(f"bench: resuming {run.path}: {left} trial runs have no result yet")


def _new(args: argparse.Namespace, session: SessionCluster | None = None) -> RunJob:
    workload = load_workload(args.workload, args.grid, args.set or ())
    specs = workload.trials(args.grid)
    default = SWEPT_PROFILE if args.nodes else ",".join(DEFAULT_PROFILES)
    names = [n.strip() for n in (args.clusters or default).split(",") if n.strip()]
    if not names:
        raise UserError("no cluster profile given", where="--clusters",
                        fix="name at least one, e.g. --clusters local,2-node")
    profiles = [session.profile] if session is not None else load_profiles(names)
    if args.nodes:
        if len(profiles) != 1:
            raise UserError(f"--nodes sweeps one cluster, and --clusters names {len(profiles)}",
                            where="--clusters", fix="name the one profile to sweep, e.g. "
                                                    f"--clusters {SWEPT_PROFILE}")
        profiles = [with_nodes(profiles[0], n) for n in args.nodes]
    knobs = read_test_knobs()
    planned = plan(profiles, ModeChoice(args.mode or "auto"), usable_cores())
    _check_node_type(profiles)
    return RunJob(workload, args.grid or workload.default_grid, specs, planned,
                  args.repeats or 1, args.mode or "auto", knobs, ResumeState(),
                  args.order or DEFAULT_ORDER,
                  # opt-in: make bench keeps to what explains the speedup (its 4 minutes)
                  0 if args.trials_per_node is None else args.trials_per_node,
                  _deploy_rows(args.deploy_rows, workload),
                  args.floor is not False, check_available(args.backends or ()))


def _deploy_rows(given: int | None, workload: Workload) -> int:
    """--deploy-rows, else the workload's [deployment] rows, else bench's default; none for a
    workload's own trial function, which returns metrics and no model to deploy."""
    workload_rows = workload.deployment.rows
    if workload.trial_function:
        if given or workload_rows:
            raise UserError(
                "the deployment step retrains the best model and scores rows with it; a "
                "workload's own trial function ([model] trial) returns metrics, no model",
                where="--deploy-rows" if given else f"{workload.path} [deployment] rows",
                fix="leave the deployment step out (--deploy-rows 0), or give a builder "
                    "([model] builder) that returns the compiled Keras model")
        return 0
    if given is not None:
        return given
    return DEFAULT_ROWS if workload_rows is None else workload_rows


def _resumed(args: argparse.Namespace) -> tuple[RunDirectory, RunJob]:
    given = [f"--{name}" for name in ("workload", "grid", "set", "clusters", "repeats", "mode",
                                                "order", "nodes", "trials_per_node",
                                                "deploy_rows", "floor", "backends")
             if getattr(args, name) is not None]
    if given:
        raise UserError(f"--resume takes the run's own settings; {', '.join(given)} cannot "
                        "change them", where=" ".join(given),
                        fix=f"drop {', '.join(given)}, or start a new run without --resume")
    run = RunDirectory.open(args.resume)
    return run, load_resume(run, usable_cores(), read_test_knobs())


def _create_run(out: Path, job: RunJob, java: str) -> RunDirectory:
    workload, specs, grid = job.workload, job.specs, job.grid
    run = RunDirectory.create(out, workload.name)
    run.write_meta({
        "format_version": FORMAT_VERSION,
        "bench_version": __version__,
        "run_id": run.run_id,
        "created_at": time.time(),
        "workload": {
            "name": workload.name, "path": str(workload.path), "grid": grid,
            "trials": len(specs), "model": workload.model, "dataset": workload.dataset.name,
            "epochs": workload.training.epochs, "seed": workload.training.seed,
            "hash": workload.definition_hash(grid),
            "thresholds": workload.thresholds.to_dict(),
            # what changed [training] and [dataset] (the grid's settings, --set): in the hash
            "settings": to_record(workload.settings),
        },
        "profiles": [pp.profile.describe() | {"modes": [m.value for m in pp.modes],
                                              "plan": pp.reason} for pp in job.planned],
        "options": {"repeats": job.repeats, "mode": job.mode, "order": job.order,
                    "trials_per_node": job.trials_per_node, "deploy_rows": job.deploy_rows,
                    "floor": job.floor, "backends": list(job.backends)},
        "test_knobs": job.knobs.to_dict(),
        "environment": capture(java, PROJECT_ROOT),
    })
    from bench.report.answer import shown_path

    lines = [f"bench: {workload.name} grid '{grid}' ({len(specs)} trials) on "
             f"{', '.join(pp.profile.name for pp in job.planned)}"]
    if workload.settings:
        lines.append(f"bench: changed for this run: {describe(to_record(workload.settings))}")
    print("\n".join([*lines, f"bench: run directory {shown_path(run.path)}"]))
    return run


def _check_node_type(profiles) -> None:
    """docs/method.md: speedup compares the same node type; a 1-node run of other nodes is no
    reference."""
    reference = next((p for p in profiles if p.nodes == 1), None)
    if reference is None:
        return
    for p in profiles:
        if (p.cores, p.trials_per_node) != (reference.cores, reference.trials_per_node):
            raise UserError(
                f"profile '{p.name}' has nodes of {p.cores} cores x {p.trials_per_node} trials, "
                f"the 1-node reference '{reference.name}' {reference.cores} x "
                f"{reference.trials_per_node}: speedup needs the same node type",
                where=str(p.path), fix="give every profile of one run the same cores per node",
            )
