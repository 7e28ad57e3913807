"""Bad input: one line on stderr naming the problem, exit status 2, nothing stored."""

from __future__ import annotations

import optuna
import pytest

LOADER = """
import numpy as np
import tuner

def load():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(100, 2)).astype("float32")
    y = (x.sum(axis=1) > 1).astype("int64")
    {change}
    return tuner.Data.split(x, y, validation=20)

study = tuner.Study(data=load, max_epochs=1, trials=1)
"""

STUDY_FILE_CASES = {
    "no study": ("x = 1\n", "must define `study = tuner.Study(...)`; found nothing"),
    "not a Study": ("study = 42\n", "must define `study = tuner.Study(...)`; found int"),
    "syntax error": ("import tuner\nstudy = tuner.Study(\n", "line 2: syntax error"),
    "raises": ("raise RuntimeError('boom')\n", "raised RuntimeError: boom"),
    "low > high": (
        "import tuner\nstudy = tuner.Study(data=list, space=tuner.Space("
        "n_layers=tuner.Int(4, 2)))\n",
        "low (4) is greater than high (2)",
    ),
    "log scale at 0": (
        "import tuner\nstudy = tuner.Study(data=list, space=tuner.Space("
        "learning_rate=tuner.Float(0.0, 0.1, log=True)))\n",
        "a log scale needs low > 0",
    ),
    "empty choices": (
        "import tuner\nstudy = tuner.Study(data=list, space=tuner.Space("
        "batch_size=tuner.Choice([])))\n",
        "expected at least one choice",
    ),
    "unknown optimizer": (
        "import tuner\nstudy = tuner.Study(data=list, space=tuner.Space("
        "optimizer=tuner.Choice(['adam', 'adamax'])))\n",
        "unknown optimizer 'adamax'",
    ),
    "negative dropout": (
        "import tuner\nstudy = tuner.Study(data=list, space=tuner.Space(dropout=-0.1))\n",
        "space.dropout: expected values >= 0",
    ),
    "data not callable": (
        "import tuner\nstudy = tuner.Study(data=[1, 2])\n",
        "data: expected a callable",
    ),
    "unknown pruner": (
        "import tuner\nstudy = tuner.Study(data=list, pruner='sometimes')\n",
        "pruner: expected one of",
    ),
    "zero epochs": (
        "import tuner\nstudy = tuner.Study(data=list, max_epochs=0)\n",
        "max_epochs: expected a number > 0",
    ),
    "loader raises": (
        LOADER.format(change="raise OSError('disk gone')"),
        "data loader of study 'bad' raised OSError: disk gone",
    ),
    "mismatched rows": (LOADER.format(change="y = y[:-3]"), "80 feature rows but 77 labels"),
    "NaN features": (
        LOADER.format(change="x[5, 0] = np.nan"),
        "features contain NaN; give a table with gaps as a DataFrame",
    ),
    "labels out of range": (
        LOADER.format(change="y[-1] = 2"),
        "validation split: expected class labels 0..1",
    ),
    "unknown objective": (
        LOADER.format(change="").replace("trials=1", "objective='val_mae'"),
        "objective: expected one of",
    ),
    "loader returns a tuple": (
        LOADER.format(change="return x, y"),
        "must return tuner.Data, received tuple",
    ),
    "categorical not a list": (
        "import tuner\nstudy = tuner.Study(data=list, categorical='2')\n",
        "categorical: expected a list of distinct column numbers",
    ),
    "categorical column missing": (
        LOADER.format(change="").replace("trials=1", "categorical=[5]"),
        "categorical: column 5 does not exist; the data has columns 0..1",
    ),
    "categorical not codes": (
        LOADER.format(change="").replace("trials=1", "categorical=[0]"),
        "categorical column 0 holds non-integer values",
    ),
    "one fold": (
        "import tuner\nstudy = tuner.Study(data=list, cv=1)\n",
        "cv: expected a number of folds >= 2, received 1",
    ),
    "unknown precision": (
        "import tuner\nstudy = tuner.Study(data=list, mixed_precision='fp8')\n",
        "mixed_precision: expected False, True (float16), 'float16' or 'bfloat16', received 'fp8'",
    ),
    "unknown input pipeline": (
        "import tuner\nstudy = tuner.Study(data=list, input_pipeline='disk')\n",
        "input_pipeline: expected one of ('auto', 'dataset', 'arrays'), received 'disk'",
    ),
    "auto rate out of place": (
        "import tuner\nstudy = tuner.Study(data=list, space=tuner.Space(dropout='auto'))\n",
        "space.dropout: expected values >= 0",
    ),
}


