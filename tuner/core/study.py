"""The study spec: what a study file defines with ``study = tuner.Study(...)``.

Settings are checked when the spec is built, so a bad study file fails before
any data is loaded or any store is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

import optuna

from tuner.core import names
from tuner.core.errors import StudyConfigError
from tuner.core.space import Space
from tuner.core.tasks import TASKS, Task, TaskKind, higher_is_better, objective_names

if TYPE_CHECKING:
    from tuner.data.containers import Data

Direction = Literal["maximize", "minimize"]
# Fields that are not settings of every trial: the data, the space, the budget
# (logged as the run's own n_trials/timeout), names that are tags, and the task
# (logged as inferred).
NOT_LOGGED = (
    "data",
    "space",
    "task",
    "trials",
    "timeout",
    "sampler",
    "pruner",
    "name",
    "class_names",
    "baselines",
    "portfolio",
    "ensemble_share",
    "finalize",
)


@dataclass(frozen=True)
class FinalizeSettings:
    """How ``tuner finalize`` makes one model of a study's best trials.

    ``top``: the K best COMPLETE trials with a logged model are the candidates;
    ``method``: how their weights are chosen (``names.ENSEMBLE_METHODS``);
    ``refit``: train each member again on training + validation;
    ``budget``: seconds the refits may take, each estimated from its trial's epochs
    (a member whose refit would not fit keeps its trained weights); None: no limit.
    """

    top: int = 5
    method: str = "best-k"
    refit: bool = True
    budget: float | None = 300.0

    def __post_init__(self) -> None:
        if isinstance(self.top, bool) or not isinstance(self.top, int) or self.top < 1:
            raise StudyConfigError(f"finalize top: expected a number >= 1, received {self.top!r}")
        if self.method not in names.ENSEMBLE_METHODS:
            raise StudyConfigError(
                f"finalize method: expected one of "
                f"{tuple(names.ENSEMBLE_METHODS)}, received {self.method!r}"
            )
        if not isinstance(self.refit, bool):
            raise StudyConfigError(
                f"finalize refit: expected True or False, received {self.refit!r}"
            )
        if self.budget is not None and (
            isinstance(self.budget, bool)
            or not isinstance(self.budget, int | float)
            or self.budget < 0
        ):
            raise StudyConfigError(
                f"finalize budget: expected seconds >= 0 or None, received {self.budget!r}"
            )

    @classmethod
    def of(cls, setting: bool | Mapping[str, Any]) -> FinalizeSettings | None:
        """A study's ``finalize=``: False (None), True (the defaults) or a dict of them."""
        if setting is False:
            return None
        if setting is True:
            return cls()
        if not isinstance(setting, Mapping):
            raise StudyConfigError(
                "finalize: expected True, False or a dict such as "
                f"{{'top': 5, 'method': 'best-k'}}, received {setting!r}"
            )
        unknown = sorted(set(setting) - {"top", "method", "refit", "budget"})
        if unknown:
            raise StudyConfigError(
                f"finalize: unknown setting {unknown[0]!r}; expected top, method, refit or budget"
            )
        return cls(**setting)


