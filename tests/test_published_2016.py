"""2016 beside a run (bench.analyse.published, bench.report.published_block): only for 2016's
workload, its figures labelled and kept apart, the waves and the model's predictions right."""

from __future__ import annotations

import json
import math

import pytest

from bench.analyse.published import LABEL, PUBLISHED_2016, TEXT_LABEL, applies
from bench.analyse.summarize import summarize_run
from bench.analyse.summary_json import to_json
from bench.report import published_block
from bench.report.html import to_html
from bench.report.text import to_markdown, to_table
from bench.store.records import Mode, ProfileRun, TrialResult, TrialStatus

TRIALS = 26  # the baseline and a grid of 25, as bench's `medium` grid would if it lacked it
SECS = 2.0  # every trial's time inside its task on 1 node
GAP = 0.1  # 1 node: a slot idle this long between trials (the model's dispatch overhead)


def meta(dataset: str, model: str, name: str) -> dict:
    return {"run_id": "r1", "environment": {"python": "3.11"},
            "workload": {"name": name, "grid": "medium", "trials": TRIALS, "hash": "h",
                         "dataset": dataset, "model": model}}


def trial(profile: str, mode: Mode, index: int, start: float) -> TrialResult:
    """Trial ``index``: ``SECS`` in its task, all of it compute; the baseline (0) errs 0.9 %,
    the best (7) 0.6 %, the others 1 % + a little."""
    error = {0: 0.009, 7: 0.006}.get(index, 0.01 + index * 1e-4)
    return TrialResult(
        profile=profile, mode=mode, repeat=0, trial_id=f"t{index}", index=index,
        params={"learning_rate": 0.01 * (index + 1), "neurons": 512}, is_baseline=index == 0,
        status=TrialStatus.OK, val_error=error, test_error=error, final_loss=0.1,
        dispatched_at=0.0, started_at=start, ended_at=start + SECS, received_at=start + SECS,
        phases={"build": 0.5, "train": SECS - 0.5})


def profile_run(profile: str, mode: Mode, nodes: int, wall: float) -> ProfileRun:
    return ProfileRun(profile, mode, 0, nodes, 1, nodes, TRIALS, wall, 5.0, 2.0, False, 0.0,
                      wall)


