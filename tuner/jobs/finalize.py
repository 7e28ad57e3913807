"""``tuner finalize``: the best model a study can give, as one logged Keras model.

The candidates are the K best COMPLETE trials that logged a model (a trial
among the study's ``artifacts_for_top`` best when it finished logs one, with
its validation outputs); trials without one are left out, since scoring them
would mean training them again. Their stored validation outputs choose the
weights (``ensemble.select``): nothing is trained to choose. Each chosen
member is then trained again on training + validation together ("refit"), with
its own params and seed, for its best epoch count, its preprocessing adapted on
the union. The members are joined into one Keras model (``ensemble.join``),
logged in a run of the study's experiment tagged ``tuner.role = finalize``, and
registered under an alias if asked.
"""

from __future__ import annotations

import ast
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from tuner.core.errors import TunerError
from tuner.core.study import FinalizeSettings, Study
from tuner.core.studyfile import load_study_file
from tuner.data.prepare import Prepared, prepare
from tuner.keras.ensemble import join, scores, select, standard_error, weighted_mean
from tuner.keras.recipe import Recipe, union_of_training_and_validation
from tuner.keras.training import predict
from tuner.runtime import interrupts
from tuner.tracking import keys
from tuner.tracking.catalog import StudyRecord, TrialRecord, last_study_run, logged_models
from tuner.tracking.figures.report import outcome_report
from tuner.tracking.finalize_run import FinalizeRun, open_finalize_run
from tuner.tracking.housekeeping import current_study
from tuner.tracking.lineage import dataset_inputs
from tuner.tracking.models import VALIDATION_OUTPUTS, load_array
from tuner.tracking.registry import Promotion, promote_finalized


class FinalizeRefused(TunerError):
    """The study has nothing to finalize, or cannot be found again."""


@dataclass(frozen=True)
class Candidate:
    """A trial that can join the ensemble: its run and its validation outputs."""

    trial: TrialRecord
    model_uri: str
    metrics: dict[str, float]
    val_outputs: np.ndarray


@dataclass(frozen=True)
class Finalized:
    """What finalize made: the run, its members and weights, and the test scores."""

    study: str
    run_id: str
    members: list[str]
    weights: list[float]
    refit: list[bool]  # per member: trained again on training + validation
    test: dict[str, float]
    best_trial: str
    best_trial_test: dict[str, float]
    seconds: float
    notes: list[str] = field(default_factory=list)
    promotion: Promotion | None = None
    choice: str = ""  # the chosen weights' validation score, its error and the best trial's

    def summary(self) -> str:
        """The lines ``tuner finalize`` prints."""
        weights = ", ".join(
            f"{m} ({w:.2f})" for m, w in zip(self.members, self.weights, strict=True)
        )
        lines = [
            *self.notes,
            f"study {self.study}: finalized {len(self.members)} trial(s): "
            f"{weights}; {self._how()}; {self.seconds:.0f} s",
        ]
        if self.choice:
            lines.append(f"  {self.choice}")
        for name, value in sorted(self.test.items()):
            single = self.best_trial_test.get(name)
            versus = f" (best trial {self.best_trial}: {single:.4f})" if single is not None else ""
            lines.append(f"  {name}  {value:.4f}{versus}")
        lines.append(f"MLflow run: {self.run_id}")
        if self.promotion:
            lines.append(self.promotion.summary())
        return "\n".join(lines)

    def _how(self) -> str:
        if all(self.refit):
            return "refit on training + validation"
        if not any(self.refit):
            return "trained on training only"
        kept = [m for m, r in zip(self.members, self.refit, strict=True) if not r]
        return (
            f"refit on training + validation but {', '.join(kept)} (kept as trained: "
            "past the refit budget)"
        )


