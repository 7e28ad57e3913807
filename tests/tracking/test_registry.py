"""tracking/registry.py: a trial's logged model registered once per name, and aliased."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tuner.core.errors import TunerError
from tuner.tracking import keys
from tuner.tracking.catalog import load_study
from tuner.tracking.registry import promote


@pytest.fixture
def client(searched_tiny, workdir) -> MlflowClient:
    uri = f"sqlite:///{workdir}/mlruns/mlflow.db"
    mlflow.set_tracking_uri(uri)
    return MlflowClient(uri)


def test_the_best_trial_is_registered_once_with_its_scores_and_the_alias_follows_a_choice(client):
    study = load_study(client, "tiny")
    best, other = study.ranked()[0], study.ranked()[1]

    first = promote(client, "tiny", "tiny-mlp")
    assert (first.version, first.alias, first.created) == ("1", "champion", True)
    version = client.get_model_version_by_alias("tiny-mlp", "champion")
    assert version.tags[keys.RUN_ID] == best.run_id and version.tags[keys.TRIAL] == best.label
    assert float(version.tags[keys.VALUE]) == pytest.approx(best.value)
    assert keys.score("test_accuracy") in version.tags
    assert f"Trial {best.label} of study tiny" in version.description

    again = promote(client, "tiny", "tiny-mlp")
    assert (again.version, again.created) == ("1", False)  # no duplicate version

    chosen = promote(client, "tiny", "tiny-mlp", trial_number=other.label, alias="candidate")
    assert (chosen.version, chosen.created) == ("2", True)
    assert str(client.get_model_version_by_alias("tiny-mlp", "candidate").version) == "2"
    assert str(client.get_model_version_by_alias("tiny-mlp", "champion").version) == "1"
    assert chosen.uri == "models:/tiny-mlp@candidate"


def test_a_trial_that_does_not_exist_is_refused_naming_the_trials_there_are(client):
    with pytest.raises(TunerError, match=r"study 'tiny' has no trial 99 \(its trials: 0, 1, 2"):
        promote(client, "tiny", "tiny-mlp", trial_number="99")
    assert client.search_registered_models() == []
