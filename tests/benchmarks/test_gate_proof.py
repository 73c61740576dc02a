"""Proof that the regression gate works on this host (`make gate-proof`, about an hour).

Five A/A checks: a run of the same code checked against the reference saved from the run before it
(must pass), and five runs with every trial slowed by 20 % (BENCH_TEST_SLOWDOWN=0.2), each checked
against the newest reference (must fail, on the time figures). The references chain: each A/A run
becomes the next round's reference, so every check is against a reference measured minutes before,
in 12 runs rather than 16. Once: a run whose results change but not its timings
(BENCH_TEST_SEED_OFFSET=1), which must fail on the test errors. The counts go into ``extra_info``
and the closing note of the gate's issue.
"""

from __future__ import annotations

import re

import pytest

from ._runs import bench, run_grid

pytestmark = [pytest.mark.bench_run, pytest.mark.spark, pytest.mark.tensorflow]

# What `make check` runs: the gate's figures, without the floor, deployment and weak scaling.
RUN = ("--workload", "digits-mlp", "--grid", "small", "--clusters", "local,2-node",
       "--repeats", "3", "--no-floor", "--deploy-rows", "0", "--trials-per-node", "0")
ROUNDS = 5
TIME_FIGURES = ("grid wall time", "trial compute time")
METRIC_FIGURES = ("baseline test error", "best test error", "trials whose metrics changed")


def _check(run_dir, baseline) -> tuple[int, list[str]]:
    proc = bench("check", str(run_dir), "--baseline", str(baseline))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    print(proc.stdout)
    flagged = re.findall(r"^  - (.+)$", proc.stdout, re.MULTILINE)
    return proc.returncode, flagged


def _save(run_dir, folder) -> str:
    saved = bench("baseline", "save", str(run_dir), "--dir", str(folder))
    assert saved.returncode == 0, saved.stderr
    return saved.stdout.split("reference saved: ", 1)[1].strip()


def _prove(tmp_path) -> dict:
    figures = {"aa_checks": 0, "false_regressions": 0, "slowdown_checks": 0,
               "slowdowns_detected": 0, "slowdowns_detected_in_time_figures": 0,
               "metric_change_detected": False, "flagged": []}
    baseline = _save(run_grid(tmp_path / "base", *RUN), tmp_path / "bl-0")
    for i in range(ROUNDS):
        aa_run = run_grid(tmp_path / f"aa-{i}", *RUN)
        code, flagged = _check(aa_run, baseline)
        figures["aa_checks"] += 1
        figures["false_regressions"] += code == 1
        figures["flagged"] += [f"A/A {i}: {f}" for f in flagged]

        code, flagged = _check(run_grid(tmp_path / f"slow-{i}", *RUN,
                                        knobs={"BENCH_TEST_SLOWDOWN": "0.2"}), baseline)
        figures["slowdown_checks"] += 1
        figures["slowdowns_detected"] += code == 1
        figures["slowdowns_detected_in_time_figures"] += code == 1 and any(
            fig in f for f in flagged for fig in TIME_FIGURES)
        figures["flagged"] += [f"slowdown {i}: {f}" for f in flagged]
        baseline = _save(aa_run, tmp_path / f"bl-{i + 1}")  # the next round's baseline

    code, flagged = _check(run_grid(tmp_path / "seed", *RUN,
                                    knobs={"BENCH_TEST_SEED_OFFSET": "1"}), baseline)
    figures["metric_change_detected"] = code == 1 and any(
        fig in f for f in flagged for fig in METRIC_FIGURES)
    figures["flagged"] += [f"results changed: {f}" for f in flagged]
    return figures


def test_the_gate_passes_a_a_and_catches_slowdowns_and_changed_results(benchmark, tmp_path):
    figures = benchmark.pedantic(_prove, args=(tmp_path,), rounds=1, iterations=1)
    benchmark.extra_info.update(figures)
    assert figures["false_regressions"] == 0, figures["flagged"]
    assert figures["slowdowns_detected_in_time_figures"] == ROUNDS, figures["flagged"]
    assert figures["metric_change_detected"], figures["flagged"]
