"""What tuner reads of private state still exists: an upgrade that removes it fails here."""

from __future__ import annotations

import importlib

import pytest

from tuner.runtime.workarounds import PRIVATE_ATTRIBUTES


@pytest.mark.parametrize(("module", "path"), PRIVATE_ATTRIBUTES,
                         ids=[f"{m}.{p}" for m, p in PRIVATE_ATTRIBUTES])
def test_each_private_attribute_tuner_relies_on_exists(module, path):
    found = importlib.import_module(module)
    for part in path.split("."):
        assert hasattr(found, part), (
            f"{module}.{path} is gone ({part!r} missing): the workaround in tuner/workarounds.py "
            "that uses it now does nothing; check whether the upgrade fixed what it worked around")
        found = getattr(found, part)


def test_no_other_module_reaches_private_library_state():
    """Private names of TensorFlow, MLflow and the interpreter appear only in workarounds.py."""
    from pathlib import Path

    package = Path(__file__).parents[1] / "tuner"
    for source in package.rglob("*.py"):
        if source.name == "workarounds.py":
            continue
        text = source.read_text()
        for _, path in PRIVATE_ATTRIBUTES:
            assert path.split(".")[0] not in text, f"{source.name} uses {path}"
