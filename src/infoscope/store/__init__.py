"""SQLite storage of runs, layers, measurements and metrics (standard-library ``sqlite3``).

The database is in WAL mode so a reader (a query, a report) can open it while training
writes, and every record call is one transaction: a crash loses at most the measurement in
flight, never a committed epoch. The schema carries a version number; a database written by a
newer infoscope is refused rather than misread.

The store is split by what it does: :mod:`.schema` (tables, version, migrations, opening a
connection), :mod:`.writer` (:class:`RunWriter`, writing one run) and :mod:`.reader` (the
queries, by run name). :class:`Store` is the database: its queries, and
:meth:`Store.open_run` for a writer.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import StoreError
from .reader import Reader
from .schema import SCHEMA_VERSION, Transaction, connect, to_json
from .writer import RunWriter

__all__ = ["SCHEMA_VERSION", "StoreError", "Store", "RunWriter", "load", "opened", "MAY_CHANGE_ON_RESUME"]

#: What a resumed run may change: how long it trains and where (the change is recorded in the
#: run's configuration, under ``"resumed"``). Anything else would mix two experiments in one series.
MAY_CHANGE_ON_RESUME = ("epochs", "device", "data")


def _config_differences(stored: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """The keys whose values differ between a stored and a given configuration (both as stored)."""
    keys = (set(stored) | set(given)) - set(MAY_CHANGE_ON_RESUME) - {"resumed"}
    return sorted(k for k in keys if stored.get(k) != given.get(k))


def _shown(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "…"


class Store(Reader):
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
    ...     writer = st.open_run("demo", experiment=None, config={}, seed=0)
    ...     st.run_names()
    ['demo']
    """

    def __init__(self, path: str | Path, timeout: float = 30.0, readonly: bool = False):
        self.path = Path(path)
        self.conn, self.schema_version = connect(self.path, timeout, readonly)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def open_run(
        self,
        name: str,
        experiment: str | None,
        config: dict[str, Any],
        seed: int | None,
        versions: dict[str, str] | None = None,
        resume: bool = False,
    ) -> RunWriter:
        """A writer for the run called ``name``: a new run, or with ``resume`` the existing one
        (marked running again). This is the one place that decides whether a run is created or
        continued.

        Raises
        ------
        StoreError
            If a run of that name exists and ``resume`` is False.
        """
        existing = self.run_id(name, missing_ok=True)
        if existing is None:
            try:
                with Transaction(self.conn, self.path):
                    cur = self.conn.execute(
                        "INSERT INTO runs (name, experiment, config, seed, versions, started_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (name, experiment, to_json(config), seed, to_json(versions or {}), time.time()),
                    )
            except sqlite3.IntegrityError:  # another process created it since we looked
                raise StoreError(f"a run named {name!r} was just created in {self.path} by another process; choose "
                                 "another name (--name, run=)") from None
            return RunWriter(self.conn, self.path, int(cur.lastrowid), name)
        if not resume:
            raise StoreError(
                f"a run named {name!r} already exists in {self.path}; resume it (--resume, resume=True) or choose "
                "another name (--name, run=)"
            )
        self._check_resume(name, experiment, config, seed)
        writer = RunWriter(self.conn, self.path, existing, name, resumed=True)
        writer.set_status("running", ended=False)
        return writer

    def _check_resume(self, name: str, experiment: str | None, config: dict[str, Any], seed: int | None) -> None:
        """Refuse to resume a run with other settings than it was recorded with, naming each
        (stored and given value); record the changes that :data:`MAY_CHANGE_ON_RESUME` allows."""
        info = self.run_info(name)
        stored, given = info["config"], json.loads(to_json(config))  # the given one as it would be stored
        diffs = [f"seed: stored {_shown(info['seed'])}, given {_shown(seed)}"] if info["seed"] != seed else []
        if info["experiment"] != experiment:
            diffs.append(f"experiment: stored {_shown(info['experiment'])}, given {_shown(experiment)}")
        diffs += [f"{k}: stored {_shown(stored.get(k))}, given {_shown(given.get(k))}" for k in _config_differences(stored, given)]
        if diffs:
            more = f" (and {len(diffs) - 5} more)" if len(diffs) > 5 else ""
            raise StoreError(
                f"run {name!r} in {self.path} was recorded with other settings; resuming it would mix two experiments "
                f"in one series: {'; '.join(diffs[:5])}{more}. Resume with the stored settings (only "
                f"{', '.join(MAY_CHANGE_ON_RESUME)} may change), or record a new run under another name"
            )
        changed = {k: [stored.get(k), given.get(k)] for k in MAY_CHANGE_ON_RESUME if stored.get(k) != given.get(k)}
        if changed:
            records = self.records(name)
            at = None if records.empty else int(records.epoch.max())
            updated = {**stored, **{k: given.get(k) for k in changed},
                       "resumed": [*stored.get("resumed", []), {"at_epoch": at, "changed": changed}]}
            with Transaction(self.conn, self.path):
                self.conn.execute("UPDATE runs SET config = ? WHERE name = ?", (to_json(updated), name))

    def writer(self, run: str) -> RunWriter:
        """A writer for an existing run (to store an analysis with it)."""
        return RunWriter(self.conn, self.path, self.run_id(run), run, resumed=True)


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
