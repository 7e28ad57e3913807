"""What this machine can hold: free memory, and the workers that fit in it."""

from __future__ import annotations

from tuner.core.errors import StudyConfigError

# Resident memory of one worker training an MLP: the worker (TensorFlow, MLflow, Optuna
# loaded) about 0.9 GB and its figures process 0.3-0.4 GB, measured on Fashion-MNIST,
# with room for the data.
WORKER_MEMORY_BYTES = 1600 * 2**20


def check_capacity(n_workers: int, available_bytes: int | None) -> None:
    """Refuse more workers than the machine's free memory holds (``None``: unknown)."""
    if available_bytes is None or n_workers * WORKER_MEMORY_BYTES <= available_bytes:
        return
    most = max(1, available_bytes // WORKER_MEMORY_BYTES)
    raise StudyConfigError(
        f"workers: {n_workers} workers need about {n_workers * WORKER_MEMORY_BYTES / 2**30:.1f} "
        f"GiB of memory and this machine has {available_bytes / 2**30:.1f} GiB free; "
        f"use at most {most}"
    )


def available_memory() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes; None where there is none."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
