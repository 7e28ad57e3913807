"""Where studies and runs are stored: defaults under ./mlruns, or the URLs given.

Nothing needs a server: MLflow tracks to ``sqlite:///mlruns/mlflow.db`` with
artifacts under ``mlruns/``, Optuna to ``sqlite:///mlruns/optuna.db``. A
tracking server or PostgreSQL works unchanged through the same two URLs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import sys
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.trial import FrozenTrial
from sqlalchemy.engine import make_url

from tuner.core.errors import StoreError, first_line
from tuner.runtime.store_creation import (
    SQLITE_BUSY_TIMEOUT_S,
    creation_lock,
    has_tables,
    sqlite_file,
    write_ahead_log,
)

STORE_DIR = Path("mlruns")
CONNECT_TIMEOUT_S = 5
CREATE_ATTEMPTS = 3  # processes that start together on a new database


@dataclass(frozen=True)
class Stores:
    """The MLflow tracking URI and the Optuna storage URL of one run."""

    tracking_uri: str
    storage_url: str


def resolve(tracking_uri: str | None, storage_url: str | None) -> Stores:
    """Fill in the defaults; create ``mlruns/`` only when a default points into it.

    The defaults are made absolute: MLflow caches one database engine per URI
    in a process, so a relative URI would keep the first working directory's.
    """
    tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not (tracking_uri and storage_url):
        folder = _ensure_writable(STORE_DIR)
        tracking_uri = tracking_uri or f"sqlite:///{folder}/mlflow.db"
        storage_url = storage_url or f"sqlite:///{folder}/optuna.db"
    return Stores(tracking_uri, storage_url)


def existing_tracking_uri(tracking_uri: str | None) -> str:
    """The tracking URI to read from; the default one only if ``tuner run`` created it.
    A SQLite store that is not a database is refused in one line (``check_readable``)."""
    return check_readable(
        tracking_uri
        or os.environ.get("MLFLOW_TRACKING_URI")
        or _existing_default("mlflow.db", "tracking store", "tracking_uri")
    )


def existing_storage_url(storage_url: str | None) -> str:
    """The Optuna storage to read; the default one only if ``tuner run`` created it."""
    return check_readable(
        storage_url or _existing_default("optuna.db", "Optuna storage", "storage")
    )


def check_readable(url: str) -> str:
    """``url``, after reading a SQLite store's schema without writing to it: a damaged or
    foreign file gives one ``StoreError`` naming it, not a traceback from SQLAlchemy."""
    database = sqlite_file(url)
    if database is None or not database.exists():
        return url
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            db.execute("PRAGMA schema_version").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot read the SQLite store {database}: {exc}; restore it from a "
            "backup, or move it away and run again"
        ) from exc
    return url


def _existing_default(file_name: str, what: str, option: str) -> str:
    database = STORE_DIR.resolve() / file_name
    if not database.is_file():
        raise StoreError(
            f"no {what} at {STORE_DIR}/{file_name}; run `tuner run` here "
            f"first, or pass {option}=..."
        )
    return f"sqlite:///{database}"


def _ensure_writable(folder: Path) -> Path:
    """Create the folder if needed; its absolute path."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the store folder {folder}/: {exc.strerror}; run from "
            "a writable directory or pass storage=... and tracking_uri=..."
        ) from exc
    if not os.access(folder, os.W_OK):
        raise StoreError(
            f"the store folder {folder.resolve()}/ is not writable; "
            "fix its permissions or pass storage=... and tracking_uri=..."
        )
    return folder.resolve()


# What SQLite, PostgreSQL and the file system say when a store cannot take a write.
STORE_FAILURES = (
    "database or disk is full",
    "no space left on device",
    "disk i/o error",
    "database is locked",
    "readonly database",
    "database disk image is malformed",
    "could not extend file",
    "disk quota exceeded",
)


