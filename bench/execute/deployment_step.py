"""The deployment step across a run's profiles (bench.execute.deployment): the configuration best
on validation retrained once, then its 1-node scoring, which replayed profiles sleep for."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bench.execute.deployment import DEFAULT_PARTITIONS, score, train_weights
from bench.execute.grid_runs import ProfileSession
from bench.execute.progress import deployment_step
from bench.ml.training import TrainedWeights
from bench.store.records import DeploymentRun, Mode, TrialResult, best_on_validation

log = logging.getLogger(__name__)


@dataclass
class Deployment:
    """The chosen configuration's weights, retrained once, and the 1-node scoring that replayed
    profiles sleep for."""

    rows: int
    partitions: int = DEFAULT_PARTITIONS
    trained: TrainedWeights | None = None
    params: dict[str, Any] | None = None
    reference: DeploymentRun | None = None  # the 1-node measured scoring

    def run(self, session: ProfileSession, mode: Mode, reference: list[TrialResult]) -> None:
        """Score the rows on this profile in ``mode``; first retrain the chosen configuration
        (on this cluster) if no profile has yet. Replay needs the 1-node scoring."""
        profile = session.pp.profile
        step = deployment_step(profile, mode, self.rows)
        session.observer.started(step)
        if self.trained is None and not self._retrain(session, reference):
            session.observer.skipped(step)
            return
        if mode is Mode.REPLAY and self.reference is None:
            log.warning("%s: deployment not replayed: the 1-node scoring did not run in this "
                        "invocation", profile.name)
            session.observer.skipped(step)
            return
        assert self.params is not None and self.trained is not None
        run = score(session.sc, weights=self.trained.weights, family=session.recipe.model,
                    params=self.params, data_bc=session.data_bc, rows=self.rows,
                    partitions=self.partitions, profile=profile.name, mode=mode, repeat=0,
                    nodes=profile.nodes, slots=profile.slots,
                    replay=self.reference if mode is Mode.REPLAY else None)
        session.observer.finished(step, run.wall_s)
        session.run_dir.append_deployment(run)
        if mode is Mode.MEASURED and profile.nodes == 1:
            self.reference = run
        log.info("%s %s: deployment %d rows in %.2f s", profile.name, mode.value, run.rows,
                 run.wall_s)

    def _retrain(self, session: ProfileSession, reference: list[TrialResult]) -> bool:
        """Retrain the configuration best on validation in the 1-node run's first repeat; False
        when none ended ok."""
        chosen = best_on_validation(t for t in reference if t.repeat == 0)
        if chosen is None:
            log.warning("deployment skipped: no trial of the 1-node run ended ok")
            return False
        recipe = session.recipe
        self.params = chosen.params
        self.trained = train_weights(
            session.sc, data_bc=session.data_bc, family=recipe.model, params=chosen.params,
            epochs=recipe.epochs, batch_size=recipe.batch_size, seed=recipe.seed,
            shuffle=recipe.shuffle,
            expect_test_error=chosen.test_error)
        return True
