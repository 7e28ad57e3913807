"""Data as it comes: DataFrames and CSV files, shuffled and stratified splits, split checks."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import tuner
from tuner.core.errors import DataError
from tuner.data.split_checks import check_splits
from tuner.data.targets import encode_labels, infer_task


def customers_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Churn as a user has it: strings, a boolean, a pandas categorical, gaps in numbers."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["monthly", "yearly", "two-year"], n)
    age = rng.integers(18, 80, n).astype("float64")
    age[rng.random(n) < 0.15] = np.nan
    frame = pd.DataFrame(
        {
            "age": age,
            "charge": rng.normal(70, 20, n).round(2),
            "plan": plan,
            "paperless": rng.random(n) < 0.5,
            "region": pd.Categorical(rng.choice(["north", "south", "east"], n)),
            "tenure": rng.integers(1, 72, n),
        }
    )
    frame["churn"] = np.where(plan == "monthly", "leaves", "stays")
    return frame


FRAME_STUDY = """
import pandas as pd
import tuner

def data(seed):
    return tuner.Data.from_csv("customers.csv", target="churn", seed=seed)

study = tuner.Study(
    data=data,
    space=tuner.Space(n_layers=1, units=8, learning_rate=0.05, batch_size=32, optimizer="adam"),
    trials=2, max_epochs=15, patience=5, {extra}
)
"""


def frame_study(study_file, workdir, extra: str = "", frame: pd.DataFrame | None = None):
    (customers_frame() if frame is None else frame).to_csv(workdir / "customers.csv", index=False)
    return study_file(body=FRAME_STUDY.format(extra=extra), name="customers")


# Splits -------------------------------------------------------------------------------------


def test_split_keeps_the_tail_by_default_and_shuffles_or_stratifies_from_a_seed():
    x = np.arange(100, dtype="float32").reshape(50, 2)
    y = np.repeat([0, 1], 25)
    tail = tuner.Data.split(x, y, validation=10)
    assert (tail.x_val == x[-10:]).all()
    shuffled = tuner.Data.split(x, y, validation=10, shuffle=True, seed=3)
    again = tuner.Data.split(x, y, validation=10, shuffle=True, seed=3)
    assert (shuffled.x_val == again.x_val).all() and not (shuffled.x_val == x[-10:]).all()
    assert sorted(np.concatenate([shuffled.x_train[:, 0], shuffled.x_val[:, 0]])) == sorted(x[:, 0])
    stratified = tuner.Data.split(x, y, validation=0.2, stratify=True, seed=3)
    assert np.bincount(stratified.y_val).tolist() == [5, 5]


def checked(data: tuner.Data):
    data, names = encode_labels(data)
    return check_splits(data, infer_task(data.y_train), names)


def test_a_tail_split_of_rows_ordered_by_class_is_refused(cli, study_file):
    """The issue's case: sklearn's iris is ordered by class; its last fifth holds one."""
    path = study_file(
        body="""
import tuner
from sklearn.datasets import load_iris

def data():
    x, y = load_iris(return_X_y=True)
    return tuner.Data.split(x.astype("float32"), y, validation=0.2)

study = tuner.Study(data=data, trials=1, max_epochs=2)
"""
    )
    result = cli("run", path, "--no-progress")
    assert result.exit_code == 2
    line = result.output.strip().splitlines()[-1]
    assert "validation split holds a single class 2" in line and "stratify=True" in line
    assert not (path.parent / "mlruns" / "mlflow.db").exists()


@pytest.mark.parametrize(
    ("y_train", "y_val", "message"),
    [
        ([0, 1, 2] * 10, [0, 1] * 5, "validation split lacks class 2 that training has"),
        ([0, 1] * 15, [0, 1, 2] * 3 + [0], "validation split holds class 2 that training lacks"),
        ([0] * 30, [0] * 10, "training split holds a single class 0"),
    ],
)
def test_splits_whose_classes_cannot_score_honestly_are_refused(y_train, y_val, message):
    rng = np.random.default_rng(0)
    data = tuner.Data(
        rng.normal(size=(30, 2)), np.array(y_train), rng.normal(size=(10, 2)), np.array(y_val)
    )
    with pytest.raises(DataError, match=message):
        checked(data)


def test_multilabel_splits_are_checked_per_label_column():
    rng = np.random.default_rng(0)
    y_train = rng.integers(0, 2, (40, 2))
    y_val = np.stack([rng.integers(0, 2, 10), np.zeros(10, int)], axis=1)
    y_val[:2, 0] = [0, 1]
    with pytest.raises(DataError, match=r"validation split \(label column 1\) holds a single"):
        checked(tuner.Data(rng.normal(size=(40, 3)), y_train, rng.normal(size=(10, 3)), y_val))


def test_repeated_rows_and_uneven_class_shares_are_warned_and_tagged(cli, study_file, workdir):
    path = study_file(
        body="""
