"""The SQLite store: schema, transactions, queries, export, bad files."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from infoscope.analysis.series import final_values
from infoscope.errors import StoreError
from infoscope.records import MeasurementRow
from infoscope.store import SCHEMA_VERSION, Store, load


def _row(layer="a", unit=None, q="I(T;Y)", v=1.0):
    return MeasurementRow("train", layer, unit, q, "renyi", {"sigma_x": 1.5}, v, 0.01)


def test_roundtrip_and_wal(tmp_path):
    db = tmp_path / "runs.db"
    with Store(db) as st:
        writer = st.open_run("r1", "exp", {"lr": 0.1}, seed=3, versions={"torch": "x"})
        writer.add_layers([("a", [4], "Linear", 4)])
        writer.write_record(0, 0, [_row(), _row(unit=2, v=0.5)], metrics={"loss": 2.0}, warnings=[("a", "hm")])
        assert st.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with load(db) as st:
        m = st.measurements(run="r1")
        assert list(m.value) == [1.0] and m.params[0] == {"sigma_x": 1.5}
        assert list(st.measurements(run="r1", units=True).unit) == [2]
        assert st.metrics("r1").value.tolist() == [2.0]
        assert st.warnings("r1").message.tolist() == ["hm"]
        assert st.run_info("r1")["config"] == {"lr": 0.1}
        assert st.layers("r1")["shape"].tolist() == [[4]]


def test_rerecording_an_epoch_replaces_it(tmp_path):
    with Store(tmp_path / "r.db") as st:
        writer = st.open_run("r", None, {}, None)
        writer.write_record(1, 10, [_row(v=1.0)])
        writer.write_record(1, 10, [_row(v=2.0)])
        assert st.measurements().value.tolist() == [2.0]
        assert len(st.records("r")) == 1


def test_failed_transaction_writes_nothing(tmp_path):
    with Store(tmp_path / "r.db") as st:
        writer = st.open_run("r", None, {}, None)
        writer.write_record(0, 0, [_row(v=1.0)])
        with pytest.raises(TypeError):
            writer.write_record(1, 1, [_row(v=1.0), _row(v=object())])
        assert st.measurements().epoch.tolist() == [0]
        assert st.records("r").epoch.tolist() == [0]


def test_two_runs_stay_apart_and_names_are_unique(tmp_path):
    with Store(tmp_path / "r.db") as st:
        a = st.open_run("a", None, {}, 0)
        b = st.open_run("b", None, {}, 1)
        a.write_record(0, 0, [_row(v=1.0)])
        b.write_record(0, 0, [_row(v=2.0)])
        assert st.measurements(run="a").value.tolist() == [1.0]
        assert st.measurements(run="b").value.tolist() == [2.0]
        with pytest.raises(StoreError, match="already exists"):
            st.open_run("a", None, {}, 0)
        with pytest.raises(StoreError, match="no run named 'c'.*runs here: a, b"):
            st.measurements(run="c")


def test_not_a_database(tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="is not an infoscope database"):
        Store(bad)
    assert bad.read_text().startswith("this is not sqlite")  # untouched


def test_foreign_sqlite_database_is_refused(tmp_path):
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="other tables"):
        Store(other)


def test_newer_schema_is_refused(tmp_path):
    db = tmp_path / "new.db"
    Store(db).close()
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer than this infoscope"):
        Store(db)


def test_locked_database_gives_clear_error(tmp_path):
    db = tmp_path / "r.db"
    with Store(db) as st:
        st.open_run("r", None, {}, None)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Store(db, timeout=0.2) as st:
            with pytest.raises(StoreError, match="locked"):
                st.writer("r").write_record(0, 0, [_row()])
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_missing_database_for_reading(tmp_path):
    with pytest.raises(StoreError, match="no database"):
        load(tmp_path / "nope.db")


def test_export_csv_and_parquet(tmp_path):
    with Store(tmp_path / "r.db") as st:
        writer = st.open_run("r", None, {}, None)
        writer.write_record(0, 0, [_row(v=1.25), _row(unit=0, v=0.5)], metrics={"acc": 0.5})
        st.export(tmp_path / "out.csv")
        df = pd.read_csv(tmp_path / "out.csv")
        assert sorted(df.value.tolist()) == [0.5, 1.25]
        assert pd.read_csv(tmp_path / "out.metrics.csv").value.tolist() == [0.5]
        pytest.importorskip("pyarrow")
        st.export(tmp_path / "out.parquet")
        assert sorted(pd.read_parquet(tmp_path / "out.parquet").value.tolist()) == [0.5, 1.25]
        with pytest.raises(ValueError, match="csv or .parquet"):
            st.export(tmp_path / "out.xlsx")


def test_final_values_last_step_in_layer_order(tmp_path):
    with Store(tmp_path / "r.db") as st:
        writer = st.open_run("r", None, {}, None)
        writer.add_layers([("z", [2], "ReLU", 2), ("a", [2], "ReLU", 2)])
        writer.write_record(0, 0, [_row("z", v=9.0), _row("a", v=9.0)])
        writer.write_record(1, 5, [_row("z", v=1.0), _row("a", v=2.0)])
        writer.write_record(1, 9, [_row("z", v=3.0), _row("a", v=4.0)])
        final = final_values(st.measurements(run="r"), st.layers("r").name)
        assert final.layer.tolist() == ["z", "a"]  # forward order, not alphabetical
        assert final["I(T;Y)"].tolist() == [3.0, 4.0] and final.epoch.tolist() == [1, 1]
