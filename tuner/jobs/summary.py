"""What a search prints: the short table at the end, the line of an interrupted one."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    lines.append(f"best trial: {best.name}  {outcome.objective} = {best.value:.4f}")
    width = max(len(k) for k in best.params)
    lines += [f"  {k:<{width}}  {_fmt(v)}" for k, v in best.params.items()]
    lines.append(f"MLflow run: {best.run_id}  (tracking URI {tracking_uri})")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
