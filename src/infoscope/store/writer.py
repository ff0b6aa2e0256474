"""Writing one run: its layers, its record calls (one transaction each), metrics between records,
its status, and what an analysis stores with it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..records import BandRow, MeasurementRow, MeasurementWarning
from .schema import Transaction, to_json

__all__ = ["RunWriter"]


class RunWriter:
    """Writes into one run of a database; made by :meth:`~infoscope.store.Store.open_run` (a new
    or resumed run) or :meth:`~infoscope.store.Store.writer` (an existing one).

    Attributes
    ----------
    name : str
        The run's name.
    run_id : int
        Its row in the ``runs`` table.
    resumed : bool
        Whether the run existed already (a resumed run) when this writer was made.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, run_id: int, name: str, resumed: bool = False):
        self.conn, self.path, self.run_id, self.name, self.resumed = conn, path, run_id, name, resumed

    def _transaction(self) -> Transaction:
        return Transaction(self.conn, self.path)

    def set_status(self, status: str, ended: bool = True) -> None:
        """Mark the run finished/failed/running (``ended`` stamps the end time)."""
        with self._transaction():
            self.conn.execute(
                "UPDATE runs SET status = ?, ended_at = ? WHERE id = ?", (status, time.time() if ended else None, self.run_id)
            )

    def add_layers(self, layers: Sequence[tuple[str, Sequence[int], str, int]]) -> None:
        """Register layers: (name, activation shape without N, module kind, number of units)."""
        with self._transaction():
            for pos, (name, shape, kind, n_units) in enumerate(layers):
                self.conn.execute(
                    "INSERT OR REPLACE INTO layers (run_id, name, position, shape, kind, n_units) VALUES (?, ?, ?, ?, ?, ?)",
                    (self.run_id, name, pos, to_json(list(shape)), kind, int(n_units)),
                )

    def write_record(
        self,
        epoch: int,
        step: int,
        rows: Iterable[MeasurementRow],
        metrics: dict[str, float] | None = None,
        warnings: Iterable[MeasurementWarning] = (),
        checkpoints: dict[str, bytes] | None = None,
        seconds: float = 0.0,
        bands: Iterable[BandRow] = (),
    ) -> None:
        """Write everything measured at one (epoch, step) in a single transaction.

        Re-recording the same (epoch, step) replaces the earlier values, so a resumed run
        never holds an epoch twice.
        """
        run_id = self.run_id
        with self._transaction():
            for table in ("measurements", "metrics", "warnings", "records", "bands"):
                self.conn.execute(f"DELETE FROM {table} WHERE run_id = ? AND epoch = ? AND step = ?", (run_id, epoch, step))
            self.conn.executemany(
                "INSERT INTO measurements (run_id, epoch, step, probe, layer, unit, quantity, estimator, params, value, seconds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, epoch, step, r.probe, r.layer, r.unit, r.quantity, r.estimator, to_json(r.params), float(r.value),
                  float(r.seconds)) for r in rows],
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
                [(run_id, epoch, step, b.probe, b.layer, b.quantity, b.estimator, b.kind, float(b.low), float(b.high),
                  to_json(b.detail)) for b in bands],
            )
            self._put_checkpoints(epoch, checkpoints)
            self.conn.execute(
                "INSERT INTO records (run_id, epoch, step, recorded_at, seconds) VALUES (?, ?, ?, ?, ?)",
                (run_id, epoch, step, time.time(), float(seconds)),
            )

    def write_metrics(self, epoch: int, step: int, metrics: dict[str, float], checkpoints: dict[str, bytes] | None = None) -> None:
        """Store metrics (and checkpoints) at (epoch, step) without touching measurements."""
        with self._transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO metrics (run_id, epoch, step, name, value) VALUES (?, ?, ?, ?, ?)",
                [(self.run_id, epoch, step, k, float(v)) for k, v in metrics.items()],
            )
            self._put_checkpoints(epoch, checkpoints)

    def _put_checkpoints(self, epoch: int, checkpoints: dict[str, bytes] | None) -> None:
        """Insert or replace checkpoints (inside the caller's transaction)."""
        for name, blob in (checkpoints or {}).items():
            self.conn.execute(
                "INSERT OR REPLACE INTO checkpoints (run_id, name, epoch, data) VALUES (?, ?, ?, ?)",
                (self.run_id, name, epoch, sqlite3.Binary(blob)),
            )

    def replace_warnings(self, prefix: str, messages: Iterable[tuple[int | None, str | None, str]]) -> None:
        """Replace the stored warnings whose message starts with ``prefix`` (e.g. an analysis's)."""
        with self._transaction():
            self.conn.execute("DELETE FROM warnings WHERE run_id = ? AND message LIKE ?", (self.run_id, prefix + "%"))
            self.conn.executemany(
                "INSERT INTO warnings (run_id, epoch, step, layer, message) VALUES (?, ?, NULL, ?, ?)",
                [(self.run_id, epoch, layer, prefix + msg) for epoch, layer, msg in messages],
            )

    def write_findings(self, findings: dict[str, Any], epoch: int | None = None) -> None:
        """Store (replacing any earlier) what the trained model of ``epoch`` tells about the run,
        as plain JSON-able data (see :class:`~infoscope.analysis.ModelFindings`)."""
        with self._transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO findings (run_id, epoch, computed_at, data) VALUES (?, ?, ?, ?)",
                (self.run_id, epoch, time.time(), to_json(findings)),
            )
