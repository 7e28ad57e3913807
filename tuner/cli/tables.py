"""Plain-text tables for ``tuner ls`` and ``tuner show``."""

from __future__ import annotations

import time
from collections.abc import Sequence

from tuner.tracking.catalog import StudyRecord, TrialRecord

STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING")


def render(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(map(str, header))] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def _cell(value: object) -> str:
    """Numbers to 4 significant digits, including MLflow's params (stored as strings)."""
    if value is None:
        return "-"
    if isinstance(value, str) and "." in value:
        try:
            return f"{float(value):.4g}"
        except ValueError:
            return value
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def studies_table(studies: Sequence[StudyRecord]) -> str:
    if not studies:
        return "no studies yet: run `tuner run STUDY_FILE`"
    rows = []
    for s in studies:
        counts = s.states
        best = s.best
        last = (
            time.strftime("%Y-%m-%d %H:%M", time.localtime(s.last_run / 1000))
            if s.last_run
            else None
        )
        final = s.finalized[0].test if s.finalized else {}
        rows.append(
            [
                s.name,
                *(counts.get(k, 0) for k in STATES),
                f"{s.objective} {best.value:.4f}" if best else None,
                None if s.trivial is None else f"{s.trivial:.4f}",
                _scores(best.test) if best else None,
                _scores(final),
                last,
            ]
        )
    return render(
        [
            "study",
            *(k.lower() for k in STATES),
            "best",
            "trivial",
            "best on test",
            "finalized on test",
            "last run",
        ],
        rows,
    )


def _scores(test: dict[str, float]) -> str | None:
    """Test scores side by side (``test_accuracy 0.9072``); losses left out."""
    return (
        ", ".join(f"{k} {v:.4g}" for k, v in sorted(test.items()) if not k.endswith("loss")) or None
    )


def trials_table(study: StudyRecord, top_k: int) -> str:
    ranked = study.ranked()[:top_k]
    lines = [
        f"study {study.name}: MLflow experiment {study.experiment_id} "
        f"({study.direction} {study.objective}); "
        + ", ".join(f"{study.states.get(k, 0)} {k.lower()}" for k in STATES)
    ]
    if study.finalized:
        newest = study.finalized[0]
        lines.append(f"finalized: {newest.describe()}; run {newest.run_id}")
    if not ranked:
        return "\n".join([*lines, "no COMPLETE trial yet"])
    shown = [t.key_params() for t in ranked]
    # The dimensions the shown trials differ in; all of them for a single trial, or for
    # replicas of one configuration (they differ in their seed alone).
    params = [p for p in shown[0] if len({str(k.get(p)) for k in shown}) > 1] or list(shown[0])
    replicas = any(t.replica_of for t in ranked)
    rows = [
        [
            _number(t),
            t.value,
            t.state,
            t.epochs,
            *(k.get(p) for p in params),
            *([t.replica_of] if replicas else []),
            t.run_id,
        ]
        for t, k in zip(ranked, shown, strict=True)
    ]
    header = ["trial", "value", "state", "epochs", *params, *(["replica of"] if replicas else [])]
    lines.append(render([*header, "run id"], rows))
    if replicas:
        lines.append(
            "replica of: a trial that trains that trial's configuration again with "
            "another seed (the last share of a timed search)"
        )
    baselines = [t for t in study.ranked() if t.baseline]
    if baselines:
        assert ranked[0].value is not None and baselines[0].value is not None  # ranked()
        gain = ranked[0].value - baselines[0].value
        better = gain if study.direction == "maximize" else -gain
        lines.append(
            f"* baseline; best baseline {baselines[0].label}: {baselines[0].value:.4f}, "
            f"best trial {ranked[0].label}: {ranked[0].value:.4f} "
            f"({'+' if better >= 0 else '-'}{abs(gain):.4f} "
            f"{'better' if better >= 0 else 'worse'})"
        )
    return "\n".join(lines)


def _number(trial: TrialRecord) -> str:
    return f"{trial.label}*" if trial.baseline else trial.label
