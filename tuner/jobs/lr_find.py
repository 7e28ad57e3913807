"""Learning-rate findings for a study: ``tuner lr-find``, and ``learning_rate="auto"``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tuner.core.space import AUTO, Choice, Float
from tuner.core.study import Study
from tuner.data.prepare import Prepared, prepare
from tuner.keras.lr_find import LRFinding, default_params, find_learning_rate
from tuner.runtime import stores
from tuner.tracking import keys
from tuner.tracking.catalog import learning_rate_findings
from tuner.tracking.figures import charts
from tuner.tracking.patient import PatientClient
from tuner.tracking.runs import log_lr_finding


def log_finding(
    finding: LRFinding,
    tracking_uri: str,
    study_name: str,
    params: Mapping[str, Any],
    tags: Mapping[str, str] | None = None,
) -> None:
    """An lr-find run in the study's experiment: the suggestion as metrics, the plot."""
    log_lr_finding(
        tracking_uri,
        study_name,
        params,
        {"suggested_low": finding.low, "suggested_high": finding.high},
        charts.lr_finder(finding.rates, finding.losses, finding.low, finding.high),
        tags,
    )


def auto_learning_rate(study: Study, prepared: Prepared, tracking_uri: str) -> Study:
    """``learning_rate="auto"``: the finder's ranges for the space's optimizers, joined.

    Each finding is logged as an lr-find run tagged ``tuner.auto``; a resumed
    study or a worker reuses the first finding per optimizer, so every trial of
    a study samples from the same range.
    """
    if study.space.learning_rate != AUTO:
        return study
    optimizer = study.space.optimizer
    optimizers = optimizer.values if isinstance(optimizer, Choice) else (optimizer,)
    found = learning_rate_findings(PatientClient(tracking_uri), study.stored_name)
    for name in optimizers:
        if name in found:
            continue
        params = default_params(study.space, name, None)
        finding = find_learning_rate(prepared, params)
        log_finding(finding, tracking_uri, study.stored_name, params, tags={keys.AUTO: "true"})
        found[name] = (finding.low, finding.high)
    low = min(found[name][0] for name in optimizers)
    high = max(found[name][1] for name in optimizers)
    space = dataclasses.replace(study.space, learning_rate=Float(low, high, log=True))
    return dataclasses.replace(study, space=space)


def find_for_study(
    study: Study,
    optimizer: str,
    batch_size: int | None,
    n_steps: int,
    apply: bool,
    tracking_uri: str | None,
) -> str:
    """``tuner lr-find``: the finding for the study's data, logged; the lines to print."""
    params = default_params(study.space, optimizer, batch_size)
    finding = find_learning_rate(prepare(study), params, n_steps=n_steps)
    log_finding(finding, stores.resolve(tracking_uri, None).tracking_uri, study.stored_name, params)
    lines = [
        f"{optimizer}, batch {params['batch_size']}: suggested learning rate "
        f"{finding.low:.2g} .. {finding.high:.2g} "
        f"({len(finding.rates)} steps; plot in MLflow run lr-find of {study.name})"
    ]
    return "\n".join(lines + ([finding.space_line()] if apply else []))
