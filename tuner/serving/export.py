"""Export a logged or registered model for other runtimes, and check what it predicts.

- ``saved_model``: Keras's ``model.export(format="tf_saved_model")`` (TensorFlow
  Serving, ``tf.saved_model.load``); every tuner model, frame models included.
- ``tflite``: Keras's ``model.export(format="litert")``, checked with
  ``ai-edge-litert``'s interpreter.
- ``onnx``: the model's call traced and frozen to constants, then converted by
  ``tf2onnx``, checked with ``onnxruntime``. Keras's own ``format="onnx"``
  turns the constants of a ``Normalization`` layer into extra graph inputs
  (tf2onnx sees them as placeholders), which no caller can feed.

Models with category lookups (``StringLookup``/``IntegerLookup``: frame
studies, ``categorical=``) export as ``saved_model`` only: their hash tables
are TensorFlow resource ops that tf2onnx cannot convert and LiteRT runs only
with TensorFlow's Flex delegate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from tuner.core import names
from tuner.core.errors import TunerError, first_line
from tuner.runtime.workarounds import frozen_function

CHECK_ROWS = 16
EXTRA = "pip install 'tuner[export]'"


class ExportError(TunerError):
    """The model cannot be exported in that format, or its export predicts otherwise."""


@dataclass(frozen=True)
class Exported:
    path: Path
    format: str
    max_difference: float  # from Keras's outputs on CHECK_ROWS random rows

    def summary(self) -> str:
        return (
            f"exported {self.format} to {self.path}; max |difference| from Keras on "
            f"{CHECK_ROWS} random rows: {self.max_difference:.1e}"
        )


def export(model: keras.Model, out: Path, fmt: str) -> Exported:
    """Write ``model`` to ``out`` in ``fmt``, then run the export on random rows."""
    if fmt not in WRITERS:
        raise ExportError(f"fmt: expected one of {tuple(names.EXPORT_FORMATS)}, received {fmt!r}")
    if out.exists():
        raise ExportError(f"{out} exists; choose a new path")
    if fmt != "saved_model" and _has_lookups(model):
        raise ExportError(
            f"{fmt}: this model looks up categories (StringLookup/IntegerLookup), "
            "which only a TensorFlow runtime runs; use fmt='saved_model'"
        )
    writer, runner = WRITERS[fmt]
    try:
        writer(model, out)
    except ImportError as exc:
        raise ExportError(f"{fmt} export needs {exc.name}: {EXTRA}") from None
    except Exception as exc:  # TensorFlow and the converters raise many kinds
        raise ExportError(f"cannot export to {fmt}: {first_line(exc)}") from exc
    rows = _random_rows(model)
    difference = float(np.abs(runner(out, rows) - model.predict(rows, verbose=0)).max())
    return Exported(out, fmt, difference)


def _has_lookups(model: keras.Model) -> bool:
    return any(
        isinstance(layer, keras.layers.IntegerLookup | keras.layers.StringLookup)
        or isinstance(layer, keras.Model)
        and _has_lookups(layer)
        for layer in model.layers
    )


def _random_rows(model: keras.Model) -> np.ndarray | dict[str, Any]:
    """Random rows for ``model``'s input; for a frame study's model (one input per
    column) a tensor per column: random numbers, and for a category column the values
    its lookup knows, with an unseen one among them."""
    generator = np.random.default_rng(0)
    if len(model.inputs) == 1:
        shape = tuple(model.inputs[0].shape[1:])
        return generator.uniform(0, 1, (CHECK_ROWS, *shape)).astype("float32")
    import tensorflow as tf

    known = [value for layer in _lookups(model) for value in layer.get_vocabulary()]
    rows = {}
    for name, tensor in model.input.items():
        if tensor.dtype == "string":
            values = generator.choice([*known, "unseen"], (CHECK_ROWS, 1)).astype(object)
            rows[name] = tf.constant(values.astype(str), dtype=tf.string)
        else:
            rows[name] = tf.constant(generator.normal(size=(CHECK_ROWS, 1)).astype("float32"))
    return rows


def _lookups(model: keras.Model) -> list[keras.layers.StringLookup]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.StringLookup)]


def _write_saved_model(model: keras.Model, out: Path) -> None:
    model.export(str(out), format="tf_saved_model", verbose=False)


def _run_saved_model(out: Path, rows: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(out))  # kept: serve needs its variables alive
    return loaded.serve(rows).numpy()


def _write_tflite(model: keras.Model, out: Path) -> None:
    model.export(str(out), format="litert", verbose=False)


def _run_tflite(out: Path, rows: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(out))
    [given] = interpreter.get_input_details()
    [output] = interpreter.get_output_details()
    interpreter.resize_tensor_input(given["index"], rows.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], rows)
    interpreter.invoke()
    return interpreter.get_tensor(output["index"])


def _write_onnx(model: keras.Model, out: Path) -> None:
    import tensorflow as tf
    import tf2onnx

    spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32, name="inputs")
    traced: Any = tf.function(lambda x: model(x, training=False))
    frozen = frozen_function(traced.get_concrete_function(spec))
    tf2onnx.convert.from_graph_def(
        frozen.graph.as_graph_def(),
        input_names=[t.name for t in frozen.inputs],
        output_names=[t.name for t in frozen.outputs],
        output_path=str(out),
    )


def _run_onnx(out: Path, rows: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: rows})[0]


# per name of names.EXPORT_FORMATS: how to write it, and how to run what was written
WRITERS: dict[
    str, tuple[Callable[[keras.Model, Path], None], Callable[[Path, Any], np.ndarray]]
] = {
    "saved_model": (_write_saved_model, _run_saved_model),
    "onnx": (_write_onnx, _run_onnx),
    "tflite": (_write_tflite, _run_tflite),
}
