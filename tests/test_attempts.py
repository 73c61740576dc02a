"""The referee's answers to re-runs, from hand-written task messages (no Spark needed): a dead
worker's trial is recorded, a lost executor's trial runs again."""

from __future__ import annotations

from bench.execute.attempts import AttemptReferee, host_oom_kills
from bench.store.records import TrialStatus


def start(trial: str, attempt: int, executor: str, *, host: str = "h", oom_kills: int | None = 7,
          pid: int = 100) -> dict:
    return {"token": "g", "start": {"trial_id": trial, "attempt": attempt, "executor_id": executor,
                                    "host": host, "pid": pid, "oom_kills": oom_kills,
                                    "started_at": 1.0}}


def referee(live: set[str] | None = frozenset({"0", "1"})) -> AttemptReferee:
    return AttemptReferee("g", lambda: None if live is None else set(live))


def test_a_first_attempt_runs():
    assert referee().hear(start("t", 0, "0")) == {"run": True}


def test_a_worker_that_died_with_its_executor_alive_is_recorded_crashed_not_run_again():
    judge = referee()
    judge.hear(start("t", 0, "1", pid=4242))
    answer = judge.hear(start("t", 1, "0"))
    assert answer["run"] is False and answer["status"] == "crashed"
    assert "pid 4242" in answer["error"] and "executor 1" in answer["error"]
    assert "did not change" in answer["error"]  # same host, same out-of-memory count
    assert judge.crashed == {("t", 0): TrialStatus.CRASHED}


def test_an_out_of_memory_kill_on_that_host_while_it_ran_makes_it_oom():
    judge = referee()
    judge.hear(start("t", 0, "1", oom_kills=7))
    answer = judge.hear(start("t", 1, "1", oom_kills=8))
    assert answer["status"] == "oom" and "oom_kill 7 -> 8" in answer["error"]
    assert judge.crashed == {("t", 0): TrialStatus.OOM}


def test_on_another_host_the_out_of_memory_count_says_nothing():
    judge = referee()
    judge.hear(start("t", 0, "1", host="a", oom_kills=7))
    answer = judge.hear(start("t", 1, "0", host="b", oom_kills=50))
    assert answer["status"] == "crashed" and "dmesg" in answer["error"]


def test_a_lost_executor_or_an_attempt_that_raised_lets_spark_run_it_again():
    judge = referee(live={"0"})  # executor 1 is gone
    judge.hear(start("t", 0, "1"))
    assert judge.hear(start("t", 1, "0")) == {"run": True}
    judge = referee()
    judge.hear(start("u", 0, "1"))
    judge.hear({"token": "g", "raised": {"trial_id": "u", "attempt": 0}})
    assert judge.hear(start("u", 1, "1")) == {"run": True}
    assert judge.crashed == {}


def test_when_spark_cannot_list_executors_or_the_message_is_another_grids_it_runs():
    judge = referee(live=None)
    judge.hear(start("t", 0, "1"))
    assert judge.hear(start("t", 1, "1")) == {"run": True}
    other = referee()
    other.hear(start("t", 0, "1"))
    assert other.hear({**start("t", 1, "1"), "token": "another grid"}) is None


def test_an_attempt_that_sent_its_result_before_dying_is_no_crash():
    judge = referee()
    judge.hear(start("t", 0, "1"))
    judge.hear({"token": "g", "result": {"trial_id": "t", "attempt": 0}})
    assert judge.hear(start("t", 1, "1")) == {"run": True}


def test_host_oom_kills_reads_the_kernels_counter(tmp_path):
    vmstat = tmp_path / "vmstat"
    vmstat.write_text("nr_free_pages 123\noom_kill 3\npgfault 9\n")
    assert host_oom_kills(str(vmstat)) == 3
    vmstat.write_text("nr_free_pages 123\n")  # a kernel older than 4.13
    assert host_oom_kills(str(vmstat)) is None
    assert host_oom_kills(str(tmp_path / "absent")) is None
