"""New SQLite stores, made once however many processes open them together.

Creating a store runs its migrations (MLflow's 68, Optuna's few); two
processes migrating one new file at once collide in ``alembic_version``.
Every creation here happens under ``creation_lock``.

MLflow's migrations cost about 3.5 s of CPU in a second process (1.6 s of
it importing MLflow), on the path of every ``tuner run`` in a new folder.
The first store made on a machine is kept, emptied, as a template in the
user's cache, one per MLflow version (``mlflow-<version>.db``); a later new
store is a copy of it (milliseconds), and MLflow makes its ``Default``
experiment, with this folder's artifact location, when it first opens it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from importlib import metadata
from pathlib import Path

import sqlalchemy
from sqlalchemy.engine import make_url

from tuner.core.errors import StoreError

SQLITE_BUSY_TIMEOUT_S = 30


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other URLs and in-memory databases."""
    try:
        parsed = make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def write_ahead_log(url: str) -> None:
    """Switch a SQLite store to write-ahead logging (a property of the file: set once).

    Both stores commit many small transactions a trial (each epoch's values,
    Optuna's params and reports). In SQLite's default rollback-journal mode a
    commit cost 13-15 ms on this machine's disk, in WAL mode 3-4 ms, equally
    durable; readers (the MLflow UI) do not block the writer. WAL needs a
    local disk: for a network file system use PostgreSQL.
    """
    database = sqlite_file(url)
    if database is None:
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(sqlite3.connect(database, timeout=SQLITE_BUSY_TIMEOUT_S)) as db:
            db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the SQLite store {database}: {exc}") from exc


@contextlib.contextmanager
def creation_lock(database: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``DATABASE.lock`` beside a SQLite store, waiting for it.

    Every creation happens inside this lock, so a second process waits and
    finds the tables made. ``flock`` is released by the kernel when its holder
    dies.
    """
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        lock = open(f"{database}.lock", "a")  # noqa: SIM115 (held across the yield)
    except OSError:  # a read-only folder: nothing can be created there to race on
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def has_tables(database: Path) -> bool:
    """Whether a SQLite file holds a migrated schema (an ``alembic_version`` row), read
    without writing or waiting."""
    if not database.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            return db.execute("SELECT version_num FROM alembic_version").fetchone() is not None
    except sqlite3.Error:
        return False


def tracking_template() -> Path | None:
    """Where the template of this MLflow version's tracking store is kept (it may not
    exist yet): ``$XDG_CACHE_HOME/tuner/`` or ``~/.cache/tuner/``."""
    try:
        version = metadata.version("mlflow")
    except metadata.PackageNotFoundError:
        return None
    try:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    except (RuntimeError, KeyError):  # no home directory to be found
        return None
    return Path(cache) / "tuner" / f"mlflow-{version}.db"


def create_tracking_store(tracking_uri: str) -> None:
    """Make a new SQLite tracking store with MLflow's migrations, under its creation lock,
    and keep it as the template if there is none (run by ``start_tracking_store``'s
    second process)."""
    database = sqlite_file(tracking_uri)
    if database is None:
        return
    with creation_lock(database):
        if has_tables(database):
            return
        write_ahead_log(tracking_uri)
        from mlflow.tracking import MlflowClient  # 1.6 s: in this second process only

        MlflowClient(tracking_uri).search_experiments(max_results=1)
        _keep_as_template(database)


def _keep_as_template(database: Path) -> None:
    """A copy of a store just made, without its ``Default`` experiment (whose artifact
    location names its folder), as the template; any failure leaves none."""
    template = tracking_template()
    if template is None or template.exists():
        return
    partial = template.with_name(f"{template.name}.{os.getpid()}")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(database)) as made, closing(sqlite3.connect(partial)) as copy:
            made.backup(copy)
            copy.execute("DELETE FROM experiment_tags WHERE experiment_id = 0")
            copy.execute("DELETE FROM experiments WHERE experiment_id = 0")
            copy.commit()
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        os.replace(partial, template)
    except (OSError, sqlite3.Error):
        partial.unlink(missing_ok=True)


def _copy_template(tracking_uri: str, database: Path) -> bool:
    """Make a new store at ``database`` as a copy of the template; whether it did (not
    where there is no template, or a file is already there)."""
    template = tracking_template()
    if template is None or not has_tables(template):  # none, or not a store
        return False
    with creation_lock(database):
        if database.exists():
            return has_tables(database)
        partial = database.with_name(f"{database.name}.{os.getpid()}")
        try:
            shutil.copyfile(template, partial)
            os.replace(partial, database)
        except OSError:
            partial.unlink(missing_ok=True)
            return False
        write_ahead_log(tracking_uri)
    return True


_CREATE_TRACKING_STORE = (
    "import sys; from tuner.runtime.store_creation import "
    "create_tracking_store; create_tracking_store(sys.argv[1])"
)
# Stores this process began: the process making one, or None where the template was copied.
_creating: dict[str, subprocess.Popen[bytes] | None] = {}


def start_tracking_store(tracking_uri: str) -> bool:
    """Begin a new SQLite tracking store while this process starts up.

    A copy of the template where there is one; else a second process runs
    MLflow's migrations on the other core while this one imports TensorFlow
    and loads the data (``await_tracking_store`` waits for it before the first
    use), in its own session, so that a Ctrl-C at start-up does not stop it
    half-way. A store with its tables, and any other URL, is left to MLflow in
    this process. Returns whether a second process makes it.
    """
    database = sqlite_file(tracking_uri)
    if database is None or has_tables(database) or tracking_uri in _creating:
        return False
    if _copy_template(tracking_uri, database):
        _creating[tracking_uri] = None
        return False
    _creating[tracking_uri] = subprocess.Popen(
        [sys.executable, "-c", _CREATE_TRACKING_STORE, tracking_uri],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return True


def await_tracking_store(tracking_uri: str) -> None:
    """Wait for ``start_tracking_store``'s process, if any, and for any other process
    creating the same SQLite store (its creation lock).

    If the creation failed, MLflow in this process creates the store, and reports
    what is wrong in its own words.
    """
    process = _creating.pop(tracking_uri, None)
    if process is not None:
        process.wait()
    database = sqlite_file(tracking_uri)
    if database is not None:
        with creation_lock(database):
            pass


def discard_tracking_store(tracking_uri: str) -> None:
    """Remove a store ``start_tracking_store`` began, before anything was logged to it.

    Bad input found before the first use (the data, the objective) leaves no
    store behind, as when MLflow created its stores on first use.
    """
    if tracking_uri not in _creating:
        return
    process = _creating.pop(tracking_uri)
    database = sqlite_file(tracking_uri)
    if process is not None:
        process.wait()
    if database is None:
        return
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
