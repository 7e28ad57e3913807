"""Every ``tuner.*`` tag that tuner writes in MLflow, and the search filters that read them.

Runs: a study's parent run, its trial runs, finalize and lr-find runs carry
``ROLE``; the experiment of a study carries ``STUDY``. Registered model
versions carry ``TRIAL``, ``RUN_ID`` and the scores they were promoted on.
The writers (``tracking.runs``, ``finalize_run``, ``registry``, the engines)
and the readers (``catalog``, ``housekeeping``, ``jobs``) spell them here only.
"""

from __future__ import annotations

from collections.abc import Mapping

# experiments, runs and model versions: the study's name
STUDY = "tuner.study"
# runs: "study" (the parent), "trial", "finalize" or "lr-find"
ROLE = "tuner.role"
# runs: the process that owns the run, to tell a dead owner's runs (``runtime.owner``)
OWNER = "tuner.owner"
# trial runs: the trial's number (a model version: its label); its Optuna state
TRIAL = "tuner.trial"
STATE = "tuner.state"
FAIL_REASON = "tuner.fail_reason"
# trial runs: where the configuration came from
PORTFOLIO = "tuner.portfolio"
BASELINE = "tuner.baseline"
RETRY_OF = "tuner.retry_of"
REPLICA_OF = "tuner.replica_of"
# trial runs: why no model or figures were logged
ARTIFACTS = "tuner.artifacts"
# trial runs: "true" on the best trial of its engine (and algorithm)
BEST = "tuner.best"
# parent and trial runs: the engine and how it searched
ENGINE = "tuner.engine"
ALGORITHM = "tuner.algorithm"
SAMPLER = "tuner.sampler"
PRUNER = "tuner.pruner"
# parent runs: what a later command needs to load the study again
STUDY_FILE = "tuner.study_file"
OVERRIDES = "tuner.overrides"
# parent runs: the best trial when the search ended
BEST_TRIAL = "tuner.best_trial"
BEST_RUN_ID = "tuner.best_run_id"
# lr-find runs: "true" where the search ran the finder itself (``learning_rate='auto'``)
AUTO = "tuner.auto"
# model versions: the run, objective, value, params and members they were promoted from
RUN_ID = "tuner.run_id"
OBJECTIVE = "tuner.objective"
VALUE = "tuner.value"
PARAMS = "tuner.params"
MEMBERS = "tuner.members"


def warning(kind: str) -> str:
    """A parent run's tag holding a data warning of ``kind`` (``duplicates``...)."""
    return f"tuner.warning.{kind}"


def keras_tuner(name: str) -> str:
    """A KerasTuner trial run's tag for its Hyperband bookkeeping ``name``."""
    return f"tuner.kt.{name}"


def score(metric: str) -> str:
    """A model version's tag holding the ``metric`` (``test_accuracy``) it was promoted on."""
    return f"tuner.{metric}"


def where(tags: Mapping[str, str]) -> str:
    """An MLflow search filter: each tag key equal to its value, joined by ``and``."""
    return " and ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items())
