"""The command line: a thin click layer over the library.

The library raises ``TunerError``; here it becomes one line on stderr and exit
status 2. Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

import click

from tuner.errors import TunerError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageFailure(click.ClickException):
    """A one-line error with exit status 2."""

    exit_code = EXIT_USAGE


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Search Keras MLPs with Optuna and track every trial in MLflow.

    \b
    Example:
      tuner run studies/synthetic.py --trials 8
      mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db
    """
    ctx.obj = {"debug": debug}
    for noisy in ("optuna", "mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # TensorFlow warns of retracing whenever a new trial's model first predicts.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--trials", type=int, help="Number of new trials to run (default: the study's).")
@click.option("--timeout", type=float, help="Stop starting trials after this many seconds.")
@click.option("--storage", envvar="TUNER_STORAGE", show_envvar=True,
              help="Optuna storage URL [default: sqlite:///mlruns/optuna.db].")
@click.option("--tracking-uri", envvar="MLFLOW_TRACKING_URI", show_envvar=True,
              help="MLflow tracking URI [default: sqlite:///mlruns/mlflow.db].")
@click.option("--study-name", help="Study name (default: the study's, else the file's stem).")
@click.option("--seed", type=int, help="Seed of the sampler and of each trial (default: 0).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.pass_context
def run(ctx: click.Context, study_file: str, trials: int | None, timeout: float | None,
        storage: str | None, tracking_uri: str | None, study_name: str | None,
        seed: int | None, progress: bool) -> None:
    """Run (or continue) the study defined in STUDY_FILE.

    Each trial trains a Keras MLP with EarlyStopping and pruning, and is logged
    to MLflow as a nested run: params, per-epoch curves, final metrics, model.
    Running the same study again continues it; trial numbers keep counting.

    \b
    Example:
      tuner run studies/fashion.py --trials 10
    """
    if trials is not None and trials <= 0:
        raise UsageFailure(f"--trials: expected a number > 0, received {trials}")
    if timeout is not None and timeout <= 0:
        raise UsageFailure(f"--timeout: expected seconds > 0, received {timeout}")
    with _errors(ctx):
        import dataclasses

        from tuner import stores as stores_mod
        from tuner.run import run_study
        from tuner.studyfile import load_study_file
        from tuner.summary import format_outcome

        study = load_study_file(study_file)
        if study_name:
            study = dataclasses.replace(study, name=study_name)
        stores = stores_mod.resolve(tracking_uri, storage)
        seed = study.seed if seed is None else seed
        n_trials = trials if trials is not None else (None if timeout else study.trials)
        outcome = run_study(
            study, stores, n_trials=n_trials, timeout=timeout or study.timeout, seed=seed,
            show_progress_bar=progress,
        )
        click.echo(format_outcome(study.name, outcome,
                                  stores_mod.redact(stores.tracking_uri)))


@contextlib.contextmanager
def _errors(ctx: click.Context) -> Iterator[None]:
    """Turn library errors into one line and exit 2; Ctrl-C into exit 130."""
    if ctx.obj.get("debug"):
        yield
        return
    try:
        yield
    except KeyboardInterrupt:
        click.echo("interrupted: the running trial was recorded as failed; "
                   "run the same command to continue", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except TunerError as exc:
        raise UsageFailure(str(exc).splitlines()[0]) from None