import numpy as np
import tuner

def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2)).astype("float32")
    y = np.r_[np.zeros(150, int), np.ones(150, int), np.zeros(20, int), np.ones(80, int)]
    x[300:310] = x[:10]  # ten validation rows repeat training rows
    return tuner.Data(x[:300], y[:300], x[300:], y[300:])

study = tuner.Study(data=data, trials=1, max_epochs=2,
                    space=tuner.Space(n_layers=1, units=4, batch_size=32))
"""
    )
    result = cli("run", path, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "warning: 10 of 100 validation rows repeat a training row, target included" in (
        result.output
    )
    assert "warning: class 1 makes 50% of training but 80% of validation" in result.output
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    [parent] = client.search_runs(
        [client.get_experiment_by_name("tiny").experiment_id], "tags.`tuner.role` = 'study'"
    )
    assert parent.data.tags["tuner.warning.leakage"].startswith("10 of 100 validation rows")
    assert "80% of validation" in parent.data.tags["tuner.warning.class_shares"]


# Frames -------------------------------------------------------------------------------------


def test_from_frame_splits_stratified_and_encodes_categories_with_the_training_vocabulary():
    frame = customers_frame()
    data = tuner.Data.from_frame(frame, target="churn", validation=0.2, test=0.2, seed=1)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (144, 48, 48)
    shares = [np.mean(y == "leaves") for y in (data.y_train, data.y_val, data.y_test)]
    assert max(shares) - min(shares) < 0.03
    columns = data.columns
    assert columns.names == ("age", "charge", "plan", "paperless", "region", "tenure")
    assert columns.kinds == ("number", "number", "category", "category", "category", "number")
    assert columns.types == ("any", "any", "string", "boolean", "string", "any")
    assert columns.vocabularies[2] == ("monthly", "two-year", "yearly")
    assert np.isnan(data.x_train[:, 0]).any()  # gaps stay NaN; the model fills them
    again = tuner.Data.from_frame(frame, target="churn", validation=0.2, test=0.2, seed=1)
    assert np.array_equal(data.x_val, again.x_val, equal_nan=True)
    unseen = frame.head(1).assign(plan="weekly")
    assert columns.encode(unseen.drop(columns="churn"))[0, 2] == 0  # the out-of-vocabulary code


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(signup=pd.Timestamp("2024-01-01")), "column 'signup' holds dates"),
        (
            lambda f: f.assign(note=[f"free text {i}" for i in range(len(f))]),
            "column 'note' has 144 distinct values in 144 rows: free text or an identifier",
        ),
        (
            lambda f: f.assign(
                signup=[f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(240)]
            ),
            r"column 'signup' holds dates as text \(such as '2024-",
        ),
        (lambda f: f.assign(empty=np.nan), "column 'empty' is empty in the training split"),
        (
            lambda f: f.rename(columns={"churn": "left"}),
            r"target column 'churn' is not in the frame; its columns are \['age', ",
        ),
        (lambda f: f.head(0), "the frame has no rows"),
        (lambda f: f.assign(churn="stays"), r"the target holds a single class \('stays'\)"),
        (
            lambda f: f.assign(churn=["rare"] + ["stays"] * 239),
            "class 'rare' has 1 rows, too few to stratify into 3 splits",
        ),
        (lambda f: f.assign(churn=f.churn.where(f.index > 3)), "target 'churn' is empty in 4 rows"),
    ],
)
def test_frames_that_cannot_train_are_refused_with_the_reason(change, message):
    with pytest.raises(DataError, match=message):
        tuner.Data.from_frame(change(customers_frame()), target="churn")


def test_a_csv_that_cannot_be_parsed_names_its_line(workdir):
    (workdir / "bad.csv").write_text("a,b,churn\n1,2,x\n3,4,y\n5,6,7,8\n")
    with pytest.raises(DataError, match="cannot be parsed: .*line 4"):
        tuner.Data.from_csv(workdir / "bad.csv", target="churn")


def test_bad_frame_input_exits_2_with_one_line_and_nothing_stored(cli, study_file, workdir):
    path = frame_study(study_file, workdir, frame=customers_frame().drop(columns="churn"))
    result = cli("run", path, "--no-progress")
    assert result.exit_code == 2
    assert (
        result.output.strip()
        .splitlines()[-1]
        .startswith("Error: target column 'churn' is not in the frame")
    )
    assert not (workdir / "mlruns" / "mlflow.db").exists()


def test_multilabel_and_regression_frames():
    frame = customers_frame()
    frame["monthly"] = frame.plan == "monthly"
    frame["north"] = frame.region == "north"
    wide = tuner.Data.from_frame(frame.drop(columns="churn"), target=["monthly", "north"])
    assert wide.y_train.shape[1] == 2 and infer_task(wide.y_train).kind == "multilabel"
    values = tuner.Data.from_frame(
        frame.drop(columns=["churn", "monthly", "north"]), target="charge"
    )
    assert infer_task(values.y_train).kind == "regression"


LOAD_WITHOUT_TUNER = """
import json, sys
import mlflow, numpy as np, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
uri, rows = sys.argv[2], pd.read_csv(sys.argv[3])
model = mlflow.pyfunc.load_model(uri)
specs = model.metadata.signature.inputs.inputs
schema = {s.name: getattr(s.type, "name", str(s.type)) for s in specs}
keras_model = mlflow.keras.load_model(uri)
predicted = model.predict(rows)
holes = rows.copy()  # an empty cell in a whole-number column, whole numbers in a float one
holes["tenure"] = holes["tenure"].astype("float64")
holes.loc[0, "tenure"] = None
holes["charge"] = holes["charge"].fillna(0).round().astype("int64")
refused = {}
for name, bad in {"header": rows.head(0),
                  "cell": rows.astype({"age": object}).assign(age=["34", "abc"] * 10)}.items():
    try:
        model.predict(bad)
    except Exception as exc:
        refused[name] = str(exc).splitlines()[0]
