"""After the search: figures and plots in MLflow, ls, show, promote, predict."""

from __future__ import annotations

import re
from pathlib import Path

import click
import mlflow
import numpy as np
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from tests.conftest import TINY_STUDY
from tuner.cli.main import main
from tuner.datasets import synthetic

# Judged at epoch 0 only (interval 1000): the weak second baseline is pruned,
# the strong third one is not.
PRUNING = """baselines=[
        {"n_layers": 1, "units_0": 16, "learning_rate": 0.04, "optimizer": "adam"},
        {"n_layers": 1, "units_0": 4, "learning_rate": 0.01, "optimizer": "nadam"},
        {"n_layers": 2, "units_0": 16, "units_1": 16, "learning_rate": 0.1, "optimizer": "adam"},
    ],
    pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0,
                                       interval_steps=1000),
    objective="val_loss",
    class_names=["below", "above"],
    portfolio=False,"""


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> str:
    """One study of 3 trials (COMPLETE, PRUNED, COMPLETE), shared by this module."""
    folder = tmp_path_factory.mktemp("searched")
    path = folder / "tiny.py"
    path.write_text("import optuna\n" + TINY_STUDY.format(extra=PRUNING))
    uri = f"sqlite:///{folder}/mlflow.db"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(path),
            "--trials",
            "3",
            "--no-progress",
            "--tracking-uri",
            uri,
            "--storage",
            f"sqlite:///{folder}/optuna.db",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 pruned" in result.stdout
    return uri


def runs_by_trial(uri: str) -> dict[int, mlflow.entities.Run]:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    return {int(r.data.tags["tuner.trial"]): r for r in runs}


def artifact_names(client: MlflowClient, run_id: str) -> set[str]:
    return {a.path for a in client.list_artifacts(run_id)}


def test_trial_runs_carry_figures_and_report(searched):
    client = MlflowClient(searched)
    runs = runs_by_trial(searched)
    for number, run in runs.items():
        names = artifact_names(client, run.info.run_id)
        if run.data.tags["tuner.state"] == "COMPLETE":
            assert {
                "learning_curves.png",
                "confusion_matrix.png",
                "classification_report.json",
            } <= names, number
            report = mlflow.artifacts.load_dict(
                f"{run.info.artifact_uri}/classification_report.json"
            )
            assert {"below", "above", "accuracy"} <= report.keys()
            assert report["accuracy"] == pytest.approx(run.data.metrics["test_accuracy"], abs=1e-6)
        else:
            assert names == set(), number
    best = [r for r in runs.values() if r.data.tags.get("tuner.best") == "true"]
    assert len(best) == 1


def test_parent_run_carries_optuna_plots_and_best_params(searched):
    client = MlflowClient(searched)
    experiment = client.get_experiment_by_name("tiny")
    [parent] = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'study'")
    assert {"optuna_plots.html", "best_params.json"} <= artifact_names(client, parent.info.run_id)
    page = mlflow.artifacts.load_text(f"{parent.info.artifact_uri}/optuna_plots.html")
    for title in (
        "Optimization history",
        "Parameter importances",
        "Parallel coordinates",
        "Slice plot",
    ):
        assert f"<h2>{title}</h2>" in page
    assert page.count("plotly.js v") >= 1 and "Plotly.newPlot" in page
    best = mlflow.artifacts.load_dict(f"{parent.info.artifact_uri}/best_params.json")
    best_run = client.get_run(parent.data.tags["tuner.best_run_id"])
    assert best_run.data.tags["tuner.best"] == "true"
    assert best["n_layers"] == int(best_run.data.params["n_layers"])


def test_regression_trial_has_predicted_vs_true_plot(study_file, cli, workdir):
    body = """
    import tuner
    from tuner.datasets import diabetes
    study = tuner.Study(data=diabetes, space=tuner.Space(n_layers=1, units=8,
                        learning_rate=0.05, batch_size=64, optimizer="adam"), max_epochs=3)
    """
    result = cli("run", study_file(body=body), "--trials", "1", "--no-progress")
    assert result.exit_code == 0, result.output
    uri = f"sqlite:///{workdir}/mlruns/mlflow.db"
    [run] = runs_by_trial(uri).values()
    names = artifact_names(MlflowClient(uri), run.info.run_id)
    assert {"learning_curves.png", "predicted_vs_true.png"} <= names
    assert "confusion_matrix.png" not in names


def test_ls_and_show_list_the_study(searched, cli):
    states = [r.data.tags["tuner.state"] for r in runs_by_trial(searched).values()]
    complete, pruned = states.count("COMPLETE"), states.count("PRUNED")
    listing = cli("ls", "--tracking-uri", searched)
    assert listing.exit_code == 0, listing.output
    assert re.search(
        rf"^tiny\s+{complete}\s+{pruned}\s+0\s+0\s+val_loss \d\.\d{{4}}", listing.stdout, re.M
    ), listing.stdout

    shown = cli("show", "tiny", "--top", "2", "--tracking-uri", searched)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert f"(minimize val_loss); {complete} complete, {pruned} pruned" in lines[0]
    assert lines[1].split()[:4] == ["trial", "value", "state", "epochs"]
    values = [float(line.split()[1]) for line in lines[2:] if not line.startswith("* ")]
    assert len(values) == min(2, complete) and values == sorted(values)
    best = [r for r in runs_by_trial(searched).values() if r.data.tags.get("tuner.best")][0]
    assert best.info.run_id in lines[2]


