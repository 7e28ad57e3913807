"""Generated study files with malformed settings and spaces: one line and exit 2, or a clean
run; never a traceback, and nothing stored when refused."""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner.cli.main import main
from tuner.core import names

pytestmark = pytest.mark.slow

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(-3, 3), max_size=3),
)
NUMBERS = st.one_of(
    st.integers(-5, 2000), st.floats(-1.0, 1e3), st.sampled_from([math.nan, math.inf, -math.inf])
)
DIMENSIONS = st.one_of(
    JUNK,
    st.tuples(st.sampled_from(["Int", "Float"]), NUMBERS, NUMBERS, st.booleans()),
    st.tuples(
        st.just("Choice"),
        st.lists(
            st.one_of(NUMBERS, st.text(max_size=6), st.sampled_from(list(names.OPTIMIZERS))),
            max_size=4,
        ),
    ),
)
SETTINGS = (
    "trials",
    "timeout",
    "max_epochs",
    "patience",
    "seed",
    "cv",
    "artifacts_for_top",
    "steps_per_execution",
    "jit_compile",
    "mixed_precision",
    "input_pipeline",
    "normalize",
    "categorical",
    "finalize",
    "objective",
    "direction",
)
SPACE = (
    "n_layers",
    "units",
    "learning_rate",
    "batch_size",
    "optimizer",
    "momentum",
    "weight_decay",
    "lr_schedule",
    "activation",
    "normalization",
    "dropout",
    "label_smoothing",
)


def literal(value: object) -> str:
    """Python source for a generated value (NaN and infinities included)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):  # a tuner.Int / Float / Choice
        kind, *args = value
        if kind == "Choice":
            return f"tuner.Choice({literal(args[0])})"
        low, high, log = args
        return f"tuner.{kind}({literal(low)}, {literal(high)}, log={log})"
    return repr(value)


def study_source(study: dict, space: dict) -> str:
    space_args = ", ".join(f"{k}={literal(v)}" for k, v in space.items())
    study_args = "".join(f"    {k}={literal(v)},\n" for k, v in study.items())
    return (
        "import tuner\nfrom tuner.datasets import synthetic\n\n"
        "study = tuner.Study(\n"
        "    data=lambda: synthetic(n=120),\n"
        f"    space=tuner.Space({space_args}),\n"
        f"{study_args}"
        ")\n"
    )


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    study=st.dictionaries(st.sampled_from(SETTINGS), JUNK, max_size=3),
    space=st.dictionaries(st.sampled_from(SPACE), DIMENSIONS, max_size=3),
)
def test_a_generated_study_is_refused_in_one_line_or_runs_cleanly(study, space):
    study.setdefault("max_epochs", 1)
    with tempfile.TemporaryDirectory() as folder, _inside(folder):
        Path("gen.py").write_text(study_source(study, space))
        result = CliRunner().invoke(
            main, ["run", "gen.py", "--trials", "1", "--no-progress"], catch_exceptions=True
        )
        output = result.output.strip()
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{type(result.exception).__name__}: {result.exception}\n{study_source(study, space)}"
        )
        assert "Traceback" not in output
        if result.exit_code == 2:
            assert len(output.splitlines()) == 1 and output.startswith("Error: "), output
            assert _count("mlruns/optuna.db", "trials") == 0
            assert _count("mlruns/mlflow.db", "runs") == 0
        else:
            assert result.exit_code == 0, output


def _count(database: str, table: str) -> int:
    """Rows of ``table`` in a store; 0 where the store or the table does not exist."""
    if not Path(database).exists():
        return 0
    with contextlib.closing(sqlite3.connect(database)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] if table in tables else 0


@contextlib.contextmanager
def _inside(folder: str):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)
