"""The run's progress: its planned steps, the time left on a fake clock (exact numbers), and the
plain lines a display writes off a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bench.analyse.scaling_model import estimate_overheads, simulate_makespan
from bench.definitions.knobs import TestKnobs
from bench.definitions.profile import ClusterProfile, load_profiles
from bench.definitions.workload import load_workload
from bench.execute.experiment import plan_steps
from bench.execute.plan import ModeChoice
from bench.execute.plan import plan as plan_profiles
from bench.execute.progress import (
    Step,
    StepKind,
    deployment_step,
    floor_step,
    grid_step,
    startup_step,
    warmup_step,
)
from bench.execute.resume import ResumeState, RunJob
from bench.report.progress import RunProgress
from bench.report.progress_display import ProgressDisplay, duration, progress_display
from bench.store.records import Mode, TrialResult, TrialStatus


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def profile(name: str, nodes: int) -> ClusterProfile:
    return ClusterProfile(name=name, path=Path(f"{name}.toml"), description="", nodes=nodes,
                          cores=1, memory="1g", executor_memory="1g")


LOCAL, TWO = profile("local", 1), profile("2-node", 2)
IDS = ("a", "b", "c", "d")


def grid(p: ClusterProfile, mode: Mode, repeat: int = 0) -> Step:
    return grid_step(p, mode, repeat, f"{p.name} {mode.value}", IDS, "grid", row=True)


def plan() -> list[Step]:
    return [startup_step(LOCAL), warmup_step(LOCAL, Mode.MEASURED), grid(LOCAL, Mode.MEASURED),
            startup_step(TWO), warmup_step(TWO, Mode.REPLAY), grid(TWO, Mode.REPLAY)]


def trial(trial_id: str, train: float, start: float) -> TrialResult:
    """A 1-node trial: dispatched at 0, ``train`` s of compute from ``start``."""
    return TrialResult(profile="local", mode=Mode.MEASURED, repeat=0, trial_id=trial_id,
                       index=IDS.index(trial_id), params={}, is_baseline=False,
                       status=TrialStatus.OK, phases={"train": train}, dispatched_at=0.0,
                       started_at=start, ended_at=start + train, received_at=start + train)


def test_steps_know_their_trials_and_which_is_the_reference():
    steps = plan()
    assert sum(s.trials for s in steps) == 8
    assert [s.reference for s in steps if s.kind is StepKind.GRID] == [True, False]
    assert grid_step(LOCAL, Mode.MEASURED, 1, "x", IDS, "grid", row=False).reference is False
    assert floor_step(TWO, "floor-2", IDS, "grid").label == \
        "floor-2 measured (process pool, no Spark)"


def test_before_any_trial_there_is_no_time_left_to_tell():
    clock = Clock()
    p = RunProgress(plan(), clock)
    p.start(plan()[0])
    clock.now += 10
    eta = p.eta()
    assert (eta.trials_done, eta.trials_total, eta.elapsed_s, eta.remaining_s) == (0, 8, 10, None)


def test_before_the_model_a_trial_holds_a_slot_as_long_as_those_before():
    clock, steps = Clock(), plan()
    p = RunProgress(steps, clock)
    # start-up 2x its default (12 + 4.7 = 16.7 s), warm-up 1x its default (12.5 s)
    p.start(steps[0])
    clock.now += 33.4
    p.finish(steps[0])
    p.start(steps[1])
    clock.now += 12.5
    p.finish(steps[1])
    p.start(steps[2])
    clock.now += 6.0
    p.trial()
    p.trial()  # 2 trials in 6 s on 1 slot: c = 3 s
    eta = p.eta()
    assert eta.basis == "rough" and eta.trials_done == 2
    # the 1-node grid: 4 x 3 - 6 = 6 s; 2-node start-up (12 + 9.4) x 2 = 42.8 s; replayed
    # warm-up 1.9 x 2 = 3.8 s (none seen yet); the replayed grid max(3, 4 x 3 / 2) = 6 s
    assert eta.remaining_s == pytest.approx(6 + 42.8 + 3.8 + 6)
    assert eta.elapsed_s == pytest.approx(51.9)
    assert eta.fraction == pytest.approx(51.9 / (51.9 + 58.6))


def test_once_the_1_node_run_is_done_the_model_predicts_the_grids_to_come():
    clock, steps = Clock(), plan()
    p = RunProgress(steps, clock)
    for step in steps[:2]:
        p.start(step)
        p.finish(step)
    p.start(steps[2])
    trials = [trial("a", 4.0, 0.1), trial("b", 2.0, 4.2), trial("c", 3.0, 6.3),
              trial("d", 1.0, 9.4)]
    for _ in trials:
        p.trial()
    clock.now += 10.5
    p.finish(steps[2], trials)
    eta = p.eta()
    model = simulate_makespan([4.0, 2.0, 3.0, 1.0], 2, estimate_overheads(trials, 1))
    assert eta.basis == "model" and eta.trials_done == 4
    # the start-up took 0 s: its default scales to 0; no replayed warm-up seen: 1.9 x 2 s
    assert eta.remaining_s == pytest.approx(model + 3.8)
    # launches 0.1 s after the dispatch, 0.1 s apart: a 0.1-4.1, b 0.2-2.2, c 2.3-5.3, d 4.2-5.2
    assert model == pytest.approx(5.3)
    # the first deployment: 80 000 rows at the default rate, and the retraining of a mean trial
    assert p.estimate(deployment_step(LOCAL, Mode.MEASURED, 80_000)) == pytest.approx(1.0 + 2.5)
    # the replayed grid in progress counts its prediction minus its time so far
    p.start(steps[3])
    p.finish(steps[3])
    p.start(steps[4])
    p.finish(steps[4])
    p.start(steps[5])
    clock.now += 2.0
    assert p.eta().remaining_s == pytest.approx(model - 2.0)
    clock.now += 60.0
    assert p.eta().remaining_s == 0.0


def test_a_deployment_is_estimated_at_the_last_ones_rate_and_a_skipped_step_counts_nothing():
    clock = Clock()
    first, second = deployment_step(LOCAL, Mode.MEASURED, 800), deployment_step(TWO, Mode.REPLAY,
                                                                                800)
    p = RunProgress([first, second], clock)
    assert p.estimate(first) == 800 / 80_000
    p.start(first)
    clock.now += 9.0
    p.finish(first, seconds=4.0)  # 5 s retraining, 4 s scoring
    assert p.estimate(second) == 2.0  # 200 rows a second on a slot, 2 slots
    p.skip(second)
    assert p.eta().remaining_s == 0.0


def test_a_step_that_was_not_planned_counts_all_the_same():
    p = RunProgress([], Clock())
    p.start(grid(LOCAL, Mode.MEASURED))
    assert p.trials_total == 4


def finished_run(display: ProgressDisplay, clock: Clock) -> None:
    steps = plan()
    display.planned(steps)
    display.started(steps[0])
    clock.now += 17.8
    display.finished(steps[0], 17.8)
    display.started(steps[1])
    clock.now += 13.2
    display.finished(steps[1], 13.2)
    display.started(steps[2])
    for _ in range(2):
        clock.now += 40
        display.trial_done(steps[2])  # the second: 80 s after the last line, one is due
    display.tick()  # none due again yet
    clock.now += 10
    display.finished(steps[2], 90.0, [])


def test_off_a_terminal_a_line_per_step_and_at_most_one_a_minute_between():
    clock, out = Clock(), io.StringIO()
    finished_run(ProgressDisplay(out, live=False, clock=clock), clock)
    assert out.getvalue().splitlines() == [
        "bench: [local] cluster started in 17.8 s; run 0/8 trials, time left known after the "
        "first trial",
        "bench: [local measured] warm-up done in 13.2 s; run 0/8 trials, time left known after "
        "the first trial",
        # c = 40 s a trial: this grid 160 - 80; 2-node start-up 21.4 x (17.8 / 16.7), replayed
        # warm-up 3.8, replayed grid 80
        "bench: [local measured] 2/4 trials, 1 min 20 s so far; run 37 % done (2/8 trials), "
        "about 3 min 5 s left (rough estimate)",
        # c = 90 s / 2 trials: 2-node start-up 22.8 s, replayed warm-up 3.8 s, grid 90 s
        "bench: [local measured] grid done: 2/4 trials in 1 min 30 s; run 50 % done (2/8 "
        "trials), about 1 min 55 s left (rough estimate)",
    ]


def test_the_grid_done_line_counts_the_trials_that_arrived():
    clock, out = Clock(), io.StringIO()
    display = ProgressDisplay(out, live=False, clock=clock)
    step = grid(LOCAL, Mode.MEASURED)
    display.planned([step])
    display.started(step)
    for _ in range(4):
        display.trial_done(step)
    clock.now += 42.7
    display.finished(step, 42.7)
    assert out.getvalue() == ("bench: [local measured] grid done: 4/4 trials in 42.7 s; "
                              "run 100 % done (4/4 trials)\n")


def test_on_a_terminal_one_live_line_cleared_at_the_end():
    out = io.StringIO()
    with progress_display(out, live=True) as display:
        display.planned(plan())
        display.started(plan()[0])
    text = out.getvalue()
    assert "\n" not in text and text.startswith("\rbench: [local] starting the cluster | run")
    assert text.endswith("\r") and text.rstrip("\r").endswith(" ")  # cleared with spaces


def test_quiet_shows_nothing():
    out = io.StringIO()
    with progress_display(out, quiet=True) as display:
        display.planned(plan())
        display.started(plan()[0])
    assert out.getvalue() == ""


@pytest.mark.parametrize(("seconds", "text"), [(42.74, "42.7 s"), (130, "2 min 10 s"),
                                               (3900, "1 h 05 min")])
def test_durations_read_as_people_say_them(seconds, text):
    assert duration(seconds) == text


def job(repeats: int = 2, state: ResumeState | None = None) -> RunJob:
    workload = load_workload("digits-mlp")
    profiles = load_profiles(["local", "2-node"])
    return RunJob(workload, "small", workload.trials("small"),
                  plan_profiles(profiles, ModeChoice.AUTO, host_cores=2), repeats, "auto",
                  TestKnobs(), state or ResumeState(), "longest_first", trials_per_node=1,
                  deploy_rows=1000, floor=True)


def test_the_plan_has_every_step_the_run_makes_in_its_order():
    steps = plan_steps(job())
    n = len(load_workload("digits-mlp").trials("small"))  # the grid's, baseline included
    assert [(s.kind.name, s.label, s.trials) for s in steps] == [
        ("STARTUP", "local", 0),
        ("WARMUP", "local measured", 0),
        ("GRID", "local measured repeat 1/2", n),
        ("GRID", "local measured repeat 2/2", n),
        ("DEPLOYMENT", "local measured (deployment, 1,000 rows)", 0),
        ("STARTUP", "2-node", 0),
        ("WARMUP", "2-node measured", 0),
        ("GRID", "2-node measured repeat 1/2", n),
        ("GRID", "2-node measured repeat 2/2", n),
        ("GRID", "2-node measured (weak scaling, 2 trials)", 2),
        ("DEPLOYMENT", "2-node measured (deployment, 1,000 rows)", 0),
        ("WARMUP", "2-node replay", 0),
        ("GRID", "2-node replay repeat 1/2", n),
        ("GRID", "2-node replay repeat 2/2", n),
        ("GRID", "2-node replay (grid, order check)", n),
        ("GRID", "2-node replay (weak scaling, 2 trials)", 2),
        ("DEPLOYMENT", "2-node replay (deployment, 1,000 rows)", 0),
        ("FLOOR", "floor-2 measured (process pool, no Spark)", n),
    ]
    assert [s.reference for s in steps if s.kind is StepKind.GRID].count(True) == 2


def test_a_resumed_run_plans_only_what_has_no_result():
    state = ResumeState(finished={("local", Mode.MEASURED, 0), ("floor-2", Mode.MEASURED, 0)})
    labels = [s.label for s in plan_steps(job(state=state))]
    assert "local measured repeat 1/2" not in labels and "local measured repeat 2/2" in labels
    assert not any(label.startswith("floor-2") for label in labels)


def test_a_grid_made_in_another_order_than_planned_is_the_same_step():
    clock = Clock()
    planned = grid_step(LOCAL, Mode.MEASURED, 0, "local measured", IDS, "longest_first", True)
    made = grid_step(LOCAL, Mode.MEASURED, 0, "local measured", IDS[::-1], "longest_first", True)
    p = RunProgress([planned], clock)
    p.start(made)
    clock.now += 6.0
    p.trial()
    p.trial()
    assert p.trials_total == 4 and p.is_current(planned)
    assert p.eta().remaining_s == pytest.approx(6.0)  # 4 x 3 s, 6 s of them done
