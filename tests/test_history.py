"""`bench history add|show|publish` and `bench check --history` on hand-made runs; the
change-point search on synthetic series with known steps."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from commandline import bench_main as bench
from made_runs import write_run

from bench.cluster.environment import hardware
from bench.compare.results import load_result
from bench.history import change_points
from bench.history.entries import HISTORY_DIR, RECENT, read_group
from bench.history.reference import pooled

SLOWED = {"slowdown": 0.2, "seed_offset": 0}
# The machine's speed in each run: it moves times and probes alike, as a shared host does.
MACHINE = [1.0, 1.04, 0.97, 1.02, 0.99, 1.03, 0.98, 1.01, 0.96, 1.02]


def sha(i: int) -> str:
    return f"{i:02d}" + "ab" * 19


def made(tmp_path: Path, i: int, *, slowed: bool = False, knob: bool = True,
         commit: str | None = None) -> Path:
    """Run ``i`` of a branch: its own commit, the machine a little faster or slower; ``slowed``:
    every trial 20 % slower (with the test knob on that says so, unless ``knob`` is False)."""
    env = {"python": "3.11", **hardware(), "git_commit": commit or sha(i), "git_dirty": False}
    return write_run(tmp_path / "runs", environment=env, machine=MACHINE[i % len(MACHINE)],
                     scale=1.2 if slowed else 1.0, knobs=SLOWED if slowed and knob else None)


def added(tmp_path: Path, runs: int = 10, slowed_from: int | None = None) -> Path:
    history = tmp_path / "history"
    for i in range(runs):
        run = made(tmp_path, i, slowed=slowed_from is not None and i >= slowed_from)
        done = bench("history", "add", str(run), "--dir", str(history))
        assert done.returncode == 0, done.stdout + done.stderr
    return history


def entries(history: Path) -> list:
    (group,) = [p for p in history.iterdir() if p.is_dir()]
    workload, grid, machine = group.name.split("-")
    return read_group(history, workload, grid, machine)


# --- change-points on synthetic series ------------------------------------------------------

def synthetic(seed: int, step: float, *, sd: float = 0.03, n: int = 10, at: int = 5,
              repeats: int = 3) -> tuple[list[float], list[list[float]]]:
    """n entries around 100 whose level moves by ``step`` (a fraction) from entry ``at`` on;
    each entry's level drifts by ``sd``, its repeats scatter by ``sd`` around it."""
    rng = np.random.default_rng(seed)
    levels = [100 * (1 + step * (i >= at)) * (1 + rng.normal(0, sd)) for i in range(n)]
    samples = [[level * (1 + rng.normal(0, sd)) for _ in range(repeats)] for level in levels]
    return [float(np.mean(s)) for s in samples], samples


@pytest.mark.parametrize("seed", range(5))
def test_a_step_at_the_sixth_of_ten_entries_is_found_there(seed):
    values, samples = synthetic(seed, 0.20)
    (step,) = change_points.find_steps(values, samples, 0.10)
    assert step.index == 5  # the sixth entry is the first after the step
    assert (step.start, step.end) == (0, 10)
    assert step.ratio == pytest.approx(1.2, abs=0.05)
    assert step.p_value < 0.001


@pytest.mark.parametrize("seed", range(10))
def test_pure_noise_has_no_step(seed):
    values, samples = synthetic(seed, 0.0)
    assert change_points.find_steps(values, samples, 0.10) == []


def test_a_step_smaller_than_the_threshold_is_not_reported():
    values, samples = synthetic(0, 0.06, sd=0.005)
    assert change_points.best_split(values) == 5  # it is there, and significant...
    assert change_points.find_steps(values, samples, 0.10) == []  # ...but within 10 %
    (step,) = change_points.find_steps(values, samples, 0.05)
    assert step.index == 5


def test_a_constant_series_has_no_step():
    assert change_points.find_steps([5.0] * 10, [[5.0]] * 10, 0.10) == []


def test_a_step_under_drift_is_found_against_all_the_runs_around_it():
    # local trial CPU time of the history demo, 2026-12-02 (one value a run, no repeats): the
    # knob from run 6 on, and the host's load drifting all along; cut into short pieces first
    # (PELT), no piece was long enough to be significant
    cpu = [2.119, 2.127, 2.024, 2.082, 2.447, 2.704, 3.716, 3.274, 2.885, 2.816]
    (step,) = change_points.find_steps(cpu, [[v] for v in cpu], 0.10)
    assert (step.index, step.start, step.end) == (5, 0, 10) and step.p_value < 0.01


