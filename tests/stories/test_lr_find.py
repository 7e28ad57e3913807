"""The learning-rate finder on the synthetic and digits studies."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

STUDIES = Path(__file__).parents[2] / "studies"


def suggested(output: str) -> tuple[float, float]:
    match = re.search(r"suggested learning rate ([\d.e+-]+) \.\. ([\d.e+-]+)", output)
    assert match, output
    return float(match.group(1)), float(match.group(2))


def test_lr_find_range_trains_the_synthetic_task(cli, study_file, workdir):
    found = cli("lr-find", STUDIES / "synthetic.py", "--optimizer", "adam", "--apply")
    assert found.exit_code == 0, found.output
    low, high = suggested(found.stdout)
    assert 1e-5 < low < high < 10
    assert re.search(
        r"^learning_rate=tuner\.Float\([\d.e+-]+, [\d.e+-]+, log=True\),$", found.stdout, re.M
    )
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("synthetic")
    [run] = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'lr-find'")
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["lr_finder.png"]
    assert run.data.metrics["suggested_high"] == high or math.isclose(
        run.data.metrics["suggested_high"], high, rel_tol=0.05
    )

    middle = math.sqrt(low * high)
    trained = cli(
        "run",
        study_file(
            body=f"""
    import tuner
    from tuner.datasets import synthetic
    study = tuner.Study(data=synthetic, space=tuner.Space(n_layers=2, units=18,
                        learning_rate={middle}, batch_size=64, optimizer="adam"),
                        max_epochs=15, patience=15)
    """
        ),
        "--trials",
        "1",
        "--no-progress",
    )
    assert trained.exit_code == 0, trained.output
    assert float(re.search(r"val_accuracy = ([\d.]+)", trained.stdout).group(1)) > 0.9


@pytest.mark.slow  # a search of many epochs or trials
def test_lr_find_on_digits_suggests_larger_rates_for_sgd_than_for_adam(cli):
    """Plain SGD takes steps of the gradient's size, Adam of about the rate's: the loss
    of SGD falls fastest at rates several times Adam's (here 0.57 against 0.098)."""
    ranges = {}
    for optimizer in ("sgd", "adam"):
        found = cli("lr-find", STUDIES / "digits.py", "--optimizer", optimizer, "--steps", "150")
        assert found.exit_code == 0, found.output
        ranges[optimizer] = suggested(found.stdout)
        low, high = ranges[optimizer]
        assert 1e-5 < low < high < 10
    assert ranges["sgd"][1] > 2 * ranges["adam"][1], ranges
