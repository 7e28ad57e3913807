"""Strong starting configurations, tried before the sampler takes over.

A study's first trials are the portfolio's configurations, as AutoGluon's
zero-shot portfolios and auto-sklearn's meta-learned starts do: networks
that train well on most data, so that a search begins from a good model and
the sampler refines from there. ``Study(portfolio=...)`` keeps the default
(``True``), turns it off (``False``) or gives its own list of params dicts.

Each configuration is fitted into the study's space (``fit_to_space``): a
value inside a searched range or among its choices is kept (a number
outside a range is moved to its nearest bound), the rest is left to the
sampler. So a study that narrows or fixes a dimension still gets the rest
of each configuration. bench/time_to_accuracy.py measures the list on
Fashion-MNIST, bench/defaults.py each configuration on the small bundled
studies; docs/search-strategy.md has the figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tuner.core.space import Choice, Float, Int, Space

# In the order they are tried: the wide regularized network that decides image data
# first, the small plain one that suits small tables last.
PORTFOLIO: tuple[dict[str, Any], ...] = (
    # Two wide layers, BatchNorm, dropout, AdamW, cosine, label smoothing.
    {
        "n_layers": 2,
        "units_0": 1024,
        "units_1": 1024,
        "normalization": "batch",
        "dropout": 0.4,
        "optimizer": "adamw",
        "learning_rate": 1e-3,
        "weight_decay": 1e-4,
        "lr_schedule": "cosine",
        "label_smoothing": 0.1,
        "batch_size": 256,
    },
    # Three narrower layers, lighter dropout, a higher rate, smaller batches.
    {
        "n_layers": 3,
        "units_0": 512,
        "units_1": 512,
        "units_2": 512,
        "normalization": "batch",
        "dropout": 0.2,
        "optimizer": "adamw",
        "learning_rate": 2e-3,
        "weight_decay": 1e-4,
        "lr_schedule": "cosine",
        "label_smoothing": 0.1,
        "batch_size": 128,
    },
    # A small, plain network for small tables: Adam, no normalization.
    {
        "n_layers": 2,
        "units_0": 128,
        "units_1": 64,
        "normalization": "none",
        "dropout": 0.1,
        "optimizer": "adam",
        "learning_rate": 3e-3,
        "weight_decay": 0.0,
        "lr_schedule": "cosine",
        "label_smoothing": 0.0,
        "batch_size": 32,
    },
)


# The recipe of RealMLP and TabM for tables: robust scaling, piecewise-linear encoding,
# AdamW, cosine.
RECIPE: dict[str, Any] = {
    "n_layers": 3,
    "units_0": 256,
    "units_1": 256,
    "units_2": 256,
    "normalization": "none",
    "optimizer": "adamw",
    "learning_rate": 2e-3,
    "weight_decay": 1e-4,
    "lr_schedule": "cosine",
    "feature_scaling": "robust",
    "numeric_embedding": "piecewise",
}
# For tables, first: the recipe with TabM's shared-weight heads, then with one head
# (a little more dropout, smoothed labels).
TABULAR: tuple[dict[str, Any], ...] = (
    {**RECIPE, "dropout": 0.1, "label_smoothing": 0.0, "ensemble_k": 8},
    {**RECIPE, "dropout": 0.15, "label_smoothing": 0.1, "ensemble_k": 1},
)
PLAIN = {"feature_scaling": "standard", "numeric_embedding": "none", "ensemble_k": 1}


def batch_for_rows(rows: int) -> int:
    """A tabular configuration's batch: about 32 steps an epoch, from 32 to 256 rows."""
    return int(min(256, max(32, 2 ** math.floor(math.log2(max(rows, 1) / 32)))))


def configurations(
    setting: bool | Sequence[Mapping[str, Any]], rows: int | None = None
) -> list[dict[str, Any]]:
    """The configurations a study's ``portfolio`` setting names (before fitting).

    ``rows``: the training rows of a table (None for other data). The default
    portfolio of a table starts with ``TABULAR`` and goes on with ``PORTFOLIO``
    backwards, the small plain network first (plain numbers, one head), each at the
    batch that gives about 32 steps an epoch: the order of their mean ranks on eight
    tables (bench/tabular_portfolio.py)."""
    if setting is True and rows is not None:
        batch = {"batch_size": batch_for_rows(rows)}
        plain = [{**c, **PLAIN, **batch} for c in reversed(PORTFOLIO)]
        return [{**c, **batch} for c in TABULAR] + plain
    if setting is True:
        return [dict(c) for c in PORTFOLIO]
    if setting is False:
        return []
    return [dict(c) for c in setting]


def fit_to_space(configuration: Mapping[str, Any], space: Space) -> dict[str, Any]:
    """The values of ``configuration`` that ``space`` can take (numbers clipped into
    ranges); fixed dimensions and unknown names are left out."""
    fitted: dict[str, Any] = {}
    dims = space.dimensions()
    for name, value in configuration.items():
        dim = dims.get("units" if name.startswith("units_") else name)
        if isinstance(dim, Int | Float) and _is_number(value):
            clipped = min(max(value, dim.low), dim.high)
            fitted[name] = int(round(clipped)) if isinstance(dim, Int) else float(clipped)
        elif isinstance(dim, Choice) and value in dim.values:
            fitted[name] = value
    depth = fitted.get("n_layers")
    if depth is not None:  # widths of layers the configuration no longer has
        fitted = {
            k: v
            for k, v in fitted.items()
            if not k.startswith("units_") or int(k.split("_")[1]) < depth
        }
    return fitted


def first_trials(
    setting: bool | Sequence[Mapping[str, Any]],
    space: Space,
    baselines: Sequence[Mapping[str, Any]],
    rows: int | None = None,
) -> list[tuple[dict[str, Any], dict]]:
    """A study's first trials in order, each its params and the user attributes that
    mark it: the portfolio fitted into ``space`` (``{"portfolio": i}``; two that fit to
    one point, once), then the ``baselines`` (``{"baseline": True}``); ``rows``: as
    ``configurations`` takes it."""
    starts: list[tuple[dict[str, Any], dict]] = []
    for number, configuration in enumerate(configurations(setting, rows)):
        fitted = fit_to_space(configuration, space)
        if all(fitted != earlier for earlier, _ in starts):
            starts.append((fitted, {"portfolio": number}))
    return starts + [(dict(b), {"baseline": True}) for b in baselines]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
