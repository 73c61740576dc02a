"""`bench compare`, `bench check` and `bench reference` as a user runs them, on hand-made runs;
what they read (run directories, summary.json, references, pytest-benchmark files) and refuse."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from commandline import bench_main
from made_runs import write_run

from bench.analyse.summary_json import SUMMARY_VERSION
from bench.compare.references import find_reference, save_reference, saved_reference
from bench.compare.results import BENCHMARK_SUMMARY_KEY, load_result
from bench.definitions.knobs import TestKnobs, read_test_knobs
from bench.definitions.thresholds import Thresholds
from bench.definitions.workload import load_workload
from bench.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def bench(*args: str) -> subprocess.CompletedProcess:
    """In this process: the commands' exit codes and output, without a Python start-up each
    (tests/test_bad_input.py checks exit codes through `python -m bench` too)."""
    return bench_main(*args)


def assert_user_error(proc: subprocess.CompletedProcess, *phrases: str, code: int = 2) -> None:
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr


# --- results: every kind of file compare and check read ------------------------------------

def test_a_run_directory_and_its_latest_link_read_alike(tmp_path):
    run = write_run(tmp_path)
    (tmp_path / "latest").symlink_to(run.name)
    direct, linked = load_result(run), load_result(tmp_path / "latest")
    assert direct.summary == linked.summary and linked.label == run.name
    assert direct.summary["summary_version"] == SUMMARY_VERSION


def test_a_summary_of_an_older_bench_says_what_to_run(tmp_path):
    old = tmp_path / "summary.json"
    old.write_text(json.dumps({"format_version": 1, "run_id": "x", "profiles": []}))
    with pytest.raises(UserError, match="older bench") as e:
        load_result(old)
    assert "bench report" in e.value.message


def test_a_pytest_benchmark_file_is_read_and_one_benchmark_picked(tmp_path):
    doc = load_result(write_run(tmp_path / "r")).summary
    file = tmp_path / "bench.json"
    benchmarks = [{"name": n, "extra_info": {BENCHMARK_SUMMARY_KEY: doc}} for n in ("x", "y")]
    file.write_text(json.dumps({"machine_info": {}, "benchmarks": benchmarks}))
    with pytest.raises(UserError, match="holds 2 bench runs"):
        load_result(file)
    assert load_result(f"{file}#y").label == "bench.json#y"
    with pytest.raises(UserError, match="no benchmark 'z'"):
        load_result(f"{file}#z")


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a JSON file"),
    ("[1, 2]", "JSON object was expected"),
    ('{"hello": 1}', "no format_version"),
    ('{"benchmarks": []}', "holds no bench run"),
])
def test_files_that_are_no_result_are_refused(tmp_path, content, message):
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        load_result(path)


def test_a_folder_that_is_no_run_is_refused(tmp_path):
    with pytest.raises(UserError, match="not a run directory"):
        load_result(tmp_path)
    with pytest.raises(UserError, match="no such file"):
        load_result(tmp_path / "missing")


# --- references --------------------------------------------------------------------------

def test_a_saved_reference_is_found_for_its_workload_grid_and_machine(tmp_path):
    result = load_result(write_run(tmp_path / "r"))
    path = save_reference(result, tmp_path / "references")
    assert path.name == f"w-g-{result.summary['machine']}.json"
    assert find_reference(result.summary, tmp_path / "references") == path
    assert load_result(path).summary == result.summary


def test_no_reference_for_this_machine_says_how_to_make_one(tmp_path):
    result = load_result(write_run(tmp_path / "r"))
    with pytest.raises(UserError, match="no reference for w grid 'g'") as e:
        find_reference(result.summary, tmp_path / "none")
    assert "bench reference save" in e.value.message


def test_a_run_made_with_a_test_knob_is_no_reference(tmp_path):
    result = load_result(write_run(tmp_path / "r", knobs={"slowdown": 0.2, "seed_offset": 0}))
    with pytest.raises(UserError, match="test knob"):
        save_reference(result, tmp_path / "references")
    assert not (tmp_path / "references").exists()


# --- the commands --------------------------------------------------------------------------

def test_check_exits_0_on_an_unchanged_run_and_1_on_a_regression(tmp_path):
    base = write_run(tmp_path / "base")
    saved = bench("reference", "save", str(base), "--dir", str(tmp_path / "ref"))
    assert saved.returncode == 0, saved.stderr
    same = bench("check", str(write_run(tmp_path / "same")), "--references-dir",
                 str(tmp_path / "ref"))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no regression" in same.stdout

    slow = bench("check", str(write_run(tmp_path / "slow", scale=1.2)), "--references-dir",
                 str(tmp_path / "ref"))
    assert slow.returncode == 1, slow.stdout + slow.stderr
    assert "regression(s)" in slow.stdout
    assert "local (measured): grid wall time at equal machine speed regressed +20.0 %" in slow.stdout
    assert "bench reference save" in slow.stdout


def test_check_without_a_usable_reference_exits_3(tmp_path):
    """No reference, one of another machine or of another definition: exit 3, which CI tells
    from a regression (1) and from a mistyped command (2)."""
    run = write_run(tmp_path / "run")
    assert_user_error(bench("check", str(run), "--references-dir", str(tmp_path / "none")),
                      "no reference", "bench reference save", code=3)
    other_machine = write_run(tmp_path / "other", environment={"cpu_model": "elsewhere"})
    assert_user_error(bench("check", str(run), "--reference", str(other_machine)),
                      "another kind of machine", code=3)
    other_grid = write_run(tmp_path / "grid", workload_hash="changed")
    assert_user_error(bench("check", str(run), "--reference", str(other_grid)),
                      "does not match this run", "bench reference save", code=3)
    assert_user_error(bench("check", str(run), "--history", str(tmp_path / "no-history")),
                      "no history here", code=3)
    # a file that is no result is an input error, not a missing reference
    assert_user_error(bench("check", str(run), "--reference", str(tmp_path / "nothing")),
                      "no such file")


def test_check_json_and_markdown_write_only_their_document_on_stdout(tmp_path):
    base = write_run(tmp_path / "base")
    assert bench("reference", "save", str(base), "--dir", str(tmp_path / "ref")).returncode == 0
    slow = write_run(tmp_path / "slow", scale=1.2)
    data = bench("check", str(slow), "--references-dir", str(tmp_path / "ref"), "--format",
                 "json")
    assert data.returncode == 1, data.stdout + data.stderr
    doc = json.loads(data.stdout)  # nothing else on stdout
    assert doc["gate"]["status"] == "regression" and doc["gate"]["judged"] > 0
    assert any(r["line"].startswith("local (measured): grid wall time at equal machine speed "
                                    "regressed +20.0 %") for r in doc["gate"]["regressions"])
    assert "regression(s) against" in data.stderr  # the verdict for a person, on stderr
    md = bench("check", str(slow), "--references-dir", str(tmp_path / "ref"), "--format",
               "markdown")
    assert md.returncode == 1
    assert md.stdout.startswith("## bench check: ")
    assert "regression(s)" in md.stdout.splitlines()[0]
    assert "- local (measured): grid wall time at equal machine speed regressed" in md.stdout
    assert "<details><summary>Every figure (" in md.stdout and md.stdout.endswith("</details>\n")
    same = bench("check", str(write_run(tmp_path / "same")), "--references-dir",
                 str(tmp_path / "ref"), "--format", "markdown")
    assert same.returncode == 0 and same.stdout.startswith("## bench check: no regression\n")
    ok = json.loads(bench("check", str(base), "--references-dir", str(tmp_path / "ref"),
                          "--format", "json").stdout)
    assert ok["gate"]["status"] == "pass" and ok["gate"]["regressions"] == []
    assert ok["gate"]["reference"] == ok["a"] and ok["gate"]["judged"] > 0


def test_compare_prints_table_markdown_and_json(tmp_path):
    a, b = write_run(tmp_path / "a"), write_run(tmp_path / "b", scale=1.2)
    table = bench("compare", str(a), str(b))
    assert table.returncode == 0 and "worse" in table.stdout and "verdict" in table.stdout
    md = bench("compare", str(a), str(b), "--format", "markdown")
    assert md.stdout.startswith("# bench compare")
    assert re.search(r"^- figures: \d+ \w+", md.stdout, re.M), md.stdout
    data = json.loads(bench("compare", str(a), str(b), "--format", "json").stdout)
    assert {f["verdict"] for f in data["figures"]} >= {"worse", "same"}
    assert_user_error(bench("compare", str(a), str(tmp_path / "nothing")), "no such file")


def test_reference_show_names_the_file_or_says_there_is_none(tmp_path):
    missing = bench("reference", "show", "--workload", "digits-mlp", "--grid", "small",
                    "--dir", str(tmp_path))
    assert missing.returncode == 3 and "bench reference save" in missing.stderr
    run = write_run(tmp_path / "r", name="digits-mlp")  # its grid is 'g'
    assert bench("reference", "save", str(run), "--dir", str(tmp_path / "ref")).returncode == 0
    found = bench("reference", "show", "--workload", "digits-mlp", "--grid", "small",
                  "--dir", str(tmp_path / "ref"))
    assert found.returncode == 3  # a reference of grid 'g' is not one of grid 'small'
    assert_user_error(bench("reference", "show", "--grid", "nope"), "has no grid 'nope'")


def test_the_old_words_still_work_and_an_old_baseline_is_read(tmp_path):
    """`bench baseline`, `check --baseline` and `--baselines-dir`, and files from before the
    gate's saved result was called a reference (``baseline_version``, reports/baselines/)."""
    run = write_run(tmp_path / "run")
    assert bench("baseline", "save", str(run), "--dir", str(tmp_path / "bl")).returncode == 0
    saved = next((tmp_path / "bl").glob("*.json"))
    old = json.loads(saved.read_text())
    old["baseline_version"] = old.pop("reference_version")
    saved.write_text(json.dumps(old))
    assert load_result(saved).summary == load_result(run).summary
    machine = load_result(run).summary["machine"]
    assert saved_reference([tmp_path / "none", tmp_path / "bl"], "w", "g", machine) == saved
    for args in (["--baselines-dir", str(tmp_path / "bl")], ["--baseline", str(saved)]):
        proc = bench("check", str(run), *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr


# --- knobs and thresholds ------------------------------------------------------------------

def test_test_knobs_are_read_from_the_environment_and_checked():
    assert read_test_knobs({}) == TestKnobs()
    knobs = read_test_knobs({"BENCH_TEST_SLOWDOWN": "0.2", "BENCH_TEST_SEED_OFFSET": "1"})
    assert knobs.active and knobs.slowdown == 0.2 and knobs.seed_offset == 1
    assert "20 %" in knobs.describe()
    for bad in ({"BENCH_TEST_SLOWDOWN": "fast"}, {"BENCH_TEST_SLOWDOWN": "-1"},
                {"BENCH_TEST_SEED_OFFSET": "1.5"}):
        with pytest.raises(UserError, match="BENCH_TEST_"):
            read_test_knobs(bad)


def test_a_workload_sets_its_own_thresholds(tmp_path):
    shipped = load_workload("digits-mlp")
    assert isinstance(shipped.thresholds, Thresholds)
    # The shipped file has a [check] table already: drop it, then add one of our own.
    shipped_text = (ROOT / "workloads" / "digits-mlp.toml").read_text()
    text = re.sub(r"\n\[check\]\n(?:[^\[\n].*\n)*", "\n", shipped_text)
    assert "[check]" not in text
    path = tmp_path / "w.toml"
    path.write_text(text + "\n[check]\nwall_time = 0.3\n")
    assert load_workload(str(path)).thresholds.wall_time == 0.3
    assert load_workload(str(path)).definition_hash() == shipped.definition_hash()
    for bad, message in (("wall_tme = 0.3", "unknown key 'wall_tme'"),
                         ("speedup = -0.1", "greater than 0"), ("min_repeats = 1.5", "integer")):
        path.write_text(text + f"\n[check]\n{bad}\n")
        with pytest.raises(UserError, match=message):
            load_workload(str(path))