def assert_one_line_usage_error(result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert expected in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", STUDY_FILE_CASES, ids=list(STUDY_FILE_CASES))
def test_bad_study_file_exits_2_with_one_line(case, study_file, cli, workdir):
    body, expected = STUDY_FILE_CASES[case]
    result = cli("run", study_file(body=body, name="bad"), "--no-progress")
    assert_one_line_usage_error(result, expected)
    assert not (workdir / "mlruns" / "optuna.db").exists()
    assert not (workdir / "mlruns" / "mlflow.db").exists()


def test_missing_study_file(cli):
    result = cli("run", "studies/nope.py")
    assert_one_line_usage_error(result, "study file studies/nope.py does not exist")


@pytest.mark.parametrize("trials", ["0", "-3"])
def test_non_positive_trials(trials, study_file, cli):
    result = cli("run", study_file(), "--trials", trials)
    assert_one_line_usage_error(result, f"--trials: expected a number > 0, received {trials}")


def test_malformed_storage_url(study_file, cli):
    result = cli("run", study_file(), "--storage", "not a url")
    assert_one_line_usage_error(result, "--storage 'not a url' is not a database URL")


def test_unreachable_storage_fails_fast_and_hides_password(study_file, cli):
    result = cli(
        "run",
        study_file(),
        "--no-progress",
        "--storage",
        "postgresql://user:secret@127.0.0.1:9/none",
    )
    assert_one_line_usage_error(result, "cannot open the Optuna storage postgresql://user:***@")
    assert "secret" not in result.output


def test_existing_study_with_other_direction_is_refused_and_kept(
    searched_tiny, study_file, cli, workdir
):
    flipped = study_file(extra="objective='val_loss',")

    result = cli("run", flipped, "--trials", "1", "--no-progress")

    assert_one_line_usage_error(result, "already exists with direction 'maximize'")
    assert "run it under another --study-name" in result.stderr
    storage = f"sqlite:///{workdir}/mlruns/optuna.db"
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == 3


def test_store_folder_that_cannot_be_created(study_file, cli, workdir):
    (workdir / "mlruns").write_text("a file where the store folder should be")
    result = cli("run", study_file(), "--no-progress")
    assert_one_line_usage_error(result, "cannot create the store folder mlruns/")
    assert (workdir / "mlruns").read_text().startswith("a file")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "x.py", "--trials", "abc"], "Invalid value for '--trials': 'abc' is not a valid"),
        (["run", "x.py", "--workers", "0"], "Invalid value for '--workers'"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["run", "x.py", "--mixed-precision", "fp8"], "Invalid value for '--mixed-precision'"),
        (["run", "x.py", "--input-pipeline", "disk"], "Invalid value for '--input-pipeline'"),
    ],
)
def test_click_usage_errors_are_one_line_too(args, expected, cli):
    assert_one_line_usage_error(cli(*args), expected)


@pytest.mark.parametrize(
    ("library", "command_line"),
    [
        (
            "trials: expected a number > 0, received 0",
            "--trials: expected a number > 0, received 0",
        ),
        (
            "workers: several workers need engine='optuna' (...)",
            "--workers: several workers need --engine optuna (...)",
        ),
        ("fix the study or raise max_failures", "fix the study or raise --max-failures"),
        ("storage 'x' is not a database URL", "--storage 'x' is not a database URL"),
        (
            "run `tuner run` here first, or pass tracking_uri=...",
            "run `tuner run` here first, or pass --tracking-uri",
        ),
        ("run it under another name=...", "run it under another --study-name"),
        # a study setting's own message is about the study file: left as it is
        (
            "study file s.py: mixed_precision: expected False",
            "study file s.py: mixed_precision: expected False",
        ),
        ("seed: expected an integer, received 'x'", "seed: expected an integer, received 'x'"),
    ],
)
def test_the_library_names_keywords_and_the_command_line_its_flags(library, command_line):
    from tuner.cli.main import run
    from tuner.cli.options import with_flags

    assert with_flags(library, run) == command_line


@pytest.mark.parametrize(
    "command", [["ls"], ["show", "tiny"], ["promote", "tiny", "--model", "m"], ["finalize", "tiny"]]
)
def test_a_damaged_store_is_named_in_one_line_by_every_reading_command(cli, workdir, command):
    (workdir / "mlruns").mkdir()
    (workdir / "mlruns" / "mlflow.db").write_bytes(bytes(range(256)) * 20)
    result = cli(*command)
    assert_one_line_usage_error(result, "cannot read the SQLite store")
    assert "mlruns/mlflow.db: file is not a database; restore it from a backup" in result.stderr