def test_two_steps_are_both_found():
    values = [1.0, 1.01, 0.99, 1.0, 1.3, 1.31, 1.29, 1.3, 1.7, 1.71, 1.69, 1.7]
    samples = [[v, v * 1.001, v * 0.999] for v in values]
    assert [s.index for s in change_points.find_steps(values, samples, 0.10)] == [4, 8]


# --- bench history add -------------------------------------------------------------------

def test_add_keeps_the_commit_the_knobs_and_the_gates_verdict(tmp_path):
    history = added(tmp_path, runs=7, slowed_from=5)
    kept = entries(history)
    assert [e.commit for e in kept] == [sha(i) for i in range(7)]
    assert [e.verdict["status"] for e in kept] == ["no reference", *["pass"] * 4,
                                                   "regression", "regression"]
    # the slowed runs are judged against the unslowed ones before them, never each other
    assert kept[6].verdict["against"] == [e.run_id for e in kept[:5]]
    assert kept[5].knobs == {"slowdown": 0.2} and not kept[4].knobs
    assert ("local (measured)", "wall_probes") in kept[5].regressed
    assert kept[0].summary == load_result(tmp_path / "runs" / kept[0].run_id).summary
    data = json.loads(kept[0].path.read_text())
    assert data["commit"] == sha(0) and data["dirty"] is False and data["started_at"]
    assert not list(history.rglob("*.tmp"))


def test_the_same_run_twice_is_refused(tmp_path):
    run = made(tmp_path, 0)
    history = tmp_path / "history"
    assert bench("history", "add", str(run), "--dir", str(history)).returncode == 0
    again = bench("history", "add", str(run), "--dir", str(history))
    assert again.returncode == 2
    assert "is in the history already" in again.stderr and "remove this file" in again.stderr
    assert len(list(history.rglob("*.json"))) == 1


def test_a_run_without_a_commit_needs_one_given(tmp_path):
    run = write_run(tmp_path / "runs")  # made without git: run.json records no commit
    history = tmp_path / "history"
    done = bench("history", "add", str(run), "--dir", str(history))
    assert done.returncode == 2 and "--commit SHA" in done.stderr
    bad = bench("history", "add", str(run), "--dir", str(history), "--commit", "../x")
    assert bad.returncode == 2 and "not a commit's sha" in bad.stderr
    assert not history.exists()
    assert bench("history", "add", str(run), "--dir", str(history), "--commit",
                 "1234abcd").returncode == 0


def test_a_damaged_entry_says_which_file(tmp_path):
    history = added(tmp_path, runs=1)
    entry = next(history.rglob("*.json"))
    entry.write_text("{not json")
    done = bench("history", "show", "--dir", str(history))
    assert done.returncode == 2 and str(entry) in done.stderr and "Traceback" not in done.stderr
    empty = bench("history", "show", "--dir", str(tmp_path / "none"))
    assert empty.returncode == 2 and "bench history add" in empty.stderr


# --- show and publish ----------------------------------------------------------------------

def test_show_prints_each_figures_series_and_names_the_step(tmp_path):
    history = added(tmp_path, slowed_from=5)
    done = bench("history", "show", "--dir", str(history))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "local (measured): grid wall time at equal machine speed" in out
    assert re.search(r"^\s+6\s+05ababa\*\s+\S+ \S+\s+10\.1 probes .* regressed$", out, re.M)
    assert "* made with a test knob on" in out
    steps = out[out.index("steps ("):]
    assert "local (measured): grid wall time at equal machine speed: from 05ababa* (run 6" in \
        steps.replace("\n  ", " ")
    assert "+20.0 %" in steps
    # the work done rose 20 % too, below the CPU time's threshold (25 %, above a shared host's
    # drift): no step of its own
    assert "trial CPU time: from" not in steps.replace("\n  ", " ")
    other = bench("history", "show", "--dir", str(history), "--workload", "other")
    assert other.returncode == 2 and "--workload other" in other.stderr


def test_a_history_without_a_change_has_no_step(tmp_path):
    history = added(tmp_path, runs=8)
    out = bench("history", "show", "--dir", str(history)).stdout
    assert "steps: none" in out


