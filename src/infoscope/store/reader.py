"""Reading a database: every query addresses runs by name and returns plain data (pandas
frames, dicts), and exports go to CSV or Parquet."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import StoreError
from .schema import to_json

__all__ = ["Reader"]

_PLURAL = {"layer": "layers", "quantity": "quantities", "estimator": "estimators", "probe": "probes"}


class Reader:
    """The queries of :class:`~infoscope.store.Store` (which holds the connection)."""

    conn: sqlite3.Connection
    path: Path
    schema_version: int

    # -- runs -----------------------------------------------------------------------------
    def run_id(self, name: str, missing_ok: bool = False) -> int | None:
        """Row id of the run called ``name`` (None for a missing run with ``missing_ok``).

        Raises
        ------
        StoreError
            For a missing run, naming the runs there are.
        """
        row = self.conn.execute("SELECT id FROM runs WHERE name = ?", (name,)).fetchone()
        if row is None:
            if missing_ok:
                return None
            names = self.run_names()
            raise StoreError(f"no run named {name!r} in {self.path}; runs here: {', '.join(names) if names else 'none'}")
        return int(row[0])

    def run_names(self) -> list[str]:
        """Names of all runs, oldest first."""
        return [r[0] for r in self.conn.execute("SELECT name FROM runs ORDER BY id")]

    def run_info(self, run: str) -> dict[str, Any]:
        """Everything stored about a run (configuration and versions decoded)."""
        row = self.conn.execute(
            "SELECT name, experiment, config, seed, versions, started_at, ended_at, status FROM runs WHERE id = ?", (self.run_id(run),)
        ).fetchone()
        keys = ("name", "experiment", "config", "seed", "versions", "started_at", "ended_at", "status")
        info = dict(zip(keys, row))
        info["config"] = json.loads(info["config"])
        info["versions"] = json.loads(info["versions"])
        return info

    def runs(self) -> pd.DataFrame:
        """All runs with their number of completed records."""
        return self._frame(
            "SELECT r.name, r.experiment, r.seed, r.status, r.started_at, r.ended_at, "
            "(SELECT COUNT(*) FROM records c WHERE c.run_id = r.id) AS records, "
            "(SELECT MAX(epoch) FROM records c WHERE c.run_id = r.id) AS last_epoch "
            "FROM runs r ORDER BY r.id",
            [],
        )

    def revision(self, run: str) -> str:
        """A token that changes whenever the run gets a record, metric, warning, band, findings or a
        new status (what a live view polls to know whether to fetch again)."""
        findings = "(SELECT MAX(computed_at) FROM findings WHERE run_id = r.id)" if self.schema_version >= 3 else "NULL"
        row = self.conn.execute(
            "SELECT r.status, (SELECT COUNT(*) FROM records WHERE run_id = r.id), "
            "(SELECT MAX(recorded_at) FROM records WHERE run_id = r.id), "
            "(SELECT COUNT(*) FROM metrics WHERE run_id = r.id), (SELECT COUNT(*) FROM warnings WHERE run_id = r.id), "
            f"{findings} FROM runs r WHERE r.id = ?", (self.run_id(run),)).fetchone()
        return ":".join(str(v) for v in row)

    # -- one run's tables ------------------------------------------------------------------
    def layers(self, run: str) -> pd.DataFrame:
        """Layers of a run in forward order: name, position, shape (list), kind, n_units."""
        df = self._frame(
            "SELECT name, position, shape, kind, n_units FROM layers WHERE run_id = ? ORDER BY position", [self.run_id(run)]
        )
        df["shape"] = df["shape"].map(json.loads)
        return df

    def records(self, run: str) -> pd.DataFrame:
        """Completed record calls of a run: epoch, step, recorded_at, seconds."""
        return self._frame(
            "SELECT epoch, step, recorded_at, seconds FROM records WHERE run_id = ? ORDER BY epoch, step", [self.run_id(run)]
        )

    def checkpoint(self, run: str, name: str = "last") -> tuple[int, bytes] | None:
        """(epoch, blob) of a stored checkpoint, or None."""
        row = self.conn.execute(
            "SELECT epoch, data FROM checkpoints WHERE run_id = ? AND name = ?", (self.run_id(run), name)
        ).fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def findings(self, run: str) -> dict[str, Any] | None:
        """What the trained model told about the run when it was recorded or analysed (see
        :class:`~infoscope.analysis.ModelFindings`), with the ``epoch`` of that model; None
        if nothing is stored."""
        if self.schema_version < 3:
            return None
        row = self.conn.execute("SELECT epoch, data FROM findings WHERE run_id = ?", (self.run_id(run),)).fetchone()
        return None if row is None else {**json.loads(row[1]), "epoch": row[0]}

    # -- queries across runs (pandas) --------------------------------------------------------
    def _frame(self, sql: str, params: Sequence[Any]) -> pd.DataFrame:
        return pd.read_sql_query(sql, self.conn, params=list(params))

    def _run_filter(self, run: str | Sequence[str] | None) -> tuple[str, list[Any]]:
        if run is None:
            return "", []
        names = [run] if isinstance(run, str) else list(run)
        ids = [self.run_id(n) for n in names]
        return f" AND r.id IN ({', '.join('?' * len(ids))})", ids

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
            A layer's name may be given as an int (``3`` for the layer named ``"3"``).
        quantity : {"H(T)", "I(X;T)", "I(T;Y)"}, optional
        estimator : str, optional
        probe : str, optional
            A probe's name, e.g. ``"train"`` or ``"test"``.
        units : bool or None, default False
            False: whole layers only; True: units only; None: both.

        Returns
        -------
        pandas.DataFrame
            Columns run, epoch, step, probe, layer, unit, quantity, estimator, params (dict),
            value (bits), seconds.

        Raises
        ------
        ValueError
            For a layer, quantity, estimator or probe that no measurement of these runs has,
            listing those there are.
        """
        sql = (
            "SELECT r.name AS run, m.epoch, m.step, m.probe, m.layer, m.unit, m.quantity, m.estimator, "
            "m.params, m.value, m.seconds FROM measurements m JOIN runs r ON r.id = m.run_id WHERE 1=1"
        )
        where, params = self._run_filter(run)
        sql += where
        names = None if layer is None else [str(n) for n in ([layer] if isinstance(layer, (str, int)) else layer)]
        wanted = {"layer": names, "quantity": quantity, "estimator": estimator, "probe": probe}
        run_params = list(params)
        if names is not None:
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
        self._check_known(run, where, run_params, wanted, df)
        df["params"] = df["params"].map(json.loads)
        df["unit"] = df["unit"].astype("Int64")
        return df

    def _check_known(self, run: Any, where: str, params: list[Any], wanted: dict[str, Any], found: pd.DataFrame) -> None:
        """Refuse a filter value that no measurement of these runs has, listing those that are
        there (an unknown name would otherwise give an empty table without a word). Values the
        query ``found`` exist: only the others are looked up."""
        for col, value in wanted.items():
            if value is None:
                continue
            missing = set(([value] if isinstance(value, str) else value)) - set(found[col])
            if not missing:
                continue
            there = [r[0] for r in self.conn.execute(
                f"SELECT DISTINCT m.{col} FROM measurements m JOIN runs r ON r.id = m.run_id WHERE 1=1{where} ORDER BY m.{col}",
                params)]
            unknown = [v for v in ([value] if isinstance(value, str) else value) if v not in there]
            if unknown:
                scope = f"run {run!r}" if isinstance(run, str) else "these runs" if run is not None else "this database"
                raise ValueError(f"unknown {col} {', '.join(repr(u) for u in unknown)} in {scope} of {self.path}; "
                                 f"{_PLURAL[col]} there: {', '.join(map(str, there)) if there else 'none (nothing measured yet)'}")

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

    def export(self, path: str | Path, run: str | Sequence[str] | None = None, units: bool | None = None) -> Path:
        """Write measurements (and, beside them, metrics) to CSV or Parquet, by file suffix.

        ``runs.csv`` also writes ``runs.metrics.csv``. Parquet needs ``pyarrow``.
        """
        path = Path(path)
        fmt = path.suffix.lower()
        if fmt not in (".csv", ".parquet"):
            raise ValueError(f"export to {path.name}: use a .csv or .parquet file name")
        m = self.measurements(run=run, units=units)
        m["params"] = m["params"].map(to_json)
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
