"""jobs/summary.py: the best trial beside the trivial baseline, and the warnings about it."""

from __future__ import annotations

from tuner.data.baseline import Trivial
from tuner.engines.base import BestTrial, SearchOutcome
from tuner.jobs.summary import champion_warnings, format_outcome


def outcome(objective: str, best: float, trivial: float) -> SearchOutcome:
    return SearchOutcome(
        objective=objective,
        states={"COMPLETE": 3},
        best=BestTrial(2, best, {"n_layers": 1}, "run-2"),
        trivial=Trivial("the majority class 'no'", trivial),
    )


def test_the_summary_shows_the_trivial_score_beside_the_best_value():
    text = format_outcome("churn", outcome("val_accuracy", 0.91, 0.80), "sqlite:///x.db")
    assert (
        "best trial: #2  val_accuracy = 0.9100  (always predicting the majority class 'no': 0.8000)"
    ) in text


def test_a_best_trial_no_better_than_the_baseline_is_warned_about_either_direction():
    assert champion_warnings(outcome("val_accuracy", 0.91, 0.80), classes_predicted=2) == {}
    warned = champion_warnings(outcome("val_accuracy", 0.80, 0.80), classes_predicted=2)
    assert list(warned) == ["trivial"]
    assert warned["trivial"].startswith(
        "the best trial's val_accuracy 0.8000 is no better than always predicting the "
        "majority class 'no' (0.8000)"
    )
    assert champion_warnings(outcome("val_loss", 0.30, 0.50), None) == {}
    assert list(champion_warnings(outcome("val_loss (mean of 5 folds)", 0.6, 0.5), None)) == [
        "trivial"
    ]


def test_a_best_trial_that_predicts_one_class_is_warned_about():
    warned = champion_warnings(outcome("val_accuracy", 0.91, 0.80), classes_predicted=1)
    assert list(warned) == ["one_class"]
    assert "class_weight='balanced'" in warned["one_class"]


def test_the_summary_shows_the_best_trials_scores_without_losses():
    found = outcome("val_loss", 0.25, 1.0)
    found = SearchOutcome(
        objective="val_loss",
        states=found.states,
        trivial=found.trivial,
        best=BestTrial(
            2,
            0.25,
            {"n_layers": 1},
            "run-2",
            scores={
                "final_val_loss": 0.25,
                "final_val_mae": 3456.7,
                "final_val_r2": 0.75,
                "test_loss": 0.3,
                "test_mae": 3800.0,
                "test_r2": 0.71,
            },
        ),
    )
    text = format_outcome("wages", found, "sqlite:///x.db")
    assert "scores: test_mae 3800, test_r2 0.71, val_mae 3457, val_r2 0.75" in text


def test_the_best_accuracy_is_printed_with_its_standard_error_over_the_validation_rows():
    import dataclasses

    with_rows = dataclasses.replace(outcome("val_accuracy", 0.91, 0.80), validation_rows=900)
    text = format_outcome("churn", with_rows, "sqlite:///x.db")
    assert "val_accuracy = 0.9100 ± 0.0095  (always predicting" in text  # sqrt(.91*.09/900)
    folds = dataclasses.replace(with_rows, validation_rows=0)
    assert "±" not in format_outcome("churn", folds, "sqlite:///x.db")