def summary(dataset: str = "mnist", model: str = "convnet", name: str = "mnist-convnet"):
    """1 node measured (26 trials one after another, GAP apart), 2 nodes measured, 13 replay."""
    trials = [trial("local", Mode.MEASURED, i, i * (SECS + GAP)) for i in range(TRIALS)]
    wall_1 = TRIALS * SECS + (TRIALS - 1) * GAP
    trials += [trial("2-node", Mode.MEASURED, i, (i // 2) * (SECS + GAP)) for i in range(TRIALS)]
    trials += [trial("13-node", Mode.REPLAY, i, (i // 13) * (SECS + GAP)) for i in range(TRIALS)]
    runs = [profile_run("local", Mode.MEASURED, 1, wall_1),
            profile_run("2-node", Mode.MEASURED, 2, 30.0),
            profile_run("13-node", Mode.REPLAY, 13, 5.0)]
    return summarize_run(meta(dataset, model, name), trials, runs)


def test_the_figures_are_stated_once_and_agree_with_the_post():
    p = PUBLISHED_2016
    assert p.wall_s == {1: 11_000.0, 2: 7_000.0, 13: 1_500.0}
    assert p.speedup(2) == pytest.approx(1.57, abs=0.01)  # about 1.6x
    assert p.speedup(13) == pytest.approx(7.33, abs=0.01)  # the headline says 7x
    assert p.efficiency(13) == pytest.approx(0.54, abs=0.005)  # 7x / 13
    assert p.reduction == pytest.approx(0.3375)
    assert round(p.reduction, 2) == p.stated_reduction
    assert "Databricks blog, 2016-01-25" in p.source


def test_only_runs_of_2016s_workload_get_the_block():
    assert applies({"dataset": "mnist", "model": "convnet"})
    assert not applies({"dataset": "digits", "model": "mlp"})
    assert not applies({"dataset": "mnist", "model": "mlp"})
    assert not applies({})  # a run.json from before the workload recorded them
    assert summary().published is not None
    digits = summary("digits", "mlp", "digits-mlp")
    assert digits.published is None
    assert "2016" not in to_table(digits) + to_markdown(digits, {}) + to_html(digits, [])
    assert to_json(digits, {})["published_2016"] is None


def test_waves_and_bounds_for_this_grid_and_2016s_assumed_one():
    c = summary().published
    assert c.trials == TRIALS
    two, thirteen = c.waves
    assert (two.nodes, two.slots, two.waves) == (2, 2, 13)
    assert (thirteen.nodes, thirteen.slots, thirteen.waves) == (13, 13, 2)
    assert thirteen.equal_bound == 13.0 and two.equal_bound == 2.0
    assert thirteen.bound == pytest.approx(13.0)  # equal trials: the bound is the waves'
    # 2016: 25 trials assumed (5 x 5), one per node at a time
    assert (two.assumed_2016_waves, thirteen.assumed_2016_waves) == (13, 2)
    assert thirteen.assumed_2016_bound == 12.5
    assert two.assumed_2016_bound == pytest.approx(25 / 13)


def test_predictions_come_from_the_model_and_rows_keep_their_mode():
    s = summary()
    c = s.published
    model = {p.nodes: p for p in s.model}
    by_nodes = {a.nodes: a for a in c.at_nodes}
    assert sorted(by_nodes) == [1, 2, 13]
    for nodes in (2, 13):
        assert by_nodes[nodes].model_wall_s == model[nodes].wall_s
        assert by_nodes[nodes].model_speedup == model[nodes].speedup
    # 26 trials of 2 s in 2 waves on 13 nodes; the driver launches a task GAP after the one
    # before it, so the 13th starts at 12 x GAP and its slot's second trial GAP after its end
    assert by_nodes[13].model_wall_s == pytest.approx(12 * GAP + SECS + GAP + SECS)
    # 13 waves on 2 nodes: the second slot starts GAP late and every trial after a slot's
    # first waits GAP
    assert by_nodes[2].model_wall_s == pytest.approx(GAP + 13 * SECS + 12 * GAP)
    assert [(f.profile, f.mode) for f in by_nodes[2].run] == [("2-node", Mode.MEASURED)]
    assert [(f.profile, f.mode) for f in by_nodes[13].run] == [("13-node", Mode.REPLAY)]
    assert by_nodes[13].published_wall_s == 1_500.0
    assert c.per_task_s == pytest.approx(GAP)
    assert c.overhead_share == pytest.approx(GAP / SECS)
    assert c.overhead_share_2016 == pytest.approx(GAP / 440.0)
    assert (c.baseline_test_error, c.best_test_error) == (0.009, 0.006)


def test_text_block_is_labelled_apart_from_the_run_and_fits_100_columns():
    s = summary()
    lines = "\n".join(published_block.text_lines(s.published)).splitlines()
    assert all(len(line) <= 100 for line in lines), [x for x in lines if len(x) > 100]
    text = "\n".join(lines)
    assert LABEL in text and TEXT_LABEL in text
    assert "~11,000" in text and "~1,500" in text and "7x / 13" in text
    assert "33.75 %" in text and "the post: 34 %" in text
    assert "13 waves on 2 nodes" in text and "2 on 13" in text and "assumed 25" in text
    # 2016's table holds no figure of the run: its wall times are apart, under the label
    published_table = text[text.index(LABEL):text.index("This run at 2016")]
    assert "measured" not in published_table and "replay" not in published_table
    report = to_table(s)
    assert "2016 beside this run:" in report
    assert "\n".join(lines) in report


def test_markdown_html_and_json_carry_the_block():
    s = summary()
    md = to_markdown(s, {})
    assert "## 2016 beside this run" in md and LABEL in md
    page = to_html(s, [])
    assert "<h2>2016 beside this run</h2>" in page and "2016 (published, read off a chart)" in page
    doc = json.loads(json.dumps(to_json(s, {"workload": {}})))
    block = doc["published_2016"]
    assert block["published"]["label"] == LABEL
    assert block["published"]["wall_s"][2] == {"nodes": 13, "wall_s": 1500.0}
    assert block["published"]["relative_error_reduction"] == pytest.approx(0.3375)
    assert block["at_nodes"][1]["run"][0]["mode"] == "measured"
    assert block["at_nodes"][2]["model"]["mode"] == "model"
    assert [w["waves"] for w in block["waves"]] == [13, 2]
    assert math.isclose(block["overhead_share"], GAP / SECS)


def test_without_a_one_node_run_the_block_keeps_2016_and_says_what_it_cannot_give():
    trials = [trial("2-node", Mode.MEASURED, i, (i // 2) * SECS) for i in range(TRIALS)]
    s = summarize_run(meta("mnist", "convnet", "mnist-convnet"), trials,
                      [profile_run("2-node", Mode.MEASURED, 2, 27.0)])
    c = s.published
    assert c is not None and c.per_task_s is None and c.mean_trial_s is None
    assert all(a.model_wall_s is None for a in c.at_nodes)
    assert [w.waves for w in c.waves] == [13, 2]  # from run.json's trial count
    text = "\n".join(published_block.text_lines(c))
    assert "not run" in text and "~7,000" in text
    assert all(len(line) <= 100 for line in text.splitlines())
