"""What a search prints: the short table at the end, the line of an interrupted one."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tuner.core.tasks import higher_is_better

if TYPE_CHECKING:
    from tuner.engines.base import SearchOutcome

STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")


def one_line(outcome: SearchOutcome) -> str:
    counts = ", ".join(f"{outcome.states.get(s, 0)} {s.lower()}" for s in STATES[:3])
    best = f"; best {outcome.objective} {outcome.best.value:.4f}" if outcome.best else ""
    return f"{sum(outcome.states.values())} trials ({counts}){best}"


def interrupted_line(reason: str, outcome: SearchOutcome) -> str:
    """The line of a search stopped by Ctrl-C or a signal (``reason``)."""
    return (
        f"{reason}: {one_line(outcome)}; the running trial was recorded as failed, "
        "run the same command to continue"
    )


def format_outcome(study_name: str, outcome: SearchOutcome, tracking_uri: str) -> str:
    counts = ", ".join(
        f"{outcome.states.get(s, 0)} {s.lower()}"
        for s in STATES
        if outcome.states.get(s) or s in STATES[:3]
    )
    lines = [f"study {study_name}: {sum(outcome.states.values())} trials ({counts})"]
    if outcome.best is None:
        lines.append("no trial completed")
        return "\n".join(lines)
    best = outcome.best
    trivial = outcome.trivial
    beside = f"  (always predicting {trivial.what}: {trivial.value:.4f})" if trivial else ""
    error = accuracy_error(outcome.objective, best.value, outcome.validation_rows)
    spread = f" ± {error:.4f}" if error is not None else ""
    lines.append(f"best trial: {best.name}  {outcome.objective} = {best.value:.4f}{spread}{beside}")
    shown = {k.removeprefix("final_"): v for k, v in best.scores.items() if "loss" not in k}
    if shown:  # in the target's units for a regression, beside its R²
        lines.append("scores: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(shown.items())))
    width = max(len(k) for k in best.params)
    lines += [f"  {k:<{width}}  {_fmt(v)}" for k, v in best.params.items()]
    lines.append(f"MLflow run: {best.run_id}  (tracking URI {tracking_uri})")
    return "\n".join(lines)


def accuracy_error(objective: str, value: float, rows: int) -> float | None:
    """The standard error of a validation accuracy over ``rows`` rows, ``sqrt(p(1-p)/n)``:
    trials closer than about two of these cannot be told apart on that split. None for
    other objectives, and for folds."""
    if objective != "val_accuracy" or rows <= 0 or not 0 <= value <= 1:
        return None
    return math.sqrt(value * (1 - value) / rows)


def champion_warnings(outcome: SearchOutcome, classes_predicted: int | None) -> dict[str, str]:
    """Warnings about the best trial by kind (the parent run's ``tuner.warning.<kind>``):
    no better than the trivial baseline, or predicting one class only on validation
    (``classes_predicted``: how many it predicts; None where unknown or not classes)."""
    warnings = {}
    best, trivial = outcome.best, outcome.trivial
    if best is not None and trivial is not None:
        objective = outcome.objective.split(" ")[0]  # without " (mean of k folds)"
        better = (
            best.value - trivial.value
            if higher_is_better(objective)
            else (trivial.value - best.value)
        )
        if better <= 0:
            warnings["trivial"] = (
                f"the best trial's {objective} {best.value:.4f} is no better than always "
                f"predicting {trivial.what} ({trivial.value:.4f}): the "
                "model learned nothing from the inputs; check that the features carry the "
                "target's signal, and with rare classes optimise objective="
                "'val_balanced_accuracy'"
            )
    if classes_predicted == 1:
        warnings["one_class"] = (
            "the best trial predicts a single class for every validation row; optimise "
            "objective='val_balanced_accuracy' (or 'val_macro_f1', 'val_auc') and set "
            "class_weight='balanced' on the study"
        )
    return warnings


def _fmt(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
