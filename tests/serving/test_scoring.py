"""serving/scoring.py: MLflow's real scoring app behind tuner's guard, driven as ASGI."""

from __future__ import annotations

import asyncio
import json

import keras
import mlflow
import numpy as np
import pytest
from mlflow.pyfunc import scoring_server

from tuner.serving.scoring import COLUMNS_HINT, Guard, is_finite_json, load_served_model


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    folder = tmp_path_factory.mktemp("served") / "model"
    mlflow.keras.save_model(model, str(folder))
    return folder, model


def post(app, body: bytes, *, declare_length: bool = True, chunk: int = 0):
    """POST ``body`` to /invocations of the ASGI ``app``; its status and body. ``chunk``:
    send the body in pieces of that size, as a client without Content-Length does."""
    headers = [(b"content-type", b"application/json")]
    if declare_length:
        headers.append((b"content-length", str(len(body)).encode()))
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/invocations",
        "headers": headers,
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("t", 1),
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    sent: list[dict] = []

    async def receive():
        if pieces:
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def guarded(folder, max_bytes: int = 10_000, named_columns: bool = False) -> Guard:
    model, _ = load_served_model(str(folder))
    return Guard(scoring_server.init(model), max_bytes, named_columns)


def test_the_guarded_app_predicts_what_keras_predicts_through_one_call(model_folder):
    folder, model = model_folder
    rows = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    status, body = post(guarded(folder), json.dumps({"inputs": rows.tolist()}).encode())
    assert status == 200
    predicted = np.array(json.loads(body)["predictions"], dtype="float32")
    np.testing.assert_allclose(predicted, model.predict(rows, verbose=0), atol=1e-6)


def test_a_body_past_the_limit_is_refused_413_declared_or_streamed(model_folder):
    folder, _ = model_folder
    body = json.dumps({"inputs": [[0.5, 0.5, 0.5]] * 2_000}).encode()  # about 38 kB
    assert post(guarded(folder), body)[0] == 413
    status, answer = post(guarded(folder), body, declare_length=False, chunk=1_000)
    assert status == 413 and b"over 10000 bytes" in answer


def test_nan_input_is_refused_400_with_valid_json_and_error_texts_are_cut(model_folder):
    folder, _ = model_folder
    status, body = post(guarded(folder), b'{"inputs": [[NaN, 1.0, 2.0]]}')
    assert status == 400 and is_finite_json(body) and b"NaN or infinite values" in body
    status, body = post(guarded(folder, 1_000_000), json.dumps({"x": "y" * 50_000}).encode())
    assert 400 <= status < 500 and len(body) < 2_000
    assert is_finite_json(b'{"predictions": [[0.5]]}')
    assert not is_finite_json(b'{"predictions": [[NaN]]}')


def test_rows_as_lists_to_a_model_of_named_columns_get_the_hint(model_folder):
    folder, _ = model_folder
    guard = guarded(folder, named_columns=True)
    refused = json.dumps({"error_code": "BAD_REQUEST", "message": "no column 'island'"}).encode()
    status, body = guard.checked(400, refused, b'{"inputs": [[1, 2, 3]]}')
    assert status == 400 and COLUMNS_HINT in json.loads(body)["message"]
    _, body = guard.checked(400, refused, b'{"inputs": {"island": ["Dream"]}}')
    assert COLUMNS_HINT not in json.loads(body)["message"]


def test_nan_input_to_an_array_model_is_refused_even_where_its_answer_would_be_finite(tmp_path):
    """ReLU turns NaN into 0 in TensorFlow: the answer alone would not tell."""
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
    )
    mlflow.keras.save_model(model, str(tmp_path / "relu"))
    status, body = post(guarded(tmp_path / "relu"), b'{"inputs": [[NaN, 0.0]]}')
    assert status == 400 and b"NaN or infinite values" in body