def finalize(
    client: MlflowClient,
    study: Study,
    prepared: Prepared,
    options: FinalizeSettings,
    model_name: str | None = None,
    alias: str = "champion",
) -> Finalized:
    """Select, refit, join and log; register under ``model_name`` and ``alias`` if given.

    Ctrl-C or an error ends the finalize run KILLED or FAILED; the trials are
    never written to.
    """
    started = time.perf_counter()
    record = current_study(client, study.stored_name)
    pool, notes = candidates(client, record, prepared, options.top)
    chosen, selection = _choose(pool, prepared, options.method)
    plan = refit_plan([c for c, _ in chosen], prepared, options)
    if len(pool) == 1:
        doing = "refitting" if options.refit else "logging"
        notes.append(f"study {study.name}: one COMPLETE trial with a model, {doing} it alone")
    with open_finalize_run(
        client,
        record.experiment_id,
        study.stored_name,
        dataset_inputs(prepared.data, study.stored_name),
    ) as run:
        members = [
            _member(client, c, prepared, refit) for (c, _), refit in zip(chosen, plan, strict=True)
        ]
        model = join(members, [w for _, w in chosen], prepared.data.x_train.shape[1:])
        test = _log(run, model, members, chosen, prepared, options, selection, plan)
    best = pool[0]
    promotion = (
        promote_finalized(client, record, run.run_id, model_name, alias) if model_name else None
    )
    return Finalized(
        study.stored_name,
        run.run_id,
        [c.trial.label for c, _ in chosen],
        [w for _, w in chosen],
        plan,
        test,
        best.trial.label,
        {k: v for k, v in best.metrics.items() if k.startswith("test_")},
        time.perf_counter() - started,
        notes,
        promotion,
        _choice(selection, pool[0], prepared.settings.objective),
    )


def _choice(selection: dict[str, float], best: Candidate, objective: str) -> str:
    """The chosen weights' validation score with its standard error, beside the best
    trial's own: two that differ by less than about two errors are a tie on this data."""
    metric = objective.removeprefix("val_")
    if metric not in selection:
        return ""
    error = selection.get(f"{metric}_se")
    spread = f" ± {error:.4f}" if error is not None else ""
    single = best.metrics.get(objective)
    versus = f" (best trial {best.trial.label} alone: {single:.4f})" if single is not None else ""
    return f"chosen on validation: {objective} {selection[metric]:.4f}{spread}{versus}"


def refit_estimate(candidate: Candidate, prepared: Prepared) -> float:
    """Seconds a refit of ``candidate`` should take: its best epoch count at its trial's
    seconds per epoch, scaled to the training + validation rows, plus its first epoch's
    extra (tracing) and its build."""
    m = candidate.metrics
    epochs = int(m.get("best_epoch", 0)) + 1
    per_epoch = m.get("time_epoch_s") or m.get("time_fit_s", 0.0) / max(
        1, int(m.get("epochs_trained", 1))
    )
    rows = len(prepared.data.x_train)
    scale = (rows + len(prepared.data.x_val)) / max(1, rows)
    return epochs * per_epoch * scale + m.get("time_trace_s", 0.0) + m.get("time_build_s", 0.0)


def refit_plan(
    chosen: list[Candidate], prepared: Prepared, options: FinalizeSettings
) -> list[bool]:
    """Which members are refit: none without ``refit``; else, best first, each whose
    estimated refit still fits ``budget`` (seconds, None: all)."""
    if not options.refit:
        return [False] * len(chosen)
    left = float("inf") if options.budget is None else options.budget
    plan = []
    for candidate in chosen:
        needed = refit_estimate(candidate, prepared)
        fits = needed <= left
        plan.append(fits)
        if fits:
            left -= needed
    return plan


def _choose(
    pool: list[Candidate], prepared: Prepared, method: str
) -> tuple[list[tuple[Candidate, float]], dict[str, float]]:
    """The members ``method`` weighs above 0 with their weights, and the validation
    scores of their weighted mean."""
    objective = prepared.settings.objective.removeprefix("val_")
    y_val = prepared.data.y_val
    weights = select(
        [c.val_outputs for c in pool],
        lambda o: _scores(prepared, y_val, o)[objective],
        maximize=prepared.settings.direction == "maximize",
        method=method,
    )
    chosen = [(c, float(w)) for c, w in zip(pool, weights, strict=True) if w > 0]
    mean = weighted_mean([c.val_outputs for c, _ in chosen], [w for _, w in chosen])
    found = _scores(prepared, y_val, mean)
    if objective in found:
        found[f"{objective}_se"] = standard_error(
            lambda y, o: _scores(prepared, y, o)[objective], y_val, mean
        )
    return chosen, found


