"""Every use of a library's or the interpreter's private state, in one place.

Each function says why it reaches past the public API. ``PRIVATE_ATTRIBUTES``
lists what they rely on; ``tests/runtime/test_workarounds.py`` fails, naming the
attribute, when an upgrade removes one, and fails when any other module of
tuner reaches a private name of another library. Each degrades to the public
behaviour where it can when its attribute is missing.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.data.dataset import Dataset
    from mlflow.entities import Dataset as DatasetEntity

# (module, attribute path): what the functions below read or change.
PRIVATE_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("tensorflow.python.framework.ops", "_gradient_registry._registry"),
    ("mlflow.utils.requirements_utils", "_MODULES_TO_PACKAGES"),
    ("mlflow.utils.requirements_utils", "_PACKAGES_TO_MODULES"),
    ("atexit", "_run_exitfuncs"),
    ("mlflow.data.dataset", "Dataset._to_mlflow_entity"),
    ("tensorflow.python.framework.convert_to_constants", "convert_variables_to_constants_v2"),
)


def dataset_entity(dataset: Dataset) -> DatasetEntity:
    """The entity MLflow's own ``mlflow.log_input`` sends for ``dataset``.

    Why: ``MlflowClient.log_inputs`` takes entities by run id (no active run,
    which tuner never uses); the public ``Dataset`` makes its entity only
    through this method.
    """
    return dataset._to_mlflow_entity()


def frozen_function(function: Any) -> Any:
    """A concrete ``tf.function`` with its variables folded into constants.

    Why: tf2onnx converts a frozen graph; TensorFlow 2 has no public way to
    freeze a concrete function (``tf.compat.v1.graph_util`` takes a v1 session
    graph). Keras's own ONNX export leaves a ``Normalization`` layer's
    constants as graph inputs no caller can feed.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    convert: Callable[[Any], Any] = convert_variables_to_constants_v2
    return convert(function)


@contextlib.contextmanager
def custom_gradients_released() -> Iterator[None]:
    """Drop the custom gradients TensorFlow registered while a fit traced its train step.

    Why: Keras's TensorFlow optimizer sums gradients over replicas with
    ``all_reduce``, which under the default strategy registers a custom
    gradient in TensorFlow's global ``_gradient_registry`` each time a train
    step is traced; nothing removes them and each holds the traced graph, so
    every trial's train graphs stayed alive (about 9,600 objects and 5.9 MiB
    a trial; a full collection grew from 0.02 s to 0.37 s over 40 trials). An
    entry is read only while its step is traced; the traced step keeps
    working without it, also when the same model is fit again. Names are
    unique (``CustomGradient-<uid>``), so only entries added during this fit
    are dropped. Tuner fits one model at a time per process.
    """
    from tensorflow.python.framework import ops

    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    before = set(registry) if isinstance(registry, dict) else None
    try:
        yield
    finally:
        if isinstance(registry, dict) and before is not None:
            for name in [n for n in registry if n not in before]:
                if name.startswith("CustomGradient-"):
                    del registry[name]


@contextlib.contextmanager
def pins_checked_by_name() -> Iterator[None]:
    """MLflow's check of a model's pins, without its map of every installed package.

    Why: on saving a model MLflow maps every installed distribution's files to
    their modules (``_MODULES_TO_PACKAGES``), once per process and with no
    setting to skip it, only to warn when a pin differs from what is
    installed: a process's first model took 1.35 s to log, 0.69 s without
    the map. Given an empty map, the same check looks each pin up by its
    distribution's name, which is all tuner's pins need. The map is touched
    only while unbuilt, and left unbuilt again afterwards.
    """
    from mlflow.utils import requirements_utils

    if getattr(requirements_utils, "_MODULES_TO_PACKAGES", False) is not None:
        yield
        return
    requirements_utils._MODULES_TO_PACKAGES = {}  # type: ignore[assignment]
    try:
        yield
    finally:
        requirements_utils._MODULES_TO_PACKAGES = None
        requirements_utils._PACKAGES_TO_MODULES = None


def run_exit_handlers() -> None:
    """What a normal interpreter exit runs before finalization (``atexit``'s handlers).

    Why: the ``tuner`` command ends with ``os._exit`` to skip the teardown of
    TensorFlow, MLflow and SQLAlchemy (3-5 s after the last work); logging's
    flush and MLflow's handlers must still run first.
    """
    run = getattr(atexit, "_run_exitfuncs", None)
    if run is not None:
        run()


@contextlib.contextmanager
def collector_paused_then_frozen(enabled: bool = True) -> Iterator[None]:
    """The garbage collector off while libraries import, their objects frozen after.

    Why: TensorFlow, MLflow and SQLAlchemy make some 550,000 objects that live
    as long as the process; the collector's full passes over them during the
    imports and the search took 2.4 s of a synthetic run, 0.45 s with them
    moved to the permanent generation (``gc.freeze``, public but global:
    only a process that is tuner's alone may do it).
    """
    if not enabled:
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
