"""The Optuna engine: samplers, pruners and storages are Optuna's own."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import logging
import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState
from optuna_integration import KerasPruningCallback

from tuner.core import portfolio, replicas
from tuner.core.errors import StudyConfigError, TooManyFailures, TrialFailed
from tuner.core.options import SearchContext
from tuner.core.space import Choice, Float, Int, Space
from tuner.core.study import Study
from tuner.data.prepare import Prepared
from tuner.engines.base import BestTrial, SearchOutcome
from tuner.engines.trial import TrainingPlan, TrialRunner
from tuner.keras.horizon import FINISH_RESERVE_S
from tuner.runtime import interrupts, owner
from tuner.runtime.stores import open_storage
from tuner.tracking import keys
from tuner.tracking.housekeeping import close_orphaned_run

log = logging.getLogger("tuner")
TPE_STARTUP_TRIALS = 5
PRUNER_STARTUP_TRIALS = 4
PRUNER_WARMUP_EPOCHS = 2


def grid(space: Space) -> dict[str, list[Any]]:
    """The grid of a space whose every searched dimension is a ``Choice``."""
    dims = space.dimensions()
    for name, dim in dims.items():
        if isinstance(dim, Int | Float):
            raise StudyConfigError(
                f"sampler 'grid' needs a finite space: space.{name} is a range; "
                f"give it as tuner.Choice([...]) or a fixed value"
            )
    choices = {
        name: list(dim.values)
        for name, dim in dims.items()
        if isinstance(dim, Choice) and name != "units"
    }
    n_layers: Any = space.n_layers  # a Choice or a count: ranges were refused above
    deepest = max(n_layers.values) if isinstance(n_layers, Choice) else int(n_layers)
    if isinstance(space.units, Choice):
        choices.update({f"units_{i}": list(space.units.values) for i in range(deepest)})
    return choices


def _tpe(seed: int, space: Space) -> optuna.samplers.BaseSampler:
    # ``group`` is marked experimental; it is what makes multivariate TPE
    # model the per-layer widths, whose number varies with ``n_layers``.
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=TPE_STARTUP_TRIALS, multivariate=True, group=True
    )


SAMPLERS: dict[str, Callable[[int, Space], optuna.samplers.BaseSampler]] = {
    "tpe": _tpe,
    "random": lambda seed, space: optuna.samplers.RandomSampler(seed=seed),
    "grid": lambda seed, space: optuna.samplers.GridSampler(grid(space), seed=seed),
    # CMA-ES models the numeric dimensions; choices fall back to random sampling.
    "cmaes": lambda seed, space: optuna.samplers.CmaEsSampler(
        seed=seed, warn_independent_sampling=False
    ),
    "qmc": lambda seed, space: optuna.samplers.QMCSampler(
        seed=seed, warn_independent_sampling=False
    ),
}

PRUNERS: dict[str, Callable[[int], optuna.pruners.BasePruner]] = {
    "median": lambda max_steps: optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_EPOCHS
    ),
    "percentile": lambda max_steps: optuna.pruners.PercentilePruner(
        25.0, n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_EPOCHS
    ),
    "hyperband": lambda max_steps: optuna.pruners.HyperbandPruner(
        min_resource=1, max_resource=max_steps
    ),
    "successive-halving": lambda max_steps: optuna.pruners.SuccessiveHalvingPruner(min_resource=1),
    "none": lambda max_steps: optuna.pruners.NopPruner(),
}


def make_sampler(
    spec: str | optuna.samplers.BaseSampler, seed: int, space: Space
) -> optuna.samplers.BaseSampler:
    """Optuna's samplers by name (``tuner.names.SAMPLERS``), or the study's own object."""
    if isinstance(spec, optuna.samplers.BaseSampler):
        return spec
    with warnings.catch_warnings():  # experimental and deprecation notes of Optuna's own
        warnings.simplefilter("ignore")
        return SAMPLERS[spec](seed, space)


def make_pruner(spec: str | optuna.pruners.BasePruner, max_steps: int) -> optuna.pruners.BasePruner:
    """Optuna's pruners by name (``tuner.names.PRUNERS``); a step is an epoch, or a fold."""
    if isinstance(spec, optuna.pruners.BasePruner):
        return spec
    return PRUNERS[spec](max_steps)


