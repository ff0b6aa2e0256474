"""What a file or a name can do to infoscope: nothing runs from a file, nothing mixes silently,
broken files and odd names give one line that names them (issue 24's cases)."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import infoscope
from infoscope.cli import main
from infoscope.experiments import run_experiment


class _Payload:
    """A pickle that runs a command when unpickled by a full unpickler."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_blob(marker: Path) -> bytes:
    buf = io.BytesIO()
    torch.save({"model": _Payload(marker), "epoch": 1, "step": 1}, buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def evil_db(tmp_path_factory):
    """An experiment run whose stored checkpoint is replaced by a crafted blob."""
    d = tmp_path_factory.mktemp("evil")
    db, marker = d / "evil.db", d / "pwned"
    run_experiment("tishby", store=db, run="e", epochs=1, probe_size=60)
    con = sqlite3.connect(db)
    con.execute("UPDATE checkpoints SET data = ?", (_evil_blob(marker),))
    con.commit()
    con.close()
    return db, marker


def test_a_crafted_checkpoint_in_a_database_runs_nothing(evil_db, capsys, tmp_path):
    db, marker = evil_db
    assert main(["report", str(db), "--out", str(tmp_path / "r.html")]) == 0  # the report never loads the model
    assert main(["analyze", str(db), "e"]) == 0  # the model's findings are refused, the rest analysed
    assert "holds more than tensors, numbers and plain containers" in " ".join(capsys.readouterr().out.split())
    assert main(["prune-check", str(db), "e"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "checkpoint 'last' of run 'e'" in err and str(db) in err
    assert main(["run", "tishby", "--epochs", "2", "--probe-size", "60", "--out", str(db), "--name", "e", "--resume"]) == 2
    assert "not loaded" in capsys.readouterr().err
    assert not marker.exists()


def test_a_crafted_checkpoint_file_runs_nothing(tmp_path, capsys):
    folder, marker = tmp_path / "ckpts", tmp_path / "pwned"
    folder.mkdir()
    (folder / "epoch_1.pt").write_bytes(_evil_blob(marker))
    (tmp_path / "factory.py").write_text("import torch\ndef make():\n    return torch.nn.Sequential(torch.nn.Linear(12, 2))\n")
    sys.path.insert(0, str(tmp_path))
    try:
        code = main(["analyze-checkpoints", str(folder), "--model", "factory:make", "--experiment", "tishby",
                     "--workers", "1", "--out", str(tmp_path / "c.db")])
    finally:
        sys.path.remove(str(tmp_path))
    assert code == 2 and not marker.exists()
    assert "epoch_1.pt" in capsys.readouterr().err


def test_what_a_recorder_stores_is_plain_data():
    from infoscope.weights import UnsafeCheckpointError, dump_checkpoint, load_checkpoint

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": torch.get_rng_state(), "epoch": 3}
    back = load_checkpoint(dump_checkpoint(state), "test")
    assert back["epoch"] == 3 and torch.equal(back["model"]["weight"], model.weight.detach())
    with pytest.raises(UnsafeCheckpointError, match=r"checkpoint\['model'\] is a Linear"):
        dump_checkpoint({"model": model})


def test_a_resume_with_other_settings_is_refused_and_what_may_change_is_recorded(tmp_path, capsys):
    db = tmp_path / "e.db"
    base = ["run", "tishby", "--out", str(db), "--name", "c", "--probe-size", "80", "--no-units"]
    assert main(base + ["--epochs", "2", "--seed", "1"]) == 0
    capsys.readouterr()
    # the case: another seed and another probe on top of the first two epochs
    assert main(["run", "tishby", "--out", str(db), "--name", "c", "--no-units", "--epochs", "3", "--seed", "9",
                 "--probe-size", "40", "--resume"]) == 2
    (err,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "seed: stored 1, given 9" in err and "probe_size: stored 80, given 40" in err
    assert main(base + ["--epochs", "3", "--seed", "1", "--bootstrap", "2", "--resume"]) == 2
    assert "bootstrap: stored 0, given 2" in capsys.readouterr().err
    with infoscope.load(db) as st:
        assert st.records("c").epoch.max() == 2  # nothing was added by the refused resumes
    assert main(base + ["--epochs", "3", "--seed", "1", "--resume"]) == 0  # more epochs: allowed, and recorded
    with infoscope.load(db) as st:
        info = st.run_info("c")
        assert st.records("c").epoch.max() == 3
    assert info["config"]["epochs"] == 3 and info["config"]["resumed"] == [{"at_epoch": 2, "changed": {"epochs": [2, 3]}}]


def test_two_processes_creating_one_run_name(tmp_path):
    from infoscope.store import Store

    db = tmp_path / "r.db"
    a, b = Store(db), Store(db)
    try:
        b.run_id = lambda name, missing_ok=False: None  # b looked before a created the run
        a.open_run("same", None, {}, None)
        with pytest.raises(infoscope.StoreError, match="just created in .* by another process"):
            b.open_run("same", None, {}, None)
    finally:
        a.close()
        b.close()


def test_a_probe_size_that_cannot_be_met_is_said_and_what_was_used_is_stored(tmp_path, capsys):
    db = tmp_path / "d.db"
    assert main(["run", "digits-mlp", "--epochs", "0", "--probe-size", "100000", "--no-units", "--out", str(db), "--name", "d"]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert notes == ["note: probe_size 100000 asked, but digits-mlp's train split has 1348 samples: its probe holds all of them",
                     "note: probe_size 100000 asked, but digits-mlp's test split has 449 samples: its probe holds all of them"]
    with infoscope.load(db) as st:
        config = st.run_info("d")["config"]
        stored = st.warnings("d").message.tolist()
    assert config["probe_size"] == 1348 and config["probe_samples"] == {"train": 1348, "test": 449}
    assert config["probes"]["train"]["n"] == 1348 and len(stored) == 2 and stored[0].startswith("config: probe_size 100000")
    assert main(["run", "digits-mlp", "--epochs", "0", "--probe-size", "300", "--no-units", "--out", str(db), "--name", "e"]) == 0
    assert "note:" not in capsys.readouterr().out  # a size both splits can give: nothing to say


HOSTILE = "<!--<script>[/bold] x"


def _hostile_db(tmp_path):
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module(HOSTILE, nn.Linear(4, 3))  # a layer name users chose
    model.add_module("act", nn.Tanh())
    x, y = torch.randn(60, 4), torch.randint(0, 2, (60,))
    db = tmp_path / "h.db"
    with infoscope.Recorder(model, (x, y), layers=[HOSTILE, "act"], estimators=["binning"], store=db, run=HOSTILE,
                            config={HOSTILE: HOSTILE}) as rec:
        for e in range(3):
            rec.record(epoch=e, metrics={HOSTILE: 0.5 + e, "loss": 1.0 / (1 + e)})
    with infoscope.Store(db) as st:
        st.writer(HOSTILE).replace_warnings("note: ", [(0, HOSTILE, HOSTILE)])
    return db


def test_hostile_names_are_shown_as_text_in_the_terminal(tmp_path, capsys):
    db = _hostile_db(tmp_path)
    assert main(["runs", str(db)]) == 0
    assert main(["show", str(db), HOSTILE]) == 0
    out = capsys.readouterr().out
    assert "[/bold] x" in out and out.count("<!--<script>") >= 3  # the run, the layer, the warning: as they are


def test_hostile_names_leave_the_report_drawing(tmp_path, browser):
    from infoscope.report import write_report

    from .browser import errors, open_page

    db = _hostile_db(tmp_path)
    out = write_report(db, tmp_path / "h.html")
    html = out.read_text()
    data = html.split('<script id="infoscope-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data  # the embedded values cannot open a comment or close their element
    page = open_page(browser, out.resolve().as_uri())
    try:
        assert not errors(page), page.messages
        drawn = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot')).filter(g => g._fullData && g._fullData.length).length")
        assert drawn >= 2  # the plane and the curves (per-unit maps need units, recorded here too)
        names = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap(g => g._fullData.map(t => t.name))")
        assert any("&lt;!--&lt;script&gt;" in (n or "") for n in names)  # shown as text, escaped for Plotly
        assert HOSTILE in page.inner_text("body")  # the tables show it as it is
    finally:
        page.close()


# --- broken files -------------------------------------------------------------------------------

def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in " ".join(err), err
    return errors[0]


def test_an_empty_file_or_a_bad_schema_version_is_one_line_naming_the_file(tmp_path, capsys):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for args in (["runs", str(empty)], ["show", str(empty), "r"], ["report", str(empty), "-o", str(tmp_path / "r.html")],
                 ["export", str(empty), str(tmp_path / "x.csv")]):
        assert main(args) == 2
        line = _one_error_line(capsys)
        assert str(empty) in line and "is empty" in line and "SELECT" not in line
    assert empty.read_bytes() == b""  # nothing written into it
    bad = tmp_path / "bad.db"
    infoscope.Store(bad).close()
    con = sqlite3.connect(bad)
    con.execute("UPDATE meta SET value = 'abc' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    assert main(["runs", str(bad)]) == 2
    line = _one_error_line(capsys)
    assert str(bad) in line and "schema version is 'abc', not a number" in line


def _mount_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True).returncode == 0


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs of our own (only as root, where mount works); unmounted afterwards."""
    where = tmp_path / "mnt"
    if not _mount_tmpfs(where, "300k"):
        pytest.skip("needs root and mount to make a small or read-only file system")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _remount(where: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(where)], check=True)


def test_a_full_disk_is_one_line_and_loses_nothing_committed(tmpfs, tmp_path):
    db = tmpfs / "full.db"
    cmd = [sys.executable, "-m", "infoscope", "run", "tishby", "--epochs", "60", "--probe-size", "3482", "--out", str(db),
           "--name", "f"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "is full" in errors[0] and str(db) in errors[0] and "Traceback" not in proc.stderr
    with infoscope.load(db) as st:
        done = st.records("f").epoch.max()
        assert done >= 0 and st.measurements(run="f").epoch.max() == done  # every committed record is whole
    _remount(tmpfs, "size=50m")
    more = cmd[:cmd.index("--epochs") + 1] + [str(done + 2)] + cmd[cmd.index("--epochs") + 2:] + ["--resume"]
    resumed = subprocess.run(more, capture_output=True, text=True, timeout=600)  # space freed: the run goes on
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    with infoscope.load(db) as st:
        assert st.records("f").epoch.max() == done + 2


def test_a_read_only_file_system(tmpfs, tmp_path, capsys):
    db = tmpfs / "ro.db"
    run_experiment("tishby", store=db, run="r", epochs=1, probe_size=40, units=False)
    _remount(tmpfs, "ro")
    # readers read it (as an immutable file: its folder cannot hold SQLite's shared-memory file)
    assert main(["runs", str(db)]) == 0 and "r" in capsys.readouterr().out
    assert main(["report", str(db), "-o", str(tmp_path / "r.html")]) == 0
    with infoscope.load(db) as st:
        assert st.records("r").epoch.tolist() == [0, 1]
    # a writer is told, in one line, that the file is read-only
    assert main(["run", "tishby", "--epochs", "1", "--probe-size", "40", "--out", str(db), "--name", "w"]) == 2
    line = _one_error_line(capsys)
    assert "read-only" in line and str(db) in line


# --- queries and the command line ---------------------------------------------------------------

def test_a_query_for_what_is_not_there_names_what_is(tmp_path):
    db = tmp_path / "q.db"
    run_experiment("tishby", store=db, run="q", epochs=1, probe_size=40, units=False)
    with infoscope.load(db) as st:
        layers = st.layers("q").name.tolist()
        with pytest.raises(ValueError, match=r"unknown layer 'fc9' in run 'q' of .*; layers there: .*" + layers[0]):
            st.measurements(run="q", layer="fc9")
        with pytest.raises(ValueError, match=r"unknown quantity 'I\(X,T\)'.*quantities there: H\(T\), I\(T;Y\), I\(X;T\)"):
            st.measurements(run="q", quantity="I(X,T)")
        with pytest.raises(ValueError, match="unknown estimator 'renyi'.*estimators there: binning"):
            st.measurements(run="q", estimator="renyi")
        with pytest.raises(ValueError, match="unknown probe 'val'.*probes there: test, train"):
            st.measurements(run="q", probe="val")
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    with infoscope.Recorder(model, (torch.randn(30, 4), torch.randint(0, 2, (30,))), layers=["1", "2"], estimators=["binning"],
                            units=False, store=tmp_path / "s.db", run="s") as rec:
        rec.record(epoch=0)
    with infoscope.load(tmp_path / "s.db") as st:
        assert st.measurements(run="s", layer=2).equals(st.measurements(run="s", layer="2"))  # an int names layer "2"
        assert len(st.measurements(run="s", layer=[1, "2"])) == 6


def test_every_command_line_error_is_one_line(tmp_path, capsys):
    for args in (["plot", str(tmp_path / "x.db"), "r", "plane", "--format", "jpg"], ["run"], ["nosuch"],
                 ["runs", "--nope", "x"], ["run", "tishby", "--epochs", "many"]):
        assert main(args) == 2
        assert _one_error_line(capsys).startswith("error: ")


# --- numbers at the edges -----------------------------------------------------------------------

def test_a_bfloat16_model_records_in_float32(tmp_path):
    from torch import nn

    from infoscope import Binning, MatrixRenyi

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)).to(torch.bfloat16)
    x, y = torch.randn(80, 6), torch.randint(0, 3, (80,))  # a float32 probe, as a user has it
    with infoscope.Recorder(model, (x, y), estimators=[Binning(n_bins=10), MatrixRenyi()], store=tmp_path / "b.db", run="b") as rec:
        got = rec.record(epoch=0)
    with torch.no_grad():
        tanh = model[1](model[0](x.to(torch.bfloat16))).float()  # what the layer gave, read exactly in float32
    expect = Binning(n_bins=10).entropy(tanh)
    assert got[("train", "1", "H(T)", "binning")] == pytest.approx(expect, abs=1e-12)
    assert 0 < got[("train", "1", "H(T)", "renyi")] <= np.log2(80)
    half = infoscope.entropy(np.random.default_rng(0).normal(size=(50, 3)).astype(np.float16), method="binning", n_bins=5)
    assert 0 < half <= np.log2(50)


def test_a_renyi_information_about_a_single_class_is_exactly_zero():
    from infoscope import MatrixRenyi
    from infoscope.estimators.base import ProbeContext

    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(60, 4, generator=g), torch.randn(60, 3, generator=g)
    one_class = torch.zeros(60, dtype=torch.long)
    assert MatrixRenyi().mutual_information(t, one_class) == 0.0
    ctx = ProbeContext.build(x, one_class)
    assert MatrixRenyi().layer_information(t, ctx)["I(T;Y)"].value == 0.0
    assert MatrixRenyi().layers_information([t, t * 2], ctx)[1]["I(T;Y)"].value == 0.0


# --- untrusted data files -----------------------------------------------------------------------

def test_an_idx_header_is_checked_before_its_data(tmp_path):
    import gzip
    import time

    from infoscope.datasets import IDXFormatError, read_idx

    wrap = tmp_path / "wrap.idx"  # dims (2^31, 2^31, 4): the byte count wrapped to 0 in 64-bit arithmetic
    wrap.write_bytes(bytes([0, 0, 0x08, 3]) + (2**31).to_bytes(4, "big") * 2 + (4).to_bytes(4, "big"))
    with pytest.raises(IDXFormatError, match="more than infoscope reads"):
        read_idx(wrap)
    bomb = tmp_path / "bomb.idx.gz"  # a wrong header in front of 400 MB of zeros
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        fh.write(bytes([0, 0, 0x08, 1]) + (10).to_bytes(4, "big"))
        zeros = bytes(2**24)
        for _ in range(24):
            fh.write(zeros)
    start = time.perf_counter()
    with pytest.raises(IDXFormatError, match=r"declares shape \(10,\) \(10 bytes of data\) but the file holds more"):
        read_idx(bomb)
    assert time.perf_counter() - start < 1.0  # it stopped after 11 bytes, not after decompressing 400 MB
    good = tmp_path / "good.idx.gz"
    with gzip.open(good, "wb") as fh:
        fh.write(bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(range(6)))
    assert read_idx(good).tolist() == [[0, 1, 2], [3, 4, 5]]


def test_a_cifar_batch_of_shared_references_is_refused_before_it_is_built(tmp_path):
    import pickle
    import time

    from infoscope.datasets import CIFARFormatError, load_cifar

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    row = [0] * 10_000
    big = [row] * 10_000  # 10^8 values that pickle to a few kB: shared references
    blob = pickle.dumps({b"data": big, b"labels": [0] * 10_000})
    assert len(blob) < 100_000
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(blob)
    start = time.perf_counter()
    with pytest.raises(CIFARFormatError, match=r"b'data' is a list, not an array of bytes"):
        load_cifar(folder)
    assert time.perf_counter() - start < 2.0
