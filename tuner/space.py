"""The search space of an MLP: which hyperparameters vary, and over what.

A ``Space`` turns an Optuna trial into a plain dict of parameters (``params``)
that the model builder reads. Each dimension is a range (``Int``, ``Float``),
a list (``Choice``) or a fixed value (a plain number or string), so a study
can narrow, widen or fix any of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import optuna

from tuner.errors import SpaceError

OPTIMIZERS = ("adam", "sgd", "rmsprop", "nadam", "adamw")
AUTO = "auto"
ACTIVATIONS = ("relu", "elu", "selu", "gelu", "tanh", "sigmoid", "swish", "leaky_relu")


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
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (low, high)):
        raise SpaceError(f"space.{name}: bounds must be finite numbers, received {low!r}, {high!r}")
    if low > high:
        raise SpaceError(f"space.{name}: low ({low}) is greater than high ({high}); swap them")
    if log and low <= 0:
        raise SpaceError(f"space.{name}: a log scale needs low > 0, received low={low}")


def _values(dim: Any) -> tuple[Any, ...]:
    """Every value a dimension can take, for checks against known names."""
    if isinstance(dim, Choice):
        return dim.values
    if isinstance(dim, Int | Float):
        return ()
    return (dim,)


@dataclass(frozen=True)
class Space:
    """The default MLP space of tuner; override any field to narrow, widen or fix it.

    ``units`` is sampled once per hidden layer (``units_0``, ``units_1``, ...).
    """

    n_layers: Int | int = field(default_factory=lambda: Int(1, 4))
    units: Int | int = field(default_factory=lambda: Int(16, 1024, log=True))
    learning_rate: Float | float | Literal["auto"] = field(
        default_factory=lambda: Float(1e-4, 1e-1, log=True))
    batch_size: Choice | int = field(default_factory=lambda: Choice([32, 64, 128, 256, 512]))
    optimizer: Choice | str = field(default_factory=lambda: Choice(OPTIMIZERS))
    activation: Choice | str = "relu"
    dropout: Float | Choice | float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            dim = getattr(self, f.name)
            if isinstance(dim, Int | Float | Choice):
                dim.check(f.name)
        self._check_values()

    def _check_values(self) -> None:
        for value in _values(self.optimizer):
            if value not in OPTIMIZERS:
                raise SpaceError(
                    f"space.optimizer: unknown optimizer {value!r}; expected one of {OPTIMIZERS}"
                )
        for value in _values(self.activation):
            if value not in ACTIVATIONS:
                raise SpaceError(
                    f"space.activation: unknown activation {value!r}; expected one of {ACTIVATIONS}"
                )
        self._check_bounds("n_layers", 0, None)
        self._check_bounds("units", 1, None)
        self._check_bounds("batch_size", 1, None)
        if self.learning_rate != AUTO:  # replaced by the finder's range before a search
            self._check_bounds("learning_rate", 0, None, strict=True)
        self._check_bounds("dropout", 0, 1, upper_strict=True)

    def _check_bounds(
        self, name: str, low: float, high: float | None, *, strict: bool = False,
        upper_strict: bool = False,
    ) -> None:
        dim = getattr(self, name)
        values = (dim.low, dim.high) if isinstance(dim, Int | Float) else _values(dim)
        for v in values:
            number = isinstance(v, int | float) and not isinstance(v, bool)
            too_low = number and (v <= low if strict else v < low)
            too_high = number and high is not None and (v >= high if upper_strict else v > high)
            if not number or too_low or too_high:
                upper = f" and {'<' if upper_strict else '<='} {high}" if high is not None else ""
                raise SpaceError(
                    f"space.{name}: expected values {'>' if strict else '>='} {low}{upper}, "
                    f"received {v!r}"
                )

    def draw(self, pick: Callable[[str, Any], Any]) -> dict[str, Any]:
        """One configuration, each dimension drawn by ``pick(name, dimension)``.

        The layout every engine shares: ``n_layers`` first, then one width per
        hidden layer (``units_0``, ``units_1``, ...), then the rest.
        """
        params: dict[str, Any] = {"n_layers": pick("n_layers", self.n_layers)}
        for i in range(params["n_layers"]):
            params[f"units_{i}"] = pick(f"units_{i}", self.units)
        for name in ("learning_rate", "batch_size", "optimizer", "activation", "dropout"):
            params[name] = pick(name, getattr(self, name))
        return params

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Sample one configuration; fixed dimensions are copied as they are."""
        return self.draw(lambda name, dim: dim.suggest(trial, name)
                         if isinstance(dim, Int | Float | Choice) else dim)
