"""The pictures and report.html of hand-made runs: the files, and each figure's data read back
from the matplotlib Figure (not its pixels)."""

from __future__ import annotations

import base64
import dataclasses
import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from made_runs import (
    GRID_COLLECT_S,
    GRID_T0,
    GRID_TRIALS,
    GRID_WAIT_S,
    write_grid_run,
    write_run,
)

from bench.analyse.summarize import summarize_run
from bench.analyse.summary import RunSummary
from bench.commands.report import write_report
from bench.report import html as html_report
from bench.report.pictures import accuracy, drawing, scaling, timeline
from bench.store.records import Mode, TrialResult, TrialStatus
from bench.store.rundir import RunDirectory


def load(path: Path) -> tuple[RunSummary, list[TrialResult]]:
    run = RunDirectory.open(path)
    trials = run.trials()
    return summarize_run(run.meta(), trials, run.profile_runs()), trials


@pytest.fixture
def grid_run(tmp_path: Path) -> Path:
    return write_grid_run(tmp_path / "runs")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def by_gid(ax, prefix: str) -> dict[str, object]:
    return {a.get_gid(): a for a in [*ax.patches, *ax.lines, *ax.collections]
            if (a.get_gid() or "").startswith(prefix)}


def timeline_names(summary: RunSummary) -> list[str]:
    return [f"timeline_{r.name}_{r.mode.value}" for r in summary.rows]


def test_report_writes_every_picture_and_a_self_contained_html(grid_run: Path):
    table = write_report(RunDirectory.open(grid_run))
    assert "13-node" in table
    summary, _ = load(grid_run)
    names = ["wall_time", "speedup", "karp_flatt", "waterfall_2-node", "waterfall_13-node",
             "test_error", "time_to_quality", *timeline_names(summary)]
    assert sorted(p.stem for p in (grid_run / "plots").iterdir()) == sorted(names)
    page = (grid_run / "report.html").read_text()
    images = dict(re.findall(r'<figure id="([^"]+)"><img src="data:image/png;base64,([^"]+)"',
                             page))
    assert sorted(images) == sorted(names)
    for name in names:
        data = (grid_run / "plots" / f"{name}.png").read_bytes()
        assert base64.b64decode(images[name]) == data  # the file and the page show one picture
        width, height = png_size(data)
        assert 600 <= width <= 2000 and 200 <= height <= 2000, (name, width, height)
    # Nothing outside the file: no script, stylesheet, or image fetched from elsewhere.
    assert "<script" not in page and "http" not in page
    assert re.findall(r'src="(?!data:image/png;base64,)', page) == []
    for text in ("local", "2-node", "13-node", "measured", "replay",
                 "20.00 %", "4.00 %", "80.0 %",  # baseline, best, relative error reduction
                 "learning_rate=1, neurons=64, momentum=0"):
        assert text in page, text
    # each row's mode labelled, in the main, the where-the-time-goes and the phases table
    assert page.count('class="mode mode-replay"') == 2 * 3
    assert page.count('class="mode mode-measured"') == 2 * 3


def test_bench_report_prints_where_report_html_is(grid_run: Path, capsys):
    from bench.cli import main

    assert main(["report", str(grid_run)]) == 0
    out = capsys.readouterr().out
    assert f"report with pictures: {grid_run.resolve() / 'report.html'}" in out