def store_failure(error: BaseException) -> str | None:
    """The reason a store refused a write, from ``error`` or the errors that caused it
    (Optuna and MLflow wrap SQLAlchemy's, which wraps the driver's); None for others."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return "no space left on device"
        text = str(current).lower()
        for reason in STORE_FAILURES:
            if reason in text:
                return reason
        current = current.__cause__ or current.__context__
    return None


def report_store_failures_of_threads() -> None:
    """A store that refuses a write on another thread (Optuna's heartbeat, on a full
    disk) prints one line instead of a traceback; the search's own next write meets the
    same refusal and ends the run in one line. Other errors keep Python's hook."""
    previous = threading.excepthook
    if getattr(previous, "reports_store_failures", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        reason = store_failure(args.exc_value) if args.exc_value is not None else None
        if reason is None:
            previous(args)
            return
        name = args.thread.name if args.thread is not None else "a thread"
        print(f"Warning: a store refused a write on {name} ({reason})", file=sys.stderr)

    hook.reports_store_failures = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def redact(url: str) -> str:
    """The URL with any password replaced by ***, for messages and tags."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return url


def _dialect(url: str) -> str:
    """The database kind of a storage URL (``sqlite``, ``postgresql``...)."""
    try:
        return make_url(url).get_backend_name()
    except sqlalchemy.exc.ArgumentError as exc:
        raise StoreError(
            f"storage {url!r} is not a database URL; expected e.g. "
            "sqlite:///mlruns/optuna.db or postgresql://user@host/db"
        ) from exc


def open_storage(
    url: str,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    stale_trial_callback: Callable[[optuna.Study, FrozenTrial], None] | None = None,
) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage, with a busy timeout for SQLite and a connect timeout elsewhere.

    With a heartbeat, a trial whose process died (kill -9, a lost machine) is
    marked FAIL by the next worker once ``grace_period`` passes without one.
    """
    dialect = _dialect(url)
    write_ahead_log(url)
    connect_args = (
        {"timeout": SQLITE_BUSY_TIMEOUT_S}
        if dialect == "sqlite"
        else {"connect_timeout": CONNECT_TIMEOUT_S}
    )
    database = sqlite_file(url)
    new = database is not None and not has_tables(database)
    attempt = 0
    while True:
        try:
            with (
                creation_lock(database) if new and database else contextlib.nullcontext(),
                warnings.catch_warnings(),
            ):  # heartbeats are experimental in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_options(dialect, connect_args),
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=stale_trial_callback,
                )
            if dialect == "sqlite":
                lock_on_begin(storage.engine)
            return storage
        except Exception as exc:  # SQLAlchemy and drivers raise many kinds
            attempt += 1
            if attempt < CREATE_ATTEMPTS and _lost_creation_race(exc):
                time.sleep(0.5 * attempt)  # the other process's tables are there now
                continue
            raise StoreError(
                f"cannot open the Optuna storage {redact(url)}: {first_line(exc)}"
            ) from exc


POOL_RECYCLE_S = 300


def engine_options(dialect: str, connect_args: dict[str, Any]) -> dict[str, Any]:
    """SQLAlchemy's engine options for Optuna's storage. A database server (PostgreSQL,
    MySQL) gets a pool that survives its restart: each connection is tested before use
    (``pool_pre_ping``) and none is kept past ``POOL_RECYCLE_S``."""
    options: dict[str, Any] = {"connect_args": connect_args}
    if dialect != "sqlite":
        options.update(pool_pre_ping=True, pool_recycle=POOL_RECYCLE_S)
    return options


def lock_on_begin(engine: sqlalchemy.engine.Engine) -> None:
    """Every transaction of ``engine`` (SQLite) takes the write lock when it begins.

    SQLite ignores Optuna's ``SELECT ... FOR UPDATE``, and Python's sqlite3 starts a
    transaction only at the first write, so two workers popping the study's queue
    at once both read a WAITING trial as theirs and run it twice (optuna#4002).
    ``BEGIN IMMEDIATE`` makes each read-then-write whole: the second waits for the
    first (SQLAlchemy's pysqlite recipe for serializable transactions).
    """

    @sqlalchemy.event.listens_for(engine, "connect")
    def no_implicit_begin(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def begin_immediate(connection: sqlalchemy.engine.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the listeners are replaced


def _lost_creation_race(exc: Exception) -> bool:
    """Whether another process created the same tables at the same moment: PostgreSQL
    says a relation or type "already exists", or a unique key is duplicated."""
    text = str(exc)
    return "already exists" in text or "duplicate key" in text
