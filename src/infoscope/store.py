"""SQLite storage of runs, layers, measurements and metrics (standard-library ``sqlite3``).

The database is in WAL mode so a reader (a query, a report) can open it while training
writes, and every call of :meth:`Store.write_record` is one transaction: a crash loses at most
the measurement in flight, never a committed epoch. The schema carries a version number; a
database written by a newer infoscope is refused rather than misread.

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

Version history: 1 — first release; 2 — adds ``bands`` (version 1 files are upgraded in place
when opened for writing, and read as having no bands when opened read-only).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["SCHEMA_VERSION", "StoreError", "Store", "MeasurementRow", "BandRow", "load", "opened", "last_per_epoch", "layer_label"]

SCHEMA_VERSION = 2

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
"""


class StoreError(RuntimeError):
    """The database cannot be used: not SQLite, a newer schema, locked, or a missing run."""


@dataclass(frozen=True)
class BandRow:
    """An uncertainty band of a layer value (see the ``bands`` table)."""

    probe: str
    layer: str
    quantity: str
    estimator: str
    kind: str
    low: float
    high: float
    detail: dict[str, Any]


@dataclass(frozen=True)
class MeasurementRow:
    """One value to store (see the ``measurements`` table)."""

    probe: str
    layer: str
    unit: int | None
    quantity: str
    estimator: str
    params: dict[str, Any]
    value: float
    seconds: float


def layer_label(name: str, kind: str | None, shape: Sequence[int]) -> str:
    """How a layer is shown: name, module kind and output shape (without N).

    Examples
    --------
    >>> layer_label("conv2", "ReLU", [16, 14, 14])
    'conv2 · ReLU · 16×14×14'
    """
    dims = "×".join(str(int(d)) for d in shape) if len(shape) else "1"
    return " · ".join([name] + ([kind] if kind else []) + [dims])


