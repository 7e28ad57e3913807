"""Option groups the commands share, as decorators.

``study_overrides`` adds one option per overridable study setting
(``STUDY_OPTIONS``, keyed by the ``tuner.Study`` field it sets) and hands the
command those given as one ``overrides`` dict, which ``tuner.launch`` applies
to the study and passes on to workers unchanged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import click

from tuner.core import names


def _steps(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    if not value.isdigit() or int(value) <= 0:
        raise click.BadParameter(f"expected a number > 0 or auto, received {value!r}")
    return int(value)


def _mapped(mapping: dict[str, Any]) -> Callable[..., Any]:
    """A callback that turns a choice's word into the study's value (``on`` -> True)."""
    return lambda ctx, param, value: None if value is None else mapping[value]


# Study settings the command line can override, keyed by the Study field they set.
STUDY_OPTIONS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "name": click.option(
        "--study-name", "name", help="Study name (default: the study's, else the file's stem)."
    ),
    "seed": click.option(
        "--seed", type=int, help="Seed of the sampler and of each trial [default: the study's, 0]."
    ),
    "sampler": click.option(
        "--sampler",
        type=click.Choice(list(names.SAMPLERS)),
        help="Optuna sampler [default: the study's, tpe].",
    ),
    "pruner": click.option(
        "--pruner",
        type=click.Choice(list(names.PRUNERS)),
        help="Optuna pruner [default: the study's, median].",
    ),
    "ensemble_share": click.option(
        "--ensemble-share",
        type=click.FloatRange(0, 1, max_open=True),
        help="With --timeout, the share at its end that trains the best configurations "
        "again under new seeds (0: off) [default: the study's, 0.25].",
    ),
    "steps_per_execution": click.option(
        "--steps-per-execution",
        callback=_steps,
        help="Batches per compiled call: a number, or auto [default: the study's, auto].",
    ),
    "jit_compile": click.option(
        "--jit-compile",
        type=click.Choice(["auto", "on", "off"]),
        callback=_mapped({"auto": "auto", "on": True, "off": False}),
        help="XLA compilation; auto = on where a GPU is [default: the study's, auto].",
    ),
    "mixed_precision": click.option(
        "--mixed-precision",
        type=click.Choice(["float16", "bfloat16", "off"]),
        is_flag=False,
        flag_value="float16",
        callback=_mapped({"float16": "float16", "bfloat16": "bfloat16", "off": False}),
        help="Hidden layers in float16 (GPUs) or bfloat16 (CPUs with AVX512_BF16/AMX) "
        "[default: the study's, off].",
    ),
    "input_pipeline": click.option(
        "--input-pipeline",
        type=click.Choice(["auto", "dataset", "arrays"]),
        help="Training data as tf.data datasets or arrays [default: the study's, auto].",
    ),
}


def study_overrides(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``STUDY_OPTIONS`` to a command; it receives the ones given as ``overrides``."""

    @functools.wraps(command)
    def with_overrides(**kwargs: Any) -> Any:
        given = {f: kwargs.pop(f) for f in STUDY_OPTIONS}
        overrides = {f: value for f, value in given.items() if value is not None}
        return command(overrides=overrides, **kwargs)

    decorated: Callable[..., Any] = with_overrides
    for option in reversed(STUDY_OPTIONS.values()):
        decorated = option(decorated)
    return decorated


tracking_uri_option = click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    show_envvar=True,
    help="MLflow tracking URI [default: sqlite:///mlruns/mlflow.db].",
)

host_option = click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (loopback; any other warns).",
)


def with_flags(message: str, command: click.Command) -> str:
    """A library message with ``command``'s flags for the settings it names.

    The library names a setting by its keyword: leading a message
    (``trials: expected ...``), with a value (``engine='optuna'``,
    ``storage=...``) or, for a name with an underscore, alone
    (``max_failures``). Each becomes the flag that sets it here:
    ``--trials: ...``, ``--engine optuna``, ``--storage``, ``--max-failures``.
    A study setting (``STUDY_OPTIONS``) is translated in the advice form only
    (``name=...``): elsewhere a message about one is about what the study file
    says.
    """
    for param in command.params:
        flags = [opt for opt in param.opts if opt.startswith("--")]
        if not isinstance(param, click.Option) or not param.name or not flags:
            continue
        name, flag = re.escape(param.name), flags[0]
        message = re.sub(rf"\b{name}=\.\.\.", flag, message)
        message = re.sub(rf"\b{name}=(?:'([^']*)'|([\w.-]+))", rf"{flag} \g<1>\g<2>", message)
        if param.name in STUDY_OPTIONS:
            continue
        message = re.sub(rf"^{name}(?=[: ])", flag, message)
        if "_" in param.name:
            message = re.sub(rf"\b{name}\b", flag, message)
    return message
