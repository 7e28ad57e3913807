"""How a search spends its time: the portfolio it starts from, and the epochs each trial
may reach before the deadline, with a cosine schedule over exactly those."""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np
import optuna
import pytest
from mlflow.tracking import MlflowClient

import tuner
from tuner.core.errors import StudyConfigError
from tuner.core.portfolio import PORTFOLIO, configurations, first_trials, fit_to_space
from tuner.core.replicas import Finished, in_stage, next_replica
from tuner.keras.horizon import FINISH_RESERVE_S, EpochHorizon, cosine_rate


def test_a_configuration_is_fitted_into_the_study_space():
    space = tuner.Space(
        n_layers=tuner.Int(1, 2),
        units=tuner.Int(4, 16, log=True),
        learning_rate=tuner.Float(1e-2, 1e-1, log=True),
        batch_size=32,
        optimizer=tuner.Choice(["adam", "nadam"]),
    )
    fitted = fit_to_space(
        {
            "n_layers": 3,
            "units_0": 1024,
            "units_1": 8,
            "units_2": 512,
            "learning_rate": 1e-3,
            "batch_size": 256,
            "optimizer": "adamw",
            "dropout": 0.4,
            "normalization": "batch",
            "no_such": 1,
        },
        space,
    )
    # numbers clipped into ranges, widths beyond the depth dropped, a fixed dimension
    # (batch_size) and a choice the space lacks (adamw) left out, searched defaults kept
    assert fitted == {
        "n_layers": 2,
        "units_0": 16,
        "units_1": 8,
        "learning_rate": 1e-2,
        "dropout": 0.4,
        "normalization": "batch",
    }


def test_the_portfolio_setting_names_its_configurations():
    assert configurations(True) == [dict(c) for c in PORTFOLIO]
    assert configurations(False) == []
    assert configurations([{"n_layers": 1}]) == [{"n_layers": 1}]
    with pytest.raises(StudyConfigError, match="portfolio: expected True, False or a list"):
        tuner.Study(data=lambda: None, portfolio="strong")


def test_the_first_trials_are_the_portfolio_once_per_point_then_the_baselines():
    space = tuner.Space(n_layers=1, units=tuner.Int(4, 16), batch_size=32)
    baseline = {"learning_rate": 0.01, "optimizer": "sgd"}
    starts = first_trials(
        [{"units_0": 64, "dropout": 0.1}, {"units_0": 512, "dropout": 0.1}, {"units_0": 8}],
        space,
        [baseline],
    )
    # the first two both clip to 16 units: one trial, marked as the first
    assert starts == [
        ({"units_0": 16, "dropout": 0.1}, {"portfolio": 0}),
        ({"units_0": 8}, {"portfolio": 2}),
        (baseline, {"baseline": True}),
    ]
    assert first_trials(False, space, []) == []


def test_every_default_configuration_fits_the_default_space_whole():
    space = tuner.Space()
    for configuration in PORTFOLIO:
        fitted = fit_to_space(configuration, space)
        assert fitted == configuration  # nothing clipped, nothing left to the sampler


def test_a_regression_study_searches_no_label_smoothing():
    assert tuner.Space().for_data("regression", tabular=True).label_smoothing == 0.0
    assert isinstance(tuner.Space().for_data("binary", tabular=True).label_smoothing, tuner.Choice)


def _model(rate: float) -> keras.Model:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="mse")
    return model