@dataclass(frozen=True, kw_only=True)
class Study:
    """A search: data, space, objective, budget, sampler and pruner.

    ``objective`` defaults to ``val_accuracy`` for classification and
    ``val_loss`` for regression; ``direction`` follows from it.
    """

    data: Callable[..., Data]
    space: Space = field(default_factory=Space)
    task: TaskKind | None = None
    objective: str | None = None
    direction: Direction | None = None
    trials: int | None = 20
    timeout: float | None = None
    max_epochs: int = 20
    patience: int = 3
    sampler: str | optuna.samplers.BaseSampler = "tpe"
    pruner: str | optuna.pruners.BasePruner = "median"
    seed: int = 0
    name: str | None = None
    class_names: Sequence[str] | None = None
    baselines: Sequence[Mapping[str, Any]] = ()
    portfolio: bool | Sequence[Mapping[str, Any]] = True
    steps_per_execution: int | Literal["auto"] = "auto"
    jit_compile: bool | Literal["auto"] = "auto"
    mixed_precision: bool | Literal["float16", "bfloat16"] = False
    input_pipeline: Literal["auto", "dataset", "arrays"] = "auto"
    normalize: bool | Literal["auto"] = "auto"
    categorical: Sequence[int] = ()
    cv: int | None = None
    artifacts_for_top: int | None = 5
    finalize: bool | Mapping[str, Any] = False
    class_weight: Literal["balanced"] | None = None
    log_target: bool | Literal["auto"] = "auto"
    ensemble_share: float = 0.25

    def __post_init__(self) -> None:
        self._check_parts()
        self._check_training()
        if self.mixed_precision is True:  # one name for it in params and on the command line
            object.__setattr__(self, "mixed_precision", "float16")

    def _check_parts(self) -> None:
        """The data, space, task, objective's direction, search and finish settings."""
        if not callable(self.data):
            raise StudyConfigError(
                f"data: expected a callable returning tuner.Data, received {self.data!r}"
            )
        if not isinstance(self.space, Space):
            raise StudyConfigError(f"space: expected tuner.Space, received {self.space!r}")
        if self.task is not None and self.task not in TASKS:
            raise StudyConfigError(f"task: expected one of {TASKS}, received {self.task!r}")
        if self.direction not in (None, "maximize", "minimize"):
            raise StudyConfigError(
                f"direction: expected 'maximize' or 'minimize', received {self.direction!r}"
            )
        _check_named("sampler", self.sampler, tuple(names.SAMPLERS), optuna.samplers.BaseSampler)
        _check_named("pruner", self.pruner, tuple(names.PRUNERS), optuna.pruners.BasePruner)
        FinalizeSettings.of(self.finalize)
        if not (
            isinstance(self.portfolio, bool)
            or (
                isinstance(self.portfolio, Sequence)
                and not isinstance(self.portfolio, str)
                and all(isinstance(c, Mapping) for c in self.portfolio)
            )
        ):
            raise StudyConfigError(
                "portfolio: expected True, False or a list of params dicts "
                f"such as [{{'n_layers': 2, 'units_0': 512}}], received "
                f"{self.portfolio!r}"
            )
        # NumPy and Keras take seeds from 0 to 2**32 - 1; trial numbers are added to it
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int)
            or not (0 <= self.seed < 2**31)
        ):
            raise StudyConfigError(
                f"seed: expected an integer from 0 to {2**31 - 1}, received {self.seed!r}"
            )

    def _check_training(self) -> None:
        """The budget and the settings of each trial's training."""
        _check_positive("trials", self.trials, allow_none=True)
        _check_positive("timeout", self.timeout, allow_none=True)
        _check_positive("max_epochs", self.max_epochs)
        if not isinstance(self.patience, int) or self.patience < 0:
            raise StudyConfigError(
                f"patience: expected an integer >= 0, received {self.patience!r}"
            )
        if self.steps_per_execution != "auto":
            _check_positive("steps_per_execution", self.steps_per_execution)
        if self.jit_compile not in (True, False, "auto"):
            raise StudyConfigError(
                f"jit_compile: expected True, False or 'auto', received {self.jit_compile!r}"
            )
        _check_positive("artifacts_for_top", self.artifacts_for_top, allow_none=True)
        if (
            isinstance(self.ensemble_share, bool)
            or not isinstance(self.ensemble_share, int | float)
            or not 0 <= self.ensemble_share < 1
        ):
            raise StudyConfigError(
                "ensemble_share: expected a share of the time budget "
                f"from 0 to below 1, received {self.ensemble_share!r}"
            )
        if not (
            isinstance(self.mixed_precision, bool)
            or self.mixed_precision in ("float16", "bfloat16")
        ):
            raise StudyConfigError(
                "mixed_precision: expected False, True (float16), 'float16' "
                f"or 'bfloat16', received {self.mixed_precision!r}"
            )
        _check_categorical(self.categorical)
        if self.cv is not None and (
            isinstance(self.cv, bool) or not isinstance(self.cv, int) or self.cv < 2
        ):
            raise StudyConfigError(f"cv: expected a number of folds >= 2, received {self.cv!r}")
        for name, allowed in (
            ("input_pipeline", ("auto", "dataset", "arrays")),
            ("log_target", (True, False, "auto")),
            ("class_weight", (None, "balanced")),
        ):
            if getattr(self, name) not in allowed:
                raise StudyConfigError(
                    f"{name}: expected one of {allowed}, received {getattr(self, name)!r}"
                )

    @property
    def stored_name(self) -> str:
        """The name the stores file this study under; a Study run from Python needs one."""
        if self.name is None:
            raise StudyConfigError(
                "name: a tuner.Study run from Python needs a name, such as "
                "tuner.Study(..., name='cars'); a study file's is its "
                "file's name"
            )
        return self.name

    def logged_settings(self) -> dict[str, Any]:
        """The settings every trial shares, as MLflow params: each field, spelled once here."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in NOT_LOGGED}

    def objective_for(self, task: Task) -> str:
        """The epoch-log key to optimise, checked against what the task logs."""
        objective = self.objective or ("val_loss" if task.kind == "regression" else "val_accuracy")
        allowed = objective_names(task)
        if objective not in allowed:
            raise StudyConfigError(
                f"objective: expected one of {allowed} for a {task.kind} task, "
                f"received {objective!r}"
            )
        return objective

    def direction_for(self, objective: str) -> Direction:
        if self.direction:
            return self.direction
        return "maximize" if higher_is_better(objective) else "minimize"


def _check_positive(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise StudyConfigError(f"{name}: expected a number > 0, received {value!r}")


def _check_categorical(columns: Any) -> None:
    ok = (
        isinstance(columns, Sequence)
        and not isinstance(columns, str)
        and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in columns)
    )
    if not ok or len(set(columns)) != len(columns):
        raise StudyConfigError(
            f"categorical: expected a list of distinct column numbers >= 0, received {columns!r}"
        )


def _check_named(name: str, value: Any, names: tuple[str, ...], base: type) -> None:
    if isinstance(value, base) or value in names:
        return
    raise StudyConfigError(
        f"{name}: expected one of {names} or an Optuna {base.__name__}, received {value!r}"
    )