def test_promote_registers_best_once_and_alias_loads_it(searched, cli, workdir):
    first = cli("promote", "tiny", "--model", "tiny-mlp", "--tracking-uri", searched)
    again = cli("promote", "tiny", "--model", "tiny-mlp", "--tracking-uri", searched)

    assert first.exit_code == 0, first.output
    assert "registered tiny-mlp version 1" in first.stdout
    assert "already registered as tiny-mlp version 1" in again.stdout
    client = MlflowClient(searched)
    assert len(client.search_model_versions("name = 'tiny-mlp'")) == 1
    version = client.get_model_version_by_alias("tiny-mlp", "champion")
    best = [r for r in runs_by_trial(searched).values() if r.data.tags.get("tuner.best")][0]
    assert version.tags["tuner.run_id"] == best.info.run_id
    assert version.tags["tuner.study"] == "tiny" and "tuner.test_accuracy" in version.tags
    assert version.description.startswith(f"Trial {version.tags['tuner.trial']} of study tiny")

    mlflow.set_tracking_uri(searched)
    [logged] = mlflow.search_logged_models(
        filter_string=f"source_run_id = '{best.info.run_id}'",
        output_format="list",
        experiment_ids=[best.info.experiment_id],
    )
    x = synthetic(n=300).x_test
    champion = mlflow.keras.load_model("models:/tiny-mlp@champion").predict(x, verbose=0)
    np.testing.assert_allclose(
        champion, mlflow.keras.load_model(logged.model_uri).predict(x, verbose=0)
    )

    np.save(workdir / "rows.npy", x[:5])
    predicted = cli(
        "predict", "models:/tiny-mlp@champion", workdir / "rows.npy", "--tracking-uri", searched
    )
    assert predicted.exit_code == 0, predicted.output
    lines = predicted.stdout.splitlines()
    assert lines[0] == "row,class,probability" and len(lines) == 6
    expected = np.where(champion[:5, 0] > 0.5, "above", "below")
    assert [line.split(",")[1] for line in lines[1:]] == list(expected)
    assert all(0.5 <= float(line.split(",")[2]) <= 1 for line in lines[1:])

    np.savetxt(workdir / "rows.csv", x[:3], delimiter=",")
    written = cli(
        "predict",
        "models:/tiny-mlp@champion",
        workdir / "rows.csv",
        "--output",
        workdir / "out.csv",
        "--tracking-uri",
        searched,
    )
    assert written.exit_code == 0, written.output
    assert len((workdir / "out.csv").read_text().splitlines()) == 4

    wrong = np.zeros((2, 3), "float32")
    np.save(workdir / "wrong.npy", wrong)
    refused = cli(
        "predict", "models:/tiny-mlp@champion", workdir / "wrong.npy", "--tracking-uri", searched
    )
    assert refused.exit_code == 2
    assert "input rows have shape (3,), the model expects (2,)" in refused.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["promote", "tiny", "--model", "m", "--trial", "1"],
            "trial 1 of study 'tiny' is PRUNED; only COMPLETE trials",
        ),
        (["promote", "nope", "--model", "m"], "no study named 'nope'"),
        (["promote", "tiny", "--model", "m", "--trial", "99"], "study 'tiny' has no trial 99"),
        (["show", "nope"], "no study named 'nope'"),
        (["predict", "models:/never-registered@champion", "x.npy"], "cannot load model"),
        (["predict", "models:/tiny-mlp/1", "missing.npy"], "input file missing.npy does not exist"),
    ],
)
def test_refusals_exit_2_with_one_line(searched, cli, args, message, workdir):
    np.save(workdir / "x.npy", np.zeros((2, 2), "float32"))  # an input that exists
    result = cli(*args, "--tracking-uri", searched)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_commands_without_a_store_say_how_to_make_one(cli):
    result = cli("ls")
    assert result.exit_code == 2
    assert "no tracking store at mlruns/mlflow.db; run `tuner run` here first" in result.stderr


def test_every_command_has_help_and_a_readme_section(cli):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name in main.commands:
        result = cli(name, "--help")
        assert result.exit_code == 0 and "Example:" in result.stdout, name
        assert f"tuner {name}" in readme, name


def test_the_readme_synopsis_of_tuner_run_lists_every_option():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    synopsis = readme[readme.index("tuner run STUDY_FILE") : readme.index("tuner ls")]
    options = [
        [*param.opts, *param.secondary_opts]
        for param in main.commands["run"].params
        if isinstance(param, click.Option)
    ]
    missing = [names for names in options if not any(re.search(rf"{n}\b", synopsis) for n in names)]
    assert options and missing == []