class EpochClock:
    """A clock for ``EpochHorizon`` that moves only when told: each epoch lasts what the
    test says, however fast the machine trains."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fit(
    horizon: EpochHorizon,
    epochs: int,
    clock: EpochClock | None = None,
    seconds: Callable[[int], float] = lambda epoch: 0.0,
) -> list[dict]:
    """Fit a tiny model with ``horizon``; epoch ``e`` takes ``seconds(e)`` on ``clock``."""
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    logs: list[dict] = []

    def tick(epoch: int, _: dict) -> None:
        if clock is not None:
            clock.now += seconds(epoch)

    # the clock moves before the horizon reads it at the epoch's end
    callbacks = [
        keras.callbacks.LambdaCallback(on_epoch_end=tick),
        horizon,
        keras.callbacks.LambdaCallback(on_epoch_end=lambda e, lg: logs.append(dict(lg))),
    ]
    _model(0.1).fit(x, x.sum(1), epochs=epochs, verbose=0, callbacks=callbacks)
    return logs


def test_a_cosine_reaches_zero_at_max_epochs_without_a_deadline():
    logs = _fit(EpochHorizon(4, peak_rate=0.1), epochs=4)
    assert [lg["learning_rate"] for lg in logs] == pytest.approx(
        [cosine_rate(0.1, e, 4) for e in range(4)]
    )
    assert cosine_rate(0.1, 4, 4) == pytest.approx(0.0)


def test_training_ends_at_the_epochs_that_fit_before_the_deadline():
    # The first epoch traces the model (1.5 s), each later one takes 1 s; the deadline
    # leaves 5.5 s after the first and the reserve: 5 more epochs fit, 6 in all.
    clock = EpochClock()
    horizon = EpochHorizon(
        50, peak_rate=0.1, clock=clock, deadline=clock.now + 1.5 + 5.5 + FINISH_RESERVE_S
    )
    logs = _fit(horizon, epochs=50, clock=clock, seconds=lambda e: 1.5 if e == 0 else 1.0)
    assert len(logs) == 6 and horizon.horizon == 6
    assert clock.now <= horizon.deadline - FINISH_RESERVE_S  # it planned, not overran
    # the schedule was revised to end where training ends: the last rate is low
    assert logs[-1]["learning_rate"] == pytest.approx(cosine_rate(0.1, 5, 6))
    assert logs[-1]["learning_rate"] < 0.1 * 0.1


def test_the_horizon_follows_the_epochs_after_the_first():
    # After the second epoch it plans on the cheaper of the two (2 s: 10 epochs), then
    # on the median of the epochs after the first (4 s), and ends where 4-s epochs end.
    clock = EpochClock()
    horizon = EpochHorizon(50, clock=clock, deadline=clock.now + 2 + 20 + FINISH_RESERVE_S)
    logs = _fit(horizon, epochs=50, clock=clock, seconds=lambda e: 2.0 if e == 0 else 4.0)
    assert len(logs) == 6  # 2 + 5 * 4 = 22 s: the last epoch that fits before the reserve


def test_a_deadline_already_past_trains_one_epoch():
    clock = EpochClock()
    logs = _fit(EpochHorizon(10, deadline=clock.now - 1, clock=clock), epochs=10, clock=clock)
    assert len(logs) == 1


@pytest.mark.slow  # a search of many epochs or trials
def test_a_search_starts_from_the_portfolio_then_the_baselines(study_file, cli, workdir):
    path = study_file(
        extra="""baselines=[{"n_layers": 1, "units_0": 4}],
    portfolio=[{"n_layers": 2, "units_0": 16, "units_1": 8, "optimizer": "nadam",
                "learning_rate": 0.05}, {"n_layers": 1, "units_0": 999}],"""
    )
    result = cli("run", path, "--trials", "4", "--no-progress")
    assert result.exit_code == 0, result.output
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("tiny")
    runs = sorted(
        client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'"),
        key=lambda r: int(r.data.tags["tuner.trial"]),
    )
    first, second, baseline, sampled = (r.data for r in runs)
    assert (
        first.params["n_layers"],
        first.params["units_0"],
        first.params["units_1"],
        first.params["optimizer"],
        first.params["learning_rate"],
    ) == ("2", "16", "8", "nadam", "0.05")
    assert second.params["units_0"] == "16"  # 999 clipped into the space's 4..16
    assert (first.tags["tuner.portfolio"], second.tags["tuner.portfolio"]) == ("0", "1")
    assert baseline.tags["tuner.baseline"] == "true" and baseline.params["units_0"] == "4"
    assert "tuner.portfolio" not in sampled.tags

    # Resumed, the study does not try its portfolio again.
    result = cli("run", path, "--trials", "1", "--no-progress")
    assert result.exit_code == 0, result.output
    runs = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    assert sum("tuner.portfolio" in r.data.tags for r in runs) == 2


def test_a_study_can_turn_the_portfolio_off(study_file, cli, workdir):
    path = study_file(extra="portfolio=False,")
    result = cli("run", path, "--trials", "1", "--no-progress")
    assert result.exit_code == 0, result.output
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("tiny")
    [run] = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    assert "tuner.portfolio" not in run.data.tags


def test_replicas_cycle_over_the_two_best_configurations_fewest_runs_first():
    a, b, c = {"units_0": 64}, {"units_0": 8}, {"units_0": 16}
    finished = [Finished(0, a, 0.90), Finished(1, b, 0.80), Finished(2, c, 0.85)]
    assert next_replica([], maximize=True) is None
    picks = []
    for number in range(3, 8):
        chosen = next_replica(finished, maximize=True)
        picks.append(chosen.number)
        # the replica scores what its seed gives; it joins its configuration's runs
        finished.append(Finished(number, chosen.params, chosen.value - 0.01))
    # best (0), runner-up (2), best, runner-up, ...; the third configuration never
    assert picks == [0, 2, 0, 2, 0]
    # minimizing, the lowest values are the best
    assert next_replica(finished[:3], maximize=False).number == 1


def test_a_replica_of_a_better_seed_ranks_its_configuration_by_its_best_run():
    a, b, c = {"units_0": 64}, {"units_0": 8}, {"units_0": 16}
    finished = [
        Finished(0, a, 0.90),
        Finished(1, b, 0.89),
        Finished(2, c, 0.80),
        Finished(3, c, 0.95),
    ]  # a replica of c that beat everything
    assert next_replica(finished, maximize=True).number == 0  # c has run twice already
    assert next_replica(finished + [Finished(4, a, 0.9)], maximize=True).number == 3


def test_a_replica_starts_only_where_its_configuration_fits_in_the_time_left():
    slow, fast = {"units_0": 1024}, {"units_0": 8}
    finished = [Finished(0, slow, 0.90, seconds=300.0), Finished(1, fast, 0.85, seconds=60.0)]
    assert next_replica(finished, maximize=True, seconds_left=400.0).number == 0
    assert next_replica(finished, maximize=True, seconds_left=200.0).number == 1
    assert next_replica(finished, maximize=True, seconds_left=30.0) is None


def test_the_replica_stage_is_the_last_share_of_a_time_budget():
    assert in_stage(seconds_left=29.0, timeout=120.0, share=0.25)
    assert not in_stage(seconds_left=31.0, timeout=120.0, share=0.25)
    assert not in_stage(seconds_left=0.0, timeout=120.0, share=0.0)
    assert not in_stage(seconds_left=None, timeout=None, share=0.25)
    with pytest.raises(StudyConfigError, match="ensemble_share: expected a share"):
        tuner.Study(data=lambda: None, ensemble_share=1.0)


@pytest.mark.slow  # a search of many epochs or trials
def test_the_end_of_a_timed_search_trains_the_best_configurations_again(study_file, cli, workdir):
    # The stage starts after 4 s and takes the rest: a trial of up to about 10 s on a
    # loaded machine still leaves room for a replica of it before the last 11 s.
    timeout, share = 40, 0.9
    path = study_file(extra=f"portfolio=False, ensemble_share={share},")
    began = time.time()
    result = cli("run", path, "--timeout", str(timeout), "--no-progress")
    assert result.exit_code == 0, result.output
    trials = optuna.load_study(
        study_name="tiny", storage=f"sqlite:///{workdir}/mlruns/optuna.db"
    ).trials
    replicas = [t for t in trials if "replica_of" in t.user_attrs]
    assert replicas, result.output
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    runs = {
        int(r.data.tags["tuner.trial"]): r
        for r in client.search_runs(
            [client.get_experiment_by_name("tiny").experiment_id], "tags.`tuner.role` = 'trial'"
        )
    }
    for replica in replicas:
        original = trials[replica.user_attrs["replica_of"]]
        assert replica.number > original.number  # a later trial: a new seed
        assert replica.params == original.params
        assert replica.state.name == "COMPLETE"  # never pruned
        assert runs[replica.number].data.tags["tuner.replica_of"] == str(original.number)
        # only in the budget's last share, from the best two configurations then, and
        # only while the time left holds that configuration's run again
        assert replica.datetime_start.timestamp() >= began + (1 - share) * timeout - 1
        assert (
            replica.datetime_start.timestamp() + original.duration.total_seconds()
            <= began + timeout - FINISH_RESERVE_S + 1
        )
        before = [
            t
            for t in trials
            if t.state.name == "COMPLETE" and t.datetime_complete <= replica.datetime_start
        ]
        ranked = sorted(
            {
                _key(t.params): max(u.value for u in before if u.params == t.params) for t in before
            }.items(),
            key=lambda kv: -kv[1],
        )
        assert _key(original.params) in [key for key, _ in ranked[:2]]


def _key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def test_a_tables_portfolio_starts_with_the_tabular_recipe_at_a_batch_for_its_rows():
    from tuner.core.portfolio import TABULAR, batch_for_rows

    assert [batch_for_rows(n) for n in (100, 2_000, 5_000, 100_000)] == [32, 32, 128, 256]
    starts = configurations(True, rows=300)
    assert starts[0]["ensemble_k"] > 1 and starts[0]["numeric_embedding"] == "piecewise"
    assert len(starts) == len(TABULAR) + len(PORTFOLIO)
    assert {c["batch_size"] for c in starts} == {32}
    assert all(c["ensemble_k"] == 1 for c in starts[len(TABULAR) :])
    images = tuner.Space().for_data("multiclass", tabular=False)
    fitted = fit_to_space(starts[0], images)
    assert "ensemble_k" not in fitted and "feature_scaling" not in fitted


def test_a_dimension_set_for_data_that_cannot_take_it_is_refused():
    from tuner.core.errors import SpaceError

    with pytest.raises(SpaceError, match="space.augmentation: for images, and this study's"):
        tuner.Space(augmentation="shift").for_data("multiclass", tabular=True)
    with pytest.raises(SpaceError, match="space.numeric_embedding: for tables"):
        tuner.Space(numeric_embedding="piecewise").for_data("multiclass", tabular=False)
    images = tuner.Space(augmentation="shift").for_data("multiclass", tabular=False)
    assert images.augmentation == "shift" and images.feature_scaling == "standard"
    table = tuner.Space(numeric_embedding="none").for_data("binary", tabular=True)
    assert table.augmentation == "none" and table.numeric_embedding == "none"
