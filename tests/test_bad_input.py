"""Every kind of malformed input, through the real command line (bench.cli.main, and for a
few `python -m bench ...`).

Each must exit with code 2 (3: no usable reference for the gate), say what is wrong, where (file, table, key or option) and how to fix
it (the `fix:` line), print no traceback, and leave nothing half-written: no run directory in
`--out`, no file changed anywhere in the test's folder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from commandline import bench, bench_main
from conftest import write_workload
from made_runs import write_run

from bench.analyse.summary_json import SUMMARY_VERSION
from bench.store.records import FORMAT_VERSION

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    args: list[str]
    what: str  # in the message: what is wrong
    where: str  # in the message: the file, table, key or option
    fix: str  # on the `fix:` line
    env: dict[str, str | None] = field(default_factory=dict)  # None unsets a variable
    out: Path | None = None  # the run's --out, when not <tmp>/runs
    hold: socket.socket | None = None  # kept open while bench runs, closed after
    code: int = 2  # the exit code due


Build = Callable[[Path], Case]


def changed(path: Path, change: Callable[[str], str]) -> Path:
    text = path.read_text()
    assert change(text) != text, "the change did not apply"
    path.write_text(change(text))
    return path


def tiny(tmp: Path) -> Path:
    return write_workload(tmp, epochs=1, rates="[0.1, 0.5]")


def workload(change: Callable[[str], str], what: str, table: str, fix: str, *args: str) -> Build:
    """`bench run` of the tiny workload of conftest.py, changed; ``table`` as in the message."""
    def build(tmp: Path) -> Case:
        path = changed(tiny(tmp), change)
        return Case(["run", "--workload", str(path), "--clusters", "local", *args], what,
                    f"{path} [{table}]" if table else str(path), fix)
    return build


PROFILE = """\
nodes = 1
cores = 1
memory = "2g"
executor_memory = "1g"
"""


def profile(change: Callable[[str], str], what: str, fix: str, clusters: str = "{}") -> Build:
    """`bench run` of the tiny workload on a 1-node profile file, changed; ``clusters`` names
    it as {}."""
    def build(tmp: Path) -> Case:
        path = tmp / "p.toml"
        path.write_text(PROFILE)
        changed(path, change)
        return Case(["run", "--workload", str(tiny(tmp)), "--clusters", clusters.format(path)],
                    what, str(path), fix)
    return build


def run_args(*args: str, what: str, where: str, fix: str) -> Build:
    """`bench run` of the tiny workload with these options."""
    return lambda tmp: Case(["run", "--workload", str(tiny(tmp)), *args], what, where, fix)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unreachable_master(tmp: Path) -> Case:
    path = tmp / "gone.toml"
    path.write_text(f'master = "spark://127.0.0.1:{free_port()}"\n' + PROFILE)
    return Case(["run", "--workload", str(tiny(tmp)), "--clusters", str(path)],
                "is unreachable", str(path), "start the cluster, or correct 'master'")


def busy_driver_port(tmp: Path) -> Case:
    # A port fixed in [spark] with no retries: Spark would fail only once the cluster is up.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    path = tmp / "fixed.toml"
    path.write_text(PROFILE + f'[spark]\n"spark.driver.port" = "{port}"\n'
                              '"spark.port.maxRetries" = "0"\n')
    return Case(["run", "--workload", str(tiny(tmp)), "--clusters", str(path)],
                f"port {port} is in use", f"{path} [spark]", "spark.driver.port", hold=busy)


def old_run_dir(tmp: Path) -> Case:
    run = tmp / "old-run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"format_version": FORMAT_VERSION - 1}))
    return Case(["report", str(run)], f"format version {FORMAT_VERSION - 1}",
                str(run / "run.json"), "re-run the workload")


def run_dir_with(name: str, change: Callable[[str], str]) -> Callable[[Path], Path]:
    """A complete run made by hand (made_runs.py) whose file ``name`` is then changed."""
    def make(tmp: Path) -> Path:
        run = write_run(tmp / "made")
        changed(run / name, change)
        return run
    return make


def report_of(make: Callable[[Path], Path], what: str, file: str, fix: str) -> Build:
    def build(tmp: Path) -> Case:
        run = make(tmp)
        return Case(["report", str(run)], what, str(run / file), fix)
    return build


def not_a_run(tmp: Path) -> Case:
    (tmp / "empty").mkdir()
    return Case(["report", str(tmp / "empty")], "not a run directory", str(tmp / "empty"),
                "give a folder made by `bench run`")


def compare_old_summary(tmp: Path) -> Case:
    old = tmp / "summary.json"
    old.write_text(json.dumps({"format_version": FORMAT_VERSION,
                               "summary_version": SUMMARY_VERSION - 1, "run_id": "old"}))
    return Case(["compare", str(old), str(old)], "older bench", str(old), f"bench report {tmp}")


def compare_missing(tmp: Path) -> Case:
    run = write_run(tmp / "made")
    return Case(["compare", str(run), str(tmp / "nowhere")], "no such file or directory",
                str(tmp / "nowhere"), "give a run directory")


def compare_not_json(tmp: Path) -> Case:
    (tmp / "notes.txt").write_text("not json\n")
    return Case(["compare", str(tmp / "notes.txt"), str(tmp / "notes.txt")], "not a JSON file",
                str(tmp / "notes.txt"), "give a run directory")


def check_missing_baseline_file(tmp: Path) -> Case:
    run = write_run(tmp / "made")
    return Case(["check", str(run), "--baseline", str(tmp / "baseline.json")],
                "no such file or directory", str(tmp / "baseline.json"), "give a run directory")


def check_without_saved_baseline(tmp: Path) -> Case:
    run = write_run(tmp / "made")
    return Case(["check", str(run), "--baselines-dir", str(tmp / "baselines")],
                "no reference for w grid 'g'", str(tmp / "baselines"), "bench reference save",
                code=3)


def no_java(tmp: Path) -> Case:
    def has_java(folder: str) -> bool:
        return os.access(os.path.join(folder, "java"), os.X_OK)

    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not has_java(p))
    case = run_args("--clusters", "local", what="Java was not found", where="PATH and JAVA_HOME",
                    fix="openjdk-17")(tmp)
    return replace(case, env={"PATH": path, "JAVA_HOME": None})


def out_below_a_file(tmp: Path) -> Case:
    (tmp / "a-file").write_text("")
    out = tmp / "a-file" / "runs"  # cannot be made, whoever runs the test (root included)
    return Case(["run", "--workload", str(tiny(tmp)), "--clusters", "local", "--out", str(out)],
                "cannot create the output folder", str(out), "--out", out=out)


def out_is_a_file(tmp: Path) -> Case:
    (tmp / "runs").write_text("")
    return Case(["run", "--workload", str(tiny(tmp)), "--clusters", "local"],
                "cannot create the output folder", str(tmp / "runs"), "--out")


def out_latest_not_a_link(tmp: Path) -> Case:
    (tmp / "runs" / "latest").mkdir(parents=True)  # where bench keeps a link to the newest run
    return Case(["run", "--workload", str(tiny(tmp)), "--clusters", "local"],
                "not the link bench keeps", str(tmp / "runs" / "latest"), "remove or rename it")


def out_read_only(tmp: Path) -> Case:
    out = tmp / "locked"
    out.mkdir(mode=0o500)
    return Case(["run", "--workload", str(tiny(tmp)), "--clusters", "local", "--out", str(out)],
                "cannot write here", str(out), "--out", out=out)


def argparse_error(*args: str, what: str, option: str) -> Build:
    return lambda tmp: Case(["run", *args], what, option, "bench run --help")


TABLE = [
    # workload files
    pytest.param(workload(lambda t: t.replace("[model]", "[model"), "not valid TOML", "", "correct the syntax"), id="workload-bad-toml"),
    pytest.param(workload(lambda t: "epochs = 3\n" + t, "unknown key 'epochs'", "", "known keys"), id="workload-unknown-top-level-key"),
    pytest.param(workload(lambda t: t.replace("seed = 11", "seed = 11\nlearning_rate = 0.1"), "unknown key 'learning_rate'", "training", "known keys"), id="workload-unknown-key-in-a-table"),
    pytest.param(workload(lambda t: t.replace("batch_size", "batchsize"), "missing required key 'batch_size'", "training", "did you mean 'batch_size' where it says 'batchsize'"), id="workload-misspelt-key"),
    pytest.param(workload(lambda t: t.replace("epochs = 1", 'epochs = "1"'), "'epochs' must be an integer", "training", "epochs = 2 (no quotes)"), id="workload-wrong-type"),
    pytest.param(workload(lambda t: t.replace("epochs = 1", "epochs = 0"), "'epochs' must be greater than 0", "training", "greater than 0"), id="workload-zero-epochs"),
    pytest.param(workload(lambda t: t.replace("epochs = 1", "epochs = -3"), "'epochs' must be greater than 0", "training", "greater than 0"), id="workload-negative-epochs"),
    pytest.param(workload(lambda t: t.replace("batch_size = 64", "batch_size = -64"), "'batch_size' must be greater than 0", "training", "greater than 0"), id="workload-negative-batch-size"),
    pytest.param(workload(lambda t: t.replace("learning_rate = [0.1, 0.5]", ""), "empty grid", "grids.tiny", "add at least one hyperparameter list"), id="workload-empty-grid"),
    pytest.param(workload(lambda t: t.replace("[0.1, 0.5]", "[]"), "'learning_rate' is an empty list", "grids.tiny", "give at least one value"), id="workload-empty-grid-list"),
    pytest.param(workload(lambda t: t.replace("[0.1, 0.5]", '[0.1, "fast"]'), "'learning_rate' value must be a number", "grids.tiny", "learning_rate (base learning rate of SGD) as a number in (0, inf)"), id="workload-grid-value-of-wrong-type"),
    pytest.param(workload(lambda t: t.replace("[0.1, 0.5]", "[0.1, -0.5]"), "'learning_rate' value must be in (0, inf), got -0.5", "grids.tiny", "a number in (0, inf)"), id="workload-negative-learning-rate"),
    pytest.param(workload(lambda t: t.replace("[0.1, 0.5]", "[0.1, 0.1]"), "lists a value twice", "grids.tiny", "once"), id="workload-grid-value-twice"),
    pytest.param(workload(lambda t: t.replace("learning_rate = 0.01", "learning_rate = 0.0"), "'learning_rate' must be in (0, inf), got 0.0", "baseline", "a number in (0, inf)"), id="workload-learning-rate-0"),
    pytest.param(workload(lambda t: t.replace('family = "mlp"', 'family = "resnet"'), "unknown model family 'resnet'", "model", "use one of: mlp, convnet"), id="workload-unknown-model"),
    pytest.param(workload(lambda t: t.replace('name = "digits"', 'name = "cifar"'), "unknown dataset 'cifar'", "dataset", "use one of: digits, mnist"), id="workload-unknown-dataset"),
    pytest.param(workload(lambda t: t.replace("layers = 1\n", ""), "missing required key 'layers'", "baseline", "add 'layers = ...'"), id="workload-baseline-misses-a-hyperparameter"),
    pytest.param(workload(lambda t: t.replace("momentum = 0.0", "momentum = 0.0\ndropout = 0.5"), "unknown key 'dropout'", "baseline", "learning_rate"), id="workload-baseline-key-the-model-lacks"),
    pytest.param(workload(lambda t: t + "dropout = [0.1, 0.2]\n", "unknown key 'dropout'", "grids.tiny", "learning_rate"), id="workload-grid-key-the-model-lacks"),
    pytest.param(workload(lambda t: 'name = "../tiny"\n' + t, "'name' must be a plain name", "", "e.g. name = \"digits-mlp\""), id="workload-name-not-plain"),
    pytest.param(workload(lambda t: t.replace('default_grid = "tiny"', 'default_grid = "huge"'), "unknown grid 'huge'", "", "use one of: tiny"), id="workload-unknown-default-grid"),
    pytest.param(workload(lambda t: t.replace('name = "digits"', 'name = "mnist"\npath = "/nonexistent/mnist.npz"'), "MNIST data not found", "dataset", "mnist.npz"), id="workload-mnist-file-missing"),
    pytest.param(lambda tmp: Case(["run", "--workload", str(tiny(tmp)), "--grid", "huge"], "has no grid 'huge'", "--grid", "use one of: tiny"), id="unknown-grid-option"),
    pytest.param(lambda tmp: Case(["run", "--workload", "no-such-workload"], "unknown workload 'no-such-workload'", "--workload", "digits-mlp"), id="unknown-workload-name"),
    pytest.param(lambda tmp: Case(["run", "--workload", str(tmp / "gone.toml")], "workload file not found", str(tmp / "gone.toml"), "check the path"), id="workload-file-missing"),
    # cluster profile files
    pytest.param(profile(lambda t: t.replace("nodes = 1", "nodes = "), "not valid TOML", "correct the syntax"), id="profile-bad-toml"),
    pytest.param(profile(lambda t: t + "cpus = 4\n", "unknown key 'cpus'", "cores"), id="profile-unknown-key"),
    pytest.param(profile(lambda t: t.replace("nodes = 1", "nodes = 0"), "'nodes' must be greater than 0", "greater than 0"), id="profile-zero-nodes"),
    pytest.param(profile(lambda t: t.replace("cores = 1", "cores = -2"), "'cores' must be greater than 0", "greater than 0"), id="profile-negative-cores"),
    pytest.param(profile(lambda t: t.replace('memory = "2g"', "memory = 2"), "'memory' must be a string", 'memory = "..." (in quotes)'), id="profile-memory-of-wrong-type"),
    pytest.param(profile(lambda t: t.replace('memory = "2g"', 'memory = "2GB"'), "'memory' must be like \"512m\"", "Spark's notation"), id="profile-memory-notation"),
    pytest.param(profile(lambda t: t.replace('executor_memory = "1g"', 'executor_memory = "4g"'), "exceeds the node's memory", "lower executor_memory"), id="profile-executor-bigger-than-node"),
    pytest.param(profile(lambda t: t + '[spark]\n"network.timeout" = "300s"\n', "not a Spark setting", "start with 'spark.'"), id="profile-not-a-spark-setting"),
    pytest.param(profile(lambda t: t.replace("nodes = 1\ncores = 1", "nodes = 2\ncores = 2"), "speedup needs the same node type", "same cores per node", "local,{}"), id="profile-other-node-type"),
    # 64 local nodes of 32 GiB executors: more than any test host holds, so it must be refused
    # (and replay suggested) before a JVM starts, instead of swapping or being killed.
    pytest.param(profile(lambda t: t.replace("nodes = 1", "nodes = 64").replace('"2g"', '"64g"').replace('"1g"', '"32g"'), "a local 64-node cluster needs about", "replay", "local,{}"), id="host-cannot-hold-the-cluster"),
    pytest.param(profile(lambda t: t + 'master = "localhost:7077"\n', "'master' must start with one of", "spark://HOST:7077"), id="profile-master-not-a-url"),
    pytest.param(profile(lambda t: t + '[spark]\n"spark.driver.port" = "http"\n', "'spark.driver.port' must be a whole number", "port number"), id="profile-port-not-a-number"),
    pytest.param(unreachable_master, id="profile-unreachable-master"),
    pytest.param(busy_driver_port, id="profile-busy-driver-port"),
    pytest.param(run_args("--clusters", "local,99-node", what="unknown cluster profile '99-node'", where="--clusters", fix="2-node"), id="unknown-profile-name"),
    pytest.param(run_args("--clusters", " , ", what="no cluster profile given", where="--clusters", fix="--clusters local"), id="no-profile-given"),
    pytest.param(run_args("--clusters", "local,local", what="listed twice", where="--clusters", fix="list it once"), id="profile-listed-twice"),
    pytest.param(run_args("--clusters", "13-node", what="no 1-node profile", where="--clusters", fix="--mode measured"), id="no-1-node-profile"),
    # command-line arguments
    pytest.param(argparse_error("--repeats", "0", what="must be a whole number of 1 or more", option="--repeats"), id="repeats-0"),
    pytest.param(argparse_error("--repeats", "-1", what="must be a whole number of 1 or more", option="--repeats"), id="repeats-negative"),
    pytest.param(argparse_error("--mode", "fastest", what="invalid choice: 'fastest'", option="--mode"), id="mode-invalid"),
    pytest.param(not_a_run, id="report-of-a-folder-that-is-not-a-run"),
    pytest.param(old_run_dir, id="report-of-an-older-format"),
    pytest.param(report_of(run_dir_with("run.json", lambda t: t[:-5]), "run.json is damaged", "run.json", "bench run"), id="report-damaged-run-json"),
    pytest.param(report_of(run_dir_with("run.json", lambda t: f"[{t}]"), "not a JSON object", "run.json", "bench run"), id="report-run-json-not-an-object"),
    pytest.param(report_of(run_dir_with("trials.jsonl", lambda t: t.replace("\n", "\nnot json\n", 1)), "line 2 is not valid JSON", "trials.jsonl", "remove that line"), id="report-damaged-trials-line"),
    pytest.param(report_of(run_dir_with("profiles.jsonl", lambda t: '{"profile": "local"}\n' + t), "line 1 is not a record of this format", "profiles.jsonl", "remove that line"), id="report-profiles-line-not-a-record"),
    pytest.param(compare_missing, id="compare-nonexistent-path"),
    pytest.param(compare_old_summary, id="compare-older-summary-version"),
    pytest.param(compare_not_json, id="compare-not-json"),
    pytest.param(check_missing_baseline_file, id="check-missing-baseline-file"),
    pytest.param(check_without_saved_baseline, id="check-no-saved-baseline"),
    # the environment
    pytest.param(no_java, id="no-java"),
    pytest.param(out_below_a_file, id="out-below-a-file"),
    pytest.param(out_is_a_file, id="out-is-a-file"),
    pytest.param(out_latest_not_a_link, id="out-latest-is-a-folder"),
    pytest.param(out_read_only, id="out-read-only", marks=pytest.mark.skipif(
        os.geteuid() == 0, reason="root writes into a read-only folder")),
]


def entries(out: Path) -> list[str]:
    """What --out holds: nothing, unless the case put something there."""
    return sorted(p.name for p in out.iterdir()) if out.is_dir() else []


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder below ``folder``."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


def run_case(tmp_path: Path, case: Case, monkeypatch: pytest.MonkeyPatch,
             in_process: bool) -> subprocess.CompletedProcess:
    """The case's command from ``tmp_path``, with its environment; in this process or its own."""
    out = case.out or tmp_path / "runs"
    args = case.args + (["--out", str(out)] if case.args[0] == "run" and not case.out else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this worktree's bench, run from tmp_path
    for key, value in case.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    try:
        if not in_process:
            return bench(*args, cwd=tmp_path, env=env, timeout=120)
        monkeypatch.chdir(tmp_path)
        for key, value in case.env.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        return bench_main(*args)
    finally:
        if case.hold is not None:
            case.hold.close()


# Every case in this process through bench.cli.main (no Python start-up per case), and a few
# through `python -m bench` too: exit codes as a shell sees them, for an argparse error, a
# definition error, a run directory's error and an environment error.
BY_SUBPROCESS = ("repeats-0", "unknown-workload-name", "report-damaged-run-json", "no-java")
CASES = [pytest.param(p.values[0], True, id=p.id, marks=p.marks) for p in TABLE] + [
    pytest.param(p.values[0], False, id=f"{p.id}-subprocess", marks=p.marks)
    for p in TABLE if p.id in BY_SUBPROCESS]


@pytest.mark.parametrize("build,in_process", CASES)
def test_bad_input_exits_2_saying_what_where_and_how_to_fix(tmp_path, build, in_process,
                                                             monkeypatch):
    case = build(tmp_path)
    out = case.out or tmp_path / "runs"
    before, out_before = tree(tmp_path), entries(out)
    done = run_case(tmp_path, case, monkeypatch, in_process)
    message = done.stderr
    assert done.returncode == case.code, done.stdout + message
    assert "Traceback" not in message and "Traceback" not in done.stdout, message
    assert case.what in message, message
    assert case.where in message, message
    fix = message.partition("  fix: ")[2]
    assert fix.strip(), f"no fix line: {message}"
    assert case.fix in fix, message
    # nothing half-written: no run directory (nor anything else) in --out, no file changed
    assert entries(out) == out_before
    assert tree(tmp_path) == before
