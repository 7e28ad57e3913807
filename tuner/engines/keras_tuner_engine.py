"""The KerasTuner engine: the same study file searched by Hyperband, Bayesian or random search.

The study's space is translated to KerasTuner ``HyperParameters`` (same names,
bounds, log scales and choices, batch size included); every KerasTuner trial
(each Hyperband round too) goes through the same ``TrialRunner`` as Optuna's,
so it is logged to MLflow the same way. KerasTuner keeps its own state under
``mlruns/keras-tuner/<study>-<algorithm>/`` and continues it on a rerun
(``overwrite=False``). Its trials are labelled ``<algorithm>-N`` (``hyperband-3``)
beside Optuna's plain numbers in the study's MLflow experiment.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import optuna

from tuner.core.errors import StudyConfigError, TooManyFailures
from tuner.core.options import SearchContext
from tuner.core.space import Choice, Float, Int, Space
from tuner.core.study import Study
from tuner.data.prepare import Prepared
from tuner.engines.base import BestTrial, SearchOutcome
from tuner.engines.trial import TrainingPlan, TrialRunner
from tuner.tracking import keys

ALGORITHMS: dict[str, type[kt.Tuner]] = {
    "hyperband": kt.Hyperband,
    "bayesian": kt.BayesianOptimization,
    "random": kt.RandomSearch,
}
STATES = {
    "COMPLETED": "COMPLETE",
    "FAILED": "FAIL",
    "INVALID": "FAIL",
    "RUNNING": "RUNNING",
    "IDLE": "RUNNING",
}
HYPERBAND_KEYS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round")


def define(hp: kt.HyperParameters, name: str, dim: Any) -> Any:
    """One dimension of a tuner ``Space`` as the KerasTuner hyperparameter of that name."""
    if isinstance(dim, Int):
        return hp.Int(name, dim.low, dim.high, sampling="log" if dim.log else "linear")
    if isinstance(dim, Float):
        return hp.Float(name, dim.low, dim.high, sampling="log" if dim.log else "linear")
    if isinstance(dim, Choice):
        return hp.Choice(name, list(dim.values))
    return hp.Fixed(name, dim)


def space_params(space: Space, hp: kt.HyperParameters) -> dict[str, Any]:
    """The params dict of ``Space.suggest``, drawn from KerasTuner's hyperparameters."""
    return space.draw(lambda name, dim: define(hp, name, dim))


class StudyHyperModel(kt.HyperModel):
    """Builds with tuner's model builder and trains through ``TrialRunner``."""

    def __init__(self, engine: KerasTunerEngine, runner: TrialRunner) -> None:
        super().__init__()
        self.engine = engine
        self.runner = runner
        self.builds = 0

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        params = space_params(self.engine.study.space, hp)
        self.builds += 1  # a different, reproducible seed for each model built
        keras.utils.set_random_seed(self.engine.study.seed + self.builds)
        return self.runner.build(params)

    def fit(
        self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any
    ) -> dict[str, float]:
        trial = self.engine.current_trial
        assert trial is not None  # set by run_trial before it calls fit
        number = int(trial.trial_id)
        params = space_params(self.engine.study.space, hp)
        tags = {
            keys.keras_tuner(k.split("/")[1]): str(hp.values[k])
            for k in HYPERBAND_KEYS
            if k in hp.values
        }
        run_id = self.runner.start(number, params, tags)
        try:
            result = self.runner.train(
                run_id,
                number,
                params,
                TrainingPlan(
                    model=model,
                    callbacks=kwargs.get("callbacks", []),
                    epochs=kwargs.get("epochs"),
                    initial_epoch=kwargs.get("initial_epoch", 0),
                ),
            )
        finally:
            self.engine.remember_run(trial.trial_id, run_id)
        return {self.engine.objective_key: result.value}


