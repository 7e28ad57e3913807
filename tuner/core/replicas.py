"""The end of a time budget: the best configurations trained again, each with a new seed.

At the top of a search the best configurations differ by less than their
networks differ from seed to seed, and by less than a validation split can
tell apart; what still lifts the model is several finished networks
averaged (``tuner finalize``). So the last ``ensemble_share`` of a time
budget promotes the best configurations found so far to more training runs
(replicas) instead of sampling new ones: each replica is the same params
under the next trial number, hence a new seed, trained to its horizon and
never pruned, and started only where its configuration's run fits again.
``next_replica`` picks which configuration, ``in_stage`` when the stage
begins; docs/search-strategy.md has the measurements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# How many distinct configurations the replicas cycle over: the best and the runner-up.
REPLICATED_CONFIGURATIONS = 2


@dataclass(frozen=True)
class Finished:
    """A COMPLETE trial: its number, its sampled params, its objective value and the
    seconds it ran."""

    number: int
    params: Mapping[str, Any]
    value: float
    seconds: float = 0.0


def in_stage(seconds_left: float | None, timeout: float | None, share: float) -> bool:
    """Whether a search with ``seconds_left`` of its ``timeout`` is in its last ``share``;
    never without a timeout or with a share of 0."""
    if seconds_left is None or not timeout or share <= 0:
        return False
    return seconds_left <= share * timeout


def next_replica(
    finished: Sequence[Finished],
    maximize: bool,
    seconds_left: float | None = None,
    configurations: int = REPLICATED_CONFIGURATIONS,
) -> Finished | None:
    """The configuration to train again, as its best trial: among the ``configurations``
    best distinct params (each ranked by its best value) whose best run would fit in
    ``seconds_left`` again, the one run the fewest times, the better on a tie. None
    before any trial finished, or when none fits: a replica cut short makes a weaker
    member (docs/search-strategy.md)."""
    groups: dict[tuple, list[Finished]] = {}
    for trial in finished:
        groups.setdefault(_key(trial.params), []).append(trial)
    sign = -1.0 if maximize else 1.0
    best_of = [min(runs, key=lambda t: (sign * t.value, t.number)) for runs in groups.values()]
    ranked = sorted(best_of, key=lambda t: (sign * t.value, t.number))[:configurations]
    fitting = [t for t in ranked if seconds_left is None or t.seconds <= seconds_left]
    if not fitting:
        return None
    return min(fitting, key=lambda t: len(groups[_key(t.params)]))


def _key(params: Mapping[str, Any]) -> tuple:
    return tuple(sorted((name, repr(value)) for name, value in params.items()))
