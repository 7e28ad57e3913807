"""The command line: a thin click layer over the library.

The library raises ``TunerError``; here it becomes one line on stderr and exit
status 2. Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import gc
import logging
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is first imported

import click

from tuner.errors import Interrupted, TunerError
from tuner.summary import one_line

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from tuner.study import Study

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_owns_process = False  # set by ``entry``: this process is the ``tuner`` command's alone


class UsageFailure(click.ClickException):
    """A one-line error with exit status 2."""

    exit_code = EXIT_USAGE


TRACKING_URI_OPTION = click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", show_envvar=True,
    help="MLflow tracking URI [default: sqlite:///mlruns/mlflow.db].",
)


class OneLineErrors(click.Group):
    """Click's own usage errors (a bad option value) as one line too, not usage + hint."""

    def main(self, *args, **kwargs):  # noqa: ANN002, ANN003 - click's signature
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
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
      mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db
    """
    ctx.obj = {"debug": debug}


@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--trials", type=int, help="Number of new trials to run (default: the study's).")
@click.option("--timeout", type=float, help="Stop starting trials after this many seconds.")
@click.option("--storage", envvar="TUNER_STORAGE", show_envvar=True,
              help="Optuna storage URL [default: sqlite:///mlruns/optuna.db].")
@TRACKING_URI_OPTION
@click.option("--study-name", help="Study name (default: the study's, else the file's stem).")
@click.option("--seed", type=int, help="Seed of the sampler and of each trial (default: 0).")
@click.option("--engine", type=click.Choice(["optuna", "keras-tuner"]), default="optuna",
              show_default=True, help="Search engine: Optuna, or KerasTuner on the same study.")
@click.option("--algorithm", type=click.Choice(["hyperband", "bayesian", "random"]),
              default="hyperband", show_default=True, help="KerasTuner's algorithm.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes on this machine, sharing the study and the cores.")
@click.option("--stale-after", type=click.IntRange(min=2), default=60, show_default=True,
              help="Seconds without a heartbeat after which a RUNNING trial (its process "
                   "killed) is marked FAIL.")
@click.option("--retry-failed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Re-run a configuration whose process died, up to N times.")
@click.option("--max-failures", type=click.IntRange(min=1), default=5, show_default=True,
              help="Stop after this many failed trials in a row.")
@click.option("--sampler", type=click.Choice(["tpe", "random", "grid", "cmaes", "qmc"]),
              help="Optuna sampler [default: the study's, tpe]; grid needs a finite space.")
@click.option("--pruner", type=click.Choice(["median", "hyperband", "successive-halving",
                                             "none"]),
              help="Optuna pruner [default: the study's, median].")
@click.option("--steps-per-execution", help="Batches per compiled call: a number, or auto "
              "(about 1,024 samples per call) [default: the study's, auto].")
@click.option("--jit-compile", type=click.Choice(["auto", "on", "off"]),
              help="XLA compilation; auto = on where a GPU is [default: the study's, auto].")
@click.option("--mixed-precision", type=click.Choice(["float16", "bfloat16", "off"]),
              is_flag=False, flag_value="float16",
              help="Hidden layers in float16 (GPUs; the value when none is given) or "
              "bfloat16 (CPUs with AVX512_BF16/AMX) [default: the study's, off].")
@click.option("--input-pipeline", type=click.Choice(["auto", "dataset", "arrays"]),
              help="Training data as tf.data datasets or as arrays for Keras; auto = datasets "
              "up to 1 MiB of training data [default: the study's, auto].")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option("--worker-index", type=int, hidden=True)
@click.option("--parent-run-id", hidden=True)
@click.pass_context
def run(ctx: click.Context, study_file: str, trials: int | None, timeout: float | None,
        storage: str | None, tracking_uri: str | None, study_name: str | None,
        seed: int | None, engine: str, algorithm: str, workers: int, stale_after: int,
        retry_failed: int, max_failures: int, sampler: str | None, pruner: str | None,
        steps_per_execution: str | None,
        jit_compile: str | None, mixed_precision: str | None, input_pipeline: str | None,
        progress: bool,
        worker_index: int | None,
        parent_run_id: str | None) -> None:
    """Run (or continue) the study defined in STUDY_FILE.

    Each trial trains a Keras MLP with EarlyStopping and pruning, and is logged
    to MLflow as a nested run: params, per-epoch curves, final metrics, model.
    Running the same study again continues it; trial numbers keep counting.
    A trial whose process was killed is marked FAIL by the next run.

    \b
    Example:
      tuner run studies/fashion.py --trials 10
      tuner run studies/fashion.py --trials 20 --workers 2
      tuner run studies/fashion.py --engine keras-tuner --algorithm hyperband --timeout 300
    """
    if trials is not None and trials <= 0:
        raise UsageFailure(f"--trials: expected a number > 0, received {trials}")
    if timeout is not None and timeout <= 0:
        raise UsageFailure(f"--timeout: expected seconds > 0, received {timeout}")
    if workers > 1 and engine != "optuna":
        raise UsageFailure("--workers: several workers need --engine optuna (Optuna's storage "
                           "shares the study); run KerasTuner with one worker")
    if _owns_process:
        # The libraries imported next make some 550,000 objects that live as long as the
        # process; the collector's passes over them, during the imports and the search,
        # took 2.4 s of a synthetic run here, 0.45 s with them frozen (bench/gc_pauses.py).
        gc.disable()
    with _errors(ctx):
        from tuner.studyfile import load_study_file

        study = load_study_file(study_file)  # before TensorFlow loads: bad files fail fast
        study = _with_overrides(study, name=study_name, sampler=sampler, pruner=pruner,
                                steps_per_execution=steps_per_execution,
                                jit_compile=jit_compile, mixed_precision=mixed_precision,
                                input_pipeline=input_pipeline)
        from tuner import report_process
        from tuner import stores as stores_mod

        stores = stores_mod.resolve(tracking_uri, storage)
        # A new store is created while TensorFlow loads, on the other core; where
        # there is none to create, the figures process loads there instead (with
        # both beside TensorFlow's import, the first trial started 2 s later here).
        creating = parent_run_id is None and stores_mod.start_tracking_store(
            stores.tracking_uri)
        trains_here = workers == 1
        if trains_here and not creating:
            report_process.start()
        _quiet_libraries(ctx)
        if trains_here and creating:
            report_process.start()

        from tuner.engines.base import RunOptions
        from tuner.run import run_study
        from tuner.summary import format_outcome
        from tuner.workers import run_workers

        options = RunOptions(
            tracking_uri=stores.tracking_uri, storage_url=stores.storage_url,
            n_trials=trials if trials is not None else (None if timeout else study.trials),
            timeout=timeout or study.timeout, seed=study.seed if seed is None else seed,
            show_progress_bar=progress and workers == 1, stale_after=stale_after,
            retry_failed=retry_failed, max_failures=max_failures,
            worker=worker_index or 0, parent_run_id=parent_run_id, engine=engine,
            algorithm=algorithm,
            keras_tuner_dir=str(stores_mod.STORE_DIR.resolve() / "keras-tuner"),
        )
        if _owns_process:  # the libraries' objects out of the collector's reach
            gc.freeze()
            gc.enable()
        if workers > 1:
            outcome = run_workers(study_file, study, options, workers)
        else:
            outcome = run_study(study, options)
        if parent_run_id is None:
            click.echo(format_outcome(study.name, outcome,
                                      stores_mod.redact(stores.tracking_uri)))


def _client(ctx: click.Context, tracking_uri: str | None, *,
            tensorflow: bool = False) -> MlflowClient:
    """A client of the study store; MLflow is imported here so ``--help`` stays fast."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from tuner.stores import existing_tracking_uri

    uri = existing_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    _quiet_libraries(ctx, tensorflow=tensorflow)
    return MlflowClient(uri)