def candidates(
    client: MlflowClient, record: StudyRecord, prepared: Prepared, top: int
) -> tuple[list[Candidate], list[str]]:
    """The ``top`` best COMPLETE trials with a logged model, and a note on those left out."""
    ranked = record.ranked()
    if not ranked:
        raise FinalizeRefused(
            f"study {record.name!r} has no COMPLETE trial to finalize; run more trials first"
        )
    logged = logged_models(client, record.experiment_id)
    chosen: list[Candidate] = []
    left_out: list[str] = []
    for trial in ranked:
        if len(chosen) == top:
            break
        if trial.run_id not in logged:
            left_out.append(trial.label)
            continue
        outputs = load_array(client, trial.run_id, VALIDATION_OUTPUTS)
        if outputs is None:
            outputs = predict(_logged_network(logged[trial.run_id], prepared), prepared.data.x_val)
        if len(outputs) != len(prepared.data.y_val):
            left_out.append(trial.label)
            continue
        chosen.append(
            Candidate(
                trial, logged[trial.run_id], client.get_run(trial.run_id).data.metrics, outputs
            )
        )
    if not chosen:
        raise FinalizeRefused(
            f"study {record.name!r}: none of its COMPLETE trials logged a "
            "model for this data; raise artifacts_for_top and run again"
        )
    notes = (
        [
            f"left out trials {', '.join(left_out)}: no logged model for this data (only "
            "trials among the best artifacts_for_top when they finished log one)"
        ]
        if left_out
        else []
    )
    return chosen, notes


def trial_params(trial: TrialRecord) -> dict[str, Any]:
    """The trial's logged params with their Python types back (MLflow stores strings)."""

    def typed(text: str) -> Any:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text

    return {k: typed(v) for k, v in trial.params.items()}


def _logged_network(model_uri: str, prepared: Prepared) -> keras.Model:
    """A trial's logged model, as the network on encoded rows that members are joined as."""
    model = mlflow.keras.load_model(model_uri)
    return prepared.data.columns.network_of(model) if prepared.data.columns else model


def _member(
    client: MlflowClient, candidate: Candidate, prepared: Prepared, refit: bool
) -> keras.Model:
    """The candidate's network, refit or as logged. A stop signal whose exception was
    swallowed during the refit (its fit then ends after the epoch) is raised here."""
    if not refit:
        return _logged_network(candidate.model_uri, prepared)
    network = _refit(client, candidate, prepared)
    interrupts.raise_if_requested()
    return network


def _refit(client: MlflowClient, candidate: Candidate, prepared: Prepared) -> keras.Model:
    """Train the candidate's configuration again on training + validation.

    Same params and seed, as many epochs as its best (``best_epoch + 1``), the
    input preprocessing adapted on both splits; a schedule (``cosine``,
    ``plateau``) replays the rates the trial logged, one per epoch.
    """
    study = prepared.settings.study
    params = trial_params(candidate.trial)
    rates = (
        [
            m.value
            for m in sorted(
                client.get_metric_history(candidate.trial.run_id, "learning_rate"),
                key=lambda m: m.step,
            )
        ]
        if params.get("lr_schedule", "constant") != "constant"
        else []
    )
    return Recipe(params, prepared).refit(
        union_of_training_and_validation(prepared.data),
        epochs=int(candidate.metrics["best_epoch"]) + 1,
        seed=int(params.get("seed", study.seed)) + candidate.trial.number,
        rates=rates,
    )


