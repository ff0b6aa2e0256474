"""The database's schema, its version and its migrations, and how a connection is opened.

Tables
------
``runs``         one row per run: name, experiment, configuration (JSON), seed, library versions,
                 start/end time, status.
``layers``       per run: layer name, position, activation shape, kind (module type), units.
``records``      one row per completed record call (run, epoch, step, time): a row here means
                 every measurement of that call is in the database.
``measurements`` run, epoch, step, probe, layer, unit (NULL for the whole layer), quantity
                 (``H(T)``, ``I(X;T)``, ``I(T;Y)``), estimator, parameters (JSON), value (bits),
                 seconds taken.
``metrics``      run, epoch, step, name, value (loss, accuracy, …).
``warnings``     run, epoch, step, layer, message.
``bands``        uncertainty of layer values: bootstrap intervals over probe subsamples and
                 sensitivity ranges over estimator settings (kind, low, high, detail).
``checkpoints``  run, name, epoch, blob (model/optimiser state for resuming and pruning).
``findings``     per run: what only the trained model can tell (unit health, redundant unit
                 pairs), as JSON, found when the run was recorded or analysed.

Version history: 1 — first release; 2 — adds ``bands``; 3 — adds ``findings``. Older files
are upgraded in place when opened for writing, and read as having none of the newer tables
when opened read-only.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from ..errors import StoreError

__all__ = ["SCHEMA_VERSION", "connect", "Transaction", "to_json"]

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    experiment TEXT,
    config TEXT NOT NULL DEFAULT '{}',
    seed INTEGER,
    versions TEXT NOT NULL DEFAULT '{}',
    started_at REAL NOT NULL,
    ended_at REAL,
    status TEXT NOT NULL DEFAULT 'running'
);
CREATE TABLE IF NOT EXISTS layers (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    shape TEXT NOT NULL,
    kind TEXT NOT NULL,
    n_units INTEGER NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS records (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    step INTEGER NOT NULL,
    recorded_at REAL NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (run_id, epoch, step)
);
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    step INTEGER NOT NULL,
    probe TEXT NOT NULL,
    layer TEXT NOT NULL,
    unit INTEGER,
    quantity TEXT NOT NULL,
    estimator TEXT NOT NULL,
    params TEXT NOT NULL,
    value REAL NOT NULL,
    seconds REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS measurements_run ON measurements (run_id, layer, quantity, epoch);
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, epoch, step, name)
);
CREATE TABLE IF NOT EXISTS warnings (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER,
    step INTEGER,
    layer TEXT,
    message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bands (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    step INTEGER NOT NULL,
    probe TEXT NOT NULL,
    layer TEXT NOT NULL,
    quantity TEXT NOT NULL,
    estimator TEXT NOT NULL,
    kind TEXT NOT NULL,
    low REAL NOT NULL,
    high REAL NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS findings (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER,
    computed_at REAL NOT NULL,
    data TEXT NOT NULL
);
"""


def to_json(obj: Any) -> str:
    """JSON text of stored parameters (NumPy and torch scalars as numbers, tuples as lists)."""
    return json.dumps(obj, sort_keys=True, default=_json_default)


def _json_default(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, (tuple, set)):
        return list(v)
    return str(v)


def connect(path: Path, timeout: float, readonly: bool) -> tuple[sqlite3.Connection, int]:
    """An open connection to the database at ``path`` and the schema version it holds, created
    or upgraded to :data:`SCHEMA_VERSION` unless ``readonly``. A read-only reader of a database in
    a location it cannot write (a read-only mount) opens it as an immutable file.

    Raises
    ------
    StoreError
        If the file is missing (read-only), a folder, empty (read-only), not an infoscope
        database, newer, or cannot be opened; each naming the file and the cause.
    """
    if readonly and not path.exists():
        raise StoreError(f"no database at {path}; record a run first (infoscope run …)")
    if path.exists() and path.is_dir():
        raise StoreError(f"{path} is a folder, not a database file")
    if not readonly:
        path.parent.mkdir(parents=True, exist_ok=True)
    uris = [f"file:{path}?mode=ro", f"file:{path}?mode=ro&immutable=1"] if readonly else [f"file:{path}"]
    conn, version, last = None, None, None
    for uri in uris:
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            version = _schema_version(conn)
            break
        except sqlite3.OperationalError as exc:  # cannot be opened or read (a read-only location: try immutable)
            _close_quietly(conn)
            conn, last = None, exc
        except sqlite3.DatabaseError as exc:
            _close_quietly(conn)
            raise StoreError(f"{path} is not an infoscope database ({exc}); choose another file") from None
    if conn is None:
        raise StoreError(f"{path} cannot be opened ({last}); check that the file and its folder can be read") from None
    if version is not None and version > SCHEMA_VERSION:
        _close_quietly(conn)
        raise StoreError(
            f"{path} has schema version {version}, newer than this infoscope understands "
            f"({SCHEMA_VERSION}); upgrade infoscope to read it"
        )
    if version is None and readonly:
        _close_quietly(conn)
        raise StoreError(f"{path} is empty (no tables): not an infoscope database yet; record a run into it first")
    if not readonly and (version is None or version < SCHEMA_VERSION):
        try:
            _create(conn, path)
        except StoreError:
            _close_quietly(conn)
            raise
        version = SCHEMA_VERSION
    return conn, version


def _schema_version(conn: sqlite3.Connection) -> int | None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables:
        if tables:
            raise sqlite3.DatabaseError(f"it is an SQLite database with other tables ({', '.join(sorted(tables)[:5])})")
        return None
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if row is None:
        raise sqlite3.DatabaseError("it has no schema version")
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise sqlite3.DatabaseError(f"its schema version is {row[0]!r}, not a number") from None


def _create(conn: sqlite3.Connection, path: Path) -> None:
    """Create the tables, or add those an older version lacks (every statement is idempotent)."""
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        with Transaction(conn, path):
            for stmt in _SCHEMA.strip().split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot initialise {path}: {why_not_written(exc)}") from None


def _close_quietly(conn: sqlite3.Connection | None) -> None:
    try:
        if conn is not None:
            conn.close()
    except Exception:  # pragma: no cover
        pass


def why_not_written(exc: sqlite3.Error) -> str:
    """What a failed write means for the user, in words that follow the file's name."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return f"it is read-only ({text}); choose a file in a writable location"
    if "full" in text:
        return (f"the disk holding it is full ({text}); nothing of this write was stored and everything committed "
                "before it is intact: free space and resume the run (--resume)")
    if "locked" in text or "busy" in text:
        return f"it is locked by another process ({text}); try again when it is free"
    return f"{text}; nothing of this write was stored"


class Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error; SQLite's errors (locked, read-only, disk
    full) become one-line errors (:class:`StoreError`) naming the file, and a rollback never hides
    the cause."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn, self.path = conn, path

    def __enter__(self) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to {self.path}: {why_not_written(exc)}") from None

    def _rollback(self) -> None:
        if self.conn.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as err:
                self._rollback()
                raise StoreError(f"could not commit to {self.path}: {why_not_written(err)}") from None
            return
        self._rollback()
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError):
            raise StoreError(f"could not write to {self.path}: {why_not_written(exc)}") from None