def test_publish_writes_one_page_with_a_picture_per_figure_and_the_step(tmp_path):
    history = added(tmp_path, slowed_from=5)
    done = bench("history", "publish", "--dir", str(history))
    assert done.returncode == 0, done.stderr
    page = history / "index.html"
    assert str(page) in done.stdout
    text = page.read_text()
    pictures = re.findall(r'<img src="data:image/png;base64,([^"]+)"', text)
    # per row: time and trial time at equal machine speed, efficiency vs bound, and speedup
    # or overhead (the gate's figures of each), and each measured row's trial CPU time; exact
    # figures that never moved are listed
    assert len(pictures) == 14
    assert all(base64.b64decode(p).startswith(b"\x89PNG") for p in pictures)
    assert "<script" not in text and "<link" not in text
    assert "step(s) found, at 05ababa* (run 6)" in text
    caption = re.search(r"<figcaption><b>local \(measured\): grid wall time at equal machine "
                        r"speed\.</b>(.*?)</figcaption>", text).group(1)
    assert "Step: local (measured): grid wall time at equal machine speed: from 05ababa* " \
           "(run 6" in caption
    assert "Regression in: 05ababa*, 06ababa*" in caption
    out = tmp_path / "site" / "history.html"
    assert bench("history", "publish", "--dir", str(history), "--out", str(out)).returncode == 0
    assert out.is_file()


def test_the_page_escapes_what_it_is_given(tmp_path):
    history = added(tmp_path, runs=2)
    entry = next(history.rglob("*.json"))
    data = json.loads(entry.read_text())
    data["run_id"] = "<b>run</b>"
    entry.write_text(json.dumps(data))
    assert bench("history", "publish", "--dir", str(history)).returncode == 0
    text = (history / "index.html").read_text()
    assert "<b>run</b>" not in text and "&lt;b&gt;run&lt;/b&gt;" in text


# --- bench check --history ------------------------------------------------------------------

def test_check_against_the_history_passes_an_unchanged_run_and_fails_a_slowed_one(tmp_path):
    history = added(tmp_path, runs=7, slowed_from=5)  # two slowed runs at the end: no reference
    same = bench("check", str(made(tmp_path, 7)), "--history", str(history))
    assert same.returncode == 0, same.stdout + same.stderr
    assert f"no regression against history: {RECENT} recent run(s), 00ababa ... 04ababa" in \
        same.stdout
    slow = bench("check", str(made(tmp_path, 8, slowed=True, knob=False)), "--history",
                 str(history), "--recent", "2")
    assert slow.returncode == 1, slow.stdout + slow.stderr
    assert "local (measured): grid wall time at equal machine speed regressed +20.0 %" in \
        slow.stdout
    assert "against history: 2 recent run(s), 03ababa ... 04ababa" in slow.stdout


def test_check_with_no_usable_entry_is_no_reference(tmp_path):
    history = added(tmp_path, runs=2, slowed_from=0)  # test knobs on: no reference
    done = bench("check", str(made(tmp_path, 3)), "--history", str(history))
    assert done.returncode == 3 and "no usable reference in the history" in done.stderr
    both = bench("check", str(made(tmp_path, 4)), "--history", str(history), "--reference",
                 str(made(tmp_path, 5)))
    assert both.returncode == 2 and "give one of them" in both.stderr


def test_a_run_already_in_the_history_is_not_its_own_reference(tmp_path):
    history = added(tmp_path, runs=1)
    (only,) = entries(history)
    done = bench("check", str(tmp_path / "runs" / only.run_id), "--history", str(history))
    assert done.returncode == 3 and "no usable reference" in done.stderr


def test_pooling_makes_the_recent_runs_repeats_samples_of_one_reference(tmp_path):
    kept = entries(added(tmp_path, runs=3))
    doc = pooled(kept)
    local = next(p for p in doc["profiles"] if p["name"] == "local")
    walls = [w for e in kept for p in e.summary["profiles"] if p["name"] == "local"
             for w in p["wall_samples_s"]]
    assert local["wall_samples_s"] == walls and len(local["probe_samples_s"]) == 9
    assert local["wall_s"] == pytest.approx(np.mean(walls))
    two = next(p for p in doc["profiles"] if (p["name"], p["mode"]) == ("2-node", "measured"))
    assert two["speedup"] == pytest.approx(local["wall_s"] / two["wall_s"])
    assert doc["accuracy"] == kept[-1].summary["accuracy"]  # exact figures: the newest's


def test_the_commands_default_history_folder_is_the_comparisons():
    # bench/commands/history.py spells it out so as not to import scipy for --help
    from bench.commands import history

    assert (history.HISTORY_DIR, history.RECENT) == (HISTORY_DIR, RECENT)
