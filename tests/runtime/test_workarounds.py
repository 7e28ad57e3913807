"""Private state of other libraries: only ``workarounds`` reaches it, and what it reaches exists."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tuner.runtime.workarounds import PRIVATE_ATTRIBUTES

PACKAGE = Path(__file__).parents[2] / "tuner"
PRIVATE_MODULES = ("tensorflow.python", "keras.src")
PUBLIC_UNDERSCORED = {("os", "_exit")}  # documented functions whose names start with _


@pytest.mark.parametrize(
    ("module", "path"), PRIVATE_ATTRIBUTES, ids=[f"{m}.{p}" for m, p in PRIVATE_ATTRIBUTES]
)
def test_each_private_attribute_tuner_relies_on_exists(module, path):
    found = importlib.import_module(module)
    for part in path.split("."):
        assert hasattr(found, part), (
            f"{module}.{path} is gone ({part!r} missing): the workaround in "
            "tuner/runtime/workarounds.py that uses it now does nothing or fails; check whether "
            "the upgrade fixed what it worked around"
        )
        found = getattr(found, part)


def private_uses(tree: ast.AST) -> list[str]:
    """Where a module reaches another library's private state: ``x._name`` on anything but
    ``self``/``cls``, a private module (``tensorflow.python``, ``keras.src``, ``pkg._mod``) or
    a private name imported from another library."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            owner = ast.unparse(node.value)
            if owner not in ("self", "cls") and (owner, node.attr) not in PUBLIC_UNDERSCORED:
                found.append(f"line {node.lineno}: {owner}.{node.attr}")
        modules: list[tuple[str, list[str]]] = []
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [(node.module, [a.name for a in node.names])]
        elif isinstance(node, ast.Import):
            modules = [(a.name, []) for a in node.names]
        for module, names in modules:
            if module.split(".")[0] in ("tuner", "__future__"):
                continue
            private_module = module.startswith(PRIVATE_MODULES) or any(
                part.startswith("_") for part in module.split(".")
            )
            private_names = [n for n in names if n.startswith("_")]
            if private_module or private_names:
                found.append(f"line {node.lineno}: {module} {private_names or ''}".rstrip())
    return found


def test_only_workarounds_reaches_private_library_state():
    """Any new private use, in any module but workarounds.py, fails here by its shape."""
    offenders = {
        str(path.relative_to(PACKAGE)): uses
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "workarounds.py"
        for uses in [private_uses(ast.parse(path.read_text()))]
        if uses
    }
    assert offenders == {}, f"move these behind tuner/runtime/workarounds.py: {offenders}"


@pytest.mark.parametrize(
    "source",
    [
        "import keras.src.trainers",
        "from tensorflow.python.framework import ops",
        "from mlflow.utils import _capture_modules",
        "from mlflow.utils.requirements_utils import _MODULES_TO_PACKAGES",
        "dataset._to_mlflow_entity()",
        "import optuna._imports",
    ],
)
def test_the_guard_sees_each_kind_of_private_use(source):
    assert private_uses(ast.parse(source)), source


def test_the_guard_lets_public_use_through():
    public = "import os\nfrom tuner.core import names\nos._exit(0)\nself._x = 1\nimport mlflow.data"
    assert private_uses(ast.parse(public)) == []


def test_library_lines_that_repeat_an_error_tuner_reports_are_quiet(caplog):
    """psycopg's "error ignored terminating" (a second error while it ends a pipeline that
    an error already ended) and MLflow's traceback of each database error it then raises:
    tuner reports the error itself, in one line."""
    import logging

    from tuner.runtime.process import quiet_libraries

    quiet_libraries(tensorflow=False)
    logging.getLogger("psycopg").warning("error ignored terminating <psycopg.Pipeline>: x")
    logging.getLogger("mlflow.store.db.utils").error("SQLAlchemy database error.")
    logging.getLogger("psycopg").error("a first error is still said")
    assert [r.getMessage() for r in caplog.records] == ["a first error is still said"]
