"""KerasTuner on the same study file: same space, same logging, promotable."""

from __future__ import annotations

import keras_tuner as kt
import optuna
import pytest
from mlflow.tracking import MlflowClient

import tuner
from tuner.engines.keras_tuner_engine import space_params


def deepest(space: tuner.Space) -> int:
    return space.n_layers.high if isinstance(space.n_layers, tuner.Int) else space.n_layers


def kt_space(space: tuner.Space) -> dict[str, object]:
    """KerasTuner's hyperparameters for the deepest network the space allows."""
    hp = kt.HyperParameters()
    hp.values["n_layers"] = deepest(space)  # KerasTuner returns a set value as drawn
    space_params(space, hp)
    return {h.name: h for h in hp.space}


def optuna_space(space: tuner.Space) -> dict[str, optuna.distributions.BaseDistribution]:
    """Optuna's distributions for the same network, from ``Space.suggest``."""
    study = optuna.create_study()
    study.enqueue_trial({"n_layers": deepest(space)})
    trial = study.ask()
    space.suggest(trial)
    return dict(trial.distributions)


@pytest.mark.parametrize(
    "space",
    [
        tuner.Space(),
        tuner.Space(
            n_layers=tuner.Int(1, 2),
            units=tuner.Int(4, 64),
            activation=tuner.Choice(["relu", "tanh"]),
            dropout=tuner.Float(0.0, 0.4),
            optimizer="adam",
        ),
    ],
)
def test_translated_space_matches_the_optuna_one(space):
    translated = kt_space(space)
    for name, dist in optuna_space(space).items():
        hp = translated[name]
        if name == "n_layers":
            continue
        ranges = (optuna.distributions.IntDistribution, optuna.distributions.FloatDistribution)
        if isinstance(dist, ranges):
            assert (hp.min_value, hp.max_value) == (dist.low, dist.high), name
            assert hp.sampling == ("log" if dist.log else "linear"), name
        else:
            assert list(hp.values) == list(dist.choices), name
    fixed = {n for n, h in translated.items() if isinstance(h, kt.engine.hyperparameters.Fixed)}
    assert fixed == {
        n
        for n in (
            "optimizer",
            "activation",
            "dropout",
            "momentum",
            "weight_decay",
            "lr_schedule",
            "normalization",
            "label_smoothing",
            "kernel_initializer",
            "feature_scaling",
            "numeric_embedding",
            "ensemble_k",
            "augmentation",
        )
        if not isinstance(getattr(space, n), tuner.Float | tuner.Choice)
    }


# random search runs end to end in tests/stories/test_both_engines.py
@pytest.mark.slow  # a search and its resumption
@pytest.mark.parametrize("algorithm", ["hyperband"])
def test_keras_tuner_study_logs_like_optuna_and_is_promotable(algorithm, study_file, cli, workdir):
    path = study_file()
    first = cli(
        "run",
        path,
        "--engine",
        "keras-tuner",
        "--algorithm",
        algorithm,
        "--trials",
        "2",
        "--no-progress",
    )
    again = cli(
        "run",
        path,
        "--engine",
        "keras-tuner",
        "--algorithm",
        algorithm,
        "--trials",
        "1",
        "--no-progress",
    )

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    assert (workdir / "mlruns" / "keras-tuner" / f"tiny-{algorithm}" / "oracle.json").exists()
    uri = f"sqlite:///{workdir}/mlruns/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    assert sorted(r.info.run_name for r in runs) == [
        f"{algorithm}-trial-000",
        f"{algorithm}-trial-001",
        f"{algorithm}-trial-002",
    ]
    for run in runs:
        assert run.data.tags["tuner.engine"] == "keras-tuner"
        assert run.data.tags["tuner.algorithm"] == algorithm
        assert run.data.tags["tuner.state"] == "COMPLETE"
        assert {"n_layers", "units_0", "learning_rate", "batch_size", "optimizer"} <= (
            run.data.params.keys()
        )
        assert len(client.get_metric_history(run.info.run_id, "val_accuracy")) >= 1
        assert "learning_curves.png" in {a.path for a in client.list_artifacts(run.info.run_id)}
    if algorithm == "hyperband":
        assert all("tuner.kt.epochs" in r.data.tags for r in runs)

    promoted = cli("promote", "tiny", "--model", "kt-mlp", "--trial", f"{algorithm}-1")
    assert promoted.exit_code == 0, promoted.output
    version = client.get_model_version_by_alias("kt-mlp", "champion")
    assert version.tags["tuner.trial"] == f"{algorithm}-1"


def test_keras_tuner_refuses_several_workers(study_file, cli):
    result = cli("run", study_file(), "--engine", "keras-tuner", "--workers", "2")
    assert result.exit_code == 2
    assert "several workers need --engine optuna" in result.stderr
