"""Each list of names is defined once (tuner.names): the checks, the CLI, engines and docs agree."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import click
import optuna
import pytest

import tuner
from tuner.cli.main import main
from tuner.core import names
from tuner.engines import optuna_engine
from tuner.engines.keras_tuner_engine import ALGORITHMS
from tuner.keras.model import OPTIMIZER_CLASSES
from tuner.serving.export import WRITERS

DOCS = Path(__file__).parents[2] / "docs" / "study-files.md"


def documented(table: str) -> list[str]:
    """The names in the first column of the docs' table marked ``<!-- names: table -->``."""
    text = DOCS.read_text()
    block = text.split(f"<!-- names: {table} -->", 1)[1].strip().split("\n\n", 1)[0]
    rows = [line for line in block.splitlines()[2:] if line.startswith("|")]
    return [re.match(r"\| `([^`]+)`", row).group(1) for row in rows]


@pytest.mark.parametrize("table", list(names.TABLES))
def test_the_docs_list_exactly_the_names_tuner_accepts(table):
    assert documented(table) == list(names.TABLES[table])


def test_the_docs_list_every_dimension_of_the_space_with_its_default():
    assert documented("space") == [f.name for f in fields(tuner.Space)]


def test_the_engines_and_the_model_builder_implement_exactly_the_named_ones():
    assert list(optuna_engine.SAMPLERS) == list(names.SAMPLERS)
    assert list(optuna_engine.PRUNERS) == list(names.PRUNERS)
    assert list(OPTIMIZER_CLASSES) == list(names.OPTIMIZERS)
    assert list(ALGORITHMS) == list(names.ALGORITHMS)
    assert list(WRITERS) == list(names.EXPORT_FORMATS)


def test_the_command_line_offers_exactly_the_named_ones():
    options = {p.name: p for p in main.commands["run"].params}
    assert list(options["sampler"].type.choices) == list(names.SAMPLERS)
    assert list(options["pruner"].type.choices) == list(names.PRUNERS)
    assert list(options["engine"].type.choices) == list(names.ENGINES)
    assert list(options["algorithm"].type.choices) == list(names.ALGORITHMS)
    lr_find = {p.name: p for p in main.commands["lr-find"].params}
    assert isinstance(lr_find["optimizer"].type, click.Choice)
    assert list(lr_find["optimizer"].type.choices) == list(names.OPTIMIZERS)


PRUNER_CLASSES = {
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "successive-halving": optuna.pruners.SuccessiveHalvingPruner,
    "none": optuna.pruners.NopPruner,
}
SAMPLER_CLASSES = {
    "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler,
    "grid": optuna.samplers.GridSampler,
    "cmaes": optuna.samplers.CmaEsSampler,
    "qmc": optuna.samplers.QMCSampler,
}


@pytest.mark.parametrize("name", list(names.PRUNERS))
def test_every_named_pruner_and_sampler_builds_the_optuna_class_it_names(name):
    assert set(PRUNER_CLASSES) == set(names.PRUNERS)
    assert set(SAMPLER_CLASSES) == set(names.SAMPLERS)
    assert type(optuna_engine.make_pruner(name, 10)) is PRUNER_CLASSES[name]
    for sampler in names.SAMPLERS:
        space = (
            tuner.Space(
                n_layers=1,
                units=tuner.Choice([8]),
                learning_rate=0.01,
                optimizer="adam",
                dropout=0.0,
            )
            if sampler == "grid"
            else tuner.Space()
        )
        assert type(optuna_engine.make_sampler(sampler, 0, space)) is SAMPLER_CLASSES[sampler]
