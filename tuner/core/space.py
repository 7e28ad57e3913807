"""The search space of an MLP: which hyperparameters vary, and over what.

A ``Space`` turns an Optuna trial into a plain dict of parameters (``params``)
that the model builder reads. Each dimension is a range (``Int``, ``Float``),
a list (``Choice``) or a fixed value (a plain number or string), so a study
can narrow, widen or fix any of them. A dimension is declared once, as a
field of ``Space`` with what it accepts in its metadata; drawing, checking,
grids and docs read the fields.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import optuna

from tuner.core import names
from tuner.core.errors import SpaceError

AUTO = "auto"
WHOLE_NUMBERS = ("n_layers", "units", "ensemble_k")  # counts: a fixed value is an int


@dataclass(frozen=True)
class Int:
    """An integer range; ``log=True`` samples it on a log scale."""

    low: int
    high: int
    log: bool = False

    def check(self, name: str) -> None:
        _check_range(name, self.low, self.high, self.log)

    def suggest(self, trial: optuna.Trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class Float:
    """A float range; ``log=True`` samples it on a log scale."""

    low: float
    high: float
    log: bool = False

    def check(self, name: str) -> None:
        _check_range(name, self.low, self.high, self.log)

    def suggest(self, trial: optuna.Trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class Choice:
    """A finite list of values to choose from."""

    values: tuple[Any, ...]

    def __init__(self, values: Sequence[Any]) -> None:
        object.__setattr__(self, "values", tuple(values))

    def check(self, name: str) -> None:
        if not self.values:
            raise SpaceError(f"space.{name}: expected at least one choice, received an empty list")
        if len(set(self.values)) != len(self.values):
            raise SpaceError(f"space.{name}: choices repeat a value: {list(self.values)}")

    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.values))


Dimension = Int | Float | Choice


def _check_range(name: str, low: float, high: float, log: bool) -> None:
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in (low, high)
    ):
        raise SpaceError(f"space.{name}: bounds must be finite numbers, received {low!r}, {high!r}")
    if low > high:
        raise SpaceError(f"space.{name}: low ({low}) is greater than high ({high}); swap them")
    if log and low <= 0:
        raise SpaceError(f"space.{name}: a log scale needs low > 0, received low={low}")


def values_of(dim: Any) -> tuple[Any, ...]:
    """Every value a dimension can take, bounds for a range."""
    if isinstance(dim, Choice):
        return dim.values
    if isinstance(dim, Int | Float):
        return (dim.low, dim.high)
    return (dim,)


def _named(table: dict[str, str]) -> dict[str, Any]:
    return {"names": tuple(table)}


def _between(
    low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False
) -> dict[str, Any]:
    return {"bounds": (low, high, low_open, high_open)}


def _dimension(default: Any, doc: str, **accepts: Any) -> Any:
    """A ``Space`` field: its default (copied per space), one line for the docs, its checks."""
    return field(default_factory=lambda: default, metadata={"doc": doc, **accepts})


@dataclass(frozen=True)
class Space:
    """The default MLP space of tuner; override any field to narrow, widen or fix it.

    ``units`` is sampled once per hidden layer (``units_0``, ``units_1``, ...).
    """

    n_layers: Int | int = _dimension(Int(1, 4), "hidden layers", **_between(0))
    units: Int | int = _dimension(
        Int(16, 1024, log=True),
        "width of each hidden layer, sampled per layer (units_0, units_1, ...)",
        **_between(1),
    )
    learning_rate: Float | float | Literal["auto"] = _dimension(
        Float(1e-4, 1e-1, log=True),
        "the optimizer's (peak) learning rate; \"auto\": the learning-rate finder's range",
        **_between(0, low_open=True),
    )
    batch_size: Choice | int = _dimension(
        Choice([32, 64, 128, 256, 512]), "rows per step", **_between(1)
    )
    optimizer: Choice | str = _dimension(
        Choice(tuple(names.OPTIMIZERS)), "the Keras optimizer", **_named(names.OPTIMIZERS)
    )
    momentum: Float | Choice | float = _dimension(
        0.0, "SGD's momentum (the other optimizers ignore it)", **_between(0, 1, high_open=True)
    )
    weight_decay: Float | Choice | float = _dimension(
        Choice([0.0, 1e-5, 1e-4, 1e-3]),
        "decoupled weight decay of the kernels (the optimizers' weight_decay)",
        **_between(0, 1),
    )
    lr_schedule: Choice | str = _dimension(
        Choice(["constant", "cosine"]),
        "how the learning rate changes over epochs",
        **_named(names.LR_SCHEDULES),
    )
    activation: Choice | str = _dimension(
        "relu", "of every hidden layer", **_named(names.ACTIVATIONS)
    )
    kernel_initializer: Choice | str = _dimension(
        "glorot_uniform",
        "how each hidden Dense's weights start (Keras's initializer names)",
        names=("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal"),
    )
    normalization: Choice | str = _dimension(
        Choice(["none", "batch"]),
        "after each hidden Dense, before its activation",
        **_named(names.NORMALIZATIONS),
    )
    dropout: Float | Choice | float = _dimension(
        Float(0.0, 0.5), "after each hidden layer", **_between(0, 1, high_open=True)
    )
    feature_scaling: Choice | str = _dimension(
        Choice(["standard", "robust"]),
        "how tabular numbers are scaled inside the model (images: rescaled as their data needs)",
        **_named(names.FEATURE_SCALINGS),
    )
    numeric_embedding: Choice | str = _dimension(
        Choice(["none", "piecewise"]),
        "an encoding of each tabular number beside its scaled value",
        **_named(names.NUMERIC_EMBEDDINGS),
    )
    ensemble_k: Choice | int = _dimension(
        Choice([1, 8]),
        "heads of one network that averages them (TabM's shared-weight ensemble: each "
        "head scales the inputs its own way); 1 is a plain MLP; images keep 1 unless set",
        **_between(1),
    )
    augmentation: Choice | str = _dimension(
        "none",
        "random changes of image inputs (2 or 3 axes a row), in training only",
        **_named(names.AUGMENTATIONS),
    )
    label_smoothing: Float | Choice | float = _dimension(
        Choice([0.0, 0.1]),
        "of the cross-entropy targets (classification; a regression study searches it at 0)",
        **_between(0, 1, high_open=True),
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            dim = getattr(self, f.name)
            if isinstance(dim, Int | Float | Choice):
                dim.check(f.name)
            if f.name == "learning_rate" and dim == AUTO:
                continue  # replaced by the finder's range before a search
            if (
                f.name in WHOLE_NUMBERS
                and not isinstance(dim, Int | Choice)
                and (isinstance(dim, bool) or not isinstance(dim, int))
            ):
                raise SpaceError(
                    f"space.{f.name}: expected a whole number or tuner.Int(...), received {dim!r}"
                )
            _check_accepted(f.name, dim, f.metadata)

    def for_data(self, kind: str, tabular: bool) -> Space:
        """The space a study of task ``kind`` searches: a regression study has no labels
        to smooth, so a searched ``label_smoothing`` is fixed at 0 there; data that is not
        a table (images) has no columns to scale or encode, and keeps one head unless the
        study sets ``ensemble_k``; a table has no images to augment. A study that sets one
        of those for data that cannot take it is refused (``SpaceError``)."""
        fixed: dict[str, Any] = {}
        if kind == "regression" and isinstance(self.label_smoothing, Float | Choice):
            fixed["label_smoothing"] = 0.0
        unusable = (
            {"augmentation": "none"}
            if tabular
            else {"feature_scaling": "standard", "numeric_embedding": "none"}
        )
        for name, neutral in unusable.items():
            if self._set_by_study(name) and set(values_of(getattr(self, name))) != {neutral}:
                what = "images" if name == "augmentation" else "tables"
                raise SpaceError(
                    f"space.{name}: for {what}, and this study's data is not; leave {name} "
                    "at its default"
                )
            fixed[name] = neutral
        if not tabular and not self._set_by_study("ensemble_k"):
            fixed["ensemble_k"] = 1
        return dataclasses.replace(self, **fixed) if fixed else self

    def _set_by_study(self, name: str) -> bool:
        """Whether dimension ``name`` differs from its default."""
        factory = Space.__dataclass_fields__[name].default_factory
        return bool(getattr(self, name) != factory())  # type: ignore[operator]

    def dimensions(self) -> dict[str, Any]:
        """Every dimension by name, ``units`` once (as declared)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def draw(self, pick: Callable[[str, Any], Any]) -> dict[str, Any]:
        """One configuration, each dimension drawn by ``pick(name, dimension)``.

        The layout every engine shares: ``n_layers`` first, then one width per
        hidden layer (``units_0``, ``units_1``, ...), then the rest in field order.
        """
        params: dict[str, Any] = {"n_layers": pick("n_layers", self.n_layers)}
        for i in range(params["n_layers"]):
            params[f"units_{i}"] = pick(f"units_{i}", self.units)
        for name, dim in self.dimensions().items():
            if name not in ("n_layers", "units"):
                params[name] = pick(name, dim)
        return params

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Sample one configuration; fixed dimensions are copied as they are."""
        return self.draw(
            lambda name, dim: (
                dim.suggest(trial, name) if isinstance(dim, Int | Float | Choice) else dim
            )
        )

    def middle(self) -> dict[str, Any]:
        """A middle-of-the-space configuration: median depth, geometric-mean width."""
        return self.draw(lambda name, dim: _middle(dim))


def _middle(dim: Any) -> Any:
    if isinstance(dim, Int):
        return round(math.sqrt(dim.low * dim.high)) if dim.log else (dim.low + dim.high) // 2
    if isinstance(dim, Float):
        return math.sqrt(dim.low * dim.high) if dim.log else (dim.low + dim.high) / 2
    if isinstance(dim, Choice):
        return dim.values[len(dim.values) // 2]
    return dim


def _check_accepted(name: str, dim: Any, accepts: Any) -> None:
    """A dimension's values against its field's ``names`` or ``bounds``."""
    if "names" in accepts:
        for value in values_of(dim):
            if value not in accepts["names"]:
                raise SpaceError(
                    f"space.{name}: unknown {name} {value!r}; expected one of {accepts['names']}"
                )
        return
    low, high, low_open, high_open = accepts["bounds"]
    for v in values_of(dim):
        number = isinstance(v, int | float) and not isinstance(v, bool)
        too_low = number and (v <= low if low_open else v < low)
        too_high = number and high is not None and (v >= high if high_open else v > high)
        if not number or too_low or too_high:
            upper = f" and {'<' if high_open else '<='} {high}" if high is not None else ""
            raise SpaceError(
                f"space.{name}: expected values {'>' if low_open else '>='} "
                f"{low}{upper}, received {v!r}"
            )
