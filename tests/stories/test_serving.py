"""Around the search: dashboard, model server, UI, export, dataset lineage, the Python API."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

import tuner
from tests.conftest import TINY_STUDY
from tuner.cli.main import main
from tuner.core.errors import StudyConfigError
from tuner.datasets import synthetic
from tuner.serving.export import ExportError, export


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict[str, str]:
    """A tiny study of 2 trials with its best model registered as tiny-mlp@champion."""
    folder = tmp_path_factory.mktemp("served")
    (folder / "tiny.py").write_text(TINY_STUDY.format(extra=""))
    stores = {
        "tracking_uri": f"sqlite:///{folder}/mlflow.db",
        "storage": f"sqlite:///{folder}/optuna.db",
        "folder": str(folder),
    }
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "run",
            str(folder / "tiny.py"),
            "--trials",
            "2",
            "--no-progress",
            "--tracking-uri",
            stores["tracking_uri"],
            "--storage",
            stores["storage"],
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        main, ["promote", "tiny", "--model", "tiny-mlp", "--tracking-uri", stores["tracking_uri"]]
    )
    assert result.exit_code == 0, result.output
    return stores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tuner_script() -> str:
    """The installed ``tuner`` command, called by its full path."""
    beside = Path(sys.executable).with_name("tuner")
    return str(beside) if beside.is_file() else shutil.which("tuner")


def start_without_path(*args: str) -> subprocess.Popen:
    """``tuner ARGS`` with a PATH that lacks the environment's bin (as pipx installs it)."""
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    return subprocess.Popen(
        [tuner_script(), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def request(url: str, payload: object | None = None, timeout: float = 60) -> tuple[int, bytes]:
    """The status and body of a GET (or a JSON POST of ``payload``); a generous ``timeout``:
    a server's first answer on a loaded machine can take many seconds."""
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"} if data else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data, headers), timeout=timeout
        ) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def wait_for(process: subprocess.Popen, url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            request(url, timeout=2)
            return
        except OSError:
            assert process.poll() is None, process.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, f"{url} did not answer in {seconds} s"
            time.sleep(0.5)


def stop(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    return output.decode()


@pytest.mark.slow
def test_dashboard_serve_and_ui_start_with_only_tuner_reachable(served):
    ports = {name: free_port() for name in ("dashboard", "serve", "ui")}
    dashboard = start_without_path(
        "dashboard", "tiny", "--storage", served["storage"], "--port", str(ports["dashboard"])
    )
    server = start_without_path(
        "serve",
        "models:/tiny-mlp@champion",
        "--port",
        str(ports["serve"]),
        "--tracking-uri",
        served["tracking_uri"],
    )
    ui = start_without_path(
        "ui", "--port", str(ports["ui"]), "--tracking-uri", served["tracking_uri"]
    )
    printed = {}
    try:
        base = f"http://127.0.0.1:{ports['dashboard']}"
        wait_for(dashboard, f"{base}/api/studies")
        status, body = request(f"{base}/api/studies")
        [summary] = json.loads(body)["study_summaries"]
        assert status == 200 and summary["study_name"] == "tiny"
        study_url = f"{base}/api/studies/{summary['study_id']}?after=0"
        detail = json.loads(request(study_url)[1])
        assert len(detail["trials"]) == 2 and detail["objective_names"] == ["val_accuracy"]
        # live: a trial that another process records shows on the next request
        more = CliRunner().invoke(
            main,
            [
                "run",
                str(Path(served["folder"]) / "tiny.py"),
                "--trials",
                "1",
                "--no-progress",
                "--tracking-uri",
                served["tracking_uri"],
                "--storage",
                served["storage"],
            ],
        )
        assert more.exit_code == 0, more.output
        deadline = time.monotonic() + 10  # the dashboard caches trials for 2 s
        while len(json.loads(request(study_url)[1])["trials"]) < 3:
            assert time.monotonic() < deadline, "the dashboard did not show the new trial"
            time.sleep(0.5)

        scoring = f"http://127.0.0.1:{ports['serve']}"
        wait_for(server, f"{scoring}/ping")
        rows = synthetic(n=300).x_val[:4]
        status, body = request(f"{scoring}/invocations", {"inputs": rows.tolist()})
        assert status == 200, body
        served_outputs = np.array(json.loads(body)["predictions"], dtype="float32")
        mlflow.set_tracking_uri(served["tracking_uri"])
        expected = mlflow.keras.load_model("models:/tiny-mlp@champion").predict(rows, verbose=0)
        assert np.allclose(served_outputs.reshape(expected.shape), expected, atol=1e-5)
        status, body = request(f"{scoring}/invocations", {"wrong": [1, 2]})
        assert 400 <= status < 500 and b"error_code" in body
        assert server.poll() is None  # a bad payload is answered, not a crash
        assert_the_server_holds_against_hostile_bodies(scoring, rows)

        wait_for(ui, f"http://127.0.0.1:{ports['ui']}/health")
        status, body = request(
            f"http://127.0.0.1:{ports['ui']}/ajax-api/2.0/mlflow/experiments/"
            "get-by-name?experiment_name=tiny"
        )
        assert status == 200 and json.loads(body)["experiment"]["name"] == "tiny"
        printed["ui"] = assert_stopping_tuner_alone_ends_its_server(ui, signal.SIGTERM)
    finally:
        printed.update(
            {
                name: stop(p)
                for name, p in (("dashboard", dashboard), ("serve", server), ("ui", ui))
                if p.poll() is None
            }
        )
    assert (
        f"optuna-dashboard: http://127.0.0.1:{ports['dashboard']}/dashboard/studies/"
        in printed["dashboard"]
    )
    assert "is not on PATH" not in "".join(printed.values())
    assert "step" not in printed["serve"] and "━" not in printed["serve"]  # no progress bars


def assert_the_server_holds_against_hostile_bodies(scoring: str, rows: np.ndarray) -> None:
    """A body past the limit is refused 413 unread, a long bad one gets a short answer, NaN
    input gets 400 and valid JSON (not ``NaN``), and a small request still answers."""
    width = rows.shape[1]
    huge = {"inputs": [[0.5] * width] * (6 * 1024 * 1024 // (5 * width))}  # over 5 MB
    status, body = request(f"{scoring}/invocations", huge)
    assert status == 413 and b"over 5242880 bytes" in body
    status, body = request(f"{scoring}/invocations", {"wrong": "x" * 100_000})
    assert 400 <= status < 500 and len(body) < 2_000
    json.loads(body)
    nan_row = [[float("nan")] + [0.0] * (width - 1)]
    status, body = request(f"{scoring}/invocations", {"inputs": nan_row})
    assert status == 400 and b"NaN or infinite values" in body
    json.loads(body, parse_constant=lambda c: pytest.fail(f"{c} in the answer"))
    status, body = request(f"{scoring}/invocations", {"inputs": rows.tolist()})
    assert status == 200


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, read from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # the command may hold spaces and parentheses: the state follows the last ")"
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (not zombies)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def assert_stopping_tuner_alone_ends_its_server(ui: subprocess.Popen, how: signal.Signals) -> str:
    """``how`` sent to the ``tuner ui`` process alone (not its group) ends MLflow's server
    and its workers too; what the process printed."""
    server = descendants(ui.pid)
    assert server  # MLflow's server and its workers
    os.kill(ui.pid, how)
    ui.wait(timeout=60)
    deadline = time.monotonic() + 60
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(server), f"left running after {how.name}: {alive(server)}"
    output, _ = ui.communicate(timeout=30)  # its pipe ends with the last of the server
    return output.decode()


@pytest.mark.slow
def test_a_killed_tuner_ui_leaves_no_process_of_its_server(served):
    """SIGKILL (which tuner cannot handle); SIGTERM is checked where the UI is first used."""
    port = free_port()
    ui = start_without_path("ui", "--port", str(port), "--tracking-uri", served["tracking_uri"])
    try:
        wait_for(ui, f"http://127.0.0.1:{port}/health")
        assert_stopping_tuner_alone_ends_its_server(ui, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(ui.pid, signal.SIGKILL)


def test_dashboard_and_serve_refuse_what_they_cannot_find(served, cli):
    result = cli("dashboard", "nosuch", "--storage", served["storage"])
    assert result.exit_code == 2
    assert (
        result.output.strip() == "Error: no study 'nosuch' in the Optuna storage; it holds ['tiny']"
    )
    result = cli("serve", "models:/nosuch@champion", "--tracking-uri", served["tracking_uri"])
    assert result.exit_code == 2 and result.output.startswith("Error: cannot serve models:/nosuch")
    result = cli("dashboard")
    assert result.exit_code == 2 and "no Optuna storage at mlruns/optuna.db" in result.output


@pytest.mark.parametrize("fmt", ["saved_model", "onnx", "tflite"])
def test_export_predicts_what_the_keras_model_predicts(served, cli, workdir, fmt):
    out = workdir / f"tiny.{fmt}"
    result = cli(
        "export",
        "models:/tiny-mlp@champion",
        out,
        "--format",
        fmt,
        "--tracking-uri",
        served["tracking_uri"],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"exported {fmt} to {out}; max |difference| from Keras")
    rows = synthetic(n=300).x_val[:32]
    mlflow.set_tracking_uri(served["tracking_uri"])
    expected = mlflow.keras.load_model("models:/tiny-mlp@champion").predict(rows, verbose=0)
    if fmt == "saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(out))
        outputs = loaded.serve(rows).numpy()
    elif fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        outputs = session.run(None, {session.get_inputs()[0].name: rows})[0]
    else:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(out))
        [given], [output] = interpreter.get_input_details(), interpreter.get_output_details()
        interpreter.resize_tensor_input(given["index"], rows.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(given["index"], rows)
        interpreter.invoke()
        outputs = interpreter.get_tensor(output["index"])
    assert np.abs(outputs - expected).max() < 1e-5


def test_export_refuses_lookups_outside_tensorflow_and_existing_paths(workdir):
    inputs = keras.Input((1,), dtype="string")
    codes = keras.ops.cast(keras.layers.StringLookup(vocabulary=["a", "b"])(inputs), "float32")
    model = keras.Model(inputs, keras.layers.Dense(1)(codes))
    with pytest.raises(ExportError, match="onnx: this model looks up categories"):
        export(model, workdir / "m.onnx", "onnx")
    (workdir / "taken").mkdir()
    with pytest.raises(ExportError, match="taken exists"):
        export(model, workdir / "taken", "saved_model")


def test_every_run_records_its_datasets_and_other_data_gets_another_digest(served, workdir):
    client = MlflowClient(served["tracking_uri"])
    experiment = client.get_experiment_by_name("tiny").experiment_id
    runs = client.search_runs([experiment])
    assert {r.data.tags["tuner.role"] for r in runs} >= {"study", "trial"}
    for run in runs:
        found = {
            d.tags[0].value: (d.dataset.name, d.dataset.digest) for d in run.inputs.dataset_inputs
        }
        assert set(found) == {"training", "validation", "test"}, run.info.run_name
        assert found["training"][0] == "tiny_train"
    digests = {
        d.dataset.digest
        for r in runs
        for d in r.inputs.dataset_inputs
        if d.tags[0].value == "training"
    }
    assert len(digests) == 1
    other = tuner.run(
        tuner.Study(
            data=lambda: synthetic(n=330),
            name="other",
            trials=1,
            max_epochs=1,
            space=tuner.Space(n_layers=1, units=4),
        ),
        progress=False,
    )
    [run] = [
        r
        for r in MlflowClient(other.tracking_uri).search_runs(
            [MlflowClient(other.tracking_uri).get_experiment_by_name("other").experiment_id]
        )
        if r.data.tags["tuner.role"] == "trial"
    ]
    [training] = [d for d in run.inputs.dataset_inputs if d.tags[0].value == "training"]
    assert training.dataset.digest not in digests


def test_python_api_runs_a_study_file_or_a_study_and_loads_the_best_model(
    study_file, capsys, tmp_path
):
    result = tuner.run(study_file(), trials=2, progress=False)
    assert result.study_name == "tiny" and sum(result.states.values()) == 2
    printed = capsys.readouterr().out  # what `tuner run` prints, from the library
    assert printed.strip() == result.summary()
    assert printed.startswith("study tiny: 2 trials (") and "best trial: #" in printed
    assert repr(result).startswith("<Result tiny: 2 trials (") and "\n" not in repr(result)
    run = MlflowClient(result.tracking_uri).get_run(result.best_run_id)
    assert float(run.data.metrics["trial_value"]) == pytest.approx(result.best_value)
    assert result.best_params["batch_size"] == 32
    rows = synthetic(n=300).x_val[:3]
    assert result.load_best_model().predict(rows, verbose=0).shape == (3, 1)
    labelled = result.predict(rows)  # binary: the positive class's probability, named
    assert labelled.shape == (3, 1) and list(labelled.columns) == ["1"]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/elsewhere.db")  # another store since
    assert result.predict(rows).shape == (3, 1)  # the result still finds its own
    mlflow.set_tracking_uri(result.tracking_uri)
    again = tuner.run(study_file(), trials=1, progress=False, max_epochs=2, verbose=False)
    assert sum(again.states.values()) == 3  # the same study, continued
    assert capsys.readouterr().out == ""
    notebook = tuner.run(
        tuner.Study(data=lambda: synthetic(n=300), name="notebook", trials=1, max_epochs=2),
        progress=False,
    )
    assert notebook.study_name == "notebook" and notebook.states == {"COMPLETE": 1}
    with pytest.raises(StudyConfigError, match="'epochs' is neither an option of run"):
        tuner.run(study_file(), epochs=3)
    with pytest.raises(
        StudyConfigError,
        match="^space: a study file's setting can be overridden with a plain value",
    ):
        tuner.run(study_file(), space=tuner.Space())
    with pytest.raises(StudyConfigError, match="^name: a tuner.Study run from Python needs"):
        tuner.run(tuner.Study(data=lambda: synthetic(n=300)))
    with pytest.raises(StudyConfigError, match=r"^trials: expected a number > 0, received 0$"):
        tuner.run(study_file(), trials=0)  # the keyword, not the command line's flag
    with pytest.raises(StudyConfigError, match="several workers need engine='optuna'"):
        tuner.run(study_file(), workers=2, engine="keras-tuner")
    with pytest.raises(StudyConfigError, match="workers: several workers load the study"):
        tuner.run(tuner.Study(data=lambda: synthetic(n=300)), workers=2)