def _scores(prepared: Prepared, y: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    """``ensemble.scores`` on the trials' scale: a regression's loss standardized as theirs."""
    return scores(prepared.task, y, outputs, prepared.target_scale)


def _params(
    chosen: list[tuple[Candidate, float]],
    options: FinalizeSettings,
    objective: str,
    plan: list[bool],
) -> dict[str, object]:
    """The finalize run's params: its members, their weights, epochs and runs, the settings."""
    return {
        "members": ", ".join(c.trial.label for c, _ in chosen),
        "weights": ", ".join(f"{w:.4f}" for _, w in chosen),
        "member_epochs": ", ".join(str(int(c.metrics["best_epoch"]) + 1) for c, _ in chosen),
        "member_run_ids": ", ".join(c.trial.run_id for c, _ in chosen),
        "method": options.method,
        "top": options.top,
        "refit": options.refit,
        "refit_budget": options.budget,
        "member_refit": ", ".join(str(r).lower() for r in plan),
        "objective": objective,
    }


def _log(
    run: FinalizeRun,
    model: keras.Model,
    members: list[keras.Model],
    chosen: list[tuple[Candidate, float]],
    prepared: Prepared,
    options: FinalizeSettings,
    selection: dict[str, float],
    plan: list[bool],
) -> dict[str, float]:
    """Params, scores, figures and the model of the finalize run; returns its test scores
    (``plan``: which members trained on the validation rows too)."""
    task, data = prepared.task, prepared.data
    metrics = {f"selection_val_{k}": v for k, v in selection.items()}
    test: dict[str, float] = {}
    split, name, split_name = data.splits().get("test"), "test", "test"
    if split is None and not any(plan):  # nothing else is held out
        split, name, split_name = (data.x_val, data.y_val), "val", "validation"
    outputs = None
    if split is not None:
        outputs = predict(model, split[0])
        test = {f"{name}_{k}": v for k, v in _scores(prepared, split[1], outputs).items()}
        for i, member in enumerate(members):
            metrics.update(
                {
                    f"member_{i}_{name}_{k}": v
                    for k, v in _scores(prepared, split[1], predict(member, split[0])).items()
                }
            )
        best = chosen[0][0].metrics
        metrics.update({f"best_trial_{k}": best[k] for k in test if k in best})
    run.log({**metrics, **test}, _params(chosen, options, prepared.settings.objective, plan))
    x_sample = data.x_val[:5]
    run.log_model(
        model,
        x_sample,
        predict(model, x_sample),
        metadata={
            "tuner_task": task.kind,
            "tuner_class_names": prepared.class_names,
            "tuner_role": "finalize",
        },
        columns=data.columns,
    )
    if split is not None and outputs is not None:
        run.log_report(outcome_report(task, split[1], outputs, split_name, prepared.class_names))
    return test


def study_of(client: MlflowClient, study: str) -> Study:
    """The study to finalize: a study file's, or the one a study name was last run from.

    ``tuner run`` tags its parent run with the study file and the command line's
    overrides, so a study name finds its data again.
    """
    if study.endswith(".py"):
        return load_study_file(study)
    run = last_study_run(client, study)
    if run is None:
        current_study(client, study)  # raises StudyNotFound, naming the studies there are
        raise FinalizeRefused(f"study {study!r} has no `tuner run` record; pass its study file")
    tags = run.data.tags
    source = tags.get(keys.STUDY_FILE)
    if not source or not Path(source).is_file():
        raise FinalizeRefused(
            f"study {study!r} was run from {source or 'an unknown file'}, "
            "which is not here; pass the study file: "
            "tuner finalize path/to/study.py"
        )
    overrides = {**json.loads(tags.get(keys.OVERRIDES, "{}")), "name": study}
    return load_study_file(source, overrides)


def finalize_named(
    client: MlflowClient,
    study: str,
    settings: FinalizeSettings,
    model_name: str | None = None,
    alias: str = "champion",
) -> Finalized:
    """``tuner finalize STUDY``: the study found by name or file, its data loaded again."""
    loaded = study_of(client, study)
    return finalize(client, loaded, prepare(loaded), settings, model_name, alias)
