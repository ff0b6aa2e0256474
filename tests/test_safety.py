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
