"""Python's full garbage collections during a `tuner run`, with and without the freeze.

    python bench/gc_pauses.py           # synthetic.py x 8 trials, 3 processes each
    python bench/gc_pauses.py --smoke   # synthetic.py x 2 trials, 1 process each

The ``tuner`` command turns the collector off while it imports the libraries,
then moves their objects out of its reach (``gc.freeze``) and turns it back on
before the search. Each run here is
`tuner run` in a new process, as the command runs it (``freeze``) or as an
in-process caller does (``default``: no freeze), alternating; the collector's
callbacks time its passes by generation. Medians over the processes.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from collector import CollectorPasses

STUDY = Path(__file__).parents[1] / "studies" / "synthetic.py"


def child(way: str, n_trials: int) -> dict[str, float]:
    import tuner.cli

    tuner.cli._owns_process = way == "freeze"  # as the `tuner` command's entry sets it
    began = time.perf_counter()
    with CollectorPasses() as passes, tempfile.TemporaryDirectory() as folder:
        try:
            tuner.cli.main(["run", str(STUDY), "--trials", str(n_trials), "--seed", "0",
                            "--no-progress", "--tracking-uri", f"sqlite:///{folder}/mlflow.db",
                            "--storage", f"sqlite:///{folder}/optuna.db"])
        except SystemExit as done:
            assert not done.code, done.code
    return {"total_s": time.perf_counter() - began, "full_passes": len(passes.seconds(2)),
            "full_s": sum(passes.seconds(2)), "young_s": sum(passes.seconds(0, 1)),
            "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--child", choices=["freeze", "default"], help=argparse.SUPPRESS)
    parser.add_argument("--trials", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    n_trials = 2 if args.smoke else args.trials
    if args.child:
        print(json.dumps(child(args.child, n_trials)))
        return
    from common import save, table  # imports Keras: the child leaves that to tuner's CLI

    runs: dict[str, list[dict]] = {"default": [], "freeze": []}
    for _ in range(1 if args.smoke else 3):
        for way in runs:
            done = subprocess.run([sys.executable, __file__, "--child", way, "--trials",
                                   str(n_trials)], check=True, capture_output=True, text=True)
            runs[way].append(json.loads(done.stdout.strip().splitlines()[-1]))
    keys = ["total_s", "full_passes", "full_s", "young_s", "peak_memory_mb"]
    rows = [[way, *(statistics.median(r[k] for r in found) for k in keys),
             ", ".join(f"{r['full_s']:.2f}" for r in found)] for way, found in runs.items()]
    print(table(["gc", "total s", "full passes", "full passes s", "young passes s",
                 "peak memory MiB", "full passes s, each process"], rows))
    print("wrote", save("gc_pauses-smoke" if args.smoke else "gc_pauses", {"runs": runs}))


if __name__ == "__main__":
    main()
