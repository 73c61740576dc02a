"""`bench` as a user runs it: a real run end to end, its files, and its exit codes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from commandline import TEST_RUN, bench, bench_main
from conftest import write_workload

ROOT = Path(__file__).resolve().parent.parent


def only_run_dir(out: Path) -> Path:
    # `latest` is a symlink to the newest run, not a run of its own.
    runs = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_run_end_to_end_on_one_and_two_nodes(tmp_path, tiny_workload, no_leaks):
    # bench's own clusters: the process-pool floor runs after a local multi-node profile only
    out = tmp_path / "runs"
    done = bench("run", "--workload", str(tiny_workload), "--clusters", "local,2-node",
                 "--deploy-rows", "20000", "--trials-per-node", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    run = only_run_dir(out)
    assert str(run) in done.stdout
    for line in ("local", "2-node", "measured", "replay"):
        assert line in done.stdout

    trials = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    rows = {(t["profile"], t["mode"]) for t in trials}
    # floor-2: the 2-node trials again on a 2-process pool with no Spark
    assert rows == {("local", "measured"), ("2-node", "measured"), ("2-node", "replay"),
                    ("floor-2", "measured")}
    for row in rows:  # every trial exactly once per profile and mode
        ids = [t["trial_id"] for t in trials if (t["profile"], t["mode"]) == row]
        assert len(ids) == len(set(ids)) == 4, (row, ids)
    statuses = {t["trial_id"]: t["status"] for t in trials if t["profile"] == "local"}
    assert statuses["learning_rate=1e+20"] == "diverged"

    summary = json.loads((run / "summary.json").read_text())
    by_row = {(p["name"], p["mode"]): p for p in summary["profiles"]}
    assert set(by_row) == rows
    for p in summary["profiles"]:
        for key in ("name", "nodes", "slots", "mode", "wall_s", "speedup", "efficiency",
                    "bound_speedup"):
            assert key in p
        assert p["wall_s"] > 0
    assert by_row[("local", "measured")]["speedup"] == pytest.approx(1.0)
    accuracy = summary["accuracy"]
    for key in ("baseline_test_error", "best_test_error", "relative_error_reduction",
                "metrics_identical"):
        assert key in accuracy
    # Same seed, same metrics: the 1-node and 2-node measured trials agree to the bit.
    assert accuracy["metrics_identical"] is True
    assert (run / "report.md").read_text().count("2-node") >= 2
    # the pictures: one timeline per profile and mode, and report.html says where it is
    assert f"report with pictures: {run / 'report.html'}" in done.stdout
    assert sorted(p.name for p in (run / "plots").iterdir()) == sorted(
        ["wall_time.png", "speedup.png", "karp_flatt.png", "waterfall_2-node.png",
         "test_error.png", "time_to_quality.png", "timeline_local_measured.png",
         "timeline_2-node_measured.png", "timeline_2-node_replay.png",
         "timeline_floor-2_measured.png"])
    # the deployment step: the best configuration scored on every profile, same predictions
    deployed = {(d["profile"], d["mode"]): d for d in summary["deployment"]}
    assert set(deployed) == {("local", "measured"), ("2-node", "measured"), ("2-node", "replay")}
    assert len({d["predictions_digest"] for d in deployed.values()}) == 1
    assert all(d["rows"] == 20000 and d["rows_per_s"] > 0 for d in deployed.values())
    # the short answer leaves the rest to report.md (and `bench report RUN --full`)
    report = (run / "report.md").read_text()
    assert "## Deployment" in report and "took" in report  # ... x the floor's wall time
    answer = done.stdout[done.stdout.rindex("\n", 0, done.stdout.index("speedups against")):]
    assert "Deployment" not in answer and len(answer.strip().splitlines()) <= 25
    # the runner's order, checked by replaying the other; weak scaling, 1 trial per node
    assert summary["order"] == "longest_first"
    assert [(c["name"], c["other_order"]) for c in summary["order_checks"]] == [
        ("2-node", "grid")]
    assert {(w["name"], w["mode"], w["trials"]) for w in summary["weak_scaling"]} == {
        ("2-node", "measured", 2), ("2-node", "replay", 2)}
    assert all(w["scaled_speedup"] > 0 for w in summary["weak_scaling"])
    # where the time went: every slot-second of every row accounted for
    for p in summary["profiles"]:
        assert sum(p["slot_seconds"].values()) == pytest.approx(p["slots"] * p["wall_s"],
                                                                rel=0.02)
    meta = json.loads((run / "run.json").read_text())
    assert meta["environment"]["spark"].startswith("4.")

    again = bench("report", str(run))
    assert again.returncode == 0 and "2-node" in again.stdout
    assert "report.html" in again.stdout

    # What compare and check read: Spark's counts per grid, samples, the newest-run link
    assert (out / "latest").resolve() == run.resolve()
    for p in summary["profiles"]:
        if p["name"] == "floor-2":  # no Spark, no profile of its own
            assert p["spark"] is None
        else:
            assert p["spark"] == {"spark_jobs": 1, "spark_tasks": 4, "task_failures": 0}
            assert p["hash"]
        assert len(p["wall_samples_s"]) == 1
        # the machine probe beside each wall sample; a replayed row takes its reference's
        assert len(p["probe_samples_s"]) == 1 and p["probe_samples_s"][0] > 0
    assert by_row[("2-node", "replay")]["probe_samples_s"] == \
        by_row[("local", "measured")]["probe_samples_s"]
    itself = bench("compare", str(out / "latest"), str(run))
    assert itself.returncode == 0 and "worse" not in itself.stdout
    assert "grid wall time at equal machine speed" in itself.stdout


@pytest.mark.spark
@pytest.mark.slow
def test_a_node_sweep_runs_on_one_cluster_and_is_flagged_under_determined(tmp_path,
                                                                          tiny_workload,
                                                                          no_leaks):
    out = tmp_path / "runs"
    done = bench("run", "--workload", str(tiny_workload), "--clusters", "2-node",
                 "--nodes", "1,2", "--mode", "replay", *TEST_RUN, "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    run = only_run_dir(out)
    # one cluster started for the whole sweep, each node count its own application
    assert [p.name for p in (run / "logs").iterdir()] == ["2-node"]
    summary = json.loads((run / "summary.json").read_text())
    rows = {(p["name"], p["mode"], p["nodes"]) for p in summary["profiles"]}
    assert rows == {("2-node@1", "measured", 1), ("2-node@2", "replay", 2)}
    assert summary["weak_scaling"] == []  # --trials-per-node 0
    # two node counts cannot determine the USL's two parameters: said, not drawn
    assert "USL fit (replay points): under-determined" in (run / "report.md").read_text()
    meta = json.loads((run / "run.json").read_text())
    assert {p["name"]: p.get("sweep_of") for p in meta["profiles"]} == {
        "2-node@1": "2-node", "2-node@2": "2-node"}


def test_a_sweep_needs_one_node_and_one_profile(tmp_path):
    done = bench_main("run", "--nodes", "2,4", "--out", str(tmp_path))
    assert done.returncode == 2 and "add 1 to '2,4'" in done.stderr
    done = bench_main("run", "--nodes", "1,2", "--clusters", "local,2-node", "--out",
                      str(tmp_path))
    assert done.returncode == 2 and "--nodes sweeps one cluster" in done.stderr
    done = bench_main("run", "--nodes", "1,14", "--out", str(tmp_path))
    assert done.returncode == 2 and "1 to 13 nodes, not 14" in done.stderr


def _wait_for_trials(run_parent: Path, proc: subprocess.Popen, timeout: float = 240) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        runs = list(run_parent.glob("*/trials.jsonl")) if run_parent.exists() else []
        if runs and runs[0].read_text().strip():
            return runs[0].parent
        time.sleep(0.5)
    raise AssertionError("no trial finished in time")


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["ctrl-c", "sigterm"])
def test_interrupt_stops_everything_and_keeps_finished_trials(tmp_path, sig, code, no_leaks):
    workload = write_workload(tmp_path, epochs=8, rates="[0.01, 0.02, 0.03, 0.04, 0.05, 0.06]")
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--workload", str(workload), "--clusters", "local",
         *TEST_RUN, "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        run = _wait_for_trials(out, proc)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr[-3000:]
    assert "finished trials are in" in stdout
    assert f"bench run --resume {run.resolve()}" in stdout  # how to finish it
    finished = (run / "trials.jsonl").read_text().splitlines()
    # stopped mid-grid: 6 trials (the rate 0.01 is the baseline's), not all of them finished
    assert 1 <= len(finished) < 6
    assert "Traceback" not in stderr


BAD_INVOCATIONS = [
    (["run", "--workload", "no-such-workload"], "unknown workload"),
    (["run", "--clusters", "local,99-node"], "unknown cluster profile '99-node'"),
    (["run", "--grid", "enormous"], "has no grid 'enormous'"),
    (["run", "--clusters", "13-node"], "no 1-node profile"),
    (["report", "/"], "not a run directory"),
]


@pytest.mark.parametrize("args,message", BAD_INVOCATIONS, ids=[m for _, m in BAD_INVOCATIONS])
def test_user_mistakes_exit_2_without_traceback(tmp_path, args, message):
    done = bench_main(*args, "--out", str(tmp_path / "runs")) if args[0] == "run" else \
        bench_main(*args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_repeats_must_be_positive():
    done = bench_main("run", "--repeats", "0")
    assert done.returncode == 2 and "must be a whole number of 1 or more" in done.stderr


def test_missing_java_is_reported_before_anything_starts(tmp_path, tiny_workload, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin/nonexistent")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    done = bench_main("run", "--workload", str(tiny_workload), "--clusters", "local",
                      "--out", str(tmp_path / "runs"))
    assert done.returncode == 2
    assert "Java was not found" in done.stderr and "openjdk-17" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_an_unreachable_master_is_a_user_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    profile = tmp_path / "gone.toml"
    profile.write_text(f'master = "spark://127.0.0.1:{port}"\nnodes = 2\ncores = 1\n'
                       'memory = "1g"\n')
    done = bench_main("run", "--clusters", str(profile), "--mode", "measured",
                      "--out", str(tmp_path / "runs"))
    assert done.returncode == 2, done.stderr
    assert "unreachable" in done.stderr and str(profile) in done.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_a_profile_with_a_master_uses_that_cluster(tmp_path, tiny_workload, shared_cluster,
                                                   no_leaks):
    """The existing-cluster path, against the session's cluster: bench connects, runs its
    application there and leaves the cluster running (not ours to stop)."""
    cluster = shared_cluster
    profile = tmp_path / "theirs.toml"
    # as a user of a real cluster would: name the workers' Python that has bench's packages
    profile.write_text(f'master = "{cluster.master_url}"\nnodes = 2\ncores = 1\n'
                       f'memory = "2g"\n[spark]\n"spark.pyspark.python" = "{sys.executable}"\n')
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    done = bench("run", "--workload", str(tiny_workload), "--clusters", str(profile),
                 "--mode", "measured", *TEST_RUN, "--out", str(tmp_path / "runs"), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    executors = {json.loads(line)["executor_id"] for line in
                 (only_run_dir(tmp_path / "runs") / "trials.jsonl").read_text().splitlines()}
    assert executors == {"0", "1"}
    assert cluster.pids() and all(psutil.pid_exists(p) for p in cluster.pids())  # not ours


HEAVY = ("pyspark", "tensorflow", "matplotlib", "scipy")


@pytest.mark.parametrize("args", [["--help"], ["run", "--repeats", "0"],
                                  ["run", "--workload", "no-such-workload"]],
                         ids=["help", "argument-error", "bad-input"])
def test_help_and_mistakes_import_no_heavy_module(args, tmp_path):
    """`bench --help`, an argument error and bad input answer without loading Spark,
    TensorFlow, matplotlib or scipy (seconds of start-up each): checked in a fresh process."""
    code = ("import sys\nfrom bench.cli import main\n"
            f"try:\n    main({[*args, '--out', str(tmp_path)] if args[0] == 'run' else args!r})\n"
            "except SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_the_commands_default_reference_folder_is_the_comparisons():
    # bench/commands/check.py spells it out so as not to import scipy for --help
    from bench.commands.check import REFERENCE_DIR
    from bench.compare import references

    assert REFERENCE_DIR == references.REFERENCE_DIR


# --- conventions: --version, -v / -q anywhere, JSON alone on stdout -------------------------

def test_version_and_verbosity_before_or_after_the_verb(tmp_path):
    from bench import __version__

    version = bench_main("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"bench {__version__}"
    for args in (["-v", "report", "/"], ["report", "/", "-v"], ["-q", "report", "/"],
                 ["report", "-q", "/"], ["reference", "show", "--grid", "nope", "-v"]):
        done = bench_main(*args)
        # parsed: the command ran and refused its input, not argparse's usage error
        assert done.returncode == 2 and "usage:" not in done.stderr, (args, done.stderr)
    both = bench_main("-v", "-q", "report", "/")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def test_run_json_says_nothing_on_stdout_but_json(tmp_path):
    done = bench_main("run", "--format", "json", "--workload", "no-such-workload", "--out",
                      str(tmp_path))
    assert done.returncode == 2 and done.stdout == "" and "unknown workload" in done.stderr


def test_stdout_to_stderr_covers_the_processes_a_run_starts():
    """bench run --format json: a child process's output (Spark's) goes to stderr too."""
    code = ("import subprocess, sys\n"
            "from bench.commands.run import _stdout_to_stderr\n"
            "with _stdout_to_stderr():\n"
            "    print('from python')\n"
            "    subprocess.run(['echo', 'from a child'], check=True)\n"
            "print('{}')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "{}\n"
    assert "from python" in done.stderr and "from a child" in done.stderr
