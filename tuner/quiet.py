"""Import TensorFlow without its C++ start-up chatter on stderr.

TensorFlow 2.21 prints absl and CUDA-probe lines (not errors) straight to file
descriptor 2 when it loads, ignoring ``TF_CPP_MIN_LOG_LEVEL``; they would bury
tuner's one-line messages. ``tuner --debug`` keeps them.
"""

from __future__ import annotations

import os


def import_tensorflow_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