assert "tuner" not in sys.modules
print(json.dumps({"schema": schema, "outputs": predicted.to_numpy().tolist(),
                  "columns": [str(c) for c in predicted.columns],
                  "holes": len(model.predict(holes)), "refused": refused}))
"""


@pytest.mark.slow  # a subprocess
def test_a_frame_study_end_to_end_takes_raw_rows_in_predict_and_pyfunc(cli, study_file, workdir):
    path = frame_study(study_file, workdir)
    result = cli("run", path, "--no-progress")
    assert result.exit_code == 0, result.output
    assert cli("promote", "customers", "--model", "churn").exit_code == 0
    exported = cli("export", "models:/churn@champion", workdir / "exported")
    assert exported.exit_code == 0, exported.output
    difference = float(exported.output.strip().rsplit(": ", 1)[1])  # checked, column by column
    assert "max |difference| from Keras on" in exported.output and difference < 1e-5
    new = pd.DataFrame(
        {
            "age": [25, None, 61],
            "charge": [55.0, 80.5, None],
            "plan": ["monthly", "weekly", None],
            "paperless": [True, False, True],
            "region": ["north", "west", "south"],
            "tenure": [3, 40, 12],
        }
    )
    new.to_csv(workdir / "new.csv", index=False)
    predicted = cli("predict", "models:/churn@champion", workdir / "new.csv")
    assert predicted.exit_code == 0, predicted.output
    lines = predicted.stdout.strip().splitlines()
    assert lines[0] == "row,class,probability" and lines[1].startswith("0,leaves,")
    assert len(lines) == 4 and all(line.split(",")[1] in ("leaves", "stays") for line in lines[1:])
    assert predicted.stderr.splitlines() == [  # counted, not one line per row
        "note: 1 of 3 rows hold a category unseen in training (plan: 1, region: 1); each is "
        "predicted as "
        "an unseen category",
        "note: 1 of 3 rows hold an empty category cell (plan: 1); each is predicted as an "
        "unseen category",
    ]
    new.drop(columns="plan").to_csv(workdir / "short.csv", index=False)
    short = cli("predict", "models:/churn@champion", workdir / "short.csv")
    assert short.exit_code == 2
    assert (
        short.output.strip() == f"Error: {workdir / 'short.csv'}: input lacks columns "
        "['plan']; the model takes ['age', 'charge', 'plan', 'paperless', 'region', 'tenure']"
    )
    new.assign(age=["25", "abc", "61"]).to_csv(workdir / "bad.csv", index=False)
    bad = cli("predict", "models:/churn@champion", workdir / "bad.csv")  # never the median
    assert bad.exit_code == 2 and bad.output.strip() == (
        f"Error: {workdir / 'bad.csv'}: column 'age', row 1: 'abc' is not a number (leave the "
        "cell empty where it is missing)"
    )
    every = cli("predict", "models:/churn@champion", workdir / "new.csv", "--proba")
    assert every.exit_code == 0, every.output
    rows = [line.split(",") for line in every.stdout.strip().splitlines()]
    assert rows[0] == ["row", "leaves", "stays"] and len(rows) == 4
    assert all(abs(float(a) + float(b) - 1) < 1e-5 for _, a, b in rows[1:])
    new.head(0).to_csv(workdir / "header.csv", index=False)
    header = cli("predict", "models:/churn@champion", workdir / "header.csv")
    assert header.exit_code == 2 and header.output.strip() == (
        f"Error: {workdir / 'header.csv'} has a header but no rows to predict"
    )

    uri = f"sqlite:///{workdir}/mlruns/mlflow.db"
    rows = workdir / "rows.csv"
    customers_frame().drop(columns="churn").head(20).to_csv(rows, index=False)
    done = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_TUNER, uri, "models:/churn@champion", str(rows)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["schema"] == {
        "age": "Any",
        "charge": "Any",
        "plan": "string",
        "paperless": "boolean",
        "region": "string",
        "tenure": "Any",
    }
    assert loaded["holes"] == 20  # the loader fills the gap, reads whole numbers as numbers
    assert loaded["refused"]["header"] == "the input has a header but no rows to predict"
    assert loaded["refused"]["cell"].endswith(
        "column 'age', row 1: 'abc' is not a number (leave the cell empty where it is missing)"
    )
    outputs = np.array(loaded["outputs"])
    assert outputs.shape == (20, 1) and np.isfinite(outputs).all()
    assert loaded["columns"] == ["stays"]  # P(stays): the positive class, by name
    stays = customers_frame().head(20).churn == "stays"  # class 1 of the sorted names
    assert ((outputs[:, 0] > 0.5) == stays.to_numpy()).mean() >= 0.9

    finalized = cli("finalize", "customers", "--top", "2", "--no-refit")
    assert finalized.exit_code == 0, finalized.output
    assert cli("promote", "customers", "--model", "churn", "--finalized").exit_code == 0
    predicted = cli("predict", "models:/churn@champion", workdir / "new.csv")
    assert predicted.exit_code == 0 and predicted.output.splitlines()[1].startswith("0,leaves,")


def test_a_frame_too_small_to_split_says_so_in_its_own_words():
    with pytest.raises(
        DataError,
        match=r"^1 row\(s\) cannot be split into training, validation, "
        r"test: each split needs a row at least; add rows$",
    ):
        tuner.Data.from_frame(pd.DataFrame({"a": [1.0], "y": ["yes"]}), target="y")


def test_the_shipped_smoke_study_gives_a_new_user_no_warning():
    from pathlib import Path

    from tuner.core.studyfile import load_study_file
    from tuner.data.prepare import prepare

    study = load_study_file(Path(__file__).parents[2] / "studies" / "synthetic.py")
    assert prepare(study).warnings == ()


def test_an_unseen_category_code_is_encoded_as_the_training_shares_of_the_known_ones():
    from tuner.data.preprocessing import choose

    x_train = np.array([[1, 0.5], [1, 0.1], [2, 0.3], [3, 0.2]], "float32")
    encoder = choose(x_train, False, categorical=[0]).layers()[0]
    encoded = np.asarray(encoder(np.array([[1, 0.0], [3, 0.0], [0, 0.0], [9, 0.0]], "float32")))
    # the number column first, then the category's one-hot: no slot of its own for unseen
    np.testing.assert_allclose(
        encoded[:, 1:], [[1, 0, 0], [0, 0, 1], [0.5, 0.25, 0.25], [0.5, 0.25, 0.25]]
    )


@pytest.mark.slow
def test_an_unseen_category_predicts_among_the_known_ones_for_the_same_row(workdir):
    import mlflow

    rng = np.random.default_rng(0)
    n = 300
    origin = rng.choice(["Europe", "Japan", "USA"], n)
    weight = rng.normal(3000, 500, n)
    mpg = 50 - weight / 150 + np.select([origin == "Japan", origin == "USA"], [4.0, -4.0], 0.0)
    frame = pd.DataFrame({"weight": weight, "origin": origin, "mpg": mpg + rng.normal(0, 1, n)})
    study = tuner.Study(
        data=lambda: tuner.Data.from_frame(frame, target="mpg"),
        task="regression",
        space=tuner.Space(
            n_layers=1, units=16, learning_rate=0.01, batch_size=32, optimizer="adam"
        ),
        trials=1,
        max_epochs=40,
        portfolio=False,
        name="cars",
    )
    result = tuner.run(study, verbose=False, progress=False)
    model = mlflow.pyfunc.load_model(f"runs:/{result.best_run_id}/model")
    rows = pd.DataFrame({"weight": [2800.0] * 4, "origin": ["Europe", "Japan", "USA", "Korea"]})
    known, unseen = np.split(model.predict(rows).to_numpy().ravel(), [3])
    assert known[1] > known[0] > known[2]  # it learned the categories
    assert known.min() <= unseen[0] <= known.max()
    # The Keras model itself, as a notebook holds it, takes the same rows through
    # tuner.frame_inputs.
    keras_model = result.load_best_model()
    direct = keras_model.predict(tuner.frame_inputs(keras_model, rows), verbose=0).ravel()
    np.testing.assert_allclose(direct, np.r_[known, unseen], rtol=1e-5)
    # and Result.predict takes the frame itself, its column named as pyfunc names it
    labelled = result.predict(rows)
    assert list(labelled.columns) == ["value"]
    np.testing.assert_allclose(labelled["value"], np.r_[known, unseen], rtol=1e-5)


def test_from_csv_uses_the_columns_named_and_leaves_out_those_dropped(workdir):
    customers_frame().to_csv(workdir / "customers.csv", index=False)
    chosen = tuner.Data.from_csv("customers.csv", target="churn", columns=["plan", "age"])
    assert chosen.columns.names == ("plan", "age")
    dropped = tuner.Data.from_csv("customers.csv", target="churn", drop=["tenure", "region"])
    assert dropped.columns.names == ("age", "charge", "plan", "paperless")
    with pytest.raises(
        DataError,
        match=r"^drop: no column 'tenur' in the frame; its columns "
        r"are \['age', ",
    ):
        tuner.Data.from_csv("customers.csv", target="churn", drop=["tenur"])


def test_rows_that_repeat_by_chance_in_a_table_of_few_values_are_not_called_leakage():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["f", "m"], 600),
            "class": rng.choice([1, 2, 3], 600),
            "adult": rng.random(600) < 0.8,
        }
    )
    frame["survived"] = (frame["sex"] == "f") | (rng.random(600) < 0.2)
    data = tuner.Data.from_frame(frame, target="survived")  # 12 combinations: repeats abound
    assert [w.kind for w in check_splits(data, infer_task(data.y_train))] == []
    copied = data.x_train.copy()
    copied[:, 0] = rng.normal(size=len(copied))  # a measured number: a repeat is a copy
    leaky = tuner.Data(copied, data.y_train, copied[:50], data.y_train[:50])
    [warning] = check_splits(leaky, infer_task(leaky.y_train))
    assert warning.kind == "leakage" and warning.message.startswith("50 of 50 validation rows")


BAD_COLUMNS = """
import numpy as np, pandas as pd, tuner

