"""What `bench run` and `bench report` print: the short answer (few lines, none wide), everything
with --full, summary.json's document alone with --format json; on hand-made runs, no Spark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from commandline import bench_main
from made_runs import write_grid_run, write_run

from bench.analyse.summarize import summarize_run
from bench.report.answer import MOST_LINES, WIDTH, to_answer
from bench.report.text import to_table
from bench.store.records import Mode
from bench.store.rundir import HTML_REPORT, REPORT, RunDirectory


def summary_of(path: Path):
    run = RunDirectory.open(path)
    return summarize_run(run.meta(), run.trials(), run.profile_runs(), run.deployments())


@pytest.fixture
def grid_run(tmp_path: Path) -> Path:
    return write_grid_run(tmp_path / "runs")


def test_the_answer_is_short_narrow_and_says_what_a_reader_came_for(grid_run):
    done = bench_main("report", str(grid_run))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) <= MOST_LINES, done.stdout
    assert max(map(len, lines[:-2])) <= WIDTH, done.stdout  # the last two: paths, as they are
    # the main table, with where every row's figures come from
    assert lines[1].split()[:3] == ["profile", "mode", "nodes"]
    assert any(line.split()[:3] == ["13-node", "replay", "13"] for line in lines)
    # hyperfine's wording, with the sd of the ratio over the 3 repeats, per multi-node row
    faster = [line for line in lines if " times faster than local (measured)" in line]
    assert [line.split(" ran ")[0] for line in faster] == [
        "2-node (measured)", "2-node (replay)", "13-node (replay)"]
    assert all(" ± " in line for line in faster)
    # where the largest profile's speedup went, its 7 stragglers counted, not named
    (waterfall,) = [line for line in lines if line.startswith("13-node's speedup went")]
    assert "ideal 13.00 -> bound" in waterfall and "-> replay" in waterfall
    assert waterfall.endswith("; 7 trials held the last wave")
    assert "test error: baseline 20.00 % -> best 4.00 % (80.0 % lower; learning_rate=1, " \
        "neurons=64)" in done.stdout
    # the trial that failed on every row: one warning, rows counted
    assert "warning: 4 rows: trial learning_rate=10,neurons=32 failed" in done.stdout
    assert lines[-2:] == [f"report: {grid_run / REPORT}",
                          f"report with pictures: {grid_run / HTML_REPORT}"]


def test_full_prints_what_the_terminal_printed_before(grid_run):
    done = bench_main("report", str(grid_run), "--full")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"{to_table(summary_of(grid_run))}\n\nreport: {grid_run / REPORT}\n"
                           f"report with pictures: {grid_run / HTML_REPORT}\n")
    # and report.md keeps every section
    md = (grid_run / REPORT).read_text()
    for section in ("## Accuracy", "## Model", "## Where the time goes", "## Phases", "## Notes",
                    "## Environment"):
        assert section in md


def test_report_json_is_summary_json_alone_on_stdout(grid_run):
    done = bench_main("report", str(grid_run), "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # nothing else on stdout
    on_disk = json.loads((grid_run / "summary.json").read_text())
    assert doc.pop("run_dir") == str(grid_run)
    assert doc == on_disk


def test_the_answer_has_one_speedup_line_per_repeat_less_row_without_a_spread(tmp_path):
    summary = summary_of(write_run(tmp_path, repeats=1))
    text = to_answer(summary, [])
    assert "2-node (measured) ran 1.83 times faster than local (measured)" in text
    assert "±" not in text.split("\n\n")[1]  # one repeat: no spread to give


def test_a_long_sweep_keeps_the_answer_within_its_lines(tmp_path):
    rows = {("local", Mode.MEASURED, 1): [1.0]} | {
        (f"13-node@{n}", Mode.REPLAY, n): [1.0] for n in range(2, 14)}
    summary = summary_of(write_grid_run(tmp_path / "runs", repeats=1, rows=rows))
    lines = to_answer(summary, [("report", tmp_path / "report.md")]).splitlines()
    assert len(lines) <= MOST_LINES and max(map(len, lines)) <= WIDTH
    assert any("more lines: bench report RUN --full" in line for line in lines)
    assert any(line.startswith("13-node@13's speedup went") for line in lines)