@main.command("ls")
@TRACKING_URI_OPTION
@click.pass_context
def list_studies(ctx: click.Context, tracking_uri: str | None) -> None:
    """List every study in the store: trials by state, best value, last run.

    \b
    Example:
      tuner ls
    """
    with _errors(ctx):
        from tuner.catalog import list_studies as load_all
        from tuner.tables import studies_table

        click.echo(studies_table(load_all(_client(ctx, tracking_uri))))


@main.command()
@click.argument("study")
@click.option("--top", "top_k", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many of the best trials to show.")
@TRACKING_URI_OPTION
@click.pass_context
def show(ctx: click.Context, study: str, top_k: int, tracking_uri: str | None) -> None:
    """Show the best trials of STUDY and the MLflow experiment it lives in.

    \b
    Example:
      tuner show fashion --top 5
    """
    with _errors(ctx):
        from tuner.catalog import load_study
        from tuner.tables import trials_table

        click.echo(trials_table(load_study(_client(ctx, tracking_uri), study), top_k))


@main.command()
@click.argument("study")
@click.option("--model", "model_name", required=True, help="Registered model name to add to.")
@click.option("--alias", default="champion", show_default=True, help="Alias to point at it.")
@click.option("--trial", "trial_number",
              help="Promote this trial, not the best: its number (hyperband-N etc. for "
                   "KerasTuner's).")
@TRACKING_URI_OPTION
@click.pass_context
def promote(ctx: click.Context, study: str, model_name: str, alias: str,
            trial_number: str | None, tracking_uri: str | None) -> None:
    """Register the best COMPLETE trial's model of STUDY and point ALIAS at it.

    Promoting a trial that is already a version of the model reuses that
    version. Load it back with models:/NAME@ALIAS.

    \b
    Example:
      tuner promote fashion --model fashion-mlp
    """
    with _errors(ctx):
        from tuner.registry import promote as register

        done = register(_client(ctx, tracking_uri), study, model_name, alias=alias,
                        trial_number=trial_number)
        verb = "registered" if done.created else "already registered as"
        click.echo(f"trial {done.trial.label} of {study} ({done.trial.value:.4f}) {verb} "
                   f"{done.name} version {done.version}; alias {done.alias!r} -> {done.uri}")


@main.command()
@click.argument("model_uri")
@click.argument("input_file", type=click.Path(dir_okay=False))
@click.option("--output", type=click.Path(dir_okay=False), help="Write CSV here, not stdout.")
@TRACKING_URI_OPTION
@click.pass_context
def predict(ctx: click.Context, model_uri: str, input_file: str, output: str | None,
            tracking_uri: str | None) -> None:
    """Predict with MODEL_URI on the rows of INPUT_FILE (.npy or .csv).

    Prints the class and its probability per row (or the value, for
    regression) as CSV.

    \b
    Example:
      tuner predict models:/fashion-mlp@champion images.npy
    """
    with _errors(ctx):
        from pathlib import Path

        from tuner.predict import predict as run_predict

        _client(ctx, tracking_uri, tensorflow=True)
        text = run_predict(model_uri, Path(input_file)).to_csv()
        if output:
            Path(output).write_text(text)
            click.echo(f"wrote {text.count(chr(10)) - 1} predictions to {output}")
        else:
            click.echo(text, nl=False)


@main.command("lr-find")
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--optimizer", type=click.Choice(["adam", "sgd", "rmsprop", "nadam", "adamw"]),
              default="adam", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1),
              help="Batch size [default: the middle of the study's choices].")