def last_per_epoch(df: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (``by``…, epoch): the last step's, for series recorded several times an epoch.

    Examples
    --------
    >>> df = pd.DataFrame({"epoch": [0, 1, 1], "step": [0, 5, 9], "value": [1.0, 2.0, 3.0]})
    >>> last_per_epoch(df).value.tolist()
    [1.0, 3.0]
    """
    return df.sort_values(["epoch", "step"]).groupby([*by, "epoch"], as_index=False).last()


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=_json_default)


def _json_default(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, (tuple, set)):
        return list(v)
    return str(v)


class Store:
    """An infoscope SQLite database.

    Parameters
    ----------
    path : str or Path
        Database file; created (with its folder) if missing.
    timeout : float
        Seconds to wait for a lock held by another process before failing.
    readonly : bool
        Open without creating or changing anything (for readers and reports).

    Raises
    ------
    StoreError
        If the file is not an SQLite database, was written by a newer infoscope, or stays
        locked for longer than ``timeout``.

    Examples
    --------
    >>> import tempfile, os
    >>> with Store(os.path.join(tempfile.mkdtemp(), "runs.db")) as st:
    ...     run_id = st.create_run("demo", experiment=None, config={}, seed=0)
    ...     st.run_names()
    ['demo']
    """

    def __init__(self, path: str | Path, timeout: float = 30.0, readonly: bool = False):
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise StoreError(f"no database at {self.path}; record a run first (infoscope run …)")
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a database file")
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        uri = f"file:{self.path}?mode=ro" if readonly else f"file:{self.path}"
        try:
            self.conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            version = self._schema_version()
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise StoreError(f"{self.path} is not an infoscope database ({exc}); choose another file") from None
        if version is not None and version > SCHEMA_VERSION:
            self._close_quietly()
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this infoscope understands "
                f"({SCHEMA_VERSION}); upgrade infoscope to read it"
            )
        if not readonly and (version is None or version < SCHEMA_VERSION):
            self._create()
        self.schema_version = SCHEMA_VERSION if not readonly or version is None else version

    # -- set-up -------------------------------------------------------------------------
    def _schema_version(self) -> int | None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            if tables:
                raise sqlite3.DatabaseError(f"it is an SQLite database with other tables ({', '.join(sorted(tables)[:5])})")
            return None
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            raise sqlite3.DatabaseError("it has no schema version")
        return int(row[0])

    def _create(self) -> None:
        try:
            self.conn.execute("PRAGMA journal_mode = WAL")
            with self._transaction():
                for stmt in _SCHEMA.strip().split(";"):
                    if stmt.strip():
                        self.conn.execute(stmt)
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot initialise {self.path}: {exc}") from None

    def _transaction(self):
        return _Transaction(self.conn, self.path)

    def _close_quietly(self) -> None:
        try:
            self.conn.close()
        except Exception:  # pragma: no cover
            pass

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------
    def create_run(
        self,
        name: str,
        experiment: str | None,
        config: dict[str, Any],
        seed: int | None,
        versions: dict[str, str] | None = None,
    ) -> int:
        """Insert a new run; the name must be new in this database."""
        if self.run_id(name, missing_ok=True) is not None:
            raise StoreError(
                f"a run named {name!r} already exists in {self.path}; choose another name, or resume it"
            )
        return self._insert_run(name, experiment, config, seed, versions)

    def _insert_run(self, name: str, experiment: str | None, config: dict[str, Any], seed: int | None,
                    versions: dict[str, str] | None) -> int:
        with self._transaction():
            cur = self.conn.execute(
                "INSERT INTO runs (name, experiment, config, seed, versions, started_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, experiment, _json(config), seed, _json(versions or {}), time.time()),
            )
        return int(cur.lastrowid)

    def open_run(
        self,
        name: str,
        experiment: str | None,
        config: dict[str, Any],
        seed: int | None,
        versions: dict[str, str] | None = None,
        resume: bool = False,
    ) -> tuple[int, bool]:
        """The run to write into: a new one, or with ``resume`` the existing run of that name.

        This is the one place that decides whether a run is created or continued.

        Returns
        -------
        (run id, whether an existing run was resumed)

        Raises
        ------
        StoreError
            If a run of that name exists and ``resume`` is False.
        """
        existing = self.run_id(name, missing_ok=True)
        if existing is None:
            return self._insert_run(name, experiment, config, seed, versions), False
        if not resume:
            raise StoreError(
                f"a run named {name!r} already exists in {self.path}; resume it (--resume, resume=True) or choose "
                "another name (--name, run=)"
            )
        self.set_status(existing, "running", ended=False)
        return existing, True

    def run_id(self, name: str, missing_ok: bool = False) -> int | None:
        """Id of the run called ``name``."""
        row = self.conn.execute("SELECT id FROM runs WHERE name = ?", (name,)).fetchone()
        if row is None:
            if missing_ok:
                return None
            names = self.run_names()
            raise StoreError(
                f"no run named {name!r} in {self.path}; runs here: {', '.join(names) if names else 'none'}"
            )
        return int(row[0])

    def run_names(self) -> list[str]:
        """Names of all runs, oldest first."""
        return [r[0] for r in self.conn.execute("SELECT name FROM runs ORDER BY id")]

    def run_info(self, name: str) -> dict[str, Any]:
        """Everything stored about a run (configuration and versions decoded)."""
        rid = self.run_id(name)
        row = self.conn.execute(
            "SELECT name, experiment, config, seed, versions, started_at, ended_at, status FROM runs WHERE id = ?", (rid,)
        ).fetchone()
        keys = ("name", "experiment", "config", "seed", "versions", "started_at", "ended_at", "status")
        info = dict(zip(keys, row))
        info["config"] = json.loads(info["config"])
        info["versions"] = json.loads(info["versions"])
        return info

    def set_status(self, run_id: int, status: str, ended: bool = True) -> None:
        """Mark a run finished/failed/running."""
        with self._transaction():
            self.conn.execute(
                "UPDATE runs SET status = ?, ended_at = ? WHERE id = ?", (status, time.time() if ended else None, run_id)
            )

    def add_layers(self, run_id: int, layers: Sequence[tuple[str, Sequence[int], str, int]]) -> None:
        """Register layers: (name, activation shape without N, module kind, number of units)."""
        with self._transaction():
            for pos, (name, shape, kind, n_units) in enumerate(layers):
                self.conn.execute(
                    "INSERT OR REPLACE INTO layers (run_id, name, position, shape, kind, n_units) VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, name, pos, _json(list(shape)), kind, int(n_units)),
                )

    # -- writing one record call ----------------------------------------------------------
    def write_record(
        self,
        run_id: int,
        epoch: int,
        step: int,
        rows: Iterable[MeasurementRow],
        metrics: dict[str, float] | None = None,
        warnings: Iterable[tuple[str | None, str]] = (),
        checkpoints: dict[str, bytes] | None = None,
        seconds: float = 0.0,
        bands: Iterable[BandRow] = (),
    ) -> None:
        """Write everything measured at one (epoch, step) in a single transaction.

        Re-recording the same (epoch, step) replaces the earlier values, so a resumed run
        never holds an epoch twice.
        """
        with self._transaction():
            for table in ("measurements", "metrics", "warnings", "records", "bands"):
                self.conn.execute(f"DELETE FROM {table} WHERE run_id = ? AND epoch = ? AND step = ?", (run_id, epoch, step))
            self.conn.executemany(
                "INSERT INTO measurements (run_id, epoch, step, probe, layer, unit, quantity, estimator, params, value, seconds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (run_id, epoch, step, r.probe, r.layer, r.unit, r.quantity, r.estimator, _json(r.params), float(r.value), float(r.seconds))
                    for r in rows
                ],
            )
            self.conn.executemany(
                "INSERT INTO metrics (run_id, epoch, step, name, value) VALUES (?, ?, ?, ?, ?)",
                [(run_id, epoch, step, k, float(v)) for k, v in (metrics or {}).items()],
            )
            self.conn.executemany(
                "INSERT INTO warnings (run_id, epoch, step, layer, message) VALUES (?, ?, ?, ?, ?)",
                [(run_id, epoch, step, layer, msg) for layer, msg in warnings],
            )
            self.conn.executemany(
                "INSERT INTO bands (run_id, epoch, step, probe, layer, quantity, estimator, kind, low, high, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, epoch, step, b.probe, b.layer, b.quantity, b.estimator, b.kind, float(b.low), float(b.high), _json(b.detail))
                 for b in bands],
            )
            self._put_checkpoints(run_id, epoch, checkpoints)
            self.conn.execute(
                "INSERT INTO records (run_id, epoch, step, recorded_at, seconds) VALUES (?, ?, ?, ?, ?)",
                (run_id, epoch, step, time.time(), float(seconds)),
            )

    def write_metrics(
        self, run_id: int, epoch: int, step: int, metrics: dict[str, float], checkpoints: dict[str, bytes] | None = None
    ) -> None:
        """Store metrics (and checkpoints) at (epoch, step) without touching measurements."""
        with self._transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO metrics (run_id, epoch, step, name, value) VALUES (?, ?, ?, ?, ?)",
                [(run_id, epoch, step, k, float(v)) for k, v in metrics.items()],
            )
            self._put_checkpoints(run_id, epoch, checkpoints)

    def _put_checkpoints(self, run_id: int, epoch: int, checkpoints: dict[str, bytes] | None) -> None:
        """Insert or replace checkpoints (inside the caller's transaction)."""
        for name, blob in (checkpoints or {}).items():
            self.conn.execute(
                "INSERT OR REPLACE INTO checkpoints (run_id, name, epoch, data) VALUES (?, ?, ?, ?)",
                (run_id, name, epoch, sqlite3.Binary(blob)),
            )

    def add_warning(self, run_id: int, message: str, epoch: int | None = None, step: int | None = None, layer: str | None = None) -> None:
        """Store a warning outside a record call."""
        with self._transaction():
            self.conn.execute(
                "INSERT INTO warnings (run_id, epoch, step, layer, message) VALUES (?, ?, ?, ?, ?)",
                (run_id, epoch, step, layer, message),
            )

    def checkpoint(self, run_name: str, name: str = "last") -> tuple[int, bytes] | None:
        """(epoch, blob) of a stored checkpoint, or None."""
        row = self.conn.execute(
            "SELECT epoch, data FROM checkpoints WHERE run_id = ? AND name = ?", (self.run_id(run_name), name)
        ).fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def last_record(self, run_name: str) -> tuple[int, int] | None:
        """(epoch, step) of the latest completed record call of a run, or None."""
        row = self.conn.execute(
            "SELECT epoch, step FROM records WHERE run_id = ? ORDER BY epoch DESC, step DESC LIMIT 1",
            (self.run_id(run_name),),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def revision(self, run_name: str) -> str:
        """A token that changes whenever the run gets a record, metric, warning, band or a new
        status (what a live view polls to know whether to fetch again)."""
        run_id = self.run_id(run_name)
        row = self.conn.execute(
            "SELECT r.status, (SELECT COUNT(*) FROM records WHERE run_id = r.id), "
            "(SELECT MAX(recorded_at) FROM records WHERE run_id = r.id), "
            "(SELECT COUNT(*) FROM metrics WHERE run_id = r.id), (SELECT COUNT(*) FROM warnings WHERE run_id = r.id) "
            "FROM runs r WHERE r.id = ?", (run_id,)).fetchone()
        return ":".join(str(v) for v in row)

    # -- queries (pandas) --------------------------------------------------------------------
    def _frame(self, sql: str, params: Sequence[Any]) -> pd.DataFrame:
        return pd.read_sql_query(sql, self.conn, params=list(params))

    def _run_filter(self, run: str | Sequence[str] | None) -> tuple[str, list[Any]]:
        if run is None:
            return "", []
        names = [run] if isinstance(run, str) else list(run)
        ids = [self.run_id(n) for n in names]
        return f" AND r.id IN ({', '.join('?' * len(ids))})", ids

    def runs(self) -> pd.DataFrame:
        """All runs with their number of completed records."""
        return self._frame(
            "SELECT r.name, r.experiment, r.seed, r.status, r.started_at, r.ended_at, "
            "(SELECT COUNT(*) FROM records c WHERE c.run_id = r.id) AS records, "
            "(SELECT MAX(epoch) FROM records c WHERE c.run_id = r.id) AS last_epoch "
            "FROM runs r ORDER BY r.id",
            [],
        )

    def layers(self, run: str) -> pd.DataFrame:
        """Layers of a run in forward order."""
        df = self._frame(
            "SELECT l.name, l.position, l.shape, l.kind, l.n_units FROM layers l JOIN runs r ON r.id = l.run_id "
            "WHERE r.id = ? ORDER BY l.position",
            [self.run_id(run)],
        )
        df["shape"] = df["shape"].map(json.loads)
        df["label"] = [layer_label(n, k, sh) for n, k, sh in zip(df.name, df.kind, df["shape"])]
        return df

    def layer_labels(self, run: str) -> dict[str, str]:
        """Layer name → readable label (:func:`layer_label`) for a run's layers."""
        layers = self.layers(run)
        return dict(zip(layers.name, layers.label))

    def measurements(
        self,
        run: str | Sequence[str] | None = None,
        layer: str | Sequence[str] | None = None,
        quantity: str | None = None,
        estimator: str | None = None,
        probe: str | None = None,
        units: bool | None = False,
    ) -> pd.DataFrame:
        """Measurements as a DataFrame, one row per value.

        Parameters
        ----------
        run, layer : name or names, optional
        quantity : {"H(T)", "I(X;T)", "I(T;Y)"}, optional
        estimator : str, optional
        probe : str, optional
            ``"train"`` or ``"test"``.
        units : bool or None, default False
            False: whole layers only; True: units only; None: both.

        Returns
        -------
        pandas.DataFrame
            Columns run, epoch, step, probe, layer, unit, quantity, estimator, params (dict),
            value (bits), seconds.
        """
        sql = (
            "SELECT r.name AS run, m.epoch, m.step, m.probe, m.layer, m.unit, m.quantity, m.estimator, "
            "m.params, m.value, m.seconds FROM measurements m JOIN runs r ON r.id = m.run_id WHERE 1=1"
        )
        where, params = self._run_filter(run)
        sql += where
        if layer is not None:
            names = [layer] if isinstance(layer, str) else list(layer)
            sql += f" AND m.layer IN ({', '.join('?' * len(names))})"
            params += names
        for col, val in (("quantity", quantity), ("estimator", estimator), ("probe", probe)):
            if val is not None:
                sql += f" AND m.{col} = ?"
                params.append(val)
        if units is False:
            sql += " AND m.unit IS NULL"
        elif units is True:
            sql += " AND m.unit IS NOT NULL"
        sql += " ORDER BY m.run_id, m.epoch, m.step, m.id"
        df = self._frame(sql, params)
        df["params"] = df["params"].map(json.loads)
        df["unit"] = df["unit"].astype("Int64")
        return df

    def final_values(self, run: str) -> pd.DataFrame:
        """Whole-layer values at the run's last recorded epoch (last step), one row per probe,
        layer and estimator, layers in forward order.

        Returns
        -------
        DataFrame
            Columns epoch, probe, layer, estimator and one column per quantity (bits); empty
            when nothing has been recorded.
        """
        m = self.measurements(run=run)
        if m.empty:
            return pd.DataFrame()
        last = last_per_epoch(m[m.epoch == m.epoch.max()], ["probe", "layer", "estimator", "quantity"])
        table = last.pivot_table(index=["epoch", "probe", "layer", "estimator"], columns="quantity", values="value").reset_index()
        table.columns.name = None
        order = {n: i for i, n in enumerate(self.layers(run).name)}
        table = table.sort_values(["probe", "layer", "estimator"], key=lambda s: s.map(order) if s.name == "layer" else s)
        return table[["epoch", "probe", "layer", "estimator"] + [q for q in ("H(T)", "I(X;T)", "I(T;Y)") if q in table.columns]]

    def metrics(self, run: str | Sequence[str] | None = None) -> pd.DataFrame:
        """User metrics (loss, accuracy, …): columns run, epoch, step, name, value."""
        where, params = self._run_filter(run)
        return self._frame(
            "SELECT r.name AS run, m.epoch, m.step, m.name, m.value FROM metrics m JOIN runs r ON r.id = m.run_id "
            f"WHERE 1=1{where} ORDER BY m.run_id, m.epoch, m.step, m.name",
            params,
        )

    def warnings(self, run: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Stored warnings: columns run, epoch, step, layer, message."""
        where, params = self._run_filter(run)
        return self._frame(
            "SELECT r.name AS run, w.epoch, w.step, w.layer, w.message FROM warnings w JOIN runs r ON r.id = w.run_id "
            f"WHERE 1=1{where} ORDER BY w.rowid",
            params,
        )

    def bands(self, run: str | Sequence[str] | None = None, kind: str | None = None) -> pd.DataFrame:
        """Uncertainty bands: run, epoch, step, probe, layer, quantity, estimator, kind, low, high, detail."""
        cols = ["run", "epoch", "step", "probe", "layer", "quantity", "estimator", "kind", "low", "high", "detail"]
        if self.schema_version < 2:
            return pd.DataFrame(columns=cols)
        where, params = self._run_filter(run)
        if kind is not None:
            where += " AND b.kind = ?"
            params.append(kind)
        df = self._frame(
            "SELECT r.name AS run, b.epoch, b.step, b.probe, b.layer, b.quantity, b.estimator, b.kind, b.low, b.high, b.detail "
            f"FROM bands b JOIN runs r ON r.id = b.run_id WHERE 1=1{where} ORDER BY b.run_id, b.epoch, b.step, b.rowid",
            params,
        )
        df["detail"] = df["detail"].map(json.loads)
        return df

    def replace_warnings(self, run_id: int, prefix: str, messages: Iterable[tuple[int | None, str | None, str]]) -> None:
        """Replace the stored warnings whose message starts with ``prefix`` (e.g. an analysis's)."""
        with self._transaction():
            self.conn.execute("DELETE FROM warnings WHERE run_id = ? AND message LIKE ?", (run_id, prefix + "%"))
            self.conn.executemany(
                "INSERT INTO warnings (run_id, epoch, step, layer, message) VALUES (?, ?, NULL, ?, ?)",
                [(run_id, epoch, layer, prefix + msg) for epoch, layer, msg in messages],
            )

    def records(self, run: str) -> pd.DataFrame:
        """Completed record calls of a run: epoch, step, recorded_at, seconds."""
        return self._frame(
            "SELECT epoch, step, recorded_at, seconds FROM records WHERE run_id = ? ORDER BY epoch, step", [self.run_id(run)]
        )

    def export(self, path: str | Path, run: str | Sequence[str] | None = None, units: bool | None = None) -> Path:
        """Write measurements (and, beside them, metrics) to CSV or Parquet, by file suffix.

        ``runs.csv`` also writes ``runs.metrics.csv``. Parquet needs ``pyarrow``.
        """
        path = Path(path)
        fmt = path.suffix.lower()
        if fmt not in (".csv", ".parquet"):
            raise ValueError(f"export to {path.name}: use a .csv or .parquet file name")
        m = self.measurements(run=run, units=units)
        m["params"] = m["params"].map(_json)
        met = self.metrics(run=run)
        metrics_path = path.with_suffix(".metrics" + fmt)
        if fmt == ".csv":
            m.to_csv(path, index=False)
            met.to_csv(metrics_path, index=False)
        else:
            try:
                m.to_parquet(path, index=False)
                met.to_parquet(metrics_path, index=False)
            except ImportError:
                raise ValueError("Parquet export needs pyarrow: pip install 'infoscope[parquet]'") from None
        return path


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error; lock time-outs become StoreError."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn, self.path = conn, path

    def __enter__(self) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path} is locked by another process ({exc}); try again when it is free") from None

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.OperationalError as err:
                self.conn.execute("ROLLBACK")
                raise StoreError(f"could not commit to {self.path}: {err}") from None
        else:
            self.conn.execute("ROLLBACK")


def load(path: str | Path) -> Store:
    """Open an infoscope database read-only for queries.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "runs.db")
    >>> Store(p).close()
    >>> load(p).runs().empty
    True
    """
    return Store(path, readonly=True)


@contextlib.contextmanager
def opened(store: Store | str | Path, writable: bool = False) -> Iterator[Store]:
    """An existing database to work with: a :class:`Store` as it is (left open), or the file
    at a path opened (read-only unless ``writable``) and closed afterwards.

    Raises
    ------
    StoreError
        If there is no database at the path (nothing is created).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "runs.db")
    >>> Store(p).close()
    >>> with opened(p) as st:
    ...     st.run_names()
    []
    """
    if isinstance(store, Store):
        yield store
        return
    st = load(store)  # says "no database at …" instead of creating one
    if writable:
        st.close()
        st = Store(store)
    try:
        yield st
    finally:
        st.close()
