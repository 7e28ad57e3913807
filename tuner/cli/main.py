"""The command line: options, one library call per command, one-line errors.

The library raises ``TunerError``; here it becomes one line on stderr and exit
status 2, with the command's flags for the settings it names
(``options.with_flags``). Tracebacks only with ``--debug``. The libraries
behind a command are imported when it runs, so ``tuner --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is first imported

import click

from tuner import api
from tuner.cli.options import host_option, study_overrides, tracking_uri_option, with_flags
from tuner.core import names
from tuner.core.errors import Interrupted, TunerError
from tuner.core.study import FinalizeSettings
from tuner.jobs.summary import interrupted_line
from tuner.runtime import interrupts, process
from tuner.serving.scoring import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

EXIT_USAGE = 2


class UsageFailure(click.ClickException):
    """A one-line error with exit status 2."""

    exit_code = EXIT_USAGE


class OneLineErrors(click.Group):
    """Click's own usage errors (a bad option value) as one line too, not usage + hint."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        except click.UsageError as exc:
            command = f"{exc.ctx.command_path} --help" if exc.ctx else "tuner --help"
            click.echo(f"Error: {exc.format_message()} (see `{command}`)", err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Search Keras MLPs with Optuna and track every trial in MLflow.

    \b
    Example:
      tuner run studies/synthetic.py --trials 8
      tuner ui
    """
    ctx.obj = {"debug": debug}


@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--trials", type=int, help="Number of new trials to run (default: the study's).")
@click.option("--timeout", type=float, help="Stop starting trials after this many seconds.")
@click.option(
    "--storage",
    envvar="TUNER_STORAGE",
    show_envvar=True,
    help="Optuna storage URL [default: sqlite:///mlruns/optuna.db].",
)
@tracking_uri_option
@click.option(
    "--engine",
    type=click.Choice(list(names.ENGINES)),
    default="optuna",
    show_default=True,
    help="Search engine: Optuna, or KerasTuner on the same study.",
)
@click.option(
    "--algorithm",
    type=click.Choice(list(names.ALGORITHMS)),
    default="hyperband",
    show_default=True,
    help="KerasTuner's algorithm.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes on this machine, sharing the study and the cores.",
)
@click.option(
    "--stale-after",
    type=click.IntRange(min=2),
    default=60,
    show_default=True,
    help="Seconds without a heartbeat after which a RUNNING trial is marked FAIL.",
)
@click.option(
    "--retry-failed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Re-run a configuration whose process died, up to N times.",
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Stop after this many failed trials in a row.",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@study_overrides
@click.pass_context
def run(ctx: click.Context, study_file: str, overrides: dict[str, Any], **options: Any) -> None:
    """Run (or continue) the study defined in STUDY_FILE.

    Each trial trains a Keras MLP with EarlyStopping and pruning, and is logged
    to MLflow as a nested run: params, per-epoch curves, final metrics, model.
    Running the same study again continues it; trial numbers keep counting.

    \b
    Example:
      tuner run studies/fashion.py --trials 10
      tuner run studies/fashion.py --trials 20 --workers 2
      tuner run studies/fashion.py --engine keras-tuner --timeout 300
    """
    with _errors(ctx):
        result = api.run(study_file, debug=ctx.obj["debug"], verbose=False, **options, **overrides)
        click.echo(result.summary())


def _client(
    ctx: click.Context, tracking_uri: str | None, *, tensorflow: bool = False
) -> MlflowClient:
    """A client of the study store; MLflow is imported here so ``--help`` stays fast."""
    import mlflow

    from tuner.runtime.stores import existing_tracking_uri
    from tuner.tracking.patient import PatientClient

    uri = existing_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    process.quiet_libraries(debug=ctx.obj["debug"], tensorflow=tensorflow)
    return PatientClient(uri)


@main.command("ls")
@tracking_uri_option
@click.pass_context
def list_studies(ctx: click.Context, tracking_uri: str | None) -> None:
    """List every study in the store: trials by state, best value, last run.

    \b
    Example:
      tuner ls
    """
    with _errors(ctx):
        from tuner.cli.tables import studies_table
        from tuner.tracking.housekeeping import current_studies

        click.echo(studies_table(current_studies(_client(ctx, tracking_uri))))


@main.command()
@click.argument("study")
@click.option(
    "--top",
    "top_k",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many of the best trials to show.",
)
@tracking_uri_option
@click.pass_context
def show(ctx: click.Context, study: str, top_k: int, tracking_uri: str | None) -> None:
    """Show the best trials of STUDY and the MLflow experiment it lives in.

    \b
    Example:
      tuner show fashion --top 5
    """
    with _errors(ctx):
        from tuner.cli.tables import trials_table
        from tuner.tracking.housekeeping import current_study

        click.echo(trials_table(current_study(_client(ctx, tracking_uri), study), top_k))


@main.command()
@click.argument("study")
@click.option("--model", "model_name", required=True, help="Registered model name to add to.")
@click.option("--alias", default="champion", show_default=True, help="Alias to point at it.")
@click.option(
    "--trial",
    "trial_number",
    help="Promote this trial, not the best (hyperband-N for KerasTuner's).",
)
@click.option(
    "--finalized",
    is_flag=True,
    help="Promote the newest `tuner finalize` model of STUDY, not a trial.",
)
@tracking_uri_option
@click.pass_context
def promote(
    ctx: click.Context,
    study: str,
    model_name: str,
    alias: str,
    trial_number: str | None,
    finalized: bool,
    tracking_uri: str | None,
) -> None:
    """Register the best COMPLETE trial's model of STUDY and point ALIAS at it.

    Promoting a model that is already a version of NAME reuses that version.
    Load it back with models:/NAME@ALIAS.

    \b
    Example:
      tuner promote fashion --model fashion-mlp
      tuner promote fashion --model fashion-mlp --finalized
    """
    with _errors(ctx):
        client = _client(ctx, tracking_uri)
        if finalized and trial_number:
            raise UsageFailure("--finalized and --trial: give one of them")
        from tuner.tracking.housekeeping import current_study
        from tuner.tracking.registry import promote as register
        from tuner.tracking.registry import promote_finalized

        if finalized:
            done = promote_finalized(client, current_study(client, study), None, model_name, alias)
        else:
            done = register(client, study, model_name, alias=alias, trial_number=trial_number)
        click.echo(done.summary())


@main.command()
@click.argument("study")
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=FinalizeSettings.top,
    show_default=True,
    help="Candidates: the K best COMPLETE trials that logged a model.",
)
@click.option(
    "--method",
    type=click.Choice(list(names.ENSEMBLE_METHODS)),
    default=FinalizeSettings.method,
    show_default=True,
    help="How the members' weights are chosen.",
)
@click.option(
    "--refit/--no-refit",
    default=FinalizeSettings.refit,
    show_default=True,
    help="Train each member again on training + validation.",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0),
    default=FinalizeSettings.budget,
    show_default=True,
    help="Seconds the refits may take; a member whose refit would not fit keeps its weights.",
)
@click.option("--model", "model_name", help="Register the finalized model under this name.")
@click.option(
    "--alias", default="champion", show_default=True, help="Alias to point at it (with --model)."
)
@tracking_uri_option
@click.pass_context
def finalize(
    ctx: click.Context,
    study: str,
    top: int,
    method: str,
    refit: bool,
    budget: float,
    model_name: str | None,
    alias: str,
    tracking_uri: str | None,
) -> None:
    """Make one model of STUDY's best trials: an ensemble, refit on all labelled data.

    STUDY is a study name (its study file is found from the last `tuner run`)
    or a study file. The weights are chosen on the trials' validation outputs;
    each member is trained again on training + validation for its best epoch
    count; the members become one Keras model, logged to MLflow in a run
    tagged tuner.role = finalize, and registered with --model.

    \b
    Example:
      tuner finalize fashion --model fashion-mlp
      tuner finalize fashion --top 3 --no-refit
    """
    with _errors(
        ctx, interrupted="interrupted: the finalize run was ended KILLED; the trials are untouched"
    ):
        settings = FinalizeSettings(top=top, method=method, refit=refit, budget=budget)
        client = _client(ctx, tracking_uri, tensorflow=True)
        from tuner.jobs.finalize import finalize_named

        click.echo(finalize_named(client, study, settings, model_name, alias).summary())


@main.command()
@click.argument("model_uri")
@click.argument("input_file", type=click.Path(dir_okay=False))
@click.option("--output", type=click.Path(dir_okay=False), help="Write CSV here, not stdout.")
@click.option(
    "--proba",
    is_flag=True,
    help="Every class's probability, a column each, not the likeliest class.",
)
@tracking_uri_option
@click.pass_context
def predict(
    ctx: click.Context,
    model_uri: str,
    input_file: str,
    output: str | None,
    proba: bool,
    tracking_uri: str | None,
) -> None:
    """Predict with MODEL_URI on the rows of INPUT_FILE (.npy or .csv), as CSV.

    \b
    Example:
      tuner predict models:/fashion-mlp@champion images.npy
      tuner predict models:/churn@champion new.csv --proba
    """
    with _errors(ctx):
        from tuner.serving.predict import predict_to

        _client(ctx, tracking_uri, tensorflow=True)
        text, notes = predict_to(
            model_uri, Path(input_file), Path(output) if output else None, proba
        )
        click.echo(text, nl=output is not None)
        for note in notes:
            click.echo(f"note: {note}", err=True)


@main.command("lr-find")
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option(
    "--optimizer", type=click.Choice(list(names.OPTIMIZERS)), default="adam", show_default=True
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Batch size [default: the middle of the study's choices].",
)
@click.option(
    "--steps",
    type=click.IntRange(min=20),
    default=300,
    show_default=True,
    help="Training steps while the rate rises from 1e-5 to 10.",
)
@click.option("--apply", is_flag=True, help="Print the search-space line to paste.")
@tracking_uri_option
@click.pass_context
def lr_find(
    ctx: click.Context,
    study_file: str,
    optimizer: str,
    batch_size: int | None,
    steps: int,
    apply: bool,
    tracking_uri: str | None,
) -> None:
    """Find a learning-rate range for STUDY_FILE's data and a middle-of-the-space model.

    Trains a few hundred steps while the rate grows exponentially from 1e-5 to
    10, logs the loss-against-rate plot to MLflow (a run named lr-find in the
    study's experiment) and prints the suggested range.

    \b
    Example:
      tuner lr-find studies/fashion.py --optimizer adam --apply
    """
    with _errors(ctx):
        from tuner.core.studyfile import load_study_file

        study = load_study_file(study_file)  # before TensorFlow loads: a bad file fails fast
        process.quiet_libraries(debug=ctx.obj["debug"])
        from tuner.jobs.lr_find import find_for_study

        click.echo(find_for_study(study, optimizer, batch_size, steps, apply, tracking_uri))


@main.command()
@host_option
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@tracking_uri_option
@click.pass_context
def ui(ctx: click.Context, host: str, port: int, tracking_uri: str | None) -> None:
    """Start the MLflow UI on the study store (./mlruns by default).

    \b
    Example:
      tuner ui --port 5000
    """
    with _errors(ctx, interrupted="MLflow UI stopped"):
        from tuner.serving.servers import serve_ui

        ctx.exit(serve_ui(tracking_uri, host, port, say=lambda line: click.echo(line, err=True)))


@main.command()
@click.argument("study", required=False)
@click.option(
    "--storage",
    envvar="TUNER_STORAGE",
    show_envvar=True,
    help="Optuna storage URL [default: sqlite:///mlruns/optuna.db].",
)
@host_option
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.pass_context
def dashboard(
    ctx: click.Context, study: str | None, storage: str | None, host: str, port: int
) -> None:
    """Watch STUDY (a name or a study file) live in optuna-dashboard.

    It reads the study's Optuna storage, so it follows a `tuner run` started
    elsewhere on the same storage; without STUDY it lists every study there.

    \b
    Example:
      tuner dashboard studies/fashion.py
    """
    with _errors(ctx, interrupted="dashboard stopped"):
        from tuner.serving.servers import serve_dashboard

        serve_dashboard(study, storage, host, port, say=lambda line: click.echo(line, err=True))


@main.command()
@click.argument("model_uri")
@host_option
@click.option("--port", type=click.IntRange(1, 65535), default=5001, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes; each loads TensorFlow and its own copy of the model.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    help="The largest request body; a larger one is answered 413.",
)
@tracking_uri_option
@click.pass_context
def serve(
    ctx: click.Context,
    model_uri: str,
    host: str,
    port: int,
    workers: int,
    max_bytes: int,
    tracking_uri: str | None,
) -> None:
    """Serve MODEL_URI over HTTP with MLflow's scoring app (POST /invocations).

    It runs in this environment (no conda or virtualenv is built), under
    uvicorn. A frame study's model takes rows as {"dataframe_split": ...} or
    {"inputs": {...}}. A body over --max-bytes is answered 413, a prediction
    that is not finite (NaN input) 400, and error texts are cut short.

    \b
    Example:
      tuner serve models:/fashion-mlp@champion --port 5001
      curl -d '{"inputs": [[...784 values...]]}' -H 'Content-Type: application/json' \\
           http://127.0.0.1:5001/invocations
    """
    with _errors(ctx, interrupted="model server stopped"):
        from tuner.serving.servers import serve_model

        ctx.exit(
            serve_model(
                model_uri,
                tracking_uri,
                host,
                port,
                say=lambda line: click.echo(line, err=True),
                workers=workers,
                max_bytes=max_bytes,
            )
        )


@main.command()
@click.argument("model_uri")
@click.argument("out", type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(names.EXPORT_FORMATS)),
    default="saved_model",
    show_default=True,
)
@tracking_uri_option
@click.pass_context
def export(
    ctx: click.Context, model_uri: str, out: str, fmt: str, tracking_uri: str | None
) -> None:
    """Export MODEL_URI to OUT for another runtime, and check what it predicts.

    \b
    Example:
      tuner export models:/fashion-mlp@champion fashion.onnx --format onnx
    """
    with _errors(ctx):
        _client(ctx, tracking_uri, tensorflow=True)  # TensorFlow loaded quietly first
        from tuner.serving.export import export as export_model
        from tuner.serving.predict import load_keras

        model, _ = load_keras(model_uri)
        click.echo(export_model(model, Path(out), fmt).summary())


@contextlib.contextmanager
def _errors(
    ctx: click.Context, interrupted: str = "interrupted before the search started"
) -> Iterator[None]:
    """Turn library errors into one line and exit 2; Ctrl-C into ``interrupted`` and exit 130."""
    if ctx.obj.get("debug"):
        yield
        return
    try:
        yield
    except Interrupted as exc:
        click.echo(interrupted_line(interrupts.stop_reason(), exc.outcome), err=True)
        sys.exit(interrupts.exit_status())
    except KeyboardInterrupt:
        reason = interrupts.stop_reason()
        click.echo(interrupted.replace("interrupted", reason, 1), err=True)
        sys.exit(interrupts.exit_status())
    except TunerError as exc:
        raise UsageFailure(with_flags(str(exc).splitlines()[0], ctx.command)) from None


def entry() -> None:
    """The ``tuner`` command: ``main``, then out without the interpreter's teardown."""
    process.own()
    try:
        status = main()
    except SystemExit as done:
        status = done.code
    process.exit_now(status)


if __name__ == "__main__":
    entry()