@click.option("--steps", type=click.IntRange(min=20), default=300, show_default=True,
              help="Training steps while the rate rises from 1e-5 to 10.")
@click.option("--apply", is_flag=True, help="Print the search-space line to paste.")
@TRACKING_URI_OPTION
@click.pass_context
def lr_find(ctx: click.Context, study_file: str, optimizer: str, batch_size: int | None,
            steps: int, apply: bool, tracking_uri: str | None) -> None:
    """Find a learning-rate range for STUDY_FILE's data and a middle-of-the-space model.

    Trains a few hundred steps while the rate grows exponentially from 1e-5 to
    10, logs the loss-against-rate plot to MLflow (a run named lr-find in the
    study's experiment) and prints the suggested range.

    \b
    Example:
      tuner lr-find studies/fashion.py --optimizer adam --apply
    """
    with _errors(ctx):
        from tuner.studyfile import load_study_file

        study = load_study_file(study_file)
        _quiet_libraries(ctx)
        from tuner import stores as stores_mod
        from tuner.lr_find import default_params, find_learning_rate
        from tuner.run import prepare

        prepared = prepare(study, study.seed)
        params = default_params(study.space, optimizer, batch_size)
        finding = find_learning_rate(prepared, params, n_steps=steps)
        uri = stores_mod.resolve(tracking_uri, None).tracking_uri
        finding.log(uri, study.name, params)
        click.echo(f"{optimizer}, batch {params['batch_size']}: suggested learning rate "
                   f"{finding.low:.2g} .. {finding.high:.2g} "
                   f"({len(finding.rates)} steps; plot in MLflow run lr-find of {study.name})")
        if apply:
            click.echo(finding.space_line())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@TRACKING_URI_OPTION