class KerasTunerEngine:
    """KerasTuner's Hyperband, Bayesian or random search on a tuner study."""

    name = "keras-tuner"

    def __init__(
        self, study: Study, prepared: Prepared, context: SearchContext, algorithm: str = "hyperband"
    ) -> None:
        if study.cv:
            raise StudyConfigError(
                "cv: the keras-tuner engine does not cross-validate; "
                "run this study with engine='optuna', or drop cv"
            )
        self.study = study
        self.context = context
        self.options = context.options
        self.algorithm = algorithm
        self.objective_key = prepared.settings.objective
        self.trivial = prepared.trivial
        self.validation_rows = prepared.validation_rows
        self.direction = prepared.settings.direction
        # One KerasTuner project per study and algorithm: its oracle cannot change algorithm.
        self.directory = Path(context.keras_tuner_dir) / f"{study.name}-{algorithm}"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.run_ids_file = self.directory / "mlflow_run_ids.json"
        self.run_ids: dict[str, str] = (
            json.loads(self.run_ids_file.read_text()) if self.run_ids_file.exists() else {}
        )
        self.current_trial: kt.engine.trial.Trial | None = None
        self.tuner: kt.Tuner | None = None

    def tags(self) -> dict[str, str]:
        return {keys.ENGINE: self.name, keys.ALGORITHM: self.algorithm}

    def remember_run(self, trial_id: str, run_id: str) -> None:
        """KerasTuner trials hold no user attributes: keep the MLflow run ids beside them."""
        self.run_ids[trial_id] = run_id
        self.run_ids_file.write_text(json.dumps(self.run_ids))

    def _make_tuner(self, runner: TrialRunner) -> kt.Tuner:
        engine = self
        base = ALGORITHMS[self.algorithm]

        class LoggedTuner(base):  # type: ignore[valid-type,misc]
            def on_trial_begin(self, trial: kt.engine.trial.Trial) -> None:
                engine.current_trial = trial
                super().on_trial_begin(trial)

            def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
                super().on_trial_end(trial)
                engine.stop_if_out_of_budget()

        budget: dict[str, Any] = (
            {"max_epochs": self.study.max_epochs}
            if self.algorithm == "hyperband"
            else {"max_trials": 10**6}
        )
        return LoggedTuner(
            hypermodel=StudyHyperModel(self, runner),
            objective=kt.Objective(
                self.objective_key, "max" if self.direction == "maximize" else "min"
            ),
            seed=self.study.seed,
            directory=str(self.directory.parent),
            project_name=self.directory.name,
            overwrite=False,
            max_consecutive_failed_trials=self.options.max_failures,
            **budget,
        )

    def search(self, runner: TrialRunner) -> SearchOutcome:
        """Run ``options.trials`` more KerasTuner trials, or until ``timeout``, or until it ends."""
        self.tuner = self._make_tuner(runner)
        self.limit = (
            None
            if self.options.trials is None
            else (len(self.tuner.oracle.trials) + self.options.trials)
        )
        self.tuner.oracle.max_trials = self.limit
        # Hyperband reloads a round's best weights, not its optimizer state; Keras
        # warns about that once per round.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        try:
            self.tuner.search(epochs=self.study.max_epochs, verbose=0)
        except RuntimeError as exc:
            if "consecutive failures" not in str(exc):
                raise
            raise TooManyFailures(
                f"KerasTuner stopped after {self.options.max_failures} failed trials in a row; "
                "fix the study or raise max_failures"
            ) from exc
        return self.outcome()

    def fail_running_trials_of_this_process(self) -> None:
        """KerasTuner keeps its own trial states; its next run takes up where it stopped."""

    def stop_if_out_of_budget(self) -> None:
        """KerasTuner has no timeout: once it passes, no new trial may start."""
        if self.context.seconds_left() == 0 and self.tuner is not None:
            self.tuner.oracle.max_trials = len(self.tuner.oracle.trials)

    def outcome(self) -> SearchOutcome:
        states: dict[str, int] = {}
        trials = list(self.tuner.oracle.trials.values()) if self.tuner else []
        for t in trials:
            state = STATES.get(str(t.status), str(t.status))
            states[state] = states.get(state, 0) + 1
        best: BestTrial | None = None
        done = self.tuner.oracle.get_best_trials(1) if self.tuner else []
        if done and done[0].score is not None:
            trial = done[0]
            number = int(trial.trial_id)
            best = BestTrial(
                number,
                trial.score,
                space_params(self.study.space, trial.hyperparameters),
                self.run_ids.get(trial.trial_id),
                label=f"{self.algorithm}-{number}",
            )
        return SearchOutcome(
            objective=self.objective_key,
            states=states,
            best=best,
            trivial=self.trivial,
            validation_rows=self.validation_rows,
        )

    def optuna_view(self) -> optuna.Study:
        """The finished trials as an in-memory Optuna study, for Optuna's plots."""
        view = optuna.create_study(direction=self.direction, study_name=self.study.name)
        for trial in self.tuner.oracle.trials.values() if self.tuner else []:
            if trial.score is None:
                continue
            params = space_params(self.study.space, trial.hyperparameters)
            distributions = {
                k: d
                for k in params
                if k in trial.hyperparameters.values
                and (d := _distribution(self.study.space, k)) is not None
            }
            view.add_trial(
                optuna.trial.create_trial(
                    params={k: params[k] for k in distributions},
                    value=trial.score,
                    distributions=distributions,
                )
            )
        return view


def _distribution(space: Space, name: str) -> optuna.distributions.BaseDistribution | None:
    dim = getattr(space, "units" if name.startswith("units_") else name)
    if isinstance(dim, Int):
        return optuna.distributions.IntDistribution(dim.low, dim.high, log=dim.log)
    if isinstance(dim, Float):
        return optuna.distributions.FloatDistribution(dim.low, dim.high, log=dim.log)
    if isinstance(dim, Choice):
        return optuna.distributions.CategoricalDistribution(list(dim.values))
    return None
