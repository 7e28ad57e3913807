"""Shared fixtures: every test runs in its own directory with its own stores.

``searched_tiny`` gives a test a finished tiny study without searching it: the
session searches it once (``tiny_search``) and each test gets a copy of its
stores, which it may change.

The tests signal their own processes and children (Ctrl-C, SIGTERM, SIGHUP). A shell
that starts pytest in the background (``&``, ``nohup``) hands it an ignored SIGINT,
which every child would inherit and the product rightly honours; so this module puts
the stop signals back at their defaults before any test starts a process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def stop_signals_at_their_defaults() -> None:
    """SIGINT raises KeyboardInterrupt and SIGTERM/SIGHUP end the process, in this process
    and (a handler is reset on exec) in every child it starts, whatever the shell ignored."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


stop_signals_at_their_defaults()

from tuner.runtime.process import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()  # TensorFlow's start-up lines would follow pytest's summary

import keras  # noqa: E402
import mlflow  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner, Result  # noqa: E402

from tuner.cli.main import main  # noqa: E402

TINY_STUDY = """
import tuner
from tuner.datasets import synthetic

study = tuner.Study(
    data=lambda: synthetic(n=300),
    space=tuner.Space(
        n_layers=tuner.Int(1, 2),
        units=tuner.Int(4, 16, log=True),
        learning_rate=tuner.Float(1e-2, 1e-1, log=True),
        batch_size=32,
        optimizer=tuner.Choice(["adam", "nadam"]),
        weight_decay=0.0, lr_schedule="constant", normalization="none", dropout=0.0,
        label_smoothing=0.0, feature_scaling="standard", numeric_embedding="none", ensemble_k=1,
    ),
    trials=3,
    max_epochs=4,
    patience=2,
    {extra}
)
"""


# The modules that take longest, longest first (seconds of test time on 2 cores, from
# `pytest --durations=0`). Each xdist process takes the next module when it has fewer
# than two queued (--dist loadscope, --no-loadscope-reorder): a long module queued
# last would run alone at the end while the other process idles.
SLOWEST_FIRST = (
    "stories/test_reliability.py",  # 254
    "stories/test_finalize.py",  # 240
    "stories/test_serving.py",  # 154
    "stories/test_speed.py",  # 150
    "stories/test_workers.py",  # 104
    "stories/test_postgres.py",  # 72
    "stories/test_search_strategy.py",  # 56
    "stories/test_tabular_cv_auto.py",  # 55
    "runtime/test_stores.py",  # 53
    "stories/test_space_dimensions.py",  # 47
    "stories/test_frames.py",  # 38
    "stories/test_tutorial_features.py",  # 32
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest modules first (``SLOWEST_FIRST``), the others after them in their order;
    each module's tests keep theirs."""
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(
        key=lambda item: rank.get(item.nodeid.split("::")[0].removeprefix("tests/"), len(rank))
    )


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test in an empty directory, so the default ./mlruns stores are its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("TUNER_STORAGE", raising=False)
    keras.utils.set_random_seed(0)
    return tmp_path


@pytest.fixture(autouse=True)
def no_open_mlflow_run() -> Iterator[None]:
    """Fail any test that leaves an MLflow run active."""
    yield
    active = mlflow.active_run()
    if active is not None:
        mlflow.end_run()
        pytest.fail(f"test left MLflow run {active.info.run_id} open")


@pytest.fixture
def study_file(workdir: Path) -> Callable[..., Path]:
    """Write a tiny synthetic study; ``extra`` adds keyword arguments to tuner.Study."""

    def write(extra: str = "", name: str = "tiny", body: str | None = None) -> Path:
        path = workdir / f"{name}.py"
        text = body if body is not None else TINY_STUDY.format(extra=extra)
        path.write_text(textwrap.dedent(text))
        return path

    return write


@dataclass(frozen=True)
class TinySearch:
    """A finished search of ``TINY_STUDY`` (3 trials): its folder and what `tuner run` printed."""

    folder: Path
    output: str


@pytest.fixture(scope="session")
def tiny_search(tmp_path_factory: pytest.TempPathFactory) -> TinySearch:
    """``tuner run tiny.py --trials 3`` once per session, in a folder of its own."""
    folder = tmp_path_factory.mktemp("tiny-search")
    (folder / "tiny.py").write_text(textwrap.dedent(TINY_STUDY.format(extra="")))
    keras.utils.set_random_seed(0)
    stores = folder / "mlruns"  # named: an earlier test's MLFLOW_TRACKING_URI may linger
    with contextlib.chdir(folder):
        result = CliRunner().invoke(
            main,
            [
                "run",
                "tiny.py",
                "--trials",
                "3",
                "--no-progress",
                "--tracking-uri",
                f"sqlite:///{stores}/mlflow.db",
                "--storage",
                f"sqlite:///{stores}/optuna.db",
            ],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    return TinySearch(folder, result.stdout)


@pytest.fixture
def searched_tiny(tiny_search: TinySearch, workdir: Path) -> str:
    """The session's finished tiny study, copied here: ./tiny.py and its stores in ./mlruns
    (its artifacts stay in the session's folder). Returns what `tuner run` printed."""
    shutil.copytree(tiny_search.folder / "mlruns", workdir / "mlruns")
    shutil.copy(tiny_search.folder / "tiny.py", workdir / "tiny.py")
    return tiny_search.output


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Invoke ``tuner`` in-process, as a user would from a shell."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke
