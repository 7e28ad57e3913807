"""One configuration from params to trained model: the path trials, finalize and lr-find share.

A ``Recipe`` is a params dict (one trial's draw from the space) applied to a
prepared study. Building the model, the targets it trains on, the callbacks
its schedule needs and the fit itself are read off the params here and in
``tuner.keras.model``, nowhere else: a new dimension of the space is a field
in ``tuner.core.space`` and the code in ``model.py`` that uses it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from tuner.core.study import Study
from tuner.core.tasks import Task
from tuner.data.containers import Data
from tuner.data.prepare import Prepared
from tuner.data.preprocessing import InputScaling
from tuner.keras.horizon import EpochHorizon
from tuner.keras.model import (
    build_model,
    compile_options,
    schedule_callbacks,
    smoothed_task,
    targets_for,
)
from tuner.keras.training import FitPlan, FitResult, fit, fit_epochs


@dataclass(frozen=True)
class Recipe:
    """``params`` applied to ``prepared``: build, fit and refit one configuration."""

    params: Mapping[str, Any]
    prepared: Prepared

    @property
    def study(self) -> Study:
        return self.prepared.settings.study

    @property
    def batch_size(self) -> int:
        return int(self.params["batch_size"])

    @property
    def compiled_task(self) -> Task:
        """The task the model is compiled for: one-hot targets where labels are smoothed."""
        return smoothed_task(self.prepared.task, self.params.get("label_smoothing", 0.0))

    def compile_options(self) -> dict[str, Any]:
        """Steps per execution, XLA and precision, with the study's ``"auto"`` resolved."""
        study = self.study
        return {
            **compile_options(self.batch_size, study.steps_per_execution, study.jit_compile),
            "mixed_precision": study.mixed_precision,
        }

    def targets(self, data: Data) -> Data:
        """``data`` with its labels as the compiled model expects them."""
        return targets_for(data, self.prepared.task, self.compiled_task)

    def build(
        self,
        data: Data | None = None,
        scaling: InputScaling | None = None,
        *,
        per_batch: bool = False,
    ) -> keras.Model:
        """The compiled model for ``data`` (default: the study's) and its ``scaling``.

        ``per_batch`` runs one batch per call, so callbacks see every step.
        """
        data = data or self.prepared.data
        options = self.compile_options()
        if per_batch:
            options.update(steps_per_execution=1, jit_compile=False)
        return build_model(
            self.params,
            data.x_train.shape[1:],
            self.compiled_task,
            scaling=scaling or self.prepared.scaling,
            target_scale=self.prepared.target_scale,
            **options,
        )

    def fresh(
        self, seed: int, data: Data | None = None, scaling: InputScaling | None = None
    ) -> keras.Model:
        """Keras's state cleared, ``seed`` set, then built and compiled.

        Without the full garbage collection ``clear_session`` runs by default
        (0.4 s a trial), as Keras advises for loops of models.
        """
        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(seed)
        return self.build(data, scaling)

    def horizon(self, max_epochs: int, deadline: float | None = None) -> EpochHorizon:
        """The callback that ends training at ``max_epochs`` or before ``deadline``, and
        sets a ``cosine`` schedule's rate for the epochs the trial may reach."""
        cosine = self.params.get("lr_schedule", "constant") == "cosine"
        return EpochHorizon(
            max_epochs,
            deadline=deadline,
            peak_rate=float(self.params["learning_rate"]) if cosine else None,
        )

    def patience(self, max_epochs: int) -> int:
        """EarlyStopping's patience: the study's, or a quarter of the run on a ``cosine``
        schedule, whose best epochs come as the rate falls at its end."""
        if self.params.get("lr_schedule", "constant") == "cosine":
            return max(self.study.patience, math.ceil(max_epochs / 4))
        return self.study.patience

    def fit(
        self,
        model: keras.Model,
        data: Data,
        seed: int,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        *,
        epochs: int | None = None,
        initial_epoch: int = 0,
        deadline: float | None = None,
    ) -> FitResult:
        """``training.fit`` with the study's settings, ``seed`` and the params' schedule,
        for at most ``epochs`` (default: the study's ``max_epochs``), ending before
        ``deadline`` (``time.time()`` seconds) where one is given."""
        settings = self.prepared.settings
        objective, direction = settings.objective, settings.direction
        max_epochs = epochs or self.study.max_epochs
        patience = self.patience(max_epochs)
        plan = FitPlan(
            batch_size=self.batch_size,
            objective=objective,
            direction=direction,
            max_epochs=max_epochs,
            patience=patience,
            initial_epoch=initial_epoch,
            input_pipeline=self.study.input_pipeline,
            seed=seed,
            class_weight=self.prepared.class_weight,
        )
        # the schedule first: a logger then records the rate it sets
        return fit(
            model,
            self.targets(data),
            plan,
            [
                self.horizon(max_epochs, deadline),
                *schedule_callbacks(self.params, objective, direction, patience),
                *callbacks,
            ],
        )

    def refit(
        self, data: Data, *, epochs: int, seed: int, rates: Sequence[float] = ()
    ) -> keras.Model:
        """A new model trained on all of ``data.x_train`` for exactly ``epochs`` epochs.

        Its input preprocessing is adapted on those rows; nothing is held out,
        so a schedule replays ``rates`` (the trial's, one per epoch) instead.
        """
        keras.utils.set_random_seed(seed)
        targets = self.targets(data)
        model = self.build(targets, self.prepared.scaling_rule.fit(targets.x_train))
        callbacks = (
            [
                keras.callbacks.LearningRateScheduler(
                    lambda epoch, rate: rates[epoch] if epoch < len(rates) else rate
                )
            ]
            if rates
            else []
        )
        fit_epochs(
            model,
            targets.x_train,
            targets.y_train,
            batch_size=self.batch_size,
            epochs=epochs,
            input_pipeline=self.study.input_pipeline,
            seed=seed,
            callbacks=callbacks,
            class_weight=self.prepared.class_weight,
        )
        return model


def union_of_training_and_validation(data: Data) -> Data:
    """Training and validation rows as one training split (validation kept as it is)."""
    return Data(
        np.concatenate([data.x_train, data.x_val]),
        np.concatenate([data.y_train, data.y_val]),
        data.x_val,
        data.y_val,
    )
