"""The epochs a trial may reach, and a cosine schedule over exactly those.

A trial may train for ``max_epochs``, or fewer where the search's deadline
comes first. ``EpochHorizon`` measures each epoch, works out after every
epoch how many the trial can still finish before the deadline, stops
training there, and (for ``lr_schedule="cosine"``) sets each epoch's rate on
a cosine from the trial's rate to 0 at that horizon. A network trained to
the end of its schedule is finished, however little time it was given: the
difference between a short run and a truncated long one.

The rate is a plain float on the optimizer, set per epoch, so a saved model
holds no custom schedule object and loads without tuner.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Callable, Mapping

import keras

# Seconds kept back at the deadline for the last evaluation and the model's logging.
FINISH_RESERVE_S = 10.0


def cosine_rate(peak: float, epoch: int, horizon: int) -> float:
    """The rate of ``epoch`` (from 0) on a cosine from ``peak`` to 0 at ``horizon`` epochs."""
    return 0.5 * peak * (1.0 + math.cos(math.pi * min(epoch, horizon) / max(1, horizon)))


class EpochHorizon(keras.callbacks.Callback):
    """Stops training at ``max_epochs`` or before ``deadline`` (``time.time()`` seconds);
    with ``peak_rate``, a cosine rate per epoch that reaches 0 at that horizon.

    ``horizon`` is the number of epochs the trial is expected to reach,
    revised after every epoch from the median epoch time. ``clock`` gives the time
    (``time.time`` unless a test gives another).
    """

    def __init__(
        self,
        max_epochs: int,
        *,
        deadline: float | None = None,
        peak_rate: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.max_epochs = max_epochs
        self.deadline = deadline
        self.peak_rate = peak_rate
        self.clock = clock
        self.horizon = max_epochs
        self.starts: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        self.starts.append(self.clock())
        if self.peak_rate is not None:
            self.model.optimizer.learning_rate = cosine_rate(self.peak_rate, epoch, self.horizon)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.peak_rate is not None and logs is not None:  # as Keras's own schedulers log it
            logs["learning_rate"] = cosine_rate(self.peak_rate, epoch, self.horizon)
        if self.deadline is None:
            return
        # An epoch costs from its start to the next one's (the callbacks between
        # included). The first also traces the model, so it counts only until a later
        # epoch is measured: at the second's end, the cheaper of the first and the
        # second so far.
        now = self.clock()
        whole = [b - a for a, b in itertools.pairwise(self.starts)]
        per_epoch = (
            statistics.median(whole[1:]) if whole[1:] else min([*whole, now - self.starts[-1]])
        )
        left = self.deadline - FINISH_RESERVE_S - now
        if per_epoch > 0:
            fit = max(0, math.floor(left / per_epoch))
        else:  # epochs shorter than the clock's resolution
            fit = self.max_epochs if left > 0 else 0
        self.horizon = min(self.max_epochs, epoch + 1 + fit)
        if epoch + 1 >= self.horizon:
            self.model.stop_training = True
