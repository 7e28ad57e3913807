"""Load a study file: a Python file that defines ``study = tuner.Study(...)``.

The file is code and runs with the user's rights, like any script they run.
"""

from __future__ import annotations

import dataclasses
import runpy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuner.core.errors import StudyFileError, TunerError
from tuner.core.study import Study


def load_study_file(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Study:
    """Run the file and return its ``study``, named after the file unless it says otherwise,
    with ``overrides`` (settings given apart from the file: ``seed=1``) applied."""
    path = Path(path)
    if not path.is_file():
        raise StudyFileError(f"study file {path} does not exist; pass the path of a .py file")
    try:
        namespace = runpy.run_path(str(path), run_name=f"tuner_study_{path.stem}")
    except SyntaxError as exc:
        raise StudyFileError(
            f"study file {path}, line {exc.lineno}: syntax error: {exc.msg}"
        ) from exc
    except TunerError as exc:
        raise type(exc)(f"study file {path}: {exc}") from exc
    except Exception as exc:
        raise StudyFileError(f"study file {path} raised {type(exc).__name__}: {exc}") from exc
    study = namespace.get("study")
    if not isinstance(study, Study):
        found = "nothing" if study is None else type(study).__name__
        raise StudyFileError(
            f"study file {path} must define `study = tuner.Study(...)`; found {found}"
        )
    if study.name is None:
        study = dataclasses.replace(study, name=path.stem)
    return dataclasses.replace(study, **overrides) if overrides else study
