"""The back-end comparison as the report reads it (bench.analyse.backends), from run directories
written by hand: every figure known exactly. And `--backends` as the command line checks it."""

from __future__ import annotations

import json
import statistics

import pytest
from commandline import bench_main
from made_runs import write_run

from bench.analyse.summarize import summarize_run
from bench.compare.comparison import compare
from bench.compare.results import summary_of_run
from bench.errors import UserError
from bench.execute.backends import backend_for
from bench.report.answer import to_answer
from bench.store.records import Mode
from bench.store.rundir import RunDirectory

WALLS = {
    ("local", Mode.MEASURED, 1): [4.0, 4.0, 4.0],
    ("2-node", Mode.MEASURED, 2): [2.4, 2.6, 2.2],
    ("2-node@pull", Mode.MEASURED, 2): [2.2, 2.2, 2.4],
    ("floor-2", Mode.MEASURED, 2): [2.0, 2.2, 2.0],
}
RUNNERS = {"2-node@pull": "pull", "floor-2": "process-pool"}


def _run(tmp_path, walls=WALLS):
    path = write_run(tmp_path, walls=walls)
    lines = (path / "profiles.jsonl").read_text().splitlines()
    rewritten = []
    for line in lines:  # as the pull dispatcher's and the floor's rows are recorded
        row = json.loads(line)
        row["runner"] = RUNNERS.get(row["profile"], row["runner"])
        if row["runner"] == "pull":
            row["backend_start_s"], row["workers_started"] = 0.3, 0
        rewritten.append(json.dumps(row))
    (path / "profiles.jsonl").write_text("\n".join(rewritten) + "\n")
    return RunDirectory.open(path)


def _summary(run):
    return summarize_run(run.meta(), run.trials(), run.profile_runs())


def test_each_profile_gets_a_table_of_its_back_ends_read_against_one_reference(tmp_path):
    summary = _summary(_run(tmp_path))
    assert [r.name for r in summary.backend_rows] == ["2-node@pull"]
    assert "2-node@pull" not in [r.name for r in summary.rows]  # not in the scaling figures
    assert summary.reference == "local"  # the default's 1-node row, not a back-end's
    (table,) = summary.backend_tables
    assert (table.profile, table.mode, table.slots) == ("2-node", Mode.MEASURED, 2)
    assert [e.backend for e in table.entries] == ["spark-map", "pull", "floor"]
    spark_map, pull, floor = table.entries
    assert pull.row.speedup == pytest.approx(4.0 / (6.8 / 3))  # against local's mean
    # repeat by repeat over the floor beside it: 2.2/2.0, 2.2/2.2, 2.4/2.0 -> median 1.1
    assert pull.floor_ratios == pytest.approx([1.1, 1.0, 1.2])
    assert pull.floor_ratio == pytest.approx(1.1)
    assert spark_map.floor_ratio == pytest.approx(statistics.median([1.2, 2.6 / 2.2, 1.1]))
    assert floor.floor_ratio is None
    assert pull.row.backend_start_s == pytest.approx(0.3) and pull.row.workers_started == 0
    # the same trials everywhere (the hand-made run's metrics are equal): checked across all
    assert summary.accuracy.metrics_identical is True and summary.accuracy.compared == 12  # 4 rows x 3 repeats


def test_the_answer_shows_the_back_end_table_and_summary_json_names_each_rows_back_end(
        tmp_path):
    run = _run(tmp_path)
    answer = to_answer(_summary(run), [])
    assert "Back-ends on 2-node (measured, 2 slots):" in answer
    assert "pull" in answer and "x floor" in answer
    doc = summary_of_run(run)
    backends = {p["name"]: p["backend"] for p in doc["profiles"]}
    assert backends == {"local": "spark-map", "2-node": "spark-map", "2-node@pull": "pull",
                        "floor-2": "floor"}


def test_the_comparison_treats_a_back_end_as_a_row_of_its_own(tmp_path):
    before = summary_of_run(_run(tmp_path / "a"))
    slower = {**WALLS, ("2-node@pull", Mode.MEASURED, 2): [4.4, 4.4, 4.8]}
    after = summary_of_run(_run(tmp_path / "b", slower))
    comparison = compare(before, after)
    scopes = {fc.scope for fc in comparison.figures if fc.verdict.value == "worse"}
    assert any(scope.startswith("2-node@pull") for scope in scopes)
    assert not any(scope.startswith("2-node (") for scope in scopes)


def test_an_unknown_back_end_is_refused_with_the_names_to_choose_from(tmp_path):
    proc = bench_main("run", "--backends", "pull,sparktrials", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "unknown back-end sparktrials" in proc.stderr
    assert "joblibspark" in proc.stderr  # what there is to choose


def test_a_back_end_whose_library_is_missing_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "joblibspark" else real(name, *a))
    with pytest.raises(UserError) as missing:
        backend_for("joblibspark")
    assert "joblibspark" in missing.value.message
    assert "pip install -e '.[backends]'" in missing.value.fix