def test_a_plotting_bug_keeps_its_traceback_after_the_text_reports(grid_run: Path,
                                                                    monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in a picture")

    monkeypatch.setattr(scaling, "speedup", broken)
    with pytest.raises(ZeroDivisionError, match="a bug in a picture"):
        write_report(RunDirectory.open(grid_run))
    assert (grid_run / "summary.json").is_file() and (grid_run / "report.md").is_file()


def test_wall_time_bars_are_the_mean_wall_times_with_sd_error_bars(grid_run: Path):
    summary, _ = load(grid_run)
    ax = scaling.wall_time(summary).axes[0]
    bars = by_gid(ax, "row:")
    assert set(bars) == {f"row:{r.name}:{r.mode.value}" for r in summary.rows}
    for r in summary.rows:
        bar = bars[f"row:{r.name}:{r.mode.value}"]
        assert bar.get_height() == pytest.approx(r.wall.mean)
        assert r.wall.sd > 0
    # one error bar per bar, from mean - sd to mean + sd
    spans = sorted((seg[0][1], seg[1][1]) for c in ax.containers if hasattr(c, "errorbar")
                   for seg in c.errorbar.lines[2][0].get_segments())
    assert np.array(spans) == pytest.approx(np.array(sorted(
        (r.wall.mean - r.wall.sd, r.wall.mean + r.wall.sd) for r in summary.rows)))
    # the mode is in the legend and in the bar's colour
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["measured", "replay"]
    replay = bars["row:13-node:replay"]
    assert replay.get_hatch() == drawing.MODE_STYLE[Mode.REPLAY]["hatch"]
    assert bars["row:local:measured"].get_facecolor() != replay.get_facecolor()


def test_speedup_points_bound_and_model_curve(grid_run: Path):
    summary, _ = load(grid_run)
    ax = scaling.speedup(summary).axes[0]
    lines = by_gid(ax, "")
    assert "model" not in lines
    measured = [r for r in summary.rows if r.mode is Mode.MEASURED]
    assert [y for _, y in lines["measured"].get_xydata()] == \
        pytest.approx([r.speedup for r in measured])
    # beside the measured point at its node count, not on it
    assert [x for x, _ in lines["replay"].get_xydata()] == pytest.approx([2, 13], rel=0.1)
    bound = {(r.nodes, r.bound_speedup) for r in summary.rows}
    assert np.array(sorted(map(tuple, lines["bound"].get_xydata()))) == \
        pytest.approx(np.array(sorted(bound)))
    assert lines["ideal"].get_xydata().tolist() == [[1, 1], [13, 13]]
    # 95 % intervals: every row has three repeats
    assert all(r.speedup_interval for r in summary.rows)

    curve = [(1, 1.0), (2, 1.8), (13, 7.0)]
    ax = scaling.speedup(summary, model_curve=curve).axes[0]
    model = by_gid(ax, "model")["model"]
    assert model.get_xydata().tolist() == [list(p) for p in curve]
    assert "model" in [t.get_text() for t in ax.get_legend().get_texts()]
    # the model's 1 ... 64 labels only the node counts run and the powers of two
    ax = scaling.speedup(summary, model_curve=[(n, n / 2) for n in range(1, 65)]).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == \
        ["1", "2", "4", "8", "13", "16", "32", "64"]


def test_test_error_has_a_line_per_neuron_count_and_marks_what_has_no_metrics(grid_run: Path):
    summary, trials = load(grid_run)
    source = [t for t in trials if (t.profile, t.mode, t.repeat) == ("local", Mode.MEASURED, 0)]
    ax = accuracy.error_vs_learning_rate(source, summary.accuracy).axes[0]
    series = by_gid(ax, "series:")
    assert list(series) == ["series:neurons=32", "series:neurons=64"]
    for neurons in (32, 64):
        expected = sorted((lr, math.nan if e is None else e * 100)
                          for (lr, n), (_, e, _) in GRID_TRIALS.items() if n == neurons)
        got = series[f"series:neurons={neurons}"].get_xydata()
        assert got == pytest.approx(np.array(expected), nan_ok=True)
    assert ax.get_xscale() == "log"
    top = by_gid(ax, "no-metrics:")
    assert set(top) == {"no-metrics:diverged", "no-metrics:failed"}
    assert top["no-metrics:diverged"].get_offsets().tolist()[0][0] == 10.0
    assert ax.get_xlim()[0] < 0.01 and ax.get_xlim()[1] > 10.0  # and inside the picture
    marks = by_gid(ax, "b")
    assert marks["baseline"].get_xydata().tolist() == [[0.01, pytest.approx(20.0)]]
    assert marks["best"].get_xydata().tolist() == [[1.0, pytest.approx(4.0)]]


def test_test_error_of_a_grid_with_one_axis_is_one_line(tmp_path: Path):
    summary, trials = load(write_run(tmp_path, repeats=1))
    source = [t for t in trials if t.profile == "local"]
    ax = accuracy.error_vs_learning_rate(source, summary.accuracy).axes[0]
    assert list(by_gid(ax, "series:")) == ["series:all trials"]
    assert ax.get_xlabel() == "learning_rate"
    assert list(by_gid(ax, "no-metrics:")) == ["no-metrics:diverged"]


def test_test_error_without_a_learning_rate_axis_puts_the_neurons_on_x():
    trials = [TrialResult("local", Mode.MEASURED, 0, f"n{n}", i, {"learning_rate": 0.1,
                          "neurons": n, "act": a}, i == 0, TrialStatus.OK, test_error=e)
              for i, (n, a, e) in enumerate([(32, "relu", 0.3), (64, "relu", 0.2),
                                             (32, "tanh", 0.25), (64, "tanh", 0.15)])]
    ax = accuracy.error_vs_learning_rate(trials, None).axes[0]
    assert ax.get_xlabel() == "neurons"
    series = by_gid(ax, "series:")
    assert series["series:act=relu"].get_xydata() == pytest.approx(np.array([[32, 30], [64, 20]]))
    assert len(series) == 2


def test_timeline_has_one_bar_per_trial_on_its_slot(grid_run: Path):
    summary, trials = load(grid_run)
    of_row = [t for t in trials if (t.profile, t.mode, t.repeat) == ("2-node", Mode.MEASURED, 2)]
    ax = timeline.timeline(of_row, "2-node").axes[0]
    tasks = by_gid(ax, "trial:")
    bars = {gid.split(":")[1]: p for gid, p in tasks.items() if gid.endswith(":task")}
    assert sorted(bars) == sorted(t.trial_id for t in of_row)  # each trial once
    assert [t.get_text() for t in ax.get_yticklabels()] == ["executor 0 @ h0", "executor 1 @ h1"]
    for t in of_row:
        bar = bars[t.trial_id]
        assert bar.get_x() == pytest.approx(t.started_at - GRID_T0)
        assert bar.get_width() == pytest.approx(t.task_seconds)
        assert bar.get_y() + bar.get_height() / 2 == int(t.executor_id)
        # the slot was free GRID_WAIT_S before the trial started, and only that is drawn
        assert tasks[f"trial:{t.trial_id}:waiting"].get_width() == pytest.approx(GRID_WAIT_S)
        assert tasks[f"trial:{t.trial_id}:collect"].get_width() == pytest.approx(GRID_COLLECT_S)
        inside = sum(tasks[f"trial:{t.trial_id}:{p}"].get_width()
                     for p in ("fetch", "build", "train", "evaluate", "cleanup"))
        assert inside == pytest.approx(t.task_seconds)
    assert len(by_gid(ax, "idle:")) == 2
    assert [t.get_text() for t in fig_legend(ax)] == [
        "waiting", "fetch", "build", "train", "evaluate", "cleanup", "collect", "idle"]


def fig_legend(ax):
    return ax.figure.legends[0].get_texts()


def test_timeline_gives_an_executor_running_two_trials_at_once_two_lanes():
    def at(trial_id: str, start: float, end: float) -> TrialResult:
        return TrialResult("p", Mode.MEASURED, 0, trial_id, 0, {}, False, TrialStatus.OK,
                           dispatched_at=0.0, started_at=start, ended_at=end, received_at=end,
                           phases={"train": end - start}, executor_id="0", host="h")

    ax = timeline.timeline([at("a", 0, 4), at("b", 0, 2), at("c", 2, 4)], "two per node").axes[0]
    lanes = {gid.split(":")[1]: p.get_y() + p.get_height() / 2
             for gid, p in by_gid(ax, "trial:").items() if gid.endswith(":task")}
    assert lanes == {"a": 0, "b": 1, "c": 1}
    assert len(ax.get_yticks()) == 2


def test_timeline_shows_the_slots_that_ran_no_trial(grid_run: Path):
    _, trials = load(grid_run)
    of_row = [t for t in trials if (t.profile, t.mode, t.repeat) == ("13-node", Mode.REPLAY, 0)]
    ax = timeline.timeline(of_row, "13-node", slots=13).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 13 and len(by_gid(ax, "idle:")) == 13
    assert labels.count("slot without a trial") == 13 - len(GRID_TRIALS)


def test_waterfall_steps():
    steps = [("ideal", 13.0), ("bound", 9.9), ("replay", 6.9), ("measured", 7.2)]
    ax = scaling.waterfall(steps).axes[0]
    bars = by_gid(ax, "step:")
    spans = [(bars[f"step:{s}"].get_y(), bars[f"step:{s}"].get_y()
              + bars[f"step:{s}"].get_height()) for s, _ in steps]
    assert np.array(spans) == pytest.approx(np.array([(0, 13.0), (9.9, 13.0), (6.9, 9.9),
                                                      (6.9, 7.2)]))
    assert [t.get_text() for t in ax.get_xticklabels()] == [s for s, _ in steps]
    with pytest.raises(ValueError):
        scaling.waterfall([])


def test_each_waterfall_of_the_summary_is_drawn_and_an_old_one_removed(grid_run: Path):
    summary, trials = load(grid_run)
    multi_node = [w.name for w in summary.waterfalls if len(w.steps) > 1]
    assert multi_node, "the made run has multi-node profiles"
    html_report.write_html_report(grid_run, summary, trials)
    page = (grid_run / "report.html").read_text()
    for name in multi_node:
        assert (grid_run / "plots" / f"waterfall_{name}.png").is_file()
        assert f'id="waterfall_{name}"' in page
    assert "<h2>Model</h2>" in page and "model error" in page
    html_report.write_html_report(grid_run, dataclasses.replace(summary, waterfalls=[]), trials)
    assert not list((grid_run / "plots").glob("waterfall*.png"))
    assert 'id="waterfall' not in (grid_run / "report.html").read_text()


def test_html_escapes_every_text(grid_run: Path):
    summary, _ = load(grid_run)
    summary = dataclasses.replace(summary, notes=["<script>alert('x')</script> & co"],
                                  workload="<b>w</b>")
    page = html_report.to_html(summary, [])
    assert "<script>" not in page and "<b>w</b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in page
    assert "&lt;b&gt;w&lt;/b&gt;" in page


def test_a_run_with_no_finished_profile_still_gets_its_pictures(grid_run: Path):
    (grid_run / "profiles.jsonl").unlink()  # killed before any grid finished
    write_report(RunDirectory.open(grid_run))
    assert sorted(p.name for p in (grid_run / "plots").iterdir()) == \
        ["karp_flatt.png", "speedup.png", "wall_time.png"]
    summary, trials = load(grid_run)
    assert scaling.wall_time(summary).axes[0].texts[0].get_text() == "no profile finished a grid"
    assert timeline.timeline([], "nothing").axes[0].texts[0].get_text() == \
        "no trial reported its start and end"



def test_save_png_writes_the_png_it_returns(grid_run: Path, tmp_path: Path):
    summary, _ = load(grid_run)
    data = drawing.save_png(scaling.wall_time(summary), tmp_path / "w.png")
    assert (tmp_path / "w.png").read_bytes() == data
    assert png_size(data) == (8 * drawing.DPI, round(4.5 * drawing.DPI))


# The scalability pictures: the USL fit on the speedup chart, Karp-Flatt, time to quality.


def usl_run(tmp_path: Path) -> Path:
    """The made grid run with replayed 4- and 8-node profiles too: 2, 4, 8, 13 nodes replayed."""
    from made_runs import GRID_ROWS

    return write_grid_run(tmp_path / "usl", rows={
        **GRID_ROWS, ("4-node", Mode.REPLAY, 4): [1.0, 1.05, 0.95],
        ("8-node", Mode.REPLAY, 8): [1.0, 1.1, 1.0]})


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_speedup_draws_a_determined_usl_fit_dashed_with_sigma_and_kappa(tmp_path: Path):
    from bench.analyse.run_scaling import fit_summary
    from bench.analyse.scalability import usl_speedup

    summary, _ = load(usl_run(tmp_path))
    fit = fit_summary(summary, Mode.REPLAY, resamples=100)
    assert not fit.under_determined
    fig = scaling.speedup(summary, usl=fit)
    ax = fig.axes[0]
    lines = by_gid(ax, "")
    usl = lines["usl"]
    assert usl.get_linestyle() == "--"
    assert usl.get_color() == drawing.MODE_STYLE[Mode.REPLAY]["color"]
    xs, ys = usl.get_xdata(), usl.get_ydata()
    assert xs[0] == pytest.approx(1) and xs[-1] == pytest.approx(13)
    assert ys == pytest.approx(usl_speedup(xs, fit.sigma, fit.kappa))
    label = usl.get_label()
    assert label.startswith(f"USL fit (replay): σ = {fit.sigma:.3f} [")
    assert f"κ = {fit.kappa:.2g} [" in label
    assert "95 % bootstrap intervals" in label and "peak at N* = " in label
    assert label in [t.get_text() for t in ax.get_legend().get_texts()]
    assert "ideal" in lines and "measured" in lines and "replay" in lines  # the rest is there
    assert not [t for t in texts(ax) if "USL" in t]
    assert "usl-extrapolated" not in lines and "dotted" not in label  # fitted up to 13 nodes
    data = drawing.save_png(fig, tmp_path / "speedup_usl.png")
    assert (tmp_path / "speedup_usl.png").stat().st_size == len(data) > 10_000


def test_speedup_draws_a_usl_fit_dotted_beyond_the_nodes_it_was_fitted_on(grid_run: Path):
    from bench.analyse.scalability import fit_usl, usl_speedup

    summary, _ = load(grid_run)  # runs up to 13 nodes
    fit = fit_usl([(n, float(usl_speedup(n, 0.05, 0.01))) for n in (1, 2, 4, 8)],
                  mode=Mode.REPLAY)
    lines = by_gid(scaling.speedup(summary, usl=fit).axes[0], "usl")
    assert lines["usl"].get_xdata()[-1] == pytest.approx(8)
    beyond = lines["usl-extrapolated"]
    assert beyond.get_linestyle() == ":"
    assert (beyond.get_xdata()[0], beyond.get_xdata()[-1]) == pytest.approx((8, 13))
    assert beyond.get_ydata() == pytest.approx(usl_speedup(beyond.get_xdata(), fit.sigma,
                                                           fit.kappa))
    assert lines["usl"].get_label().endswith("\ndotted: beyond the 8 nodes fitted")
    assert "(beyond the data)" in lines["usl"].get_label()  # its peak, N* = 9.7


def test_speedup_usl_label_without_repeats_or_peak():
    from bench.analyse.scalability import fit_usl, usl_speedup

    fit = fit_usl([(n, float(usl_speedup(n, 0.1, 0.0))) for n in (1, 2, 4, 8)],
                  mode=Mode.MEASURED)
    assert scaling.usl_legend_label(fit) == ("USL fit (measured): σ = 0.100, κ = 0\n"
                                           "no peak (κ = 0); no interval (no repeats)")


def test_speedup_writes_an_under_determined_usl_as_a_note_not_a_curve(grid_run: Path):
    from bench.analyse.run_scaling import fit_summary

    summary, _ = load(grid_run)
    fit = fit_summary(summary, Mode.MEASURED)  # 1 and 2 nodes
    assert fit.under_determined
    ax = scaling.speedup(summary, usl=fit).axes[0]
    assert "usl" not in by_gid(ax, "")
    note = next(t for t in ax.texts if t.get_gid() == "usl-note")
    assert note.get_text() == ("USL fit (measured): under-determined (2 node counts < 4: 1, 2), "
                               "not drawn")
    assert not [t for t in ax.get_legend().get_texts() if "USL" in t.get_text()]
    # without a fit: as before, no USL anywhere
    ax = scaling.speedup(summary).axes[0]
    assert "usl" not in by_gid(ax, "") and not [t for t in texts(ax) if "USL" in t]


def test_karp_flatt_has_a_marker_per_row_by_mode_and_says_how_to_read_it(tmp_path: Path):
    from bench.analyse import formulas

    summary, _ = load(usl_run(tmp_path))
    fig = scaling.karp_flatt(summary.rows)
    ax = fig.axes[0]
    series = by_gid(ax, "karp-flatt:")
    assert set(series) == {"karp-flatt:measured", "karp-flatt:replay"}
    for mode in (Mode.MEASURED, Mode.REPLAY):
        rows = sorted((r for r in summary.rows if r.mode is mode and r.nodes > 1),
                      key=lambda r: r.nodes)
        got = series[f"karp-flatt:{mode.value}"].get_xydata()
        assert got[:, 1] == pytest.approx([r.karp_flatt for r in rows])
        assert got[:, 0] == pytest.approx([r.nodes for r in rows], rel=0.1)
        assert [r.karp_flatt for r in rows] == \
            pytest.approx([formulas.karp_flatt(r.speedup, r.nodes) for r in rows])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["measured", "replay"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4", "8", "13"]
    caption = next(t for t in ax.texts if t.get_gid() == "karp-flatt-caption").get_text()
    assert "flat over N: fixed serial work" in caption
    assert "rising with N: overhead that grows with N" in caption
    assert "95 % bootstrap interval" in caption
    assert "e = (1/S − 1/N) / (1 − 1/N)" in ax.get_title()
    # each value written beside its point
    assert f"{summary.rows[-1].karp_flatt:.3f}" in texts(ax)
    data = drawing.save_png(fig, tmp_path / "karp_flatt.png")
    assert png_size(data) == (8 * drawing.DPI, round(4.8 * drawing.DPI))


def test_karp_flatt_without_a_multi_node_speedup_says_so():
    ax = scaling.karp_flatt([]).axes[0]
    assert ax.texts[0].get_text() == \
        "no Karp-Flatt fraction: it needs a speedup on more than 1 node"


def test_time_to_quality_has_a_step_line_per_label_and_rings_the_final_best(grid_run: Path,
                                                                           tmp_path: Path):
    from bench.analyse.time_to_quality import curves

    summary, trials = load(grid_run)
    got = curves(trials, repeat=0)
    modes = {f"{r.name} ({r.mode.value})": r.mode for r in summary.rows}
    until = {"local (measured)": 100.0}
    fig = accuracy.time_to_quality(got, modes=modes, until=until)
    ax = fig.axes[0]
    lines = by_gid(ax, "curve:")
    assert sorted(lines) == sorted(f"curve:{label}" for label in got)
    for label, points in got.items():
        line = lines[f"curve:{label}"]
        assert line.get_drawstyle() == "steps-post"
        expected = [[p.seconds, p.test_error * 100] for p in points]
        if label in until:  # carried on to the end of its grid at the final best's level
            expected.append([100.0, points[-1].test_error * 100])
        assert line.get_xydata() == pytest.approx(np.array(expected))
        ring = by_gid(ax, f"final-best:{label}")[f"final-best:{label}"]
        assert ring.get_xydata() == pytest.approx(
            np.array([[points[-1].seconds, points[-1].test_error * 100]]))
        assert line.get_linestyle() == ("--" if modes[label] is Mode.REPLAY else "-")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    best = got["local (measured)"][-1]
    assert f"local (measured): best 4.00 % at {best.seconds:.1f} s" in legend
    assert len(legend) == len(got)
    assert ax.get_xlabel().startswith("seconds since the grid's first trial was dispatched")
    assert ax.get_ylabel() == "test error of the best so far (%)"
    caption = next(t for t in ax.texts if t.get_gid() == "ttq-caption").get_text()
    assert "best on validation error, its test error drawn" in caption
    assert caption.endswith("; dashed: replay")
    data = drawing.save_png(fig, tmp_path / "ttq.png")
    assert png_size(data) == (8 * drawing.DPI, round(4.8 * drawing.DPI))
    assert (tmp_path / "ttq.png").read_bytes() == data


def test_time_to_quality_without_metrics_says_so():
    ax = accuracy.time_to_quality({"p (measured)": []}).axes[0]
    assert ax.texts[0].get_text() == "no trial of these grid runs has metrics"
    assert accuracy.time_to_quality({}).axes[0].texts[0].get_text() == \
        "no trial of these grid runs has metrics"
