"""`bench run --resume RUN_DIR`: finish a run whose driver died, running only what has no result.

Everything comes from the run directory: ``run.json`` names the workload, its grid and the
settings ``--set`` changed (the grid's come from the file again), and the profiles (their
definition hashes must still match: a resumed run must not mix two definitions), the modes the
plan chose, the repeats and the test knobs; ``profiles.jsonl`` says which grid runs finished and
``trials.jsonl`` which trials of an unfinished one already have a result.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from bench.definitions.knobs import TestKnobs
from bench.definitions.overrides import from_record
from bench.definitions.profile import load_profile, with_nodes
from bench.definitions.workload import TrialSpec, Workload, load_workload
from bench.errors import UserError
from bench.execute.plan import PlannedProfile
from bench.store.records import DEFAULT_ORDER, Mode, Order, TrialResult
from bench.store.rundir import META, RunDirectory

GridRun = tuple[str, Mode, int]  # (profile, mode, repeat)


@dataclass
class ResumeState:
    """What a run directory already holds."""

    finished: set[GridRun] = field(default_factory=set)  # grid runs with a profiles.jsonl line
    recorded: dict[GridRun, list[TrialResult]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, run: RunDirectory) -> ResumeState:
        state = cls()
        state.finished = {(r.profile, r.mode, r.repeat) for r in run.profile_runs()
                          if not r.is_extra}
        for trial in run.trials():
            state.recorded[(trial.profile, trial.mode, trial.repeat)].append(trial)
        return state

    def is_finished(self, grid_run: GridRun) -> bool:
        return grid_run in self.finished

    def results(self, grid_run: GridRun) -> list[TrialResult]:
        return list(self.recorded.get(grid_run, []))

    def remaining(self, grid_run: GridRun, specs: list[TrialSpec]) -> list[TrialSpec]:
        have = {t.trial_id for t in self.recorded.get(grid_run, [])}
        return [s for s in specs if s.trial_id not in have]


@dataclass(frozen=True)
class RunJob:
    """What one `bench run` does, new or resumed (``state`` holds what the run already has):
    handed whole from the command to bench.execute.experiment.run_experiment."""

    workload: Workload
    grid: str
    specs: list[TrialSpec]
    planned: list[PlannedProfile]
    repeats: int
    mode: str  # the --mode asked for (the plan's choice per profile is in ``planned``)
    knobs: TestKnobs
    state: ResumeState
    order: Order = DEFAULT_ORDER  # the trials' dispatch order (bench.execute.trial_order)
    trials_per_node: int = 0  # weak scaling's k (0: none)
    deploy_rows: int = 0  # rows the deployment step scores (0: none)
    floor: bool = False  # the process-pool floor beside measured multi-node profiles
    # Back-ends run beside the default on every profile, repeat by repeat (execute.backends)
    backends: tuple[str, ...] = ()


def load_resume(run: RunDirectory, host_cores: int, knobs: TestKnobs) -> RunJob:
    """Everything needed to finish ``run``; a UserError if it cannot be finished faithfully."""
    meta = run.meta()
    where = str(run.path / META)
    fix = "start a new run with `bench run` instead"
    recorded = meta["workload"]
    # read as the run read it: for its grid, with the settings it was given on the command line
    given = from_record(recorded.get("settings", {}), f"{where} workload.settings")
    workload = load_workload(recorded["path"], recorded["grid"], given)
    if workload.definition_hash(recorded["grid"]) != recorded["hash"]:
        raise UserError(
            f"the workload {recorded['path']} changed since this run began; finishing it would "
            "mix two definitions", where=where, fix=fix)
    planned = []
    for p in meta["profiles"]:
        profile = load_profile(p.get("path") or p["name"])
        if p.get("sweep_of"):  # one node count of a sweep of that profile
            profile = with_nodes(profile, p["nodes"])
        if profile.definition_hash() != p["hash"]:
            raise UserError(
                f"cluster profile '{p['name']}' changed since this run began", where=where,
                fix=fix)
        modes = tuple(Mode(m) for m in p["modes"])
        oversubscribed = (profile.is_local and profile.nodes * profile.cores > host_cores
                          and Mode.MEASURED in modes)
        planned.append(PlannedProfile(profile, modes, oversubscribed, p.get("plan", "")))
    if knobs.to_dict() != meta.get("test_knobs", TestKnobs().to_dict()):
        raise UserError(
            f"this run was made with test knobs {meta.get('test_knobs')}, the environment now "
            f"sets {knobs.to_dict()}", where="environment (BENCH_TEST_*)",
            fix="set the same test knobs as the run had, or unset them if it had none")
    options = meta["options"]
    return RunJob(workload, recorded["grid"], workload.trials(recorded["grid"]), planned,
                  int(options["repeats"]), options["mode"], knobs, ResumeState.of(run),
                  options.get("order", "grid"), int(options.get("trials_per_node", 0)),
                  int(options.get("deploy_rows", 0)), bool(options.get("floor", False)),
                  tuple(options.get("backends", ())))
