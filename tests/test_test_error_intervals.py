"""How sure a test error and the gain over the baseline are (bench.analyse.test_error_intervals),
from each trial's wrong test images as trials.jsonl records them, to the reports' lines."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bench.analyse.summarize import summarize_run
from bench.analyse.summary_json import to_json
from bench.analyse.test_error_intervals import (
    mcnemar_p,
    paired_test_errors,
    reduction_interval,
    wilson_interval,
)
from bench.report.answer import WIDTH, accuracy_lines
from bench.report.tables import accuracy_rows
from bench.report.text import to_markdown, to_table
from bench.store.records import Mode, ProfileRun, TrialResult, TrialStatus, pack_wrong, unpack_wrong

N = 360  # digits' test images


def outcomes(wrong: list[int], n: int = N) -> np.ndarray:
    """n test images, ``wrong`` the indices of those got wrong."""
    mask = np.zeros(n, dtype=bool)
    mask[wrong] = True
    return mask


def test_the_wrong_images_pack_into_a_short_json_string_and_back():
    rng = np.random.default_rng(0)
    for n in (1, 7, 8, 9, 360, 10_000):
        wrong = rng.random(n) < 0.1
        packed = pack_wrong(wrong)
        assert packed["n"] == n and isinstance(packed["bits"], str)
        assert json.loads(json.dumps(packed)) == packed
        assert np.array_equal(unpack_wrong(packed), wrong)
    assert len(pack_wrong(np.zeros(N, bool))["bits"]) == 60  # 45 bytes


def test_a_result_line_without_them_still_loads():
    line = {"profile": "local", "mode": "measured", "repeat": 0, "trial_id": "a", "index": 0,
            "params": {}, "is_baseline": True, "status": "ok", "test_error": 0.1}
    assert TrialResult.from_dict(line).test_wrong is None
    packed = pack_wrong(outcomes([3]))
    again = TrialResult.from_dict({**line, "test_wrong": packed})
    assert again.test_wrong == packed and TrialResult.from_dict(again.to_dict()) == again


def test_wilson_interval_is_the_score_interval():
    k, n = 17, N
    p, z = k / n, 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson_interval(k, n) == pytest.approx((centre - half, centre + half))
    low, high = wilson_interval(0, n)  # no error: still an interval above 0
    assert low == 0.0 and 0.005 < high < 0.015


def test_mcnemar_is_exact_on_the_discordant_images():
    assert mcnemar_p(4, 0) == pytest.approx(0.125)  # 2 x 0.5^4
    assert mcnemar_p(8, 4) == pytest.approx(0.3876953125)
    assert mcnemar_p(0, 0) == 1.0


def test_a_large_gain_is_significant_and_a_small_one_is_not():
    base = outcomes(list(range(40)))  # 40 wrong
    strong = paired_test_errors(base, outcomes(list(range(10))))  # 10 of them still wrong
    assert (strong.baseline_wrong, strong.best_wrong) == (40, 10)
    assert (strong.baseline_only, strong.best_only) == (30, 0)
    low, high = strong.reduction_interval
    assert 0 < low < 0.75 < high <= 1.0 and strong.significant is True
    assert strong.mcnemar_p < 1e-8
    # the digits default of 2026-12-02: 17 -> 13 wrong, 8 images only the baseline got wrong
    # and 4 only the best
    weak = paired_test_errors(outcomes(list(range(17))),
                              outcomes([*range(9), *range(100, 104)]))
    assert (weak.baseline_wrong, weak.best_wrong, weak.baseline_only, weak.best_only) == \
        (17, 13, 8, 4)
    low, high = weak.reduction_interval
    assert low < 0 < 4 / 17 < high and weak.significant is False
    assert weak.mcnemar_p == pytest.approx(0.3876953125)


def test_the_bootstrap_is_paired_and_reproducible():
    base, best = outcomes(list(range(20))), outcomes(list(range(5, 17)))
    first = reduction_interval(base, best)
    assert first == reduction_interval(base, best)  # fixed seed: the same report every time
    assert reduction_interval(base, best, seed=1) != first
    # paired: the same images got wrong by both never move the reduction apart; unpaired
    # resampling would give a much wider interval than this
    low, high = first
    assert 0 < low < 8 / 20 < high < 0.7
    # the same outcomes: exactly no reduction; a baseline without an error: no reduction at all
    assert reduction_interval(base, base) == (0.0, 0.0)
    assert reduction_interval(outcomes([]), best) is None
    assert paired_test_errors(outcomes([]), best).significant is None
    with pytest.raises(ValueError, match="same test images"):
        paired_test_errors(base, base[:-1])


def test_a_baseline_with_few_errors_still_gets_an_interval():
    # 2 wrong: some resamples hold neither, and have no reduction; the interval is of the rest
    interval = reduction_interval(outcomes([0, 1]), outcomes([]))
    assert interval == (1.0, 1.0)


# -- through the analysis and the reports -------------------------------------------------------

META = {"run_id": "r1", "workload": {"name": "w", "grid": "g", "trials": 2, "hash": "h"},
        "environment": {"python": "3.11"}}


def trial(profile, trial_id, index, wrong, *, val, baseline=False, record=True):
    return TrialResult(
        profile=profile, mode=Mode.MEASURED, repeat=0, trial_id=trial_id, index=index,
        params={"learning_rate": 0.01 * 10 ** index, "neurons": 64}, is_baseline=baseline,
        status=TrialStatus.OK, val_error=val, test_error=len(wrong) / N, final_loss=0.1,
        dispatched_at=0.0, started_at=0.0, ended_at=1.0, received_at=1.0,
        phases={"train": 1.0}, test_wrong=pack_wrong(outcomes(wrong)) if record else None)


def run(profile="local", *, best_wrong=(*range(9), *range(100, 104)), record=True):
    return [trial(profile, "a", 0, list(range(17)), val=0.03, baseline=True, record=record),
            trial(profile, "b", 1, list(best_wrong), val=0.01, record=record)]


def summary(trials, profiles=("local",)):
    runs = [ProfileRun(p, Mode.MEASURED, 0, i + 1, 1, i + 1, 2, 2.0, 1.0, 1.0, False, 0.0, 2.0)
            for i, p in enumerate(profiles)]
    return summarize_run(META, trials, runs)


def test_the_accuracy_block_carries_the_intervals_to_every_report():
    s = summary(run())
    acc = s.accuracy
    assert acc.intervals.n == N and acc.intervals.significant is False
    assert acc.relative_error_reduction == pytest.approx(4 / 17)
    # the short answer: two lines within the terminal's width, "not significant" said
    lines = accuracy_lines(acc)
    assert len(lines) == 2 and max(map(len, lines)) <= WIDTH, lines
    assert lines[0].startswith("test error: baseline 4.72 % [3.0, 7.4] -> best 3.61 % [2.1, 6.1]"
                               " (learning_rate=0.1)")
    assert lines[1].startswith("test-error reduction 23.5 % [")
    assert lines[1].endswith(": not significant (McNemar p = 0.39, 360 test images)")
    # the full table, report.md (and report.html: the same rows)
    rows = accuracy_rows(acc)
    assert rows[0][3] == "[2.97, 7.43] % (Wilson; 17 of 360 test images wrong)"
    assert "paired bootstrap over the 360 test images" in rows[2][3]
    assert "not significant (McNemar p = 0.39)" in rows[2][3]
    assert "[2.97, 7.43] %" in to_table(s) and "[2.97, 7.43] %" in to_markdown(s, META)
    doc = to_json(s, META)["accuracy"]
    assert doc["test_images"] == N and doc["significant"] is False
    assert doc["baseline_test_error_interval"] == pytest.approx([0.0297, 0.0743], abs=1e-4)
    low, high = doc["relative_error_reduction_interval"]
    assert low < 0 < high
    assert doc["mcnemar_p"] == pytest.approx(0.3876953125)
    assert (doc["baseline_only_wrong"], doc["best_only_wrong"]) == (8, 4)
    json.dumps(doc, allow_nan=False)


def test_a_significant_gain_is_called_so():
    acc = summary(run(best_wrong=[0, 1])).accuracy
    assert acc.intervals.significant is True
    assert ": significant (McNemar p = " in accuracy_lines(acc)[1]


def test_an_old_run_has_no_interval_and_says_so():
    s = summary(run(record=False))
    assert s.accuracy.intervals is None
    (line,) = accuracy_lines(s.accuracy)
    assert line.endswith("; no interval (old run)")
    assert [r[3] for r in accuracy_rows(s.accuracy)][:3] == ["no interval (old run)"] * 3
    doc = to_json(s, META)["accuracy"]
    assert doc["relative_error_reduction_interval"] is None and doc["significant"] is None


def test_the_same_test_error_from_other_images_is_a_mismatch():
    other = run("2-node", best_wrong=[*range(9), *range(200, 204)])  # 13 wrong, other ones
    acc = summary(run() + other, ("local", "2-node")).accuracy
    assert acc.metrics_identical is False
    assert [(m.trial_id, m.field, m.expected, m.got) for m in acc.mismatches] == [
        ("b", "test_wrong", "13 of 360 test images wrong", "13 of 360 test images wrong")]
    assert summary(run() + run("2-node"), ("local", "2-node")).accuracy.metrics_identical


@pytest.mark.tensorflow
def test_a_trial_records_the_test_images_it_got_wrong():
    from bench.ml.datasets import load_dataset
    from bench.ml.training import train_and_evaluate

    data = load_dataset("digits", seed=4).as_float32()
    out = train_and_evaluate(data, "mlp", {"learning_rate": 0.1, "neurons": 16, "layers": 1,
                                           "momentum": 0.0}, epochs=2, batch_size=64, seed=9)
    assert out.status is TrialStatus.OK, out.error
    wrong = unpack_wrong(out.test_wrong)
    assert wrong.shape == (len(data.y_test),)
    assert out.test_error == wrong.sum() / len(wrong)  # the same count, bit for bit


def test_the_digits_baseline_is_in_every_grid_with_its_neighbours():
    """workloads/digits-mlp.toml: the gain is measured against a configuration the grid could
    have picked, surrounded by its neighbours, and the grids keep the sizes the time budgets of
    `make bench` (medium) and the CI gate (small) were set for."""
    from bench.definitions.workload import load_workload

    w = load_workload("digits-mlp")
    assert w.baseline == {"learning_rate": 0.01, "neurons": 64, "layers": 2, "momentum": 0.9}
    for name, size in (("small", 8), ("medium", 18), ("large", 48)):
        grid = w.grid(name)
        assert all(w.baseline[axis] in values for axis, values in grid.items()), name
        lr = sorted(grid["learning_rate"])
        at = lr.index(w.baseline["learning_rate"])
        assert 0 < at < len(lr) - 1, name  # smaller and larger learning rates beside it
        assert len(w.trials(name)) == size, name
