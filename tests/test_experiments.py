"""Experiments end to end: every experiment runs, seeds reproduce, resume is exact, kill -9 loses nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import infoscope
from infoscope.cli import main
from infoscope.experiments import EXPERIMENTS, run_experiment

CIFAR = [n for n in EXPERIMENTS if n.startswith("cifar")]  # CIFAR-size networks: one epoch is minutes on 2 cores


@pytest.mark.parametrize("name", [n for n in EXPERIMENTS if n not in CIFAR] + [pytest.param(n, marks=pytest.mark.slow) for n in CIFAR])
def test_every_experiment_runs_one_epoch(tmp_path, name):
    res = run_experiment(name, store=tmp_path / "r.db", epochs=1, probe_size=40)
    with infoscope.load(tmp_path / "r.db") as st:
        m = st.measurements(run=res.run)
        assert sorted(m.epoch.unique()) == [0, 1]
        assert set(m.quantity) == {"H(T)", "I(X;T)", "I(T;Y)"}
        assert set(m.probe) == {"train", "test"}
        assert m.value.notna().all()
        assert not st.measurements(run=res.run, units=True).empty
        assert st.run_info(res.run)["status"] == "finished"
        assert set(st.metrics(run=res.run).name) >= {"train_loss", "test_acc"}


@pytest.mark.parametrize("name", CIFAR)
def test_cifar_experiments_record_every_layer_on_synthetic_or_real_data(tmp_path, name, capsys):
    from tests.fixtures.cifar import write_cifar as _write_cifar

    res = run_experiment(name, store=tmp_path / "r.db", epochs=0, probe_size=24, data="synthetic", units=False)
    with infoscope.load(tmp_path / "r.db") as st:
        info = st.run_info(res.run)
        assert info["config"]["dataset"] == "cifar10-synthetic" and info["config"]["data"] == "synthetic"
        layers = list(st.layers(res.run).name)
        assert len(layers) == (16 if name == "cifar-vgg16" else 18)
        if name == "cifar-resnet18":
            assert "layer1.0.relu:0" in layers and "layer1.0.relu:1" in layers
        assert set(st.measurements(run=res.run).layer) == set(layers)
    assert main(["show", str(tmp_path / "r.db"), res.run]) == 0
    assert "data: cifar10-synthetic (synthetic: not the real data set)" in " ".join(capsys.readouterr().out.split())
    folder = tmp_path / "cifar"
    _write_cifar(folder, per_batch=6)
    res = run_experiment(name, store=tmp_path / "r.db", run="real", epochs=0, probe_size=24, data=str(folder), units=False)
    with infoscope.load(tmp_path / "r.db") as st:
        assert st.run_info("real")["config"]["dataset"] == "cifar10"


def _values(db, run):
    with infoscope.load(db) as st:
        return st.measurements(run=run, units=None)[["epoch", "probe", "layer", "unit", "quantity", "estimator", "value"]]


def test_same_seed_same_numbers(tmp_path):
    for run in ("a", "b"):
        run_experiment("digits-mlp", store=tmp_path / "r.db", run=run, epochs=2, probe_size=60, seed=7)
    run_experiment("digits-mlp", store=tmp_path / "r.db", run="c", epochs=2, probe_size=60, seed=8)
    a, b, c = (_values(tmp_path / "r.db", r) for r in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert not a.value.equals(c.value)


def test_resume_continues_exactly(tmp_path):
    run_experiment("tishby", store=tmp_path / "r.db", run="whole", epochs=4, probe_size=300, seed=1)
    run_experiment("tishby", store=tmp_path / "r.db", run="parts", epochs=2, probe_size=300, seed=1)
    with pytest.raises(infoscope.StoreError, match="already exists"):
        run_experiment("tishby", store=tmp_path / "r.db", run="parts", epochs=4, probe_size=300, seed=1)
    run_experiment("tishby", store=tmp_path / "r.db", run="parts", epochs=4, probe_size=300, seed=1, resume=True)
    pd.testing.assert_frame_equal(_values(tmp_path / "r.db", "whole"), _values(tmp_path / "r.db", "parts"))


def test_sigkill_between_and_during_epochs_loses_no_committed_epoch(tmp_path):
    db = tmp_path / "kill.db"
    cmd = [sys.executable, "-m", "infoscope", "run", "tishby", "--epochs", "300", "--probe-size", "512", "--out", str(db), "--name", "k"]
    survived = 0
    moments = np.random.default_rng(2026).uniform(0.0, 0.6, size=3)
    for attempt, wait_records in enumerate((3, 6, 9)):
        args = cmd + (["--resume"] if attempt else [])
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(0.2)
            if db.exists():
                try:
                    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                    n = con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
                    con.close()
                except sqlite3.OperationalError:
                    continue
                if n >= wait_records:
                    break
        time.sleep(moments[attempt])  # a random moment: between epochs, inside training or inside a commit
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with infoscope.load(db) as st:
            records = st.records("k")
            m = st.measurements(run="k")
            per_epoch = m.groupby("epoch").size()
            # every committed record is complete: the same number of values in each
            assert set(per_epoch.index) == set(records.epoch)
            assert per_epoch.nunique() == 1
            assert len(records) >= wait_records
        survived += 1
    assert survived == 3
    # a fresh run under a new name in the same database, and a resumed one, both finish
    res = run_experiment("tishby", store=db, run="k", epochs=int(records.epoch.max()) + 2, probe_size=512, resume=True)
    with infoscope.load(db) as st:
        epochs = sorted(st.records("k").epoch)
        assert epochs == list(range(epochs[-1] + 1))  # no gap, no duplicate
        assert st.run_info("k")["status"] == "finished"
    assert res.epochs == epochs[-1]


def test_cli_run_runs_show_export(tmp_path, capsys):
    db = tmp_path / "cli.db"
    assert main(["run", "tishby", "--epochs", "2", "--probe-size", "200", "--out", str(db), "--name", "t1", "--no-units"]) == 0
    assert main(["run", "tishby", "--epochs", "1", "--probe-size", "200", "--out", str(db), "--name", "t2", "--activation", "relu", "-e", "binning", "-e", "kde"]) == 0
    out = capsys.readouterr().out
    assert "I(T;Y)" in out and "t2" in out
    assert main(["runs", str(db)]) == 0
    listing = capsys.readouterr().out
    assert "t1" in listing and "t2" in listing and "finished" in listing
    assert main(["show", str(db), "t2"]) == 0
    shown = capsys.readouterr().out
    assert "kde" in shown and "binning" in shown and "test_acc" in shown
    assert main(["export", str(db), str(tmp_path / "m.csv"), "--run", "t1"]) == 0
    assert set(pd.read_csv(tmp_path / "m.csv").run) == {"t1"}


def test_cli_run_of_no_epochs_says_so(tmp_path, capsys):
    db = tmp_path / "z.db"
    assert main(["run", "tishby", "--epochs", "0", "--probe-size", "100", "--out", str(db), "--name", "z", "--no-units"]) == 0
    err = capsys.readouterr().err
    assert "0/0" in err and "/200" not in err  # the initial record only, not 200 epochs


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "resnet"], "unknown experiment 'resnet'; choose one of: tishby"),
        (["run", "tishby", "--activation", "sigmoid", "--epochs", "1"], "unknown activation 'sigmoid'"),
        (["run", "tishby", "--every", "0"], "--every must be >= 1"),
        (["run", "tishby", "--probe-size", "1"], "probe_size must be at least 2"),
        (["show", "{db}", "nope"], "no run named 'nope'"),
        (["runs", "{tmp}/missing.db"], "no database at"),
        (["runs", "{tmp}/text.db"], "is not an infoscope database"),
    ],
)
def test_cli_user_errors(tmp_path, capsys, args, message):
    db = tmp_path / "e.db"
    infoscope.Store(db).close()
    (tmp_path / "text.db").write_text("not a database")
    assert main([a.format(db=db, tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_report_while_another_process_writes(tmp_path):
    from infoscope.report import write_report

    db = tmp_path / "live.db"
    proc = subprocess.Popen([sys.executable, "-m", "infoscope", "run", "tishby", "--epochs", "400", "--probe-size", "300",
                             "--out", str(db), "--name", "live"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        made, seen = 0, set()
        deadline = time.time() + 120
        while made < 3 and time.time() < deadline:
            time.sleep(0.5)
            if not db.exists():
                continue
            try:
                with infoscope.load(db) as st:
                    n = len(st.records("live")) if "live" in st.run_names() else 0
            except infoscope.StoreError:
                continue
            if n >= 2 and n not in seen:
                out = write_report(db, tmp_path / f"r{made}.html", ["live"])
                assert "Run live" in out.read_text()
                seen.add(n)
                made += 1
        assert made == 3 and proc.poll() is None  # three reports while training kept writing
    finally:
        proc.kill()
        proc.wait()


def test_cli_memory_budget(tmp_path, capsys):
    assert main(["run", "mnist-mlp", "--epochs", "1", "--memory-budget", "1", "--out", str(tmp_path / "m.db")]) == 2
    assert "over the memory budget of 1.0 MiB" in capsys.readouterr().err


def test_export_tensorboard(tmp_path, capsys):
    pytest.importorskip("tensorboard", reason="tensorboard is part of the test extra")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    db = tmp_path / "tb.db"
    run_experiment("tishby", store=db, run="t", epochs=2, probe_size=200, units=False)
    assert main(["export", str(db), str(tmp_path / "tb"), "--tensorboard"]) == 0
    acc = EventAccumulator(str(tmp_path / "tb" / "t"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "train/tanh1/I(T;Y)/binning" in tags and "metrics/test_acc" in tags
    events = acc.Scalars("train/tanh1/I(T;Y)/binning")
    with infoscope.load(db) as st:
        m = st.measurements(run="t", layer="tanh1", quantity="I(T;Y)", probe="train")
    assert [e.step for e in events] == [0, 1, 2]
    assert [e.value for e in events] == pytest.approx(m.sort_values("epoch").value.tolist(), rel=1e-6)


def test_analyze_checkpoints_matches_live_recording(tmp_path, capsys):
    import torch

    from infoscope.experiments.registry import get_experiment
    from infoscope.experiments.runner import build_model

    # a "past training": three checkpoints of the tishby network
    exp = get_experiment("tishby")
    model = build_model(exp, "tanh", 0)
    folder = tmp_path / "ckpts"
    folder.mkdir()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    data = exp.dataset(0)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    for epoch in range(3):
        torch.save({"model": model.state_dict(), "epoch": epoch}, folder / f"epoch_{epoch}.pt")
        opt.zero_grad()
        torch.nn.functional.nll_loss(torch.log(model(x)), y).backward()
        opt.step()
    db = tmp_path / "c.db"
    args = ["analyze-checkpoints", str(folder), "--model", "tests.fixtures.tiny_models:tishby_tanh", "--experiment", "tishby",
            "--probe-size", "300", "--workers", "2", "--out", str(db), "--name", "past", "--no-units"]
    assert main(args) == 0
    with infoscope.load(db) as st:
        m = st.measurements(run="past")
        assert sorted(m.epoch.unique()) == [0, 1, 2]
        assert list(st.layers("past").name) == ["tanh1", "tanh2", "tanh3", "tanh4", "tanh5", "softmax"]
    # the first checkpoint is the untrained seeded model: equal to a live recording of it
    live = run_experiment("tishby", store=tmp_path / "live.db", run="live", epochs=0, probe_size=300, units=False)
    with infoscope.load(tmp_path / "live.db") as st:
        l0 = st.measurements(run=live.run)
    keys = ["probe", "layer", "quantity", "estimator"]
    both = m[m.epoch == 0].merge(l0[l0.epoch == 0], on=keys)
    assert len(both) == len(l0) and np.allclose(both.value_x, both.value_y, rtol=1e-9)
    assert main(["analyze-checkpoints", str(tmp_path), "--model", "x:y", "--experiment", "tishby", "--out", str(db)]) == 2
    assert "no checkpoint files" in capsys.readouterr().err


def test_a_schedule_dense_in_the_first_epoch(tmp_path):
    res = run_experiment("tishby", store=tmp_path / "r.db", epochs=2, probe_size=200, units=False, early_every=4)
    with infoscope.load(tmp_path / "r.db") as st:
        rec = st.records(res.run)
    per_epoch = rec.groupby("epoch").step.apply(sorted).to_dict()
    steps_per_epoch = per_epoch[2][-1] // 2
    assert per_epoch[0] == [0]
    assert per_epoch[1] == sorted({s for s in range(4, steps_per_epoch + 1, 4)} | {steps_per_epoch})  # every 4 steps, and the end
    assert per_epoch[2] == [2 * steps_per_epoch]  # once per epoch afterwards
