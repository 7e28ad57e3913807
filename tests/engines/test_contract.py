"""The engine contract, engine by engine, in milliseconds: no training, real samplers.

Each engine proposes params from the study's space, hands every trial to the
runner (``TrialRunner``'s interface: ``start``, ``train``, ``build``), stops
after ``max_failures`` failed trials in a row, and reports the outcome of the
whole study. ``RecordingRunner`` stands in for ``TrialRunner`` (a tuner class,
not a library's): it trains nothing and returns a score read off the params.
The end-to-end runs of both engines, through MLflow, are in
``tests/stories/test_both_engines.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import keras
import pytest

import tuner
from tuner.core.errors import TooManyFailures, TrialFailed
from tuner.core.options import RunOptions, SearchContext
from tuner.core.portfolio import PORTFOLIO
from tuner.data.prepare import prepare
from tuner.datasets import synthetic
from tuner.engines.keras_tuner_engine import KerasTunerEngine
from tuner.engines.optuna_engine import OptunaEngine
from tuner.engines.trial import TrainingPlan
from tuner.keras.training import FitResult

SPACE = tuner.Space(
    n_layers=tuner.Int(1, 2),
    units=tuner.Int(4, 16, log=True),
    learning_rate=tuner.Float(1e-2, 1e-1, log=True),
    batch_size=32,
    optimizer=tuner.Choice(["adam", "nadam"]),
)
DIMENSIONS = {f.name for f in dataclasses.fields(tuner.Space)} - {"units"}


class RecordingRunner:
    """What an engine sees of ``TrialRunner``: records each trial, trains nothing."""

    folds = ()

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.started: list[tuple[int, dict[str, Any], Mapping[str, str]]] = []
        self.values: dict[str, float] = {}

    def start(self, number: int, params: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        self.started.append((number, dict(params), dict(tags)))
        return f"run-{len(self.started)}"

    def build(self, params: Mapping[str, Any]) -> keras.Model:
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(loss="mse")
        return model

    def train(
        self, run_id: str, number: int, params: Mapping[str, Any], plan: TrainingPlan | None = None
    ) -> FitResult:
        if self.fail:
            raise TrialFailed("training loss became NaN or infinite at epoch 0")
        value = 1.0 - abs(params["learning_rate"] - 0.03)  # best near a rate of 0.03
        self.values[run_id] = value
        return FitResult(
            value,
            best_epoch=0,
            epochs_trained=1,
            metrics={},
            history={},
            fit_seconds=0.0,
            evaluate_seconds=0.0,
        )


def make_engine(name: str, tmp_path, **settings: Any):
    study = tuner.Study(
        data=lambda: synthetic(n=100), space=SPACE, name="contract", max_epochs=2, **settings
    )
    context = SearchContext(
        options=RunOptions(
            trials=4, max_failures=2, progress=False, engine=name, algorithm="random"
        ),
        storage=f"sqlite:///{tmp_path}/optuna.db",
        tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
        keras_tuner_dir=str(tmp_path / "keras-tuner"),
    )
    prepared = prepare(study)
    if name == "optuna":
        return OptunaEngine(study, prepared, context)
    return KerasTunerEngine(study, prepared, context, "random")


@pytest.mark.parametrize("name", ["optuna", "keras-tuner"])
def test_each_trial_gets_every_dimension_and_the_outcome_names_the_best(name, tmp_path):
    engine, runner = make_engine(name, tmp_path), RecordingRunner()
    outcome = engine.search(runner)
    assert len(runner.started) == 4
    for _, params, _ in runner.started:
        assert params.keys() >= DIMENSIONS  # the space's draw layout, whichever engine drew
        assert [f"units_{i}" for i in range(params["n_layers"])] == [
            k for k in params if k.startswith("units_")
        ]
        assert 1e-2 <= params["learning_rate"] <= 1e-1 and params["batch_size"] == 32
    assert outcome.states == {"COMPLETE": 4}
    best_run = max(runner.values, key=runner.values.get)
    assert outcome.best.run_id == best_run
    assert outcome.best.value == pytest.approx(runner.values[best_run])
    assert outcome.objective == "val_accuracy"
    assert engine.tags()["tuner.engine"] == name
    assert len(engine.optuna_view().trials) == 4


@pytest.mark.parametrize("name", ["optuna", "keras-tuner"])
def test_failed_trials_in_a_row_stop_the_search(name, tmp_path):
    engine, runner = make_engine(name, tmp_path), RecordingRunner(fail=True)
    with pytest.raises(TooManyFailures, match="in a row"):
        engine.search(runner)
    assert 1 <= len(runner.started) <= 2
    assert engine.outcome().best is None


def test_optuna_runs_the_portfolio_then_the_baselines_tagged(tmp_path):
    baseline = {
        "n_layers": 1,
        "units_0": 8,
        "learning_rate": 0.05,
        "batch_size": 32,
        "optimizer": "adam",
    }
    three = list(PORTFOLIO)  # a table's default portfolio has more
    engine = make_engine("optuna", tmp_path, baselines=[baseline], portfolio=three)  # 4 trials
    runner = RecordingRunner()
    engine.search(runner)
    assert [tags for _, _, tags in runner.started] == [
        {"tuner.portfolio": "0"},
        {"tuner.portfolio": "1"},
        {"tuner.portfolio": "2"},
        {"tuner.baseline": "true"},
    ]
    number, params, tags = runner.started[3]
    assert {k: params[k] for k in baseline} == baseline