def _fold_reporter(trial: optuna.Trial) -> Callable[[int, float], None]:
    """Report the running mean over folds; the pruner compares it fold by fold."""

    def report(fold: int, running_mean: float) -> None:
        trial.report(running_mean, fold)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after fold {fold} (running mean {running_mean:.4g})")

    return report


class FailureStreak:
    """Stops the study after ``limit`` FAIL trials in a row, rather than burn the budget."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.last_reason = ""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state != optuna.trial.TrialState.FAIL:
            self.count = 0
            return
        self.count += 1
        self.last_reason = trial.user_attrs.get("fail_reason", "see the trial's error.txt")
        if self.count >= self.limit:
            study.stop()

    def check(self) -> None:
        if self.count >= self.limit:
            raise TooManyFailures(
                f"stopped after {self.count} failed trials in a row (last: {self.last_reason}); "
                "fix the study or raise max_failures"
            )


def _stop_when_requested(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """After a trial: no next one once a stop was noted (raised as ``optimize`` returns)."""
    if interrupts.requested():
        study.stop()


class OptunaEngine:
    """A persistent Optuna study whose objective is one tuner trial."""

    name = "optuna"

    def __init__(self, study: Study, prepared: Prepared, context: SearchContext) -> None:
        """Create the Optuna study, or load it to continue it; refuse a changed direction."""
        self.study = study
        self.context = context
        self.options = options = context.options
        self.objective_key = prepared.settings.objective
        self.trivial = prepared.trivial
        self.validation_rows = prepared.validation_rows
        x_train = prepared.data.x_train
        self.table_rows = len(x_train) if x_train.ndim == 2 else None  # for the portfolio
        direction = prepared.settings.direction
        storage = open_storage(
            context.storage,
            heartbeat_interval=max(1, options.stale_after // 4),
            grace_period=options.stale_after,
            stale_trial_callback=self._on_stale_trial,
        )
        self.ostudy = optuna.create_study(
            storage=storage,
            study_name=study.name,
            direction=direction,
            pruner=make_pruner(study.pruner, study.cv or study.max_epochs),
            load_if_exists=True,
        )
        stored = self.ostudy.direction.name.lower()
        if stored != direction:
            raise StudyConfigError(
                f"study {study.name!r} already exists with direction {stored!r}, this one asks "
                f"for {direction!r}; run it under another name=..."
            )
        if self.ostudy.metric_names != [self.objective_key]:  # plots and optuna-dashboard
            with warnings.catch_warnings():  # experimental in Optuna 5
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self.ostudy.set_metric_names([self.objective_key])
        # A resumed study (or another worker) gets its own stream of random
        # numbers, or its random start-up trials would repeat configurations.
        offset = len(self.ostudy.trials) + 1000 * context.worker
        self.ostudy.sampler = make_sampler(study.sampler, study.seed + offset, study.space)
        self.storage = storage
        self.fail_trials_of_dead_owners()
        self._enqueue_first_trials()

    def _enqueue_first_trials(self) -> None:
        """The portfolio first, then the baselines: strong starts before the reference, as
        many as this run's trials (the rest wait for a run that has trials for them)."""
        study = self.study
        tried = [
            {**t.system_attrs.get("fixed_params", {}), **t.params}
            for t in self.ostudy.get_trials(deepcopy=False)
        ]
        untried = [
            (params, attrs)
            for params, attrs in portfolio.first_trials(
                study.portfolio, study.space, study.baselines, self.table_rows
            )
            if not any(params.items() <= t.items() for t in tried)
        ]
        for params, attrs in untried[: self.options.trials]:
            self.ostudy.enqueue_trial(params, user_attrs=attrs)

    def fail_trials_of_dead_owners(self, ownerless_after: float | None = None) -> int:
        """RUNNING trials whose process, on this host, has ended: FAIL now, as a stale
        heartbeat would make them after ``stale_after`` seconds. So is a trial that never
        recorded its owner after ``ownerless_after`` seconds (default ``stale_after``):
        every trial records it first thing, within moments of starting; one without is a
        process's that died in that moment, or whose store refused the write. Returns how
        many ownerless trials it failed."""
        now = datetime.datetime.now()
        ownerless = 0
        limit = self.options.stale_after if ownerless_after is None else ownerless_after
        for trial in self.ostudy.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            recorded = trial.user_attrs.get("owner")
            orphaned = (
                recorded is None
                and trial.datetime_start is not None
                and (now - trial.datetime_start).total_seconds() > limit
            )
            if orphaned or (recorded and owner.state(recorded) == "gone"):
                self._fail(trial, "its process ended" if recorded else "it recorded no owner")
                ownerless += orphaned
        return ownerless

    def fail_running_trials_of_this_process(self) -> None:
        """RUNNING trials of this process: FAIL (a store refused a write mid-trial)."""
        me = owner.this_process()
        for trial in self.ostudy.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.user_attrs.get("owner", me) == me:
                self._fail(trial, "a store refused a write")

    def _fail(self, trial: optuna.trial.FrozenTrial, reason: str) -> None:
        study_id = self.storage.get_study_id_from_name(self.study.stored_name)
        trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        if self.storage.set_trial_state_values(trial_id, TrialState.FAIL):
            self._on_stale_trial(self.ostudy, trial, reason)

    def _on_stale_trial(
        self,
        ostudy: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        reason: str = "its process died (no heartbeat)",
    ) -> None:
        """A worker died mid-trial (kill -9): close its MLflow run; retry if asked."""
        run_id = trial.user_attrs.get("mlflow_run_id")
        if run_id:
            close_orphaned_run(self.context.tracking_uri, run_id, reason)
        if self.options.retry_failed:
            marked = copy.deepcopy(trial)  # the retry inherits its user attributes
            marked.set_user_attr("retry_of", trial.number)
            RetryHeartbeatStaleTrialCallback(max_retry=self.options.retry_failed)(ostudy, marked)

    def optuna_view(self) -> optuna.Study:
        return self.ostudy

    def tags(self) -> dict[str, str]:
        return {
            keys.ENGINE: self.name,
            keys.SAMPLER: type(self.ostudy.sampler).__name__,
            keys.PRUNER: type(self.ostudy.pruner).__name__,
        }

    def search(self, runner: TrialRunner) -> SearchOutcome:
        """Run ``options.trials`` more trials (or until ``timeout``) on the persistent study."""
        streak = FailureStreak(self.options.max_failures)
        timeout = self.context.seconds_left()
        if timeout is not None and timeout > 3 * FINISH_RESERVE_S:
            timeout -= FINISH_RESERVE_S  # no trial starts in the time kept to finish
        # A stop is raised inside a trial, or after the last one: never inside Optuna's
        # ask and tell (interrupts.deferred).
        with interrupts.deferred():
            self.ostudy.optimize(
                self._objective(runner),
                n_trials=self.options.trials,
                timeout=timeout,
                catch=(TrialFailed,),
                callbacks=[streak, self._replicate, _stop_when_requested],
                show_progress_bar=self.options.progress,
            )
        streak.check()
        return self.outcome()

    def _replicate(self, ostudy: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        """In the last ``ensemble_share`` of a time budget, queue the next replica of the
        best configurations (``replicas``), unless a trial already waits. Only while this
        search still starts trials (the same check as ``optimize``'s timeout follows), so
        none is left waiting for the study's next run."""
        left = self.context.seconds_left()
        if (
            interrupts.requested()
            or left is None
            or left <= FINISH_RESERVE_S + 1
            or not replicas.in_stage(left, self.options.timeout, self.study.ensemble_share)
        ):
            return
        trials = ostudy.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.WAITING))
        if any(t.state == TrialState.WAITING for t in trials):
            return
        chosen = replicas.next_replica(
            [
                replicas.Finished(t.number, t.params, t.value, t.duration.total_seconds())
                for t in trials
                if t.duration is not None and t.value is not None
            ],
            maximize=ostudy.direction == optuna.study.StudyDirection.MAXIMIZE,
            seconds_left=left - FINISH_RESERVE_S,
        )
        if chosen is not None:
            ostudy.enqueue_trial(dict(chosen.params), user_attrs={"replica_of": chosen.number})

    def _objective(self, runner: TrialRunner) -> Callable[[optuna.Trial], float]:
        def objective(trial: optuna.Trial) -> float:
            # A stop raises at once inside a trial (one noted during Optuna's ask, here on
            # entry: Optuna records the trial FAIL, then stops).
            with interrupts.raising():
                return run_trial(trial)

        def run_trial(trial: optuna.Trial) -> float:
            trial.set_user_attr("owner", owner.this_process())  # first: who holds it
            params = self.study.space.suggest(trial)
            tags = {keys.BASELINE: "true"} if trial.user_attrs.get("baseline") else {}
            if "portfolio" in trial.user_attrs:
                tags[keys.PORTFOLIO] = str(trial.user_attrs["portfolio"])
            if "retry_of" in trial.user_attrs:  # re-runs a trial whose process died
                tags[keys.RETRY_OF] = str(trial.user_attrs["retry_of"])
            replica = "replica_of" in trial.user_attrs  # a new seed, trained to its horizon
            if replica:
                tags[keys.REPLICA_OF] = str(trial.user_attrs["replica_of"])
            run_id = runner.start(trial.number, params, tags)
            trial.set_user_attr("mlflow_run_id", run_id)
            trial.set_user_attr("params", params)
            # Cross-validated trials report once per fold, others once per epoch.
            plan = TrainingPlan(pruned=(optuna.TrialPruned,))
            if runner.folds and not replica:
                plan = dataclasses.replace(plan, on_fold=_fold_reporter(trial))
            elif not replica:
                plan = dataclasses.replace(
                    plan, callbacks=[KerasPruningCallback(trial, self.objective_key)]
                )
            try:
                result = runner.train(run_id, trial.number, params, plan)
            except TrialFailed as exc:
                trial.set_user_attr("fail_reason", str(exc)[:500])
                log.warning(
                    "trial %d failed: %s (error.txt of MLflow run %s)", trial.number, exc, run_id
                )
                raise
            trial.set_user_attr("epochs_trained", result.epochs_trained)
            trial.set_user_attr(
                "scores",
                {k: v for k, v in result.metrics.items() if k.startswith(("final_val_", "test_"))},
            )
            return result.value

        return objective

    def outcome(self) -> SearchOutcome:
        """Counts by state and the best trial, over every run of the study."""
        states: dict[str, int] = {}
        for t in self.ostudy.get_trials(deepcopy=False):
            states[t.state.name] = states.get(t.state.name, 0) + 1
        best: BestTrial | None = None
        if states.get("COMPLETE"):
            trial = self.ostudy.best_trial
            assert trial.value is not None  # a COMPLETE trial of a single objective
            best = BestTrial(
                trial.number,
                trial.value,
                trial.user_attrs.get("params", trial.params),
                trial.user_attrs.get("mlflow_run_id"),
                scores=trial.user_attrs.get("scores", {}),
            )
        objective = self.objective_key + (
            f" (mean of {self.study.cv} folds)" if self.study.cv else ""
        )
        return SearchOutcome(
            objective=objective,
            states=states,
            best=best,
            trivial=self.trivial,
            validation_rows=self.validation_rows,
        )
