"""The model server behind ``tuner serve``: MLflow's scoring app, guarded.

MLflow's own FastAPI app (``mlflow.pyfunc.scoring_server.init``) answers
``/invocations``, ``/ping``, ``/health`` and ``/version`` as ``mlflow models
serve`` does; uvicorn runs it (``create_app`` is its factory), as many
workers as asked. An ASGI guard in front of ``/invocations``:

- answers a body over ``max_bytes`` with 413, keeping none of it past the limit;
- cuts every text of an error answer to ``ERROR_CHARS`` (MLflow echoes a bad
  body and its traceback);
- answers NaN or infinity sent to a model that takes no gaps (an array
  model) with 400, and so any prediction that is not finite, so every answer
  is valid JSON;
- adds a hint to a refused ``inputs`` (list-of-lists) request to a model of
  named columns.

A Keras model predicts with ``predict_on_batch``: one call, no progress bar
in the log, none of ``predict``'s per-call set-up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MODEL_URI = "TUNER_SERVE_MODEL_URI"
MAX_BYTES = "TUNER_SERVE_MAX_BYTES"
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
ERROR_CHARS = 500
DRAIN_FACTOR = 16  # past the limit, at most this many times it is read (and dropped)
NOT_FINITE = (
    "the input holds NaN or infinite values, which this model does not take (a frame "
    "study's model takes missing numbers)"
)
COLUMNS_HINT = (
    'this model takes named columns: send {"dataframe_split": {"columns": [...], "data": '
    '[[...]]}} or {"dataframe_records": [{"column": value, ...}]}'
)


class QuickKeras:
    """MLflow's Keras pyfunc (``mlflow.keras``'s ``predict``), calling
    ``predict_on_batch``: a DataFrame in gives a DataFrame out, arrays give an array."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def get_raw_model(self) -> Any:
        return self.model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            outputs = self.model.predict_on_batch(data.to_numpy(dtype="float32"))
            return pd.DataFrame(np.asarray(outputs), index=data.index)
        return np.asarray(self.model.predict_on_batch(np.asarray(data, dtype="float32")))


def load_served_model(uri: str) -> tuple[Any, bool]:
    """The pyfunc model MLflow's app serves, and whether it takes named columns (tuner's
    raw-rows flavor). A plain Keras model is served through ``QuickKeras``."""
    import mlflow

    loaded = mlflow.pyfunc.load_model(uri)
    if loaded.loader_module == "mlflow.keras":
        quick = mlflow.pyfunc.PyFuncModel(
            model_meta=loaded.metadata, model_impl=QuickKeras(loaded.get_raw_model())
        )
        return quick, False
    return loaded, True


def create_app() -> ASGIApp:
    """uvicorn's factory: the model named by ``TUNER_SERVE_MODEL_URI`` behind MLflow's
    scoring app and the guard (``TUNER_SERVE_MAX_BYTES``)."""
    import keras
    from mlflow.pyfunc import scoring_server

    keras.utils.disable_interactive_logging()
    model, named_columns = load_served_model(os.environ[MODEL_URI])
    limit = int(os.environ.get(MAX_BYTES, DEFAULT_MAX_BYTES))
    return Guard(scoring_server.init(model), limit, named_columns)


class Guard:
    """The ASGI guard in front of ``/invocations`` (see the module's docstring)."""

    def __init__(self, app: ASGIApp, max_bytes: int, named_columns: bool) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.named_columns = named_columns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/invocations":
            await self.app(scope, receive, send)
            return
        body = await self._body(scope, receive)
        if body is None:
            await reply(send, 413, error(f"the request body is over {self.max_bytes} bytes"))
            return
        if not self.named_columns and not is_finite_json(body):
            await reply(send, 400, error(NOT_FINITE))
            return
        answer = await _answer_of(self.app, scope, body)
        status, content = self.checked(answer.status, answer.body, body)
        await reply(send, status, content, answer.content_type)

    async def _body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes ``max_bytes`` (the rest is read and
        dropped, up to ``DRAIN_FACTOR`` times the limit, so that the client, still
        sending, reads the 413 instead of a reset connection)."""
        body = bytearray()
        seen = 0
        while True:
            message = await receive()
            piece = message.get("body", b"")
            seen += len(piece)
            if seen <= self.max_bytes:
                body += piece
            done = not message.get("more_body", False) or message["type"] == "http.disconnect"
            if done or seen > DRAIN_FACTOR * self.max_bytes:
                return bytes(body) if seen <= self.max_bytes else None

    def checked(self, status: int, content: bytes, request: bytes) -> tuple[int, bytes]:
        """The answer as sent: error texts cut, a prediction that is not finite refused."""
        if status >= 400:
            return status, self._cut(content, request)
        if not is_finite_json(content):
            return 400, error(NOT_FINITE)
        return status, content

    def _cut(self, content: bytes, request: bytes) -> bytes:
        try:
            found = json.loads(content)
        except ValueError:
            return content[:ERROR_CHARS]
        if not isinstance(found, dict):
            return content[:ERROR_CHARS]
        cut = {k: v[:ERROR_CHARS] if isinstance(v, str) else v for k, v in found.items()}
        if self.named_columns and _rows_as_lists(request):
            cut["message"] = f"{cut.get('message', '')} ({COLUMNS_HINT})"
        return json.dumps(cut).encode()


def _rows_as_lists(request: bytes) -> bool:
    """Whether a request sent ``{"inputs": [[...], ...]}``: rows without column names."""
    try:
        inputs = json.loads(request).get("inputs")
    except (ValueError, AttributeError):
        return False
    return isinstance(inputs, list)


class _Answer:
    """What the app sent: status, content type and the body, joined."""

    def __init__(self) -> None:
        self.status = 500
        self.content_type = b"application/json"
        self.chunks: list[bytes] = []

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


async def _answer_of(app: ASGIApp, scope: Scope, body: bytes) -> _Answer:
    """Run ``app`` on ``body`` (given at once) and keep its answer instead of sending it."""
    answer = _Answer()
    given = False

    async def receive() -> Message:
        nonlocal given
        if given:
            return {"type": "http.disconnect"}
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def keep(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = int(message["status"])
            answer.content_type = dict(message.get("headers", [])).get(
                b"content-type", answer.content_type
            )
        elif message["type"] == "http.response.body":
            answer.chunks.append(message.get("body", b""))

    await app(scope, receive, keep)
    return answer


class _NotFinite(ValueError):
    pass


def is_finite_json(content: bytes) -> bool:
    """Whether ``content`` holds no NaN or infinity (JSON has neither; Python writes them);
    content that is not JSON is left to its reader."""

    def refuse(constant: str) -> Any:
        raise _NotFinite(constant)

    try:
        json.loads(content, parse_constant=refuse)
    except _NotFinite:
        return False
    except ValueError:
        return True
    return True


def error(message: str) -> bytes:
    """An error answer as MLflow words its own."""
    return json.dumps({"error_code": "BAD_REQUEST", "message": message}).encode()


async def reply(
    send: Send, status: int, content: bytes, content_type: bytes = b"application/json"
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
