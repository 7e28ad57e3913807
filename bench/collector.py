"""The garbage collector's passes, timed by its own callbacks (``gc.callbacks``).

Shared by the benches that look at the collector. Imports nothing heavy, so a
bench can start it before the code it times imports its libraries.
"""

from __future__ import annotations

import bisect
import gc
import time


class CollectorPasses:
    """Every pass while installed: (start, stop, generation), and the objects it freed."""

    def __init__(self) -> None:
        self.passes: list[tuple[float, float, int]] = []
        self.collected: list[int] = []
        self.started = 0.0

    def __enter__(self) -> CollectorPasses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.passes.append((self.started, time.perf_counter(), info["generation"]))
            self.collected.append(info["collected"])

    def seconds(self, *generations: int) -> list[float]:
        """Each pass's length, of the generations given."""
        return [stop - start for start, stop, gen in self.passes if gen in generations]

    def during(self, at: float) -> int | None:
        """The generation being collected at ``at``, if a pass was running."""
        i = bisect.bisect_right(self.passes, (at, float("inf"), 0)) - 1
        if i >= 0 and self.passes[i][0] <= at <= self.passes[i][1]:
            return self.passes[i][2]
        return None