@click.pass_context
def ui(ctx: click.Context, host: str, port: int, tracking_uri: str | None) -> None:
    """Start the MLflow UI on the study store (./mlruns by default).

    \b
    Example:
      tuner ui --port 5000
    """
    with _errors(ctx):
        from tuner.stores import existing_tracking_uri
        from tuner.ui import exec_ui, is_loopback, ui_command

        uri = existing_tracking_uri(tracking_uri)
        if uri.startswith(("http://", "https://")):
            click.echo(f"that store is a tracking server: open {uri} in a browser")
            return
        if not is_loopback(host):
            click.echo(f"warning: the MLflow UI has no authentication; binding {host} "
                       "lets anyone who reaches this machine read and change your runs", err=True)
        command = ui_command(uri, host, port)
        click.echo(f"MLflow UI: http://{host}:{port}/#/experiments (runs of a study: "
                   f"/#/experiments/<id>/runs); Ctrl-C to stop", err=True)
        sys.stdout.flush()
        exec_ui(command)


def _with_overrides(study: Study, *, name: str | None, sampler: str | None,
                    pruner: str | None, steps_per_execution: str | None,
                    jit_compile: str | None, mixed_precision: str | None,
                    input_pipeline: str | None) -> Study:
    """The study with the command line's settings in place of the file's."""
    changes: dict[str, object] = {
        k: v for k, v in {"name": name, "sampler": sampler, "pruner": pruner,
                          "input_pipeline": input_pipeline}.items() if v}
    if steps_per_execution is not None:
        if steps_per_execution != "auto" and not steps_per_execution.isdigit():
            raise UsageFailure("--steps-per-execution: expected a number > 0 or auto, "
                               f"received {steps_per_execution!r}")
        changes["steps_per_execution"] = (
            steps_per_execution if steps_per_execution == "auto" else int(steps_per_execution))
    if jit_compile is not None:
        changes["jit_compile"] = {"auto": "auto", "on": True, "off": False}[jit_compile]
    if mixed_precision is not None:
        changes["mixed_precision"] = False if mixed_precision == "off" else mixed_precision
    return dataclasses.replace(study, **changes)


def _quiet_libraries(ctx: click.Context, *, tensorflow: bool = True) -> None:
    """TensorFlow loaded without its start-up chatter; MLflow and Optuna: warnings only."""
    if tensorflow and not ctx.obj.get("debug"):
        from tuner.quiet import import_tensorflow_quietly

        import_tensorflow_quietly()
    import mlflow  # noqa: F401 - it sets its loggers' levels on import; set ours after
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Optuna logs a traceback per failed trial; tuner logs one line instead.
    logging.getLogger("optuna").setLevel(logging.ERROR)
    tuner_log = logging.getLogger("tuner")
    if not tuner_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        tuner_log.addHandler(handler)
        tuner_log.setLevel(logging.INFO)
    # TensorFlow warns of retracing whenever a new trial's model first predicts.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


@contextlib.contextmanager
def _errors(ctx: click.Context) -> Iterator[None]:
    """Turn library errors into one line and exit 2; Ctrl-C into exit 130."""
    if ctx.obj.get("debug"):
        yield
        return
    try:
        yield
    except Interrupted as exc:
        click.echo(f"interrupted: {one_line(exc.outcome)}; the running trial was recorded as "
                   "failed, run the same command to continue", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted before the search started", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except TunerError as exc:
        raise UsageFailure(str(exc).splitlines()[0]) from None


def entry() -> None:
    """The ``tuner`` command: ``main``, then out without the interpreter's teardown.

    With TensorFlow, MLflow and SQLAlchemy loaded, Python's finalization (the
    teardown of every module and object, after the exit handlers) took 3-5 s
    after a ``tuner run``'s last work here (bench/README.md). Everything tuner
    writes is committed by then and the figures process has been waited for;
    the exit handlers (``atexit``: logging's flush, MLflow's) still run and the
    standard streams are flushed, then the process ends with main's status.
    """
    global _owns_process
    _owns_process = True
    try:
        status = main()
    except SystemExit as done:
        status = done.code
    if isinstance(status, str):  # sys.exit("message"), as Python itself does it
        print(status, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()  # what a normal exit runs before finalization
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status or 0)


if __name__ == "__main__":
    entry()
