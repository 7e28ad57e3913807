"""Each configuration of a table's default portfolio alone, on tables no other benchmark reports.

    python bench/tabular_portfolio.py          # eight tables x five configurations, ~20 min
    python bench/tabular_portfolio.py --smoke  # one table, one configuration

The portfolio's order is measured the way RealMLP tuned its defaults: on
tables kept apart from the ones reported (``bench/tabular.py``'s). Each
configuration of ``tuner.core.portfolio.configurations(True, rows)`` is one
trial (the study's epochs and EarlyStopping) on a table's fitting rows (80 %,
of which 20 % validate), scored on the held-out 20 % as ``tabular.py`` scores
(R² or accuracy). Reports each configuration per table, its mean rank and its
mean gap to the best configuration of each table.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from common import save, table
from tabular import held_out_split, rdataset, scores, searched

from tuner.core.portfolio import configurations

# name: (loader, target, task); none of them is in tabular.py's TABLES
TUNING: dict[str, tuple[Callable[[], pd.DataFrame], str, str]] = {
    "boston medv": (rdataset("MASS", "Boston"), "medv", "regression"),
    "wage": (rdataset("ISLR", "Wage", drop=("rownames", "logwage")), "wage", "regression"),
    "orange juice": (rdataset("ISLR", "OJ"), "Purchase", "binary"),
    "mortgage denial": (rdataset("AER", "HMDA"), "deny", "binary"),
    "computer prices": (rdataset("Ecdat", "Computers"), "price", "regression"),
    "credit status": (rdataset("modeldata", "credit_data"), "Status", "binary"),
    "attrition": (rdataset("modeldata", "attrition"), "Attrition", "binary"),
    "slid wages": (rdataset("carData", "SLID"), "wages", "regression"),
}


def describe(configuration: dict) -> str:
    """A configuration in a few words: its widths, heads, encoding and scaling."""
    widths = "-".join(str(configuration[f"units_{i}"]) for i in range(configuration["n_layers"]))
    return (
        f"{widths} k{configuration.get('ensemble_k', 1)} "
        f"{configuration.get('numeric_embedding', 'none')} "
        f"{configuration.get('feature_scaling', 'standard')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--max-epochs", type=int, default=20, help="the study's max_epochs")
    args = parser.parse_args()
    names = ["boston medv"] if args.smoke else list(TUNING)
    found: dict[str, dict[str, float]] = {}
    labels: list[str] = []
    for name in names:
        task, fit, held_out, target = held_out_split(name, TUNING)
        truth = held_out[target] if task == "regression" else held_out[target].astype(str)
        key = "r2" if task == "regression" else "accuracy"
        starts = configurations(True, rows=int(len(fit) * 0.8))[: 1 if args.smoke else None]
        labels = [f"{i}: {describe(c)}" for i, c in enumerate(starts)]
        found[name] = {}
        for label, configuration in zip(labels, starts, strict=True):
            with tempfile.TemporaryDirectory() as folder:
                predicted, _ = searched(
                    task,
                    fit,
                    held_out,
                    target,
                    {"timeout": None, "trials": 1},
                    Path(folder),
                    {"portfolio": [configuration], "max_epochs": args.max_epochs},
                )
            if task != "regression":
                predicted = np.asarray(predicted).astype(str)
            found[name][label] = scores(task, truth, predicted)[key]
        print(f"{name}: {found[name]}", flush=True)
    frame = pd.DataFrame(found).T[labels]
    ranks = frame.rank(axis=1, ascending=False).mean()
    gaps = frame.sub(frame.max(axis=1), axis=0).mean()
    rows = [[n, *(f"{v:.3f}" for v in frame.loc[n])] for n in frame.index]
    rows += [["mean rank", *(f"{ranks[c]:.2f}" for c in labels)]]
    rows += [["mean gap to the table's best", *(f"{gaps[c]:+.3f}" for c in labels)]]
    print(
        "\nheld-out R² (regression) or accuracy, one trial per configuration, "
        f"max_epochs {args.max_epochs}"
    )
    print(table(["table", *labels], rows))
    name = f"tabular-portfolio-{args.max_epochs}" if not args.smoke else "tabular-portfolio-smoke"
    print("wrote", save(name, {"max_epochs": args.max_epochs, "results": found}))


if __name__ == "__main__":
    main()
