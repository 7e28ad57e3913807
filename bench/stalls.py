"""Where a `tuner run`'s time outside training goes, span by span, from its stack.

    python bench/stalls.py studies/fashion.py --trials 10
    python bench/stalls.py studies/synthetic.py --trials 8 --min-span 0.2
    python bench/stalls.py --smoke

Runs the `tuner` command in this process (``tuner.cli.main`` as the console
script's ``entry`` runs it, garbage collector settings included, in an empty
folder) while a thread samples the main thread's stack
every ``--interval`` seconds. A sample is "training" while the stack is inside
``tuner.training.fit`` (Keras's fit and the test split); every other sample is
named by its innermost frame of tuner and its innermost frame below it. Printed:
the time outside training by name, and each span outside training longer than
``--min-span`` with the names it spent most of its time in. A stall between
trials shows as a long span, with the code it waited in. The sampler holds the
interpreter's lock for a few microseconds a sample; at 20 ms that is noise.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType

from collector import CollectorPasses

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).parents[1]
TUNER = str(ROOT / "tuner")


def name_of(frame: FrameType | None) -> str:
    """'training', or the innermost tuner function and the innermost function it called."""
    innermost = None
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(TUNER):
            if code.co_name in ("fit", "evaluate") and code.co_filename.endswith("training.py"):
                return "training"
            below = f" > {innermost}" if innermost else ""
            return f"{Path(code.co_filename).stem}.{code.co_name}{below}"
        if innermost is None:
            innermost = f"{Path(code.co_filename).stem}.{code.co_name}:{frame.f_lineno}"
        frame = frame.f_back
    return f"(outside tuner) {innermost}"


class Sampler(threading.Thread):
    """Records (time, name) of the main thread's stack every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="stall-sampler", daemon=True)
        self.interval = interval
        self.samples: list[tuple[float, str]] = []
        self.stopped = threading.Event()
        self.main = threading.main_thread().ident

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            frame = sys._current_frames().get(self.main)
            self.samples.append((time.perf_counter(), name_of(frame)))


def spans(samples: list[tuple[float, str]]) -> list[tuple[float, float, list[str]]]:
    """Runs of consecutive samples outside training: start, end, names."""
    found: list[tuple[float, float, list[str]]] = []
    current: list[tuple[float, str]] = []
    for sample in [*samples, (float("inf"), "training")]:
        if sample[1] != "training":
            current.append(sample)
            continue
        if current:
            found.append((current[0][0], sample[0] if sample[0] != float("inf")
                          else current[-1][0], [name for _, name in current]))
            current = []
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_file", nargs="?", default=str(ROOT / "studies" / "synthetic.py"))
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--min-span", type=float, default=0.3)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    trials = 2 if args.smoke else args.trials
    study_file = Path(args.study_file).resolve()
    sampler = Sampler(args.interval)
    started = time.perf_counter()
    with CollectorPasses() as collections_, tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        sys.argv = ["tuner", "run", str(study_file), "--trials", str(trials), "--seed", "0",
                    "--no-progress"]
        sampler.start()
        import tuner.cli

        tuner.cli._owns_process = True  # as `entry` sets it; `entry` would then os._exit
        try:
            tuner.cli.main()
        except SystemExit as exit_:
            if exit_.code:
                raise
        finally:
            sampler.stopped.set()
            sampler.join()
    total = time.perf_counter() - started
    from common import save, table  # imports Keras: not before the run, which times that

    samples = [(at, name if name == "training" or (gen := collections_.during(at)) is None
                else f"garbage collection, generation {gen}; in {name}")
               for at, name in sampler.samples]
    full = collections_.seconds(2)
    longest = max(range(len(collections_.passes)), default=None,
                  key=lambda i: collections_.passes[i][1] - collections_.passes[i][0])
    # A sample that comes late was kept waiting for the interpreter's lock: a C call
    # that held it (or a collection) rather than code that waited for something.
    late = [(b - started, b - a, name) for (a, _), (b, name) in itertools.pairwise(samples)
            if b - a > max(0.2, 5 * args.interval)]
    outside = collections.Counter(name for _, name in samples if name != "training")
    training = sum(name == "training" for _, name in samples) * args.interval
    print(f"{study_file.name}, {trials} trials: {total:.1f} s, training {training:.1f} s, "
          f"outside {len(samples) * args.interval - training:.1f} s "
          f"(samples every {args.interval * 1000:.0f} ms); {len(full)} full collections "
          f"took {sum(full):.2f} s, the longest {max(full, default=0):.2f} s\n")
    if longest is not None:
        a, b, gen = collections_.passes[longest]
        print(f"longest collection: generation {gen}, {b - a:.2f} s at {a - started:.1f} s, "
              f"{collections_.collected[longest]} objects freed")
    print(table(["samples late by", "at s", "next sample in"],
                [(round(gap, 2), round(at, 1), name) for at, gap, name in late]) + "\n")
    print(table(["outside training, by frame", "s"],
                [(name, n * args.interval) for name, n in outside.most_common(25)]))
    long_spans = [(a - started, b - a, collections.Counter(names).most_common(3))
                  for a, b, names in spans(samples) if b - a >= args.min_span]
    print(f"\nspans outside training of {args.min_span} s or more:\n")
    print(table(["from s", "length s", "mostly in (samples)"],
                [(round(at, 2), round(length, 2),
                  "; ".join(f"{name} ({n})" for name, n in top))
                 for at, length, top in long_spans]))
    save("stalls-smoke" if args.smoke else "stalls", {
        "study": study_file.name, "trials": trials, "total_s": total, "training_s": training,
        "outside": [[name, n * args.interval] for name, n in outside.most_common()],
        "spans": [[at, length, top] for at, length, top in long_spans], "late_samples": late})


if __name__ == "__main__":
    main()