def data():
    n = 200
    frame = pd.DataFrame({"when": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)],
                          "note": [f"text {i}" for i in range(n)], "id": np.arange(n),
                          "x": np.linspace(0, 1, n), "y": ["a", "b"] * (n // 2)})
    return tuner.Data.from_frame(frame, target="y")

study = tuner.Study(data=data, trials=1)
"""
CHECK_BEFORE_TENSORFLOW = """
import sys
from click.testing import CliRunner
from tuner.cli.main import main
result = CliRunner().invoke(main, ["run", sys.argv[1], "--no-progress"])
print(result.exit_code, "tensorflow" in sys.modules)
print(result.output.strip())
"""


@pytest.mark.slow  # a subprocess
def test_every_column_problem_is_named_at_once_before_tensorflow_loads(study_file, workdir):
    path = study_file(body=BAD_COLUMNS, name="bad")
    done = subprocess.run(
        [sys.executable, "-c", CHECK_BEFORE_TENSORFLOW, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    status, message = done.stdout.strip().splitlines()[-2:]
    assert status == "2 False", done.stdout + done.stderr
    assert message.startswith("Error: 3 columns cannot be used: column 'id' numbers the rows")
    assert "column 'when' holds dates as text" in message
    assert "column 'note' has 120 distinct values" in message
    assert not (workdir / "mlruns").exists()  # nothing stored
